"""Reads scoped to the sessions a person or site takes part in (issue 14 item 10).

Every GET endpoint that a trainee or a site may call and that belongs to one session (its path
is ``/api/v1/sessions/{id}/...``, or names a question, poll or roll call of the session) is
checked here, once, from the auth middleware: a trainee or site outside the session gets 403
``session.not_participant`` (the rule: ``server.core.roles.takes_part``). Live topics
``session:N`` are checked with the same rule (``may_watch``). Writes check more on their own
(checked in, own site). The session catalogue itself (``GET /api/v1/sessions[/{id}]``: title,
times, sites, like a printed timetable) stays readable so that trainees can find electives.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from sqlalchemy import exists, select

from server.core import roles
from server.core.errors import Forbidden
from server.core.roles import Actor, Principal
from server.store.attendance_models import (
    AttendanceRecordRow,
    BatchAssignment,
    ElectiveRegistration,
)
from server.store.models import ClassSession, session_sites
from server.store.qa_models import PollRow, QuestionRow
from server.store.rollcall_models import RollCall
from server.web.api import Endpoint
from server.web.batching import padded
from server.web.keys import SESSIONS

_BY_SESSION = re.compile(r"/api/v1/sessions/\{id\}/.+")
_BY_ITEM: dict[str, Any] = {
    "/api/v1/questions/{id}": QuestionRow,
    "/api/v1/polls/{id}": PollRow,
    "/api/v1/roll-calls/{id}": RollCall,
}
_OUTSIDERS = frozenset({Actor.TRAINEE, Actor.SITE_AGENT})


async def takes_part(sessions: Any, who: Principal, session_id: int) -> bool:
    """The facts for ``roles.takes_part``, in one round trip."""
    if who.actor not in _OUTSIDERS:
        return who.actor in roles.STAFF
    async with sessions() as db:
        sites = frozenset(
            await db.scalars(
                select(session_sites.c.site_id).where(session_sites.c.session_id == session_id)
            )
        )
        listed = False
        if who.actor is Actor.TRAINEE and who.site_id not in sites:
            tid = who.trainee_id
            listed = bool(
                await db.scalar(
                    select(
                        exists().where(
                            BatchAssignment.session_id == session_id,
                            BatchAssignment.trainee_id == tid,
                        )
                        | exists().where(
                            AttendanceRecordRow.session_id == session_id,
                            AttendanceRecordRow.trainee_id == tid,
                        )
                        | exists().where(
                            ElectiveRegistration.session_id == session_id,
                            ElectiveRegistration.trainee_id == tid,
                        )
                    )
                )
            )
    return roles.takes_part(who, sites, listed)


async def takes_part_many(
    sessions: Any, asks: list[tuple[Principal, int]]
) -> dict[tuple[Principal, int], bool]:
    """:func:`takes_part` for many (caller, session) pairs at once, in two queries on one
    connection whatever their number (the live socket's admission: server/web/admission.py);
    the same rule (``roles.takes_part``) decides each."""
    outsiders = [(who, sid) for who, sid in asks if who.actor in _OUTSIDERS]
    answers = {(who, sid): who.actor in roles.STAFF for who, sid in asks}
    if not outsiders:
        return answers
    session_ids = sorted({sid for _, sid in outsiders})
    async with sessions() as db:
        sites: dict[int, set[int]] = {sid: set() for sid in session_ids}
        for sid, site_id in await db.execute(
            select(session_sites.c.session_id, session_sites.c.site_id).where(
                session_sites.c.session_id.in_(padded(session_ids))
            )
        ):
            sites[sid].add(site_id)
        unsure = [
            (who, sid)
            for who, sid in outsiders
            if who.actor is Actor.TRAINEE and who.site_id not in sites[sid]
        ]
        listed: set[tuple[int, int]] = set()  # (session id, trainee id)
        if unsure:
            sids = sorted({sid for _, sid in unsure})
            tids = sorted({who.trainee_id for who, _ in unsure if who.trainee_id is not None})
            for model in (BatchAssignment, AttendanceRecordRow, ElectiveRegistration):
                found = await db.execute(
                    select(model.session_id, model.trainee_id)
                    .where(model.session_id.in_(padded(sids)), model.trainee_id.in_(padded(tids)))
                    .distinct()
                )
                listed.update((sid, tid) for sid, tid in found)
    for who, sid in outsiders:
        answers[(who, sid)] = roles.takes_part(
            who, frozenset(sites[sid]), (sid, who.trainee_id) in listed
        )
    return answers


async def _session_of(request: web.Request, endpoint: Endpoint) -> int | None:
    raw = request.match_info.get("id")
    if raw is None or not 1 <= int(raw) <= 2**31 - 1:
        return None
    if _BY_SESSION.fullmatch(endpoint.path):
        return int(raw)
    for prefix, model in _BY_ITEM.items():
        if endpoint.path.startswith(prefix):
            async with request.app[SESSIONS]() as db:
                found: int | None = await db.scalar(
                    select(model.session_id).where(model.id == int(raw))
                )
            return found  # None: the handler answers 404
    return None


async def check(request: web.Request, endpoint: Endpoint, who: Principal) -> None:
    """Refuse a read of a session's data by a trainee or site that takes no part in it."""
    if who.actor not in _OUTSIDERS or endpoint.method != "GET":
        return
    session_id = await _session_of(request, endpoint)
    if session_id is None:
        return
    sessions = request.app[SESSIONS]
    if not await takes_part(sessions, who, session_id):
        async with sessions() as db:
            if await db.get(ClassSession, session_id) is None:
                return  # the handler answers 404, as for anyone
        raise Forbidden(
            "session.not_participant",
            "You do not take part in this session.",
            {"session_id": session_id},
        )
