"""In-room check-in: the rotating code, check-in and check-out, marking present by hand.

The rules live in the pure core (``server.core.checkin``); this module loads rows, calls the
core, and stores what it returns, one transaction per request, except trainee check-ins: those
are written in groups, many per transaction, by the per-process group-commit writer
(``server.web.checkin_writer``), each answered only after its group is committed and each with
its own answer or error. Record rows <-> core records: ``server.web.attendance_records``.
Who is on a session's roster: ``server.web.batches.roster``.

Decisions (documented here once, shown in the API summaries):

* **Out of batch**: per-session setting ``out_of_batch_rule`` (``session_settings``); when it
  is not set the server default ``server.core.checkin.DEFAULT_OUT_OF_BATCH`` applies: make-up
  attendance.
* **Check-in codes** are HMACs keyed by a key derived from ``config.secret_key``
  (:func:`checkin_secret`), so any secret length works and the raw key never signs codes.
* **Idempotency**: a check-in carries a ``client_id`` made by the phone; the first answer is
  stored with it (``checkin_requests``) and a re-sent request gets that answer back
  (``replayed: true``) without verifying the (maybe expired) code again.
* Ending a session must call :func:`close_open_records` inside the same transaction.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core import roles
from server.core.checkin import (
    DEFAULT_OUT_OF_BATCH,
    WINDOW_SECONDS,
    AttendanceKind,
    current_code,
    decide_checkin,
    effective_out_of_batch_rule,
)
from server.core.checkin_guard import counts_as_guess, qr_token
from server.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    RuleViolation,
)
from server.core.roles import Actor, Principal
from server.core.validation import Bool, DateTime, Float, Int, List, Map, Optional, Str, validate
from server.store.attendance_models import (
    AttendanceRecordRow,
    CheckinRequest,
    RecordKind,
)
from server.store.models import (
    ClassSession,
    SessionStatus,
    Trainee,
    utcnow,
)
from server.web import checkin_guard
from server.web.api import Endpoint, Param, Registry
from server.web.attendance_records import at as _at
from server.web.attendance_records import (
    close_open_records as close_open_records,  # re-exported: routes.py ends sessions
)
from server.web.attendance_records import iso as _iso
from server.web.attendance_records import (
    new_row,
    record_of,
    record_view,
    store_core,
    to_core,
)
from server.web.batches.roster import roster_position
from server.web.checkin_events import record_changed
from server.web.checkin_writer import CheckinItem, CheckinWriter
from server.web.electives.service import session_settings
from server.web.keys import CHECKIN_WRITER, CONFIG, SESSIONS, principal
from server.web.resources import (
    PAGE_PARAMS,
    audit,
    load,
    page_params,
    path_id,
    query_int,
    read_json,
)

CHINA = timezone(timedelta(hours=8))  # the default time_zone (tests use it)
ID = Int(1, 2**31 - 1)
REASON = Str(min_len=1, max_len=500)
CLIENT_ID = Str(min_len=1, max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9_.:-]*")

_MANAGE_CHECKIN = roles.MANAGERS | roles.AGENTS


def _body(fields: dict[str, Any], required: set[str]) -> Map:
    return Map(fields, frozenset(required), extra="reject", absent="omit")


# --------------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------------


def checkin_secret(secret_key: str) -> bytes:
    """The HMAC key of check-in codes, derived from the server secret (32 bytes)."""
    return hashlib.sha256(b"classroom-checkin\x00" + secret_key.encode("utf-8")).digest()


def _actor_is(who: Principal, actor: Actor) -> bool:
    return who.actor is actor


# --------------------------------------------------------------------------------------------
# Batch planning
# --------------------------------------------------------------------------------------------

PLAN_BODY = _body(
    {
        "org_unit_ids": List(ID, max_items=5000),
        "on_duty_share": Float(0, 1),
        "keep_apart": List(List(ID, max_items=2, min_items=2), max_items=20_000),
        "unavailable": List(
            Map(
                {"trainee_id": ID, "session_id": ID, "reason": Optional(Str(max_len=200))},
                extra="reject",
            ),
            max_items=50_000,
        ),
        "use_site_capacity": Bool(),
    },
    required=set(),
)
MOVE_BODY = _body({"trainee_id": ID, "session_id": ID}, {"trainee_id", "session_id"})
SWAP_BODY = _body({"trainee_a": ID, "trainee_b": ID}, {"trainee_a", "trainee_b"})


# --------------------------------------------------------------------------------------------
# Check-in
# --------------------------------------------------------------------------------------------

CHECKIN_BODY = _body(
    {
        "code": Str(max_len=32),
        "qr": Str(max_len=300),
        "client_id": CLIENT_ID,
        "site_id": ID,
    },
    {"client_id"},
)
MARK_BODY = _body(
    {
        "trainee_id": ID,
        "reason": REASON,
        "site_id": ID,
        "start": DateTime(),
        "end": DateTime(),
    },
    {"trainee_id", "reason"},
)


async def checkin_code(request: web.Request) -> web.Response:
    """The code a site's screen shows now, its QR payload and the seconds to the next one."""
    who = principal(request)
    site_id = query_int(request, "site_id", None, 1, 2**31 - 1)
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, path_id(request, "session"), "session")
    if _actor_is(who, Actor.SITE_AGENT):
        if site_id is not None and site_id != who.site_id:
            raise Forbidden("checkin.other_site", "A site agent may only show its own site's code.")
        site_id = who.site_id
    if site_id is None:
        raise InvalidInput("request.bad_query", "Give site_id: the site whose code to show.")
    if site_id not in {s.id for s in session.sites}:
        raise RuleViolation(
            "checkin.wrong_site",
            "This site is not taking part in the session.",
            rule="site_participation",
            details={"session_id": session.id, "site_id": site_id},
        )
    if session.status is SessionStatus.ENDED:
        raise RuleViolation(
            "checkin.session_not_live",
            "The session has ended; check-in is closed.",
            rule="session_live",
            details={"session_id": session.id, "status": session.status.value},
        )
    now = utcnow().timestamp()
    key = checkin_secret(request.app[CONFIG].secret_key)
    shown = current_code(key, str(site_id), str(session.id), now)
    return web.json_response(
        {
            "session_id": session.id,
            "site_id": site_id,
            "code": shown.code,
            "qr": qr_token(key, str(site_id), str(session.id), now),
            "window_seconds": WINDOW_SECONDS,
            "seconds_to_rotation": round(max(0.0, shown.rotates_at - now), 3),
            "rotates_at": _iso(_at(shown.rotates_at)),
            "expires_at": _iso(_at(shown.expires_at)),
            "session_status": session.status.value,
        }
    )


