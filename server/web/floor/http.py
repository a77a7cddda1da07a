"""The floor and the moderator's one queue over HTTP: thin handlers declared on their routes;
after a change, the media program follows the floor and a granted time limit gets its timer
(the rules: ``server.core.floor``; the store: ``service``)."""

from __future__ import annotations

import logging

from aiohttp import web

from server.core import roles
from server.core.validation import Float, Optional
from server.web import media_api
from server.web.api import ID, Answer, Body, Routes, body
from server.web.floor import service
from server.web.interaction.http import IN_SESSION, SESSION, services, services_of
from server.web.keys import TIMERS, principal
from server.web.resources import path_id

log = logging.getLogger("server.qa")
routes = Routes()


async def _after(app: web.Application, session_id: int, announced: service.Announced) -> None:
    """What follows a floor change outside the database: the media program and the timer."""
    for kind, payload in announced:
        await media_api.floor_changed(app, session_id, kind, payload)
        if kind == "floor_granted" and payload["seconds"] is not None:
            _schedule_expiry(app, session_id, float(payload["seconds"]))


def _schedule_expiry(app: web.Application, session_id: int, delay: float) -> None:
    app[TIMERS].later(delay + 0.05, lambda: _expire(app, session_id), "floor expiry")


async def _expire(app: web.Application, session_id: int) -> None:
    try:
        _view, announced = await service.change(services_of(app), None, session_id, "tick", {})
        await _after(app, session_id, announced)
    except Exception:  # the next read of the floor applies the expiry (lazy)
        log.warning("floor expiry failed; a later read applies it", exc_info=True)


async def _expire_if_due(request: web.Request, session_id: int) -> None:
    announced = await service.expire_if_due(services(request), session_id)
    await _after(request.app, session_id, announced)


async def _changed(request: web.Request, result: tuple[Answer, service.Announced]) -> Answer:
    view, announced = result
    await _after(request.app, path_id(request, "session"), announced)
    return view


@routes.json("GET", SESSION + "/floor", IN_SESSION, "floor")
async def get_floor(request: web.Request) -> Answer:
    """Show who holds the floor and who raised a hand"""
    session_id = path_id(request, "session")
    await _expire_if_due(request, session_id)
    return await service.show(services(request), session_id)


@routes.json("POST", SESSION + "/floor/raise", roles.AGENTS, "floor")
async def raise_hand(request: web.Request) -> Answer:
    """Raise the site's hand for the floor

    A site (its agent) asks for the floor for its room."""
    result = await service.hand(
        services(request), principal(request), path_id(request, "session"), "raise"
    )
    return await _changed(request, result)


@routes.json("POST", SESSION + "/floor/lower", roles.AGENTS, "floor")
async def lower_hand(request: web.Request) -> Answer:
    """Lower the site's hand

    A site withdraws its request for the floor."""
    result = await service.hand(
        services(request), principal(request), path_id(request, "session"), "lower"
    )
    return await _changed(request, result)


GRANT_BODY = body({"site_id": ID, "time_limit": Optional(Float(1, 86_400))}, {"site_id"})


@routes.json_body("POST", SESSION + "/floor/grant", roles.MANAGERS, "floor", GRANT_BODY)
async def grant_floor(request: web.Request, data: Body) -> Answer:
    """Give a site the floor, optionally with a time limit

    The operator gives one site the floor, optionally for a time limit (a countdown)."""
    result = await service.grant(
        services(request), principal(request), path_id(request, "session"), data
    )
    return await _changed(request, result)


@routes.json("POST", SESSION + "/floor/revoke", roles.MANAGERS, "floor")
async def revoke_floor(request: web.Request) -> Answer:
    """Return the floor to the main classroom"""
    result = await service.change(
        services(request), principal(request), path_id(request, "session"), "revoke", {}
    )
    return await _changed(request, result)


@routes.json("GET", SESSION + "/moderator-queue", roles.STAFF, "qa")
async def moderator_queue(request: web.Request) -> Answer:
    """Show the one queue of floor requests and approved questions"""
    session_id = path_id(request, "session")
    await _expire_if_due(request, session_id)
    return await service.moderator_queue(services(request), session_id)


register = routes.register
