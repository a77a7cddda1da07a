"""In-room check-in (service): the rotating code, a check-in, check-out, marks by hand.

The rules are the pure core's (``server.core.checkin``, ``checkin_guard``, ``checkin_sites``);
these functions load rows, ask the core and store what it decides. Trainees' check-ins are
written in groups by :class:`server.web.checkin.writer.CheckinWriter`; :func:`checkin_alone`
is its one-by-one fallback. No aiohttp here.

Decisions (documented here once, shown in the API summaries):

* **Out of batch**: per-session setting ``out_of_batch_rule`` (``session_settings``); when it
  is not set the server default ``server.core.checkin.DEFAULT_OUT_OF_BATCH`` applies: make-up
  attendance.
* **Check-in codes** are HMACs keyed by a key derived from ``config.secret_key``
  (:func:`checkin_secret`), so any secret length works and the raw key never signs codes.
* **Idempotency**: a check-in carries a ``client_id`` made by the phone; the first answer is
  stored with it (``checkin_requests``) and a re-sent request gets that answer back
  (``replayed: true``) without verifying the (maybe expired) code again.
* Ending a session must call :func:`server.web.checkin.records.close_open_records` inside the
  same transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import (
    WINDOW_SECONDS,
    current_code,
    decide_checkin,
    effective_out_of_batch_rule,
)
from server.core.checkin_guard import counts_as_guess, qr_token
from server.core.checkin_sites import (
    check_code_shown,
    check_mark,
    code_site,
    mark_span,
    marking_site,
)
from server.core.errors import Conflict, DomainError
from server.core.roles import Actor, Principal
from server.core.sessions import SessionStatus
from server.store.attendance_models import AttendanceRecordRow, CheckinRequest, RecordKind
from server.store.models import ClassSession, Trainee, utcnow
from server.web.checkin import guard
from server.web.checkin.records import (
    at,
    checkin_answer,
    new_row,
    record_kind,
    record_of,
    record_view,
    store_core,
    to_core,
)
from server.web.checkin.writer import CheckinItem
from server.web.db import Sessions, audit, iso, load, transaction
from server.web.session_roster import roster_position, session_settings


def checkin_secret(secret_key: str) -> bytes:
    """The HMAC key of check-in codes, derived from the server secret (32 bytes)."""
    return hashlib.sha256(b"classroom-checkin\x00" + secret_key.encode("utf-8")).digest()


async def code_view(
    sessions: Sessions, who: Principal, session_id: int, asked: int | None, secret: bytes
) -> dict[str, Any]:
    """The code a site's screen shows now, its QR payload and the seconds to the next one."""
    async with transaction(sessions) as db:
        session = await load(db, ClassSession, session_id, "session")
    site_id = code_site(
        by_site_agent=who.actor is Actor.SITE_AGENT, agent_site_id=who.site_id, asked=asked
    )
    check_code_shown(
        session_id=session.id,
        status=session.status,
        participating={s.id for s in session.sites},
        site_id=site_id,
    )
    now = utcnow().timestamp()
    shown = current_code(secret, str(site_id), str(session.id), now)
    return {
        "session_id": session.id,
        "site_id": site_id,
        "code": shown.code,
        "qr": qr_token(secret, str(site_id), str(session.id), now),
        "window_seconds": WINDOW_SECONDS,
        "seconds_to_rotation": round(max(0.0, shown.rotates_at - now), 3),
        "rotates_at": iso(at(shown.rotates_at)),
        "expires_at": iso(at(shown.expires_at)),
        "session_status": session.status.value,
    }


async def _checkin_once(
    sessions: Sessions,
    secret: bytes,
    data: dict[str, Any],
    trainee_id: int,
    session_id: int,
    now: datetime,
) -> dict[str, Any]:
    """One check-in in its own transaction (the group writer's fallback after a conflict)."""
    async with transaction(sessions, write=True) as db:
        prior = await db.get(CheckinRequest, data["client_id"])
        if prior is not None:
            if prior.trainee_id != trainee_id or prior.session_id != session_id:
                raise Conflict(
                    "checkin.client_id_reused",
                    "This check-in id was used for another check-in; make a new one.",
                )
            return {**prior.response, "replayed": True}
        session = await load(db, ClassSession, session_id, "session")
        trainee = await load(db, Trainee, trainee_id, "trainee")
        participating = [str(s.id) for s in session.sites]
        ts = now.timestamp()
        row = await record_of(db, session_id, trainee_id)
        book = guard.AttemptBook(db)
        await book.load([session_id], [trainee_id])
        sites = [s.id for s in session.sites]
        site = guard.prove_site(
            book,
            secret,
            session_id=session_id,
            trainee_id=trainee_id,
            data=data,
            room=guard.rooms(
                home_site_id=trainee.home_site_id,
                record_site_id=None if row is None else row.site_id,
                participating=sites,
                parents=await guard.site_parents(db),
                any_room=await guard.any_room(db, session_id),
            ),
            participating=sites,
            now=ts,
        )
        on_roster, planned = await roster_position(db, session, trainee)
        settings = await session_settings(db, session_id)
        rule = effective_out_of_batch_rule(settings.out_of_batch_rule if settings else None)
        outcome = decide_checkin(
            session_id=str(session_id),
            session_status=session.status,
            participating_site_ids=frozenset(participating),
            code_site_id=site,
            on_roster=on_roster,
            planned_session_id=planned,
            out_of_batch_rule=rule,
        )
        if row is None:
            row = new_row(trainee_id, session_id, int(site), record_kind(outcome.kind))
            db.add(row)
        store_core(row, to_core(row).check_in(ts))
        await db.flush()
        response = checkin_answer(data["client_id"], outcome, row)
        db.add(
            CheckinRequest(
                client_id=data["client_id"],
                trainee_id=trainee_id,
                session_id=session_id,
                record_id=row.id,
                response=response,
            )
        )
    return response