async def _checkin_once(
    sessions: async_sessionmaker[Any],
    secret: bytes,
    data: dict[str, Any],
    trainee_id: int,
    session_id: int,
    now: datetime,
) -> dict[str, Any]:
    """One check-in in its own transaction (the group writer's fallback after a conflict)."""
    async with sessions() as db, db.begin():
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
        book = checkin_guard.AttemptBook(db)
        await book.load([session_id], [trainee_id])
        sites = [s.id for s in session.sites]
        site = checkin_guard.prove_site(
            book,
            secret,
            session_id=session_id,
            trainee_id=trainee_id,
            data=data,
            room=checkin_guard.rooms(
                home_site_id=trainee.home_site_id,
                record_site_id=None if row is None else row.site_id,
                participating=sites,
                parents=await checkin_guard.site_parents(db),
                any_room=await checkin_guard.any_room(db, session_id),
            ),
            participating=sites,
            now=ts,
        )
        on_roster, planned = await roster_position(db, session, trainee)
        settings = await session_settings(db, session_id)
        rule = effective_out_of_batch_rule(
            settings.out_of_batch_rule if settings is not None else None
        )
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
            kind = (
                RecordKind.MAKEUP if outcome.kind is AttendanceKind.MAKEUP else RecordKind.REGULAR
            )
            row = new_row(trainee_id, session_id, int(site), kind)
            db.add(row)
        store_core(row, to_core(row).check_in(ts))
        await db.flush()
        response = {
            "client_id": data["client_id"],
            "kind": outcome.kind.value,
            "message": outcome.message,
            "planned_session_id": None
            if outcome.planned_session_id is None
            else int(outcome.planned_session_id),
            "record": record_view(row),
            "replayed": False,
        }
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


async def checkin_alone(
    sessions: async_sessionmaker[Any], secret: bytes, item: CheckinItem
) -> dict[str, Any]:
    """A check-in in its own transaction, retried when a concurrent writer won a race; a wrong
    code is counted for the back-off in a transaction of its own (the check-in's rolled back)."""
    for attempt in range(3):
        try:
            return await _checkin_once(
                sessions, secret, item.data, item.trainee_id, item.session_id, item.now
            )
        except DomainError as exc:
            if counts_as_guess(exc):
                await checkin_guard.record_failure(
                    sessions, item.session_id, item.trainee_id, item.now.timestamp()
                )
            raise
        except IntegrityError:
            # A concurrent request with the same client id, or for the same record, won:
            # the next attempt finds its row.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def make_checkin_writer(app: web.Application) -> CheckinWriter:
    """This process's group-commit writer of the app's store (``app[CHECKIN_WRITER]``)."""
    sessions = app[SESSIONS]
    secret = checkin_secret(app[CONFIG].secret_key)

    async def alone(item: CheckinItem) -> dict[str, Any]:
        return await checkin_alone(sessions, secret, item)

    async def alerts(found: list[dict[str, Any]]) -> None:
        await checkin_guard.publish_alerts(app, found)

    return CheckinWriter(sessions, secret, DEFAULT_OUT_OF_BATCH, alone, on_alerts=alerts)


