"""The settings and registration endpoints of a session.

Thin: parse the request, call :mod:`server.web.electives.service`, answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from server.core import roles
from server.core.checkin import OutOfBatchRule
from server.core.validation import Bool, Int, Optional
from server.core.validation import Enum as OneOf
from server.web.api import Answer, Body, Routes, body
from server.web.db import Sessions
from server.web.electives import service
from server.web.keys import SESSIONS, principal
from server.web.resources import path_id

SESSION = "/api/v1/sessions/{id}"

routes = Routes()
register = routes.register

Change = Callable[[Sessions, int, int], Awaitable[Answer]]

SETTINGS_BODY = body(
    {
        "capacity": Optional(Int(0, 100_000)),
        "registration_open": Bool(),
        "out_of_batch_rule": Optional(OneOf(*[r.value for r in OutOfBatchRule])),
        "any_room": Bool(),
    },
    set(),
)


@routes.json("GET", SESSION + "/settings", roles.MANAGERS, "electives")
async def get_settings(request: web.Request) -> Answer:
    """Show a session's capacity, registration and out-of-batch settings"""
    return await service.get_settings(request.app[SESSIONS], path_id(request, "session"))


@routes.json_body("PUT", SESSION + "/settings", roles.MANAGERS, "electives", SETTINGS_BODY)
async def put_settings(request: web.Request, data: Body) -> Answer:
    """Change a session's capacity, registration and out-of-batch settings"""
    who = principal(request)
    return await service.put_settings(request.app[SESSIONS], who, path_id(request, "session"), data)


async def _own(request: web.Request, change: Change) -> Answer:
    """A trainee changes their own registration for the session of the URL."""
    who = principal(request)
    assert who.trainee_id is not None
    return await change(request.app[SESSIONS], who.trainee_id, path_id(request, "session"))


@routes.json("POST", SESSION + "/registration", roles.TRAINEES, "electives")
async def register_elective(request: web.Request) -> Answer:
    """Register for a session as an elective (waitlisted when full)

    学员点课: beyond capacity they are waitlisted."""
    return await _own(request, service.register)


@routes.json("DELETE", SESSION + "/registration", roles.TRAINEES, "electives")
async def cancel_elective(request: web.Request) -> Answer:
    """Cancel one's registration; the first waitlisted moves up

    In the same transaction."""
    return await _own(request, service.cancel)


@routes.json("GET", SESSION + "/registrations", roles.MANAGERS, "electives")
async def list_registrations(request: web.Request) -> Answer:
    """List a session's registrations and waitlist"""
    return await service.registrations(request.app[SESSIONS], path_id(request, "session"))
