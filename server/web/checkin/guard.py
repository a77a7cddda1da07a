"""The store side of ``server.core.checkin_guard``: wrong-code rows, trainees' rooms and the
console's list of trainees who keep entering wrong codes (service: no aiohttp).

* :class:`AttemptBook` holds the ``checkin_attempts`` rows one transaction reads (a whole
  check-in group's at once), lets the pure rules change them, and collects the alerts to
  publish once the transaction is committed (``server.web.checkin.events.publish_alerts``).
* :func:`prove_site` is THE check of what a trainee sent (QR token or typed code) with the
  back-off around it; the group writer and its one-by-one fallback both call it.
* :func:`rooms` / :func:`check_site_mark`: where a trainee is expected, for typed codes
  and for what a site may mark.
* :func:`failures`: the console's list (``GET /api/v1/sessions/{id}/checkin-failures``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin_guard import (
    SESSION_LIMIT,
    Attempts,
    after_failure,
    after_success,
    ancestors_of,
    check_site_checkin_time,
    check_site_may_mark,
    checkin_site,
    counts_as_guess,
    retry_after,
    session_after_failure,
    session_newly_paused,
    should_alert,
    trainee_rooms,
)
from server.core.errors import DomainError
from server.store.attendance_models import SessionSettings
from server.store.guard_models import SESSION_ROW, CheckinAttemptRow
from server.store.models import ClassSession, Site, Trainee, utcnow
from server.web.db import Sessions, fields, load, transaction

Key = tuple[int, int]  # (session, trainee); trainee 0 is the whole session


def _state(row: CheckinAttemptRow | None) -> Attempts:
    """The row's attempts: its columns are named as the fields of :class:`Attempts`."""
    if row is None:
        return Attempts()
    return Attempts(**fields(row, *Attempts.__dataclass_fields__))


@dataclass(slots=True)
class AttemptBook:
    """The ``checkin_attempts`` rows of one transaction, changed in memory by the core rules."""

    db: AsyncSession
    rows: dict[Key, CheckinAttemptRow] = field(default_factory=dict)
    alerts: list[dict[str, Any]] = field(default_factory=list)

    async def load(self, session_ids: Iterable[int], trainee_ids: Iterable[int]) -> None:
        """Read the rows of these trainees and of the sessions themselves (one statement)."""
        wanted = {*trainee_ids, SESSION_ROW}
        found = await self.db.scalars(
            select(CheckinAttemptRow).where(
                CheckinAttemptRow.session_id.in_(set(session_ids)),
                CheckinAttemptRow.trainee_id.in_(wanted),
            )
        )
        for row in found:
            self.rows[(row.session_id, row.trainee_id)] = row

    def state(self, session_id: int, trainee_id: int) -> Attempts:
        return _state(self.rows.get((session_id, trainee_id)))

    def _store(self, session_id: int, trainee_id: int, state: Attempts) -> None:
        row = self.rows.get((session_id, trainee_id))
        if row is None:
            row = CheckinAttemptRow(session_id=session_id, trainee_id=trainee_id)
            self.db.add(row)
            self.rows[(session_id, trainee_id)] = row
        for name, value in asdict(state).items():
            setattr(row, name, value)

    def failed(self, session_id: int, trainee_id: int, now: float) -> None:
        trainee = after_failure(self.state(session_id, trainee_id), now)
        before = self.state(session_id, SESSION_ROW)
        session = session_after_failure(before, now)
        self._store(session_id, trainee_id, trainee)
        self._store(session_id, SESSION_ROW, session)
        if session_newly_paused(before, session, now):
            self.alerts.append(
                {
                    "session_id": session_id,
                    "trainee_id": SESSION_ROW,
                    "scope": "session",
                    "failures": session.failures,
                    "total": session.total,
                    "retry_after": round(retry_after(session, now)),
                    "session_failures": session.total,
                }
            )
        if should_alert(trainee):
            self.alerts.append(
                {
                    "session_id": session_id,
                    "trainee_id": trainee_id,
                    "scope": "trainee",
                    "failures": trainee.failures,
                    "total": trainee.total,
                    "retry_after": round(retry_after(trainee, now)),
                    "session_failures": session.total,
                }
            )

    def succeeded(self, session_id: int, trainee_id: int) -> None:
        state = self.state(session_id, trainee_id)
        if state.failures:
            self._store(session_id, trainee_id, after_success(state))


@dataclass(frozen=True, slots=True)
class Rooms:
    """Where a trainee is expected in one session, and whether the operator opened every room."""

    sites: tuple[str, ...]
    any_room: bool