async def checkin(request: web.Request) -> web.Response:
    """A trainee checks in with the code (or QR) on the room's screen; idempotent by client_id.

    Check-ins are written in groups (see ``server.web.checkin_writer``): answered only once
    committed, each with its own answer or error."""
    data = validate(CHECKIN_BODY, await read_json(request), path="body")
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
    return web.json_response(response)


async def checkout(request: web.Request) -> web.Response:
    """A trainee leaves the room before the end."""
    who = principal(request)
    assert who.trainee_id is not None
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, ClassSession, session_id, "session")
        row = await record_of(db, session_id, who.trainee_id)
        if row is None:
            raise Conflict("checkin.not_checked_in", "You are not checked in.")
        store_core(row, to_core(row).check_out(utcnow().timestamp()))
        await db.flush()
        view = record_view(row)
    record_changed(request.app, view)
    return web.json_response(view)


async def mark_present(request: web.Request) -> web.Response:
    """Staff mark a trainee present, with a reason (an operator, or the agent of the site)."""
    data = validate(MARK_BODY, await read_json(request), path="body")
    async with request.app[SESSIONS]() as db, db.begin():
        view = await mark_present_in(
            db, principal(request), path_id(request, "session"), data, utcnow()
        )
    record_changed(request.app, view)
    return web.json_response(view)


async def mark_present_in(
    db: AsyncSession, who: Principal, session_id: int, data: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """Mark a trainee present in the caller's transaction; also used for the check-ins a site
    agent took while offline and delivers from its outbox."""
    session = await load(db, ClassSession, session_id, "session")
    trainee = await load(db, Trainee, data["trainee_id"], "trainee")
    row = await record_of(db, session_id, trainee.id)
    if _actor_is(who, Actor.SITE_AGENT):
        site_id = who.site_id
        if "site_id" in data and data["site_id"] != site_id:
            raise Forbidden("attendance.other_site", "A site agent marks only at its own site.")
        if row is not None and row.site_id != site_id:
            raise Forbidden("attendance.other_site", "This trainee checked in at another site.")
    else:
        site_id = data.get("site_id") or (row.site_id if row else trainee.home_site_id)
    participating = {s.id for s in session.sites}
    if site_id is None or site_id not in participating:
        raise RuleViolation(
            "checkin.wrong_site",
            "This site is not taking part in the session; give a participating site_id.",
            rule="site_participation",
            details={"session_id": session_id, "site_id": site_id},
        )
    if session.status is SessionStatus.SCHEDULED:
        raise RuleViolation(
            "checkin.session_not_live",
            "The session has not started yet.",
            rule="session_live",
            details={"session_id": session_id, "status": session.status.value},
        )
    if _actor_is(who, Actor.SITE_AGENT):  # only trainees expected here, within the session
        await checkin_guard.check_site_mark(
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
    start = data.get("start", now).timestamp()
    end = data["end"].timestamp() if "end" in data else None
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


async def list_attendance(request: web.Request) -> web.Response:
    """The attendance records of a session (a site agent sees its own site's)."""
    who = principal(request)
    limit, offset = page_params(request)
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await load(db, ClassSession, session_id, "session")
        query = select(AttendanceRecordRow).where(AttendanceRecordRow.session_id == session_id)
        if _actor_is(who, Actor.SITE_AGENT):
            query = query.where(AttendanceRecordRow.site_id == who.site_id)
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await db.scalars(query.order_by(AttendanceRecordRow.id).limit(limit).offset(offset))
        ).all()
        items = [record_view(r) for r in rows]
    return web.json_response({"items": items, "total": total, "limit": limit, "offset": offset})


# --------------------------------------------------------------------------------------------
# Registration of the endpoints
# --------------------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    add = registry.add
    trainees = roles.TRAINEES
    session = "/api/v1/sessions/{id}"
    add(
        Endpoint(
            "GET",
            session + "/checkin-code",
            checkin_code,
            _MANAGE_CHECKIN,
            "Show a site's current rotating check-in code and QR payload",
            "checkin",
            query=(
                Param(
                    "site_id",
                    {"type": "integer", "minimum": 1},
                    "the site (an agent's own site by default)",
                ),
            ),
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/checkin",
            checkin,
            trainees,
            "Check in with the code on the room's screen (idempotent by client_id)",
            "checkin",
            body=CHECKIN_BODY,
        )
    )
    add(
        Endpoint(
            "POST", session + "/checkout", checkout, trainees, "Check out of the room", "checkin"
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/attendance/mark",
            mark_present,
            _MANAGE_CHECKIN,
            "Mark a trainee present by hand, with a reason",
            "checkin",
            body=MARK_BODY,
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/attendance",
            list_attendance,
            _MANAGE_CHECKIN,
            "List a session's attendance records",
            "checkin",
            query=PAGE_PARAMS,
        )
    )
