"""Roll calls: the store around ``server.core.rollcall``. No HTTP here.

The answers per site are pushed live on the session topic (``roll_call_tally``); a roll call
closes at its deadline (a timer in the process that started it, ``rollcall.http``, and lazily on
any later read or answer, so a dead process cannot leave it open), marking everyone who did not
answer ``missed``.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import AttendanceState
from server.core.errors import Conflict, DomainError
from server.core.roles import Principal
from server.core.rollcall import (
    EntryStatus,
    check_seconds,
    close_statuses,
    decide_answer,
    tally,
    targeted_sites,
)
from server.core.sessions import SessionStatus
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import ClassSession, Trainee, utcnow
from server.store.rollcall_models import RollCall, RollCallEntry
from server.web.interaction.service import Services
from server.web.resources import audit, load

Closed = list[tuple[RollCall, list[RollCallEntry]]]


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


def view_of(
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


async def close_roll_calls(db: AsyncSession, session_id: int) -> Closed:
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


async def announce_closed(svc: Services, closed: Closed) -> None:
    """Tell browsers and sites that these roll calls ended (who answered, who is missed)."""
    for call, entries in closed:
        await publish(svc, call, entries, "roll_call_ended")


async def publish(svc: Services, call: RollCall, entries: list[RollCallEntry], kind: str) -> None:
    """``roll_call`` and ``roll_call_ended`` to the session and the called sites' agents; the
    tally to the session's browsers."""
    view = view_of(call, entries)
    data = {"roll_call_id": call.id, **view}
    if kind in ("roll_call", "roll_call_ended"):
        await svc.live.announce(kind, data, site_ids=view["site_ids"], session_id=call.session_id)
    else:
        with contextlib.suppress(DomainError):
            await svc.live.bus.publish(f"session:{call.session_id}", kind, data)


async def close_when_due(svc: Services, roll_call_id: int) -> None:
    """The deadline timer: close the roll call if nobody did, and say so."""
    async with svc.sessions() as db, db.begin():
        call = await db.get(RollCall, roll_call_id)
        if call is None or not await _close_if_due(db, call, utcnow()):
            return
        entries = await _entries(db, call.id)
    await publish(svc, call, entries, "roll_call_ended")


async def start(
    svc: Services, who: Principal, session_id: int, seconds: int, site_ids: list[int] | None
) -> tuple[dict[str, Any], float]:
    """Start a roll call for all sites or some; (view, seconds until its deadline)."""
    seconds = check_seconds(seconds)
    now = utcnow()
    async with svc.sessions() as db, db.begin():
        session = await load(db, ClassSession, session_id, "session")
        if session.status is not SessionStatus.LIVE:
            raise Conflict("rollcall.session_not_live", "Start the session before a roll call.")
        sites = targeted_sites(site_ids, [s.id for s in session.sites])
        call = RollCall(
            session_id=session.id,
            site_ids=sites,
            started_at=now,
            deadline=now + timedelta(seconds=seconds),
            started_by=who.label,
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
        audit(db, who, "start", "roll_calls", call.id, None, {"sites": sites, "seconds": seconds})
    await publish(svc, call, entries, "roll_call")
    return view_of(call, entries), seconds


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


async def answer_from_phone(svc: Services, who: Principal, roll_call_id: int) -> int:
    assert who.trainee_id is not None
    async with svc.sessions() as db, db.begin():
        call, entries = await record_answer(db, roll_call_id, who.trainee_id, "phone")
    await publish(svc, call, entries, "roll_call_tally")
    return call.id


async def show(svc: Services, roll_call_id: int) -> dict[str, Any]:
    async with svc.sessions() as db, db.begin():
        call = await load(db, RollCall, roll_call_id, "roll call")
        closed_now = await _close_if_due(db, call, utcnow())
        entries = await _entries(db, call.id)
        names = await _names(db, [e.trainee_id for e in entries])
    if closed_now:
        await publish(svc, call, entries, "roll_call_ended")
    return view_of(call, entries, names)


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
        views.append(view_of(call, entries, names))
    return views


async def list_for_session(svc: Services, session_id: int) -> list[dict[str, Any]]:
    async with svc.sessions() as db, db.begin():
        session = await load(db, ClassSession, session_id, "session")
        return await session_roll_calls(db, session.id)