async def checkin_alone(sessions: Sessions, secret: bytes, item: CheckinItem) -> dict[str, Any]:
    """A check-in in its own transaction, retried when a concurrent writer won a race; a wrong
    code is counted for the back-off in a transaction of its own (the check-in's rolled back)."""
    for attempt in range(3):
        try:
            return await _checkin_once(
                sessions, secret, item.data, item.trainee_id, item.session_id, item.now
            )
        except DomainError as exc:
            if counts_as_guess(exc):
                await guard.record_failure(
                    sessions, item.session_id, item.trainee_id, item.now.timestamp()
                )
            raise
        except IntegrityError:
            # A concurrent request with the same client id, or for the same record, won:
            # the next attempt finds its row.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def checkout(sessions: Sessions, trainee_id: int, session_id: int) -> dict[str, Any]:
    """A trainee leaves the room before the end."""
    async with transaction(sessions, write=True) as db:
        await load(db, ClassSession, session_id, "session")
        row = await record_of(db, session_id, trainee_id)
        if row is None:
            raise Conflict("checkin.not_checked_in", "You are not checked in.")
        store_core(row, to_core(row).check_out(utcnow().timestamp()))
        await db.flush()
        return record_view(row)


async def mark_present(
    sessions: Sessions, who: Principal, session_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Staff mark a trainee present, with a reason, in a transaction of its own."""
    async with transaction(sessions, write=True) as db:
        return await mark_present_in(db, who, session_id, data, now)


async def mark_present_in(
    db: AsyncSession, who: Principal, session_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Mark a trainee present in the caller's transaction; also used for the check-ins a site
    agent took while offline and delivers from its outbox."""
    session = await load(db, ClassSession, session_id, "session")
    trainee = await load(db, Trainee, data["trainee_id"], "trainee")
    row = await record_of(db, session_id, trainee.id)
    by_site_agent = who.actor is Actor.SITE_AGENT
    site_id = check_mark(
        session_id=session_id,
        status=session.status,
        participating={s.id for s in session.sites},
        site_id=marking_site(
            by_site_agent=by_site_agent,
            agent_site_id=who.site_id,
            asked=data.get("site_id"),
            record_site_id=None if row is None else row.site_id,
            home_site_id=trainee.home_site_id,
        ),
    )
    if by_site_agent:  # only trainees expected here, within the session
        await guard.check_site_mark(
            db,
            session,
            trainee,
            site_id,
            None if row is None else row.site_id,
            data.get("start", now),
        )
    before = record_view(row) if row is not None else None
    if row is None:
        row = new_row(trainee.id, session_id, site_id, RecordKind.MANUAL)
        db.add(row)
    start, end = mark_span(
        status=session.status,
        now=now.timestamp(),
        ran=(
            (session.started_at or session.starts_at).timestamp(),
            (session.ended_at or session.ends_at).timestamp(),
        ),
        start=data["start"].timestamp() if "start" in data else None,
        end=data["end"].timestamp() if "end" in data else None,
    )
    record = to_core(row).mark_present(
        by=who.label, reason=data["reason"], now=now.timestamp(), start=start, end=end
    )
    if session.status is SessionStatus.ENDED:
        record = record.close_at((session.ended_at or session.ends_at).timestamp())
    store_core(row, record)
    await db.flush()
    view = record_view(row)
    audit(db, who, "mark_present", "attendance", row.id, before, view, data["reason"])
    return view


async def records(
    sessions: Sessions, who: Principal, session_id: int, limit: int, offset: int
) -> dict[str, Any]:
    """The attendance records of a session (a site agent sees its own site's), a page."""
    async with transaction(sessions) as db:
        await load(db, ClassSession, session_id, "session")
        query = select(AttendanceRecordRow).where(AttendanceRecordRow.session_id == session_id)
        if who.actor is Actor.SITE_AGENT:
            query = query.where(AttendanceRecordRow.site_id == who.site_id)
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await db.scalars(query.order_by(AttendanceRecordRow.id).limit(limit).offset(offset))
        ).all()
        items = [record_view(r) for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}
