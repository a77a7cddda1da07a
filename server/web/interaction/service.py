"""What the interaction features share: who may act in a session, the session's Q&A lock, the
interaction log (written and read) and live messages. No HTTP here.

* **Who may act**: a trainee acts in a session only with an attendance record in it (they
  checked in, or staff marked them present): ``qa.not_checked_in`` (403) otherwise. A site
  agent acts for its room only in a session its site takes part in (``qa.other_site``).
* **Serialisation**: every change of a session's questions, on-air slot, floor or polls first
  takes the session's ``qa_state`` row lock (:func:`lock`, an UPDATE first), so "at most one on
  air" and "one site holds the floor" hold across processes. What one trainee does alone
  (ask, vote, answer) takes that trainee's own row lock instead (:func:`lock_trainee`, their
  attendance record): the core's "a second vote changes nothing", "one answer per trainee" and
  the rate limit then decide over state nobody else changes meanwhile.
* **Live**: :meth:`Services.announce` goes to the session topic and every participating site's
  agent; :meth:`Services.publish` to the session topic only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.bus.port import BusUnavailable
from server.core.errors import Conflict, Forbidden, NotFound
from server.core.qa_views import log_actor
from server.core.roles import Principal
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import ClassSession, SessionStatus, utcnow
from server.store.models import session_sites as session_sites_table
from server.store.qa_models import QaEvent, QaState, QuestionRow

if TYPE_CHECKING:
    from server.web.live import Live

log = logging.getLogger("server.qa")


def insert_of(db: AsyncSession, model: Any) -> Any:
    """The dialect's INSERT (for ON CONFLICT)."""
    dialect = str(db.get_bind().dialect.name)
    return (pg_insert if dialect == "postgresql" else sqlite_insert)(model)


