"""What the site screen (a kiosk browser beside the projector) and the trainee page need.

* ``POST /api/v1/auth/screen {secret}``: a kiosk browser has no user. It proves it belongs to a
  site with the site's agent secret (the same check as the agent's bearer secret) and gets a
  **stateless signed cookie** instead of a login row (no schema change): ``scr1.<site>.<exp>.<mac>``
  in the ordinary session cookie, read by :func:`server.web.auth.principal_from_cookie`. The MAC
  is keyed by the server's secret key and the site's stored secret hash (the database alone
  cannot forge one), so issuing a new secret for the site signs every screen of that site out;
  the cookie carries no secret, expires after ``SCREEN_DAYS`` and an expiry further ahead than
  ``SCREEN_MAX_DAYS`` is refused (``server.core.checkin_guard``).
* ``GET /api/v1/site/current-session``: the session live at the caller's site now (or the next
  one), with the site's name. A screen's cookie is renewed here when half its life is gone.
* ``GET /api/v1/trainee/live-sessions``: the sessions live now, and whether I am checked in.
* ``POST /api/v1/site/screen-status``: the screen page's playback report every 5 s (frames
  decoded, paused, sound): judged by :mod:`server.core.screen` and shown on the operator wall.
* ``GET /api/v1/sessions/{id}/site-names``: the names of a session's sites, so a screen and a
  phone can say which site has the floor.
* ``GET /api/v1/sessions/{id}/roll-calls/open``: the open roll calls a phone or a screen must
  show (after a reconnect the live socket's snapshot does not carry them).
"""

from __future__ import annotations

import time
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.core import roles, screen
from server.core.checkin import AttendanceState
from server.core.errors import Forbidden, Unauthenticated
from server.core.roles import Actor
from server.core.rollcall import EntryStatus
from server.core.sessions import SessionStatus
from server.core.validation import Map, Str
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import ClassSession, Site, utcnow
from server.store.rollcall_models import RollCall, RollCallEntry
from server.web import auth
from server.web.api import Answer, Routes, read_body
from server.web.db import rows_by
from server.web.keys import CLUSTER, CONFIG, LIVE, MEDIA, SESSIONS, principal
from server.web.resources import load, path_id

SCREEN_BODY = Map(
    {"secret": Str(min_len=1, max_len=200)}, frozenset({"secret"}), extra="reject", absent="omit"
)


def _set_screen_cookies(request: web.Request, response: web.Response, token: str) -> None:
    auth.set_login_cookies(
        response,
        token,
        auth.screen_csrf(token) or "",
        max_age=int(auth.SCREEN_DAYS * 86400),
        secure=request.app[CONFIG].cookie_secure,
    )


routes = Routes()


@routes(
    "POST",
    "/api/v1/auth/screen",
    roles.ALL,
    "Sign a site's screen in with the site's agent secret",
    "auth",
    body=SCREEN_BODY,
)
async def screen_sign_in(request: web.Request) -> web.Response:
    data = await read_body(request, SCREEN_BODY)
    async with request.app[SESSIONS]() as db:
        who = await auth.principal_from_site_secret(db, data["secret"].strip())
        if who is None or who.site_id is None:
            raise Unauthenticated(
                "auth.bad_site_secret",
                "This site secret is not valid; ask the operator for a new one.",
            )
        site = await load(db, Site, who.site_id, "site")
        assert site.secret_hash is not None
        key = auth.screen_key(request.app[CONFIG].secret_key)
        token = auth.screen_token(key, site.id, site.secret_hash, utcnow())
    response = web.json_response(
        {
            "actor": Actor.SITE_AGENT.value,
            "site_id": site.id,
            "name": site.name,
            "csrf_token": auth.screen_csrf(token),
        }
    )
    _set_screen_cookies(request, response, token)
    return response


def _session_view(session: ClassSession) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "status": session.status.value,
        "starts_at": session.starts_at.isoformat(),
        "ends_at": session.ends_at.isoformat(),
    }


