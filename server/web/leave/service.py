"""Leave (请假) in the store: requests, decisions, who is on leave, the 1/7 standing.

The rules are ``server.core.leave``; this module reads and writes rows around them. The ledger
and the reports ask :func:`on_leave` which (session, trainee) pairs have approved leave.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict
from datetime import datetime
from fractions import Fraction
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import leave as rules
from server.core.errors import InvalidInput, NotFound
from server.core.leave import Decider, LeaveAction, LeaveStanding, LeaveState
from server.core.ledger import LedgerRules, LedgerSession
from server.core.roles import MANAGERS, Principal
from server.store.attendance_models import AttendanceRecordRow
from server.store.completion_models import (
    LeaveRequestRow,
    LeaveSessionRow,
    ProgramSettings,
    UnitContact,
)
from server.store.models import ClassSession, Course, Program, ProgramUnit, Trainee, utcnow
from server.web.db import CHUNK, iso
from server.web.session_roster import expected_trainees
from server.web.session_window import scheduled_session


async def on_leave(
    db: AsyncSession, session_ids: Iterable[int], trainee_ids: Iterable[int] | None = None
) -> frozenset[tuple[int, int]]:
    """``(session_id, trainee_id)`` pairs with APPROVED leave among the given sessions."""
    wanted = sorted(set(session_ids))
    only = None if trainee_ids is None else set(trainee_ids)
    found: set[tuple[int, int]] = set()
    for i in range(0, len(wanted), CHUNK):
        rows = await db.execute(
            select(LeaveSessionRow.session_id, LeaveRequestRow.trainee_id)
            .join(LeaveRequestRow, LeaveRequestRow.id == LeaveSessionRow.request_id)
            .where(
                LeaveSessionRow.session_id.in_(wanted[i : i + CHUNK]),
                LeaveRequestRow.state == LeaveState.APPROVED.value,
            )
        )
        found |= {(s, t) for s, t in rows.all() if only is None or t in only}
    return frozenset(found)


async def checked_in(
    db: AsyncSession, session_ids: Iterable[int], trainee_ids: Iterable[int]
) -> frozenset[tuple[int, int]]:
    """``(session_id, trainee_id)`` pairs where the trainee has checked in to the session (a
    stay recorded, by code or by a staff marking)."""
    wanted = sorted(set(session_ids))
    people = sorted(set(trainee_ids))
    found: set[tuple[int, int]] = set()
    for i in range(0, len(wanted), CHUNK):
        rows = await db.execute(
            select(AttendanceRecordRow.session_id, AttendanceRecordRow.trainee_id).where(
                AttendanceRecordRow.session_id.in_(wanted[i : i + CHUNK]),
                AttendanceRecordRow.trainee_id.in_(people),
                AttendanceRecordRow.first_in.is_not(None),
            )
        )
        found |= {(sid, tid) for sid, tid in rows.all()}
    return frozenset(found)


async def program_of_sessions(db: AsyncSession, session_ids: Sequence[int]) -> dict[int, int]:
    """Session id → program id."""
    rows = await db.execute(
        select(ClassSession.id, ProgramUnit.program_id)
        .join(Course, Course.id == ClassSession.course_id)
        .join(ProgramUnit, ProgramUnit.id == Course.unit_id)
        .where(ClassSession.id.in_(list(session_ids)))
    )
    return {s: p for s, p in rows.all()}


async def program_sessions(db: AsyncSession, program_id: int) -> list[ClassSession]:
    return list(
        (
            await db.scalars(
                select(ClassSession)
                .join(Course, Course.id == ClassSession.course_id)
                .join(ProgramUnit, ProgramUnit.id == Course.unit_id)
                .where(ProgramUnit.program_id == program_id)
                .order_by(ClassSession.starts_at, ClassSession.id)
            )
        ).all()
    )


async def settings_of(db: AsyncSession, program_id: int) -> ProgramSettings:
    """The program's settings row (defaults when none is stored; not added to the session)."""
    found = await db.get(ProgramSettings, program_id)
    return (
        found
        if found is not None
        else ProgramSettings(program_id=program_id, leave_limit_num=1, leave_limit_den=7)
    )


def limit_of(settings: ProgramSettings) -> Fraction:
    return rules.leave_limit(settings.leave_limit_num or 1, settings.leave_limit_den or 7)


async def decider_for(db: AsyncSession, who: Principal) -> Decider:
    """Operators and admins are the training office; any user may be a unit's contact."""
    if who.actor in MANAGERS:
        return Decider(office=True)
    if who.user_id is None:
        return Decider(office=False)
    units = await db.scalars(
        select(UnitContact.org_unit_id).where(UnitContact.user_id == who.user_id)
    )
    return Decider(office=False, contact_of=frozenset(units.all()))