async def insert_ignore(db: AsyncSession, model: Any, values: dict[str, Any]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING; returns 1 when a row was inserted."""
    result = await db.execute(insert_of(db, model).values(**values).on_conflict_do_nothing())
    return int(getattr(result, "rowcount", 0) or 0)


# --- the session and who may act ------------------------------------------------------------


async def session_status(db: AsyncSession, session_id: int) -> SessionStatus:
    status = await db.scalar(select(ClassSession.status).where(ClassSession.id == session_id))
    if status is None:
        raise NotFound("session.not_found", f"There is no session with id {session_id}.")
    return SessionStatus(status)


def not_ended(session_id: int, status: SessionStatus) -> None:
    if status is SessionStatus.ENDED:
        raise Conflict(
            "qa.session_ended",
            "This session has ended; questions, votes and answers are closed.",
            {"session_id": session_id},
        )


async def site_ids(db: AsyncSession, session_id: int) -> list[int]:
    rows = await db.scalars(
        select(session_sites_table.c.site_id)
        .where(session_sites_table.c.session_id == session_id)
        .order_by(session_sites_table.c.site_id)
    )
    return [int(r) for r in rows]


async def agent_site(db: AsyncSession, session_id: int, who: Principal) -> int:
    """The agent's site, which must take part in the session."""
    assert who.site_id is not None
    if who.site_id not in await site_ids(db, session_id):
        raise Forbidden(
            "qa.other_site",
            "This site is not taking part in the session.",
            {"session_id": session_id, "site_id": who.site_id},
        )
    return who.site_id


def _not_checked_in(session_id: int) -> Forbidden:
    return Forbidden(
        "qa.not_checked_in",
        "Check in to this session first: only trainees in the room may ask, vote or answer.",
        {"session_id": session_id},
    )


async def attendance(db: AsyncSession, session_id: int, trainee_id: int) -> AttendanceRecordRow:
    """The trainee's attendance record in the session (``qa.not_checked_in`` without one)."""
    row: AttendanceRecordRow | None = await db.scalar(
        select(AttendanceRecordRow).where(
            AttendanceRecordRow.session_id == session_id,
            AttendanceRecordRow.trainee_id == trainee_id,
        )
    )
    if row is None:
        raise _not_checked_in(session_id)
    return row


async def open_attendance(
    db: AsyncSession, session_id: int, trainee_id: int
) -> AttendanceRecordRow:
    """The trainee's attendance record in a session that has not ended, in one query."""
    found = (
        await db.execute(
            select(ClassSession.status, AttendanceRecordRow)
            .outerjoin(
                AttendanceRecordRow,
                (AttendanceRecordRow.session_id == ClassSession.id)
                & (AttendanceRecordRow.trainee_id == trainee_id),
            )
            .where(ClassSession.id == session_id)
        )
    ).first()
    if found is None:
        raise NotFound("session.not_found", f"There is no session with id {session_id}.")
    not_ended(session_id, SessionStatus(found[0]))
    if found[1] is None:
        raise _not_checked_in(session_id)
    record: AttendanceRecordRow = found[1]
    return record


# --- locks ------------------------------------------------------------------------------------


async def lock(db: AsyncSession, session_id: int) -> QaState:
    """Take the session's Q&A lock (an UPDATE first: row lock / SQLite write lock)."""
    bump = update(QaState).where(QaState.session_id == session_id)
    result = await db.execute(bump.values(version=QaState.version + 1))
    if not getattr(result, "rowcount", 0):
        await insert_ignore(db, QaState, {"session_id": session_id, "version": 0})
        await db.execute(bump.values(version=QaState.version + 1))
    return await db.get_one(QaState, session_id, populate_existing=True)


async def lock_trainee(db: AsyncSession, record: AttendanceRecordRow) -> None:
    """The trainee's own row lock (their attendance record): what they do is decided one at a
    time."""
    await db.execute(
        update(AttendanceRecordRow)
        .where(AttendanceRecordRow.id == record.id)
        .values(updated_at=AttendanceRecordRow.updated_at)
    )


# --- the interaction log ----------------------------------------------------------------------


def log_event(
    db: AsyncSession,
    session_id: int,
    kind: str,
    who: str,
    data: dict[str, Any],
    question_id: int | None = None,
    at: datetime | None = None,
) -> None:
    db.add(
        QaEvent(
            session_id=session_id,
            question_id=question_id,
            kind=kind,
            actor=who,
            at=at or utcnow(),
            data=data,
        )
    )


async def read_log(
    db: AsyncSession, session_id: int, limit: int | None
) -> list[tuple[QaEvent, dict[str, Any]]]:
    """The session's interaction log, oldest first; the asker of an anonymous question is
    never named (``server.core.qa_views.log_actor``)."""
    rows = (
        await db.scalars(
            select(QaEvent)
            .where(QaEvent.session_id == session_id)
            .order_by(QaEvent.id)
            .limit(limit)
        )
    ).all()
    hidden = {
        qid: f"trainee:{asker}"
        for qid, asker in (
            await db.execute(
                select(QuestionRow.id, QuestionRow.asker_trainee_id).where(
                    QuestionRow.session_id == session_id,
                    QuestionRow.anonymous.is_(True),
                    QuestionRow.asker_trainee_id.is_not(None),
                )
            )
        ).all()
    }
    return [
        (
            e,
            {
                "id": e.id,
                "at": e.at.isoformat(),
                "kind": e.kind,
                "question_id": e.question_id,
                "actor": log_actor(
                    e.actor,
                    anonymous_asker=hidden.get(e.question_id)
                    if e.question_id is not None
                    else None,
                ),
                "data": e.data,
            },
        )
        for e in rows
    ]


# --- what the services need from the running app ----------------------------------------------


@dataclass(frozen=True, slots=True)
class Services:
    """The database and the live side of the running app."""

    sessions: async_sessionmaker[Any]
    live: Live

    async def publish(self, session_id: int, kind: str, data: dict[str, Any]) -> None:
        """To the session's browsers only."""
        try:
            await self.live.bus.publish(f"session:{session_id}", kind, data)
        except BusUnavailable:
            log.warning("bus unavailable; browsers will resync", extra={"kind": kind})

    async def announce(self, session_id: int, kind: str, data: dict[str, Any]) -> None:
        """To the session's browsers and to every participating site's agent."""
        async with self.sessions() as db:
            sites = await site_ids(db, session_id)
        await self.live.announce(kind, {"session_id": session_id, **data}, sites, session_id)
