"""Roll call over HTTP: thin handlers declared on their routes, and the deadline timer of the
process that started a roll call (the store: ``service``; the rules: ``server.core.rollcall``)."""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.core.rollcall import DEFAULT_SECONDS
from server.core.validation import Int, List, Optional
from server.web.api import ID, Answer, Body, Routes, body
from server.web.interaction.http import services, services_of
from server.web.keys import TIMERS, principal
from server.web.resources import path_id
from server.web.rollcall import service

routes = Routes()
SESSION = "/api/v1/sessions/{id}"
ROLL_CALL = "/api/v1/roll-calls/{id}"


def _schedule_close(app: web.Application, roll_call_id: int, seconds: float) -> None:
    async def later() -> None:
        await service.close_when_due(services_of(app), roll_call_id)

    app[TIMERS].later(seconds + 0.2, later, "closing a roll call")


START_BODY = body(
    {"seconds": Optional(Int(1, 3600)), "site_ids": Optional(List(ID, max_items=2000))}, set()
)


@routes.json_body(
    "POST", SESSION + "/roll-calls", roles.MANAGERS, "roll calls", START_BODY, status=201
)
async def start_roll_call(request: web.Request, data: Body) -> Answer:
    """Start a roll call for all sites or some"""
    view, seconds = await service.start(
        services(request),
        principal(request),
        path_id(request, "session"),
        data.get("seconds") or DEFAULT_SECONDS,
        data.get("site_ids"),
    )
    _schedule_close(request.app, view["id"], seconds)
    return view


@routes.json("GET", SESSION + "/roll-calls", roles.STAFF, "roll calls")
async def list_roll_calls(request: web.Request) -> Answer:
    """List a session's roll calls with results per site"""
    return {"items": await service.list_for_session(services(request), path_id(request, "session"))}


@routes.json("GET", ROLL_CALL, roles.STAFF, "roll calls")
async def show_roll_call(request: web.Request) -> Answer:
    """Show a roll call: answers per site, who answered, who missed it"""
    return await service.show(services(request), path_id(request, "roll call"))


@routes.json("POST", ROLL_CALL + "/answer", roles.TRAINEES, "roll calls")
async def answer_roll_call(request: web.Request) -> Answer:
    """Answer a roll call from the phone"""
    roll_call_id = await service.answer_from_phone(
        services(request), principal(request), path_id(request, "roll call")
    )
    return {"roll_call_id": roll_call_id, "status": "answered"}


register = routes.register
