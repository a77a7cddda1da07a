"""Session settings and elective registration (service).

A session's settings (the row: ``server.web.session_roster.session_settings``): capacity,
whether registration is open, the out-of-batch rule of check-in and whether any room may be
used. Registration seats trainees up to the capacity and waitlists the rest (the rules:
:mod:`server.core.electives`); every change takes the session's registration lock first, so
concurrent registrations queue.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import effective_out_of_batch_rule
from server.core.electives import moves_up, waitlist_place
from server.core.errors import Conflict, NotFound
from server.core.roles import Principal
from server.core.sessions import SessionStatus
from server.store.attendance_models import (
    ElectiveRegistration,
    RegistrationStatus,
    SessionSettings,
)
from server.store.models import ClassSession, Trainee, utcnow
from server.web.db import Sessions, audit, find, iso, load, transaction
from server.web.session_roster import session_settings


def settings_view(session_id: int, s: SessionSettings | None) -> dict[str, Any]:
    stored = s.out_of_batch_rule if s is not None else None
    return {
        "session_id": session_id,
        "capacity": s.capacity if s is not None else None,
        "registration_open": bool(s.registration_open) if s is not None else False,
        "out_of_batch_rule": stored,
        "effective_out_of_batch_rule": effective_out_of_batch_rule(stored).value,
        "any_room": bool(s.any_room) if s is not None else False,
    }


async def get_settings(sessions: Sessions, session_id: int) -> dict[str, Any]:
    async with transaction(sessions) as db:
        session = await load(db, ClassSession, session_id, "session")
        return settings_view(session.id, await session_settings(db, session.id))


async def put_settings(
    sessions: Sessions, who: Principal, session_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Change a session's settings (only the fields sent); audited."""
    async with transaction(sessions, write=True) as db:
        session = await load(db, ClassSession, session_id, "session")
        row = await session_settings(db, session.id)
        before = settings_view(session.id, row) if row is not None else None
        if row is None:
            row = SessionSettings(session_id=session.id, registration_open=False, version=0)
            db.add(row)
        for key, value in data.items():
            setattr(row, key, value)
        await db.flush()
        view = settings_view(session.id, row)
        audit(db, who, "settings", "sessions", session.id, before, view)
    return view


def _registration_view(
    reg: ElectiveRegistration | None, capacity: int | None, registered: int
) -> dict[str, Any]:
    return {
        "session_id": reg.session_id if reg else None,
        "trainee_id": reg.trainee_id if reg else None,
        "status": reg.status.value if reg else None,
        "position": reg.position if reg else None,
        "capacity": capacity,
        "registered": registered,
    }


async def _lock_registrations(db: AsyncSession, session_id: int) -> SessionSettings:
    """Take the session's registration lock (an UPDATE first: row lock / SQLite write lock)."""
    result = await db.execute(
        update(SessionSettings)
        .where(SessionSettings.session_id == session_id)
        .values(version=SessionSettings.version + 1)
    )
    settings = await db.get(SessionSettings, session_id, populate_existing=True)
    if getattr(result, "rowcount", 0) == 0 or settings is None or not settings.registration_open:
        raise Conflict(
            "registration.not_open",
            "Registration for this session is not open; ask the training office.",
        )
    return settings


async def _count_registered(db: AsyncSession, session_id: int) -> int:
    return int(
        await db.scalar(
            select(func.count()).where(
                ElectiveRegistration.session_id == session_id,
                ElectiveRegistration.status == RegistrationStatus.REGISTERED,
            )
        )
        or 0
    )


async def _registration_of(
    db: AsyncSession, session_id: int, trainee_id: int
) -> ElectiveRegistration | None:
    return await find(db, ElectiveRegistration, session_id=session_id, trainee_id=trainee_id)


