"""Roll call over HTTP and live: start, answer (phone or the site agent), watch, close.

The answers per site are pushed live on the session topic (``roll_call_tally``); the roll call
closes at its deadline (a timer in the process that started it, and lazily on any later read or
answer, so a dead process cannot leave it open), marking everyone who did not answer ``missed``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import roles
from server.core.checkin import AttendanceState
from server.core.errors import Conflict, DomainError
from server.core.rollcall import (
    DEFAULT_SECONDS,
    EntryStatus,
    check_seconds,
    close_statuses,
    decide_answer,
    tally,
    targeted_sites,
)
from server.core.sessions import SessionStatus
from server.core.validation import Int, List, Map, Optional, validate
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import ClassSession, Trainee, utcnow
from server.store.rollcall_models import RollCall, RollCallEntry
from server.web.api import Endpoint, Registry
from server.web.keys import LIVE, SESSIONS, principal
from server.web.resources import audit, load, path_id, read_json

log = logging.getLogger("server.rollcall")

START_BODY = Map(
    {
        "seconds": Optional(Int(1, 3600)),
        "site_ids": Optional(List(Int(1, 2**31 - 1), max_items=2000)),
    },
    frozenset(),
    extra="reject",
    absent="omit",
)
_timers: set[asyncio.Task[None]] = set()


async def _in_room(
    db: AsyncSession, session_id: int, site_ids: list[int]
) -> list[AttendanceRecordRow]:
    return list(
        (
            await db.scalars(
                select(AttendanceRecordRow).where(
                    AttendanceRecordRow.session_id == session_id,
                    AttendanceRecordRow.state == AttendanceState.IN.value,
                    AttendanceRecordRow.site_id.in_(site_ids),
                )
            )
        ).all()
    )


async def _entries(db: AsyncSession, roll_call_id: int) -> list[RollCallEntry]:
    return list(
        (
            await db.scalars(
                select(RollCallEntry)
                .where(RollCallEntry.roll_call_id == roll_call_id)
                .order_by(RollCallEntry.id)
            )
        ).all()
    )


def _view(
    call: RollCall, entries: list[RollCallEntry], names: dict[int, str] | None = None
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": call.id,
        "session_id": call.session_id,
        "site_ids": list(call.site_ids),
        "started_at": call.started_at.isoformat(),
        "deadline": call.deadline.isoformat(),
        "closed": call.closed,
        "by_site": {
            str(k): v for k, v in tally((e.site_id, EntryStatus(e.status)) for e in entries).items()
        },
    }
    if names is not None:
        view["missed"] = [
            {"trainee_id": e.trainee_id, "name": names.get(e.trainee_id, ""), "site_id": e.site_id}
            for e in entries
            if e.status == EntryStatus.MISSED.value
        ]
        view["answered"] = [
            {
                "trainee_id": e.trainee_id,
                "site_id": e.site_id,
                "via": e.via,
                "at": e.answered_at.isoformat() if e.answered_at else None,
            }
            for e in entries
            if e.status == EntryStatus.ANSWERED.value
        ]
    return view


async def _close_if_due(
    db: AsyncSession, call: RollCall, now: datetime, force: bool = False
) -> bool:
    """Close the roll call when its deadline has passed; True if this call closed it."""
    if call.closed or (now <= call.deadline and not force):
        return False
    entries = await _entries(db, call.id)
    statuses = close_statuses({e.trainee_id: EntryStatus(e.status) for e in entries})
    for entry in entries:
        entry.status = statuses[entry.trainee_id].value
    call.closed = True
    await db.flush()
    return True


async def _names(db: AsyncSession, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    rows = await db.execute(select(Trainee.id, Trainee.name).where(Trainee.id.in_(ids)))
    return {trainee_id: name for trainee_id, name in rows.all()}


async def close_roll_calls(
    db: AsyncSession, session_id: int
) -> list[tuple[RollCall, list[RollCallEntry]]]:
    """Close the session's open roll calls (called when the session ends): each with its
    final entries, for :func:`announce_closed` once the transaction has committed."""
    calls = (
        await db.scalars(
            select(RollCall).where(RollCall.session_id == session_id, RollCall.closed.is_(False))
        )
    ).all()
    closed = []
    for call in calls:
        await _close_if_due(db, call, utcnow(), force=True)
        closed.append((call, await _entries(db, call.id)))
    return closed


async def announce_closed(
    request: web.Request, closed: list[tuple[RollCall, list[RollCallEntry]]]
) -> None:
    """Tell browsers and sites that these roll calls ended (who answered, who is missed)."""
    for call, entries in closed:
        await _publish(request, call, entries, "roll_call_ended")


async def _publish(
    request: web.Request, call: RollCall, entries: list[RollCallEntry], kind: str
) -> None:
    live = request.app[LIVE]
    view = _view(call, entries)
    if kind == "roll_call_ended":
        await live.announce(
            kind,
            {"roll_call_id": call.id, **view},
            site_ids=view["site_ids"],
            session_id=call.session_id,
        )
    else:
        with contextlib.suppress(DomainError):
            await live.bus.publish(
                f"session:{call.session_id}", kind, {"roll_call_id": call.id, **view}
            )


def _schedule_close(request: web.Request, roll_call_id: int, seconds: float) -> None:
    app = request.app

    async def later() -> None:
        await asyncio.sleep(seconds + 0.2)
        async with app[SESSIONS]() as db, db.begin():
            call = await db.get(RollCall, roll_call_id)
            if call is None or not await _close_if_due(db, call, utcnow()):
                return
            entries = await _entries(db, call.id)
        await _publish(request, call, entries, "roll_call_ended")

    task = asyncio.get_running_loop().create_task(later())
    _timers.add(task)
    task.add_done_callback(_timers.discard)


async def start_roll_call(request: web.Request) -> web.Response:
    data = validate(START_BODY, await read_json(request), path="body")
    seconds = check_seconds(data.get("seconds") or DEFAULT_SECONDS)
    now = utcnow()
    async with request.app[SESSIONS]() as db, db.begin():
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        if session.status is not SessionStatus.LIVE:
            raise Conflict("rollcall.session_not_live", "Start the session before a roll call.")
        sites = targeted_sites(data.get("site_ids"), [s.id for s in session.sites])
        call = RollCall(
            session_id=session.id,
            site_ids=sites,
            started_at=now,
            deadline=now + timedelta(seconds=seconds),
            started_by=principal(request).label,
        )
        db.add(call)
        await db.flush()
        for record in await _in_room(db, session.id, sites):
            db.add(
                RollCallEntry(
                    roll_call_id=call.id,
                    trainee_id=record.trainee_id,
                    site_id=record.site_id,
                    status=EntryStatus.PENDING.value,
                )
            )
        await db.flush()
        entries = await _entries(db, call.id)
        audit(
            db,
            principal(request),
            "start",
            "roll_calls",
            call.id,
            None,
            {"sites": sites, "seconds": seconds},
        )
    view = _view(call, entries)
    await request.app[LIVE].announce(
        "roll_call", {"roll_call_id": call.id, **view}, site_ids=sites, session_id=call.session_id
    )
    _schedule_close(request, call.id, seconds)
    return web.json_response(view, status=201)


async def record_answer(
    db: AsyncSession, roll_call_id: int, trainee_id: int, via: str, site_id: int | None = None
) -> tuple[RollCall, list[RollCallEntry]]:
    """Record one answer; ``site_id`` given when the site answers for a trainee in its room."""
    call = await load(db, RollCall, roll_call_id, "roll call")
    now = utcnow()
    if await _close_if_due(db, call, now):
        raise Conflict("rollcall.closed", "This roll call has closed; answers are no longer taken.")
    entry = await db.scalar(
        select(RollCallEntry).where(
            RollCallEntry.roll_call_id == call.id, RollCallEntry.trainee_id == trainee_id
        )
    )
    record = await db.scalar(
        select(AttendanceRecordRow).where(
            AttendanceRecordRow.session_id == call.session_id,
            AttendanceRecordRow.trainee_id == trainee_id,
        )
    )
    in_room = (
        record.site_id if record is not None and record.state == AttendanceState.IN.value else None
    )
    if site_id is not None and in_room is not None and in_room != site_id:
        in_room = -1  # the site answers only for its own room
    decision = decide_answer(
        now=now.timestamp(),
        deadline=call.deadline.timestamp(),
        closed=call.closed,
        status=EntryStatus(entry.status) if entry else None,
        in_room_site=in_room,
        sites=call.site_ids,
    )
    if entry is None:
        entry = RollCallEntry(
            roll_call_id=call.id,
            trainee_id=trainee_id,
            site_id=decision.site_id,
            status=EntryStatus.PENDING.value,
        )
        db.add(entry)
    entry.status = EntryStatus.ANSWERED.value
    entry.answered_at = now
    entry.via = via
    await db.flush()
    return call, await _entries(db, call.id)


async def answer_roll_call(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db, db.begin():
        call, entries = await record_answer(
            db, path_id(request, "roll call"), who.trainee_id, "phone"
        )
    await _publish(request, call, entries, "roll_call_tally")
    return web.json_response({"roll_call_id": call.id, "status": "answered"})


async def show_roll_call(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        call = await load(db, RollCall, path_id(request, "roll call"), "roll call")
        closed_now = await _close_if_due(db, call, utcnow())
        entries = await _entries(db, call.id)
        names = await _names(db, [e.trainee_id for e in entries])
    if closed_now:
        await _publish(request, call, entries, "roll_call_ended")
    return web.json_response(_view(call, entries, names))


async def session_roll_calls(db: AsyncSession, session_id: int) -> list[dict[str, Any]]:
    """Every roll call of a session with per-site results (for the session report)."""
    calls = (
        await db.scalars(
            select(RollCall).where(RollCall.session_id == session_id).order_by(RollCall.id)
        )
    ).all()
    views = []
    for call in calls:
        await _close_if_due(db, call, utcnow())
        entries = await _entries(db, call.id)
        names = await _names(db, [e.trainee_id for e in entries])
        views.append(_view(call, entries, names))
    return views


async def list_roll_calls(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        return web.json_response({"items": await session_roll_calls(db, session.id)})


def register(registry: Registry) -> None:
    add = registry.add
    add(
        Endpoint(
            "POST",
            "/api/v1/sessions/{id}/roll-calls",
            start_roll_call,
            roles.MANAGERS,
            "Start a roll call for all sites or some",
            "roll calls",
            body=START_BODY,
            status=201,
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/sessions/{id}/roll-calls",
            list_roll_calls,
            roles.STAFF,
            "List a session's roll calls with results per site",
            "roll calls",
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/roll-calls/{id}",
            show_roll_call,
            roles.STAFF,
            "Show a roll call: answers per site, who answered, who missed it",
            "roll calls",
        )
    )
    add(
        Endpoint(
            "POST",
            "/api/v1/roll-calls/{id}/answer",
            answer_roll_call,
            roles.TRAINEES,
            "Answer a roll call from the phone",
            "roll calls",
            status=200,
        )
    )
