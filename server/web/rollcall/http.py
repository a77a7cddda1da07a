"""Roll call over HTTP: thin handlers declared on their routes, and the deadline timer of the
process that started a roll call (the store: ``service``; the rules: ``server.core.rollcall``)."""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.core.rollcall import DEFAULT_SECONDS
from server.core.validation import Int, List, Optional, validate
from server.web.api import Routes, body
from server.web.interaction.http import ID, services, services_of
from server.web.keys import TIMERS, principal
from server.web.resources import path_id, read_json
from server.web.rollcall import service

routes = Routes()


def _schedule_close(app: web.Application, roll_call_id: int, seconds: float) -> None:
    async def later() -> None:
        await service.close_when_due(services_of(app), roll_call_id)

    app[TIMERS].later(seconds + 0.2, later, "closing a roll call")


START_BODY = body(
    {"seconds": Optional(Int(1, 3600)), "site_ids": Optional(List(ID, max_items=2000))}, set()
)


@routes(
    "POST",
    "/api/v1/sessions/{id}/roll-calls",
    roles.MANAGERS,
    "Start a roll call for all sites or some",
    "roll calls",
    body=START_BODY,
    status=201,
)
async def start_roll_call(request: web.Request) -> web.Response:
    data = validate(START_BODY, await read_json(request), path="body")
    view, seconds = await service.start(
        services(request),
        principal(request),
        path_id(request, "session"),
        data.get("seconds") or DEFAULT_SECONDS,
        data.get("site_ids"),
    )
    _schedule_close(request.app, view["id"], seconds)
    return web.json_response(view, status=201)


@routes(
    "GET",
    "/api/v1/sessions/{id}/roll-calls",
    roles.STAFF,
    "List a session's roll calls with results per site",
    "roll calls",
)
async def list_roll_calls(request: web.Request) -> web.Response:
    items = await service.list_for_session(services(request), path_id(request, "session"))
    return web.json_response({"items": items})


@routes(
    "GET",
    "/api/v1/roll-calls/{id}",
    roles.STAFF,
    "Show a roll call: answers per site, who answered, who missed it",
    "roll calls",
)
async def show_roll_call(request: web.Request) -> web.Response:
    return web.json_response(await service.show(services(request), path_id(request, "roll call")))


@routes(
    "POST",
    "/api/v1/roll-calls/{id}/answer",
    roles.TRAINEES,
    "Answer a roll call from the phone",
    "roll calls",
    status=200,
)
async def answer_roll_call(request: web.Request) -> web.Response:
    roll_call_id = await service.answer_from_phone(
        services(request), principal(request), path_id(request, "roll call")
    )
    return web.json_response({"roll_call_id": roll_call_id, "status": "answered"})


register = routes.register