def rooms(
    *,
    home_site_id: int | None,
    record_site_id: int | None,
    participating: Iterable[int],
    parents: Mapping[str, str | None],
    any_room: bool,
) -> Rooms:
    home = None if home_site_id is None else str(home_site_id)
    return Rooms(
        trainee_rooms(
            home_site_id=home,
            home_ancestors=ancestors_of(parents, home),
            record_site_id=None if record_site_id is None else str(record_site_id),
            participating=[str(s) for s in participating],
        ),
        any_room,
    )


async def site_parents(db: AsyncSession) -> dict[str, str | None]:
    """The site tree, for the rooms of trainees whose home site does not take part."""
    return {
        str(i): None if p is None else str(p)
        for i, p in await db.execute(select(Site.id, Site.parent_id))
    }


async def any_room(db: AsyncSession, session_id: int) -> bool:
    return bool(
        await db.scalar(
            select(SessionSettings.any_room).where(SessionSettings.session_id == session_id)
        )
    )


def prove_site(
    book: AttemptBook,
    key: bytes,
    *,
    session_id: int,
    trainee_id: int,
    data: Mapping[str, Any],
    room: Rooms,
    participating: Iterable[int],
    now: float,
) -> str:
    """The site a trainee's check-in proves presence at; wrong codes go into ``book``."""
    try:
        site = checkin_site(
            key,
            str(session_id),
            code=data.get("code"),
            qr=data.get("qr"),
            site_hint=str(data["site_id"]) if "site_id" in data else None,
            rooms=room.sites,
            participating=[str(s) for s in participating],
            any_room=room.any_room,
            trainee=book.state(session_id, trainee_id),
            session=book.state(session_id, SESSION_ROW),
            now=now,
        )
    except DomainError as exc:
        if counts_as_guess(exc):
            book.failed(session_id, trainee_id, now)
        raise
    book.succeeded(session_id, trainee_id)
    return site


async def record_failure(
    sessions: Sessions, session_id: int, trainee_id: int, now: float
) -> list[dict[str, Any]]:
    """A wrong code found outside a committed group (the one-by-one path): its own transaction."""
    async with transaction(sessions, write=True) as db:
        book = AttemptBook(db)
        await book.load([session_id], [trainee_id])
        book.failed(session_id, trainee_id, now)
    return book.alerts


async def check_site_mark(
    db: AsyncSession,
    session: ClassSession,
    trainee: Trainee,
    site_id: int,
    record_site_id: int | None,
    start: datetime,
) -> None:
    """A site marks present only a trainee expected in its room, within the session's time."""
    participating = [s.id for s in session.sites]
    parents = {} if trainee.home_site_id in participating else await site_parents(db)
    room = rooms(
        home_site_id=trainee.home_site_id,
        record_site_id=record_site_id,
        participating=participating,
        parents=parents,
        any_room=await any_room(db, session.id),
    )
    check_site_may_mark(str(site_id), room.sites, any_room=room.any_room)
    check_site_checkin_time(
        start.timestamp(),
        starts_at=session.starts_at.timestamp(),
        started_at=None if session.started_at is None else session.started_at.timestamp(),
        ended_at=None if session.ended_at is None else session.ended_at.timestamp(),
    )


async def failures(sessions: Sessions, session_id: int) -> dict[str, Any]:
    """Trainees of a session who entered wrong codes, most recent first, and the session's total."""
    now = utcnow().timestamp()
    async with transaction(sessions) as db:
        await load(db, ClassSession, session_id, "session")
        rows = (
            await db.execute(
                select(CheckinAttemptRow, Trainee.name, Trainee.staff_no)
                .outerjoin(Trainee, Trainee.id == CheckinAttemptRow.trainee_id)
                .where(CheckinAttemptRow.session_id == session_id)
                .order_by(CheckinAttemptRow.last_failure.desc())
                .limit(201)
            )
        ).all()
    items = []
    session_total, paused = 0, 0
    for row, name, staff_no in rows:
        if row.trainee_id == SESSION_ROW:
            session_total, paused = row.total, round(retry_after(_state(row), now))
            continue
        items.append(
            {
                "trainee_id": row.trainee_id,
                "name": name or "",
                "staff_no": staff_no or "",
                "failures": row.failures,
                "total": row.total,
                "last_failure": datetime.fromtimestamp(
                    row.last_failure, utcnow().tzinfo
                ).isoformat(),
                "retry_after": round(retry_after(_state(row), now)),
            }
        )
    return {
        "session_id": session_id,
        "total_failures": session_total,
        "typed_codes_paused_for": paused,
        "session_limit": SESSION_LIMIT,
        "items": items[:200],
    }


async def named_alerts(sessions: Sessions, alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The alerts with the trainees' names, as the consoles show them."""
    async with transaction(sessions) as db:
        ids = {a["trainee_id"] for a in alerts}
        names = dict(
            (await db.execute(select(Trainee.id, Trainee.name).where(Trainee.id.in_(ids)))).all()
        )
    return [{**alert, "name": names.get(alert["trainee_id"], "")} for alert in alerts]