@routes(
    "GET",
    "/api/v1/site/current-session",
    roles.AGENTS,
    "Show the session live at the caller's site now and the next ones",
    "agent",
)
async def site_current_session(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.site_id is not None
    now = utcnow()
    async with request.app[SESSIONS]() as db:
        site = await load(db, Site, who.site_id, "site")
        mine = select(ClassSession).join(ClassSession.sites).where(Site.id == site.id)
        live = await db.scalar(
            mine.where(ClassSession.status == SessionStatus.LIVE)
            .order_by(ClassSession.started_at.desc(), ClassSession.id.desc())
            .limit(1)
        )
        upcoming = (
            await db.scalars(
                mine.where(ClassSession.status == SessionStatus.SCHEDULED)
                .where(ClassSession.ends_at >= now)
                .order_by(ClassSession.starts_at, ClassSession.id)
                .limit(3)
            )
        ).all()
        secret_hash = site.secret_hash
        response = web.json_response(
            {
                "site": {"id": site.id, "name": site.name, "code": site.code},
                "session": None if live is None else _session_view(live),
                "upcoming": [_session_view(s) for s in upcoming],
            }
        )
    token = request.cookies.get(auth.SESSION_COOKIE, "")
    if secret_hash is not None and auth.screen_token_due_for_renewal(token, now):
        key = auth.screen_key(request.app[CONFIG].secret_key)
        _set_screen_cookies(
            request, response, auth.screen_token(key, who.site_id, secret_hash, now)
        )
    return response


def _broadcast_since(request: web.Request, session_id: int | None) -> float | None:
    """When the broadcast live for this session (on this node or on another one) started;
    ``None`` when none is live."""
    if session_id is None:
        return None
    media = request.app.get(MEDIA)
    if media is not None and session_id in media.live:
        return float(media.live[session_id].started_at)
    cluster = request.app.get(CLUSTER)
    remote = cluster.remote_views.get(session_id) if cluster is not None else None
    if not remote or not remote.get("live", True):
        return None
    return float(remote.get("started_at") or 0.0)  # an older node's view: long live


@routes.json("POST", "/api/v1/site/screen-status", roles.AGENTS, "agent", body=screen.SCREEN_REPORT)
async def screen_status(request: web.Request) -> Answer:
    """Report whether the site screen is really playing (frames decoded, sound)"""
    who = principal(request)
    assert who.site_id is not None
    data = await read_body(request, screen.SCREEN_REPORT)
    report = screen.ScreenReport(
        at=time.time(),
        session_id=data["session_id"],
        attached=data["attached"],
        paused=data["paused"],
        frames=data["frames"],
        sound=data["sound"],
        width=data["width"],
        height=data["height"],
    )
    status = await request.app[LIVE].presence.screen_report(
        who.site_id, report, _broadcast_since(request, report.session_id)
    )
    return {
        "state": status["state"],
        "fps": status["fps"],
        "sound": status["sound"],
        "interval_s": screen.REPORT_INTERVAL,
    }


@routes.json("GET", "/api/v1/trainee/live-sessions", roles.TRAINEES, "trainee")
async def trainee_live_sessions(request: web.Request) -> Answer:
    """List the sessions live now and whether the trainee is checked in"""
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db:
        sessions = (
            await db.scalars(
                select(ClassSession)
                .where(ClassSession.status == SessionStatus.LIVE)
                .order_by(ClassSession.starts_at, ClassSession.id)
                .limit(20)
            )
        ).all()
        records = await rows_by(
            db,
            AttendanceRecordRow,
            "session_id",
            AttendanceRecordRow.trainee_id == who.trainee_id,
            AttendanceRecordRow.session_id.in_([s.id for s in sessions]),
        )
        items = []
        for session in sessions:
            record = records.get(session.id)
            items.append(
                {
                    **_session_view(session),
                    "checked_in": record is not None and record.state == AttendanceState.IN.value,
                    # in / out (checked out) / closed, None before the first check-in
                    "attendance_state": record.state if record is not None else None,
                    "site_id": record.site_id if record is not None else None,
                    "home_site_takes_part": who.site_id in {s.id for s in session.sites},
                }
            )
    return {"items": items}


@routes.json(
    "GET", "/api/v1/sessions/{id}/site-names", roles.STAFF | roles.TRAINEES | roles.AGENTS, "floor"
)
async def session_site_names(request: web.Request) -> Answer:
    """List the names of a session's sites (to name the site that has the floor)"""
    who = principal(request)
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        sites = {s.id: s.name for s in session.sites}
    if who.actor is Actor.SITE_AGENT and who.site_id not in sites:
        raise Forbidden("session.other_site", "This site does not take part in the session.")
    items = [{"id": site_id, "name": name} for site_id, name in sorted(sites.items())]
    return {"session_id": session.id, "items": items}


@routes.json(
    "GET", "/api/v1/sessions/{id}/roll-calls/open", roles.TRAINEES | roles.AGENTS, "rollcall"
)
async def open_roll_calls(request: web.Request) -> Answer:
    """List a session's open roll calls (for phones and site screens)"""
    who = principal(request)
    now = utcnow()
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        if who.actor is Actor.SITE_AGENT and who.site_id not in {s.id for s in session.sites}:
            raise Forbidden("rollcall.other_site", "This site does not take part in the session.")
        calls = (
            await db.scalars(
                select(RollCall)
                .where(
                    RollCall.session_id == session.id,
                    RollCall.closed.is_(False),
                    RollCall.deadline > now,
                )
                .order_by(RollCall.id)
            )
        ).all()
        answered: set[int] = set()  # the calls this trainee has answered
        if who.trainee_id is not None and calls:
            answered = set(
                await db.scalars(
                    select(RollCallEntry.roll_call_id).where(
                        RollCallEntry.trainee_id == who.trainee_id,
                        RollCallEntry.roll_call_id.in_([c.id for c in calls]),
                        RollCallEntry.status == EntryStatus.ANSWERED.value,
                    )
                )
            )
        items = []
        for call in calls:
            if who.actor is Actor.SITE_AGENT and who.site_id not in call.site_ids:
                continue
            items.append(
                {
                    "id": call.id,
                    "session_id": call.session_id,
                    "site_ids": list(call.site_ids),
                    "started_at": call.started_at.isoformat(),
                    "deadline": call.deadline.isoformat(),
                    "seconds_left": round(max(0.0, (call.deadline - now).total_seconds()), 3),
                    "answered": call.id in answered,
                }
            )
    return {"session_id": session.id, "items": items}


register = routes.register