async def register(sessions: Sessions, trainee_id: int, session_id: int) -> dict[str, Any]:
    """A trainee registers for a session (学员点课); beyond capacity they are waitlisted."""
    async with transaction(sessions) as db:
        session = await load(db, ClassSession, session_id, "session")
    if session.status is SessionStatus.ENDED:
        raise Conflict("registration.closed", "The session has ended.")
    async with transaction(sessions, write=True) as db:
        settings = await _lock_registrations(db, session_id)
        reg = await _registration_of(db, session_id, trainee_id)
        registered = await _count_registered(db, session_id)
        if reg is None or reg.status is RegistrationStatus.CANCELLED:
            last = await db.scalar(
                select(func.max(ElectiveRegistration.position)).where(
                    ElectiveRegistration.session_id == session_id,
                    ElectiveRegistration.status == RegistrationStatus.WAITLISTED,
                )
            )
            position = waitlist_place(settings.capacity, registered, int(last or 0))
            if position is None:
                status = RegistrationStatus.REGISTERED
                registered += 1
            else:
                status = RegistrationStatus.WAITLISTED
            if reg is None:
                reg = ElectiveRegistration(
                    session_id=session_id, trainee_id=trainee_id, status=status
                )
                db.add(reg)
            reg.status, reg.position, reg.updated_at = status, position, utcnow()
            await db.flush()
        return _registration_view(reg, settings.capacity, registered)


async def cancel(sessions: Sessions, trainee_id: int, session_id: int) -> dict[str, Any]:
    """A trainee cancels; the first on the waitlist moves up in the same transaction."""
    async with transaction(sessions) as db:
        await load(db, ClassSession, session_id, "session")
    async with transaction(sessions, write=True) as db:
        settings = await _lock_registrations(db, session_id)
        reg = await _registration_of(db, session_id, trainee_id)
        if reg is None or reg.status is RegistrationStatus.CANCELLED:
            raise NotFound("registration.not_found", "You are not registered for this session.")
        was, old_position = reg.status, reg.position
        reg.status, reg.position, reg.updated_at = RegistrationStatus.CANCELLED, None, utcnow()
        await db.flush()
        behind = old_position or 0
        was_registered = was is RegistrationStatus.REGISTERED
        if was_registered:
            registered = await _count_registered(db, session_id)
            if moves_up(was_registered, settings.capacity, registered):
                first = await db.scalar(
                    select(ElectiveRegistration)
                    .where(
                        ElectiveRegistration.session_id == session_id,
                        ElectiveRegistration.status == RegistrationStatus.WAITLISTED,
                    )
                    .order_by(ElectiveRegistration.position, ElectiveRegistration.id)
                    .limit(1)
                )
                if first is not None:
                    behind = first.position or 0
                    first.status, first.position = RegistrationStatus.REGISTERED, None
                    first.updated_at = utcnow()
                    await db.flush()
        if behind:
            await db.execute(
                update(ElectiveRegistration)
                .where(
                    ElectiveRegistration.session_id == session_id,
                    ElectiveRegistration.status == RegistrationStatus.WAITLISTED,
                    ElectiveRegistration.position > behind,
                )
                .values(position=ElectiveRegistration.position - 1)
            )
        return _registration_view(reg, settings.capacity, await _count_registered(db, session_id))


async def registrations(sessions: Sessions, session_id: int) -> dict[str, Any]:
    """A session's registrations and waitlist, with the settings that govern them."""
    async with transaction(sessions) as db:
        await load(db, ClassSession, session_id, "session")
        settings = await session_settings(db, session_id)
        rows = (
            await db.execute(
                select(ElectiveRegistration, Trainee.name, Trainee.staff_no)
                .join(Trainee, Trainee.id == ElectiveRegistration.trainee_id)
                .where(ElectiveRegistration.session_id == session_id)
                .order_by(
                    ElectiveRegistration.status,
                    ElectiveRegistration.position,
                    ElectiveRegistration.id,
                )
            )
        ).all()
        items = [
            {
                "trainee_id": reg.trainee_id,
                "name": name,
                "staff_no": staff_no,
                "status": reg.status.value,
                "position": reg.position,
                "created_at": iso(reg.created_at),
            }
            for reg, name, staff_no in rows
        ]
    counts = Counter(i["status"] for i in items)
    return {
        "session_id": session_id,
        "capacity": settings.capacity if settings else None,
        "registration_open": bool(settings.registration_open) if settings else False,
        "registered": counts["registered"],
        "waitlisted": counts["waitlisted"],
        "items": items,
    }
