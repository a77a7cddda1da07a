"""The settings and registration endpoints of a session.

Thin: parse the request, call :mod:`server.web.electives.service`, answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.core import roles
from server.core.checkin import OutOfBatchRule
from server.core.validation import Bool, Int, Optional, validate
from server.core.validation import Enum as OneOf
from server.web.api import Routes, body
from server.web.db import Sessions
from server.web.electives import service
from server.web.keys import SESSIONS, principal
from server.web.resources import path_id, read_json

SESSION = "/api/v1/sessions/{id}"

routes = Routes()
register = routes.register

SETTINGS_BODY = body(
    {
        "capacity": Optional(Int(0, 100_000)),
        "registration_open": Bool(),
        "out_of_batch_rule": Optional(OneOf(*[r.value for r in OutOfBatchRule])),
        "any_room": Bool(),
    },
    set(),
)


@routes(
    "GET",
    SESSION + "/settings",
    roles.MANAGERS,
    "Show a session's capacity, registration and out-of-batch settings",
    "electives",
)
async def get_settings(request: web.Request) -> web.Response:
    view = await service.get_settings(request.app[SESSIONS], path_id(request, "session"))
    return web.json_response(view)


@routes(
    "PUT",
    SESSION + "/settings",
    roles.MANAGERS,
    "Change a session's capacity, registration and out-of-batch settings",
    "electives",
    body=SETTINGS_BODY,
)
async def put_settings(request: web.Request) -> web.Response:
    data = validate(SETTINGS_BODY, await read_json(request), path="body")
    view = await service.put_settings(
        request.app[SESSIONS], principal(request), path_id(request, "session"), data
    )
    return web.json_response(view)


Change = Callable[[Sessions, int, int], Awaitable[dict[str, Any]]]


async def _own(request: web.Request, change: Change) -> web.Response:
    """A trainee changes their own registration for the session of the URL."""
    who = principal(request)
    assert who.trainee_id is not None
    view = await change(request.app[SESSIONS], who.trainee_id, path_id(request, "session"))
    return web.json_response(view)


@routes(
    "POST",
    SESSION + "/registration",
    roles.TRAINEES,
    "Register for a session as an elective (waitlisted when full)",
    "electives",
)
async def register_elective(request: web.Request) -> web.Response:
    """A trainee registers for a session (学员点课); beyond capacity they are waitlisted."""
    return await _own(request, service.register)


@routes(
    "DELETE",
    SESSION + "/registration",
    roles.TRAINEES,
    "Cancel one's registration; the first waitlisted moves up",
    "electives",
)
async def cancel_elective(request: web.Request) -> web.Response:
    """A trainee cancels; the first on the waitlist moves up in the same transaction."""
    return await _own(request, service.cancel)


@routes(
    "GET",
    SESSION + "/registrations",
    roles.MANAGERS,
    "List a session's registrations and waitlist",
    "electives",
)
async def list_registrations(request: web.Request) -> web.Response:
    view = await service.registrations(request.app[SESSIONS], path_id(request, "session"))
    return web.json_response(view)
