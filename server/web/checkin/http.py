"""The check-in endpoints: the rotating code, check-in, check-out, marks by hand, the records
and the wrong-code list; and this process's group-commit writer of check-ins.

Thin: parse the request, call :mod:`server.web.checkin.service` (or the writer), answer, and
tell the session's consoles (:func:`server.web.checkin.events.record_changed`).
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web

from server.core import roles
from server.core.checkin import DEFAULT_OUT_OF_BATCH
from server.core.errors import DomainError, InvalidInput
from server.core.validation import DateTime, Str
from server.store.models import utcnow
from server.web.api import ID, Answer, Body, Routes, body, id_param
from server.web.checkin import guard, service
from server.web.checkin.events import ALERTS_TOPIC, record_changed
from server.web.checkin.writer import CheckinItem, CheckinWriter
from server.web.keys import CHECKIN_WRITER, CONFIG, LIVE, SESSIONS, principal
from server.web.resources import PAGE_PARAMS, page_params, path_id

SESSION = "/api/v1/sessions/{id}"
MANAGE_CHECKIN = roles.MANAGERS | roles.AGENTS
CLIENT_ID = Str(min_len=1, max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9_.:-]*")

log = logging.getLogger("server.web.checkin")

routes = Routes()
register = routes.register


# --------------------------------------------------------------------------------------------
# The group-commit writer of this process
# --------------------------------------------------------------------------------------------


def make_checkin_writer(app: web.Application) -> CheckinWriter:
    """This process's group-commit writer of the app's store (``app[CHECKIN_WRITER]``, started
    and closed by ``app.py``)."""
    sessions = app[SESSIONS]
    secret = service.checkin_secret(app[CONFIG].secret_key)

    async def alone(item: CheckinItem) -> dict[str, Any]:
        return await service.checkin_alone(sessions, secret, item)

    async def alerts(found: list[dict[str, Any]]) -> None:
        await publish_alerts(app, found)

    return CheckinWriter(sessions, secret, DEFAULT_OUT_OF_BATCH, alone, on_alerts=alerts)


async def publish_alerts(app: web.Application, alerts: list[dict[str, Any]]) -> None:
    """Tell the operators' consoles of repeated wrong codes (after the commit); a bus outage
    only loses the ping."""
    if not alerts:
        return
    for alert in await guard.named_alerts(app[SESSIONS], alerts):
        try:
            await app[LIVE].bus.publish(ALERTS_TOPIC, "checkin_failures", alert)
        except DomainError:
            log.warning("check-in alert not published: bus unavailable")


# --------------------------------------------------------------------------------------------
# Endpoints
# --------------------------------------------------------------------------------------------


SITE_ID = id_param("site_id", "the site (an agent's own site by default)")


@routes.json("GET", SESSION + "/checkin-code", MANAGE_CHECKIN, "checkin", query=(SITE_ID,))
async def checkin_code(request: web.Request) -> Answer:
    """Show a site's current rotating check-in code and QR payload

    The code a site's screen shows now, its QR payload and the seconds to the next one."""
    asked = SITE_ID.parse(request)
    return await service.code_view(
        request.app[SESSIONS],
        principal(request),
        path_id(request, "session"),
        asked,
        service.checkin_secret(request.app[CONFIG].secret_key),
    )


CHECKIN_BODY = body(
    {
        "code": Str(max_len=32),
        "qr": Str(max_len=300),
        "client_id": CLIENT_ID,
        "site_id": ID,
    },
    {"client_id"},
)


@routes.json_body("POST", SESSION + "/checkin", roles.TRAINEES, "checkin", CHECKIN_BODY)
async def checkin(request: web.Request, data: Body) -> Answer:
    """Check in with the code on the room's screen (idempotent by client_id)

    A trainee checks in with the code (or QR) on the room's screen. Check-ins are written in
    groups (``server.web.checkin.writer``): answered only once committed, each with its own
    answer or error."""
    if ("code" in data) == ("qr" in data):
        raise InvalidInput(
            "checkin.code_required", "Send either the code from the screen or the scanned QR text."
        )
    who = principal(request)
    assert who.trainee_id is not None
    item = CheckinItem(
        data=data,
        trainee_id=who.trainee_id,
        home_site_id=who.site_id,
        session_id=path_id(request, "session"),
        now=utcnow(),
    )
    response = await request.app[CHECKIN_WRITER].submit(item)
    if not response["replayed"]:
        record_changed(request.app, response["record"])
    return response


@routes.json("POST", SESSION + "/checkout", roles.TRAINEES, "checkin")
async def checkout(request: web.Request) -> Answer:
    """Check out of the room

    A trainee leaves the room before the end."""
    who = principal(request)
    assert who.trainee_id is not None
    view = await service.checkout(
        request.app[SESSIONS], who.trainee_id, path_id(request, "session")
    )
    record_changed(request.app, view)
    return view


MARK_BODY = body(
    {
        "trainee_id": ID,
        "reason": Str(min_len=1, max_len=500),
        "site_id": ID,
        "start": DateTime(),
        "end": DateTime(),
    },
    {"trainee_id", "reason"},
)


@routes.json_body("POST", SESSION + "/attendance/mark", MANAGE_CHECKIN, "checkin", MARK_BODY)
async def mark_present(request: web.Request, data: Body) -> Answer:
    """Mark a trainee present by hand, with a reason

    By an operator, or by the agent of the site."""
    view = await service.mark_present(
        request.app[SESSIONS], principal(request), path_id(request, "session"), data, utcnow()
    )
    record_changed(request.app, view)
    return view


@routes.json("GET", SESSION + "/attendance", MANAGE_CHECKIN, "checkin", query=PAGE_PARAMS)
async def list_attendance(request: web.Request) -> Answer:
    """List a session's attendance records

    A site agent sees its own site's."""
    limit, offset = page_params(request)
    who = principal(request)
    return await service.records(
        request.app[SESSIONS], who, path_id(request, "session"), limit, offset
    )


@routes.json("GET", SESSION + "/checkin-failures", roles.STAFF, "checkin")
async def list_failures(request: web.Request) -> Answer:
    """List the trainees who entered wrong check-in codes in a session (with back-off)

    Most recent first, and the session's total."""
    return await guard.failures(request.app[SESSIONS], path_id(request, "session"))