async def ask(
    db: AsyncSession, trainee: Trainee, session_ids: list[int], reason: str
) -> LeaveRequestRow:
    """A trainee's new request; every session must be of one program and not over."""
    text = rules.clean_reason(reason)
    sessions = list(
        (await db.scalars(select(ClassSession).where(ClassSession.id.in_(session_ids)))).all()
    )
    missing = sorted(set(session_ids) - {s.id for s in sessions})
    if missing:
        raise NotFound("session.not_found", f"There is no session with id {missing[0]}.")
    attended = await checked_in(db, session_ids, [trainee.id])
    rules.check_sessions(
        [scheduled_session(s) for s in sessions],
        now=utcnow().timestamp(),
        checked_in=frozenset(str(s) for s, _ in attended),
    )
    programs = set((await program_of_sessions(db, session_ids)).values())
    if len(programs) != 1:
        raise InvalidInput(
            "leave.other_program",
            "The sessions chosen belong to different programs; ask for each separately.",
        )
    row = LeaveRequestRow(
        trainee_id=trainee.id,
        program_id=programs.pop(),
        reason=text,
        state=LeaveState.REQUESTED.value,
        first_start=min(s.starts_at for s in sessions),
    )
    db.add(row)
    await db.flush()
    db.add_all(LeaveSessionRow(request_id=row.id, session_id=s.id) for s in sessions)
    return row


async def change(
    db: AsyncSession, row: LeaveRequestRow, action: LeaveAction, who: str, note: str = ""
) -> LeaveRequestRow:
    """Apply a decision or a withdrawal by the core's state rule (the caller checked who)."""
    now = utcnow()
    after = rules.next_state(
        LeaveState(row.state),
        action,
        now=now.timestamp(),
        first_session_start=row.first_start.timestamp(),
    )
    if action is not LeaveAction.WITHDRAW:
        row.note = rules.decision_note(action, note)
        row.decided_at = now
        row.decided_by = who
    row.state = after.value
    return row


async def sessions_of(db: AsyncSession, request_ids: Sequence[int]) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {r: [] for r in request_ids}
    for i in range(0, len(request_ids), CHUNK):
        rows = await db.execute(
            select(LeaveSessionRow.request_id, LeaveSessionRow.session_id)
            .where(LeaveSessionRow.request_id.in_(list(request_ids[i : i + CHUNK])))
            .order_by(LeaveSessionRow.session_id)
        )
        for request_id, session_id in rows.all():
            out[request_id].append(session_id)
    return out


async def standings(
    db: AsyncSession, program_id: int, trainee_ids: Iterable[int] | None = None
) -> dict[int, LeaveStanding]:
    """Every trainee with leave in the program (or those given): their share, before/after."""
    settings = await settings_of(db, program_id)
    sessions = await program_sessions(db, program_id)
    by_id = {s.id: scheduled_session(s) for s in sessions}
    query = (
        select(LeaveRequestRow.trainee_id, LeaveRequestRow.state, LeaveSessionRow.session_id)
        .join(LeaveSessionRow, LeaveSessionRow.request_id == LeaveRequestRow.id)
        .where(
            LeaveRequestRow.program_id == program_id,
            LeaveRequestRow.state.in_([LeaveState.APPROVED.value, LeaveState.REQUESTED.value]),
        )
    )
    approved: dict[int, list[LedgerSession]] = {}
    pending: dict[int, list[LedgerSession]] = {}
    for trainee_id, state, session_id in (await db.execute(query)).all():
        target = approved if state == LeaveState.APPROVED.value else pending
        if session_id in by_id:
            target.setdefault(trainee_id, []).append(by_id[session_id])
    people = set(approved) | set(pending) | set(trainee_ids or ())
    ledger_rules = LedgerRules()
    limit = limit_of(settings)
    return {
        t: rules.leave_standing(
            str(t),
            approved.get(t, []),
            pending.get(t, []),
            by_id.values(),
            rules=ledger_rules,
            limit=limit,
        )
        for t in people
    }


def standing_view(s: LeaveStanding) -> dict[str, Any]:
    """The standing's fields but its trainee (the answer names the trainee already)."""
    return {k: v for k, v in asdict(s).items() if k != "trainee_id"}


async def program_name(db: AsyncSession, program_id: int) -> str:
    program = await db.get(Program, program_id)
    return program.name if program is not None else ""


async def coming_sessions(
    db: AsyncSession, trainee: Trainee, start: datetime, end: datetime, limit: int = 60
) -> list[dict[str, Any]]:
    """Sessions not yet over, up to ``end``, the trainee is expected at: id, title, window,
    program and room (their home site when it takes part, else the first site)."""
    rows = (
        await db.execute(
            select(ClassSession, Course, Program)
            .join(Course, Course.id == ClassSession.course_id)
            .join(ProgramUnit, ProgramUnit.id == Course.unit_id)
            .join(Program, Program.id == ProgramUnit.program_id)
            .where(ClassSession.ends_at > start, ClassSession.starts_at < end)
            .order_by(ClassSession.starts_at, ClassSession.id)
            .limit(limit * 4)
        )
    ).all()
    out: list[dict[str, Any]] = []
    for session, course, program in rows:
        if trainee.id not in await expected_trainees(db, session):
            continue
        room = next((s for s in session.sites if s.id == trainee.home_site_id), None)
        room = room or (session.sites[0] if session.sites else None)
        out.append(
            {
                "id": session.id,
                "title": session.title or course.title,
                "starts_at": iso(session.starts_at),
                "ends_at": iso(session.ends_at),
                "program_id": program.id,
                "program": program.name,
                "room": room.name if room is not None else "",
            }
        )
        if len(out) >= limit:
            break
    return out
