"""Staggered batches, in-room check-in, electives, the credit-hour ledger and the reports.

The rules live in the pure core (``server.core.batches``, ``checkin``, ``ledger``); this module
loads rows, calls the core, and stores what it returns, one transaction per request, except
trainee check-ins: those are written in groups, many per transaction, by the per-process
group-commit writer (``server.web.checkin_writer``), each answered only after its group is
committed and each with its own answer or error. Record rows <-> core records:
``server.web.attendance_records``.

Decisions (documented here once, shown in the API summaries):

* **On the roster** of a session: a trainee is on it when (a) a *published* batch plan of the
  session's course assigns them to any session of the course, (b) they are registered (not
  waitlisted) for the session as an elective, or (c) their home site takes part in it.
* **Planned session** for the out-of-batch rule: the session the published plan assigns them
  to. A course without a published plan, or an elective registration for the session, counts
  as planned into this session (regular attendance).
* **Out of batch**: per-session setting ``out_of_batch_rule`` (``session_settings``); when it
  is not set the server default :data:`DEFAULT_OUT_OF_BATCH` applies: make-up attendance.
* **Check-in codes** are HMACs keyed by a key derived from ``config.secret_key``
  (:func:`checkin_secret`), so any secret length works and the raw key never signs codes.
* **Idempotency**: a check-in carries a ``client_id`` made by the phone; the first answer is
  stored with it (``checkin_requests``) and a re-sent request gets that answer back
  (``replayed: true``) without verifying the (maybe expired) code again.
* **Corrections** of a session result are audit-log entries (entity ``session_result``,
  id ``<session>/<trainee>``); results are recomputed from the attendance record and the
  corrections are applied in order, so the trail is the single source of the changes.
* Ending a session must call :func:`close_open_records` inside the same transaction.
"""

from __future__ import annotations

import asyncio
import hashlib
import weakref
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core import roles
from server.core.batches import (
    BatchProblem,
    BatchRules,
    Plan,
    Slot,
    max_in_class,
    moments,
    move,
    plan_batches,
    swap,
    validate_plan,
)
from server.core.batches import Trainee as PlanTrainee
from server.core.checkin import (
    WINDOW_SECONDS,
    AttendanceKind,
    OutOfBatchRule,
    current_code,
    decide_checkin,
)
from server.core.checkin_guard import counts_as_guess, qr_token
from server.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RuleViolation,
)
from server.core.roles import Actor, Principal
from server.core.validation import Bool, DateTime, Float, Int, List, Map, Optional, Str, validate
from server.core.validation import Enum as OneOf
from server.store.attendance_models import (
    AttendanceRecordRow,
    BatchAssignment,
    BatchPlan,
    CheckinRequest,
    ElectiveRegistration,
    KeepApartPair,
    PlanStatus,
    RecordKind,
    RegistrationStatus,
    SessionSettings,
    TraineeUnavailability,
)
from server.store.models import (
    ClassSession,
    Course,
    OrgUnit,
    SessionStatus,
    Site,
    Trainee,
    utcnow,
)
from server.web import checkin_guard
from server.web.api import Endpoint, Param, Registry
from server.web.app import CONFIG, SESSIONS, principal
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
from server.web.resources import (
    PAGE_PARAMS,
    audit,
    load,
    page_params,
    path_id,
    query_int,
    read_json,
)

DEFAULT_OUT_OF_BATCH = OutOfBatchRule.MAKEUP
"""What a check-in outside one's batch becomes when the session sets no rule."""

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


async def _settings(db: AsyncSession, session_id: int) -> SessionSettings | None:
    found: SessionSettings | None = await db.get(SessionSettings, session_id)
    return found


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


async def _course_sessions(db: AsyncSession, course_id: int) -> list[ClassSession]:
    return list(
        (
            await db.scalars(
                select(ClassSession)
                .where(ClassSession.course_id == course_id)
                .order_by(ClassSession.starts_at, ClassSession.id)
            )
        ).all()
    )


async def _build_problem(
    db: AsyncSession,
    course_id: int,
    rules: Mapping[str, Any],
    trainee_ids: Iterable[int] | None,
) -> tuple[BatchProblem, list[ClassSession], dict[int, Trainee]]:
    """The planner's problem: the course's sessions as slots and the roster as trainees."""
    sessions = await _course_sessions(db, course_id)
    query = select(Trainee)
    if trainee_ids is not None:
        query = query.where(Trainee.id.in_(list(trainee_ids)))
    else:
        query = query.where(Trainee.active.is_(True))
        if rules.get("org_unit_ids"):
            query = query.where(Trainee.org_unit_id.in_(rules["org_unit_ids"]))
    trainees = {t.id: t for t in (await db.scalars(query.order_by(Trainee.id))).all()}
    session_ids = [s.id for s in sessions]
    unavailable: dict[int, set[str]] = {}
    if session_ids:
        for tid, sid in (
            await db.execute(
                select(TraineeUnavailability.trainee_id, TraineeUnavailability.session_id).where(
                    TraineeUnavailability.session_id.in_(session_ids)
                )
            )
        ).all():
            unavailable.setdefault(tid, set()).add(str(sid))
    pairs = [
        (str(a), str(b))
        for a, b in (
            await db.execute(
                select(KeepApartPair.trainee_a_id, KeepApartPair.trainee_b_id).where(
                    KeepApartPair.course_id == course_id
                )
            )
        ).all()
        if a in trainees and b in trainees
    ]
    capacity: dict[str, int] = {}
    if rules.get("use_site_capacity", True):
        site_ids = {t.home_site_id for t in trainees.values() if t.home_site_id is not None}
        if site_ids:
            for sid, cap in (
                await db.execute(select(Site.id, Site.capacity).where(Site.id.in_(site_ids)))
            ).all():
                capacity[str(sid)] = cap
    problem = BatchProblem(
        slots=tuple(
            Slot(str(s.id), s.starts_at.timestamp(), s.ends_at.timestamp()) for s in sessions
        ),
        trainees=tuple(
            PlanTrainee(
                id=str(t.id),
                unit_id=str(t.org_unit_id),
                site_id=str(t.home_site_id) if t.home_site_id is not None else "none",
                is_leader=t.is_leader,
                unavailable=frozenset(unavailable.get(t.id, set())),
            )
            for t in trainees.values()
        ),
        site_capacity=capacity,
        rules=BatchRules(
            on_duty_share=float(rules.get("on_duty_share", 0.5)), keep_apart=tuple(pairs)
        ),
    )
    return problem, sessions, trainees


async def _current_plan(db: AsyncSession, course_id: int) -> BatchPlan:
    """The plan being worked on: the newest draft, else the published one."""
    plans = (
        await db.scalars(
            select(BatchPlan)
            .where(BatchPlan.course_id == course_id, BatchPlan.status != PlanStatus.SUPERSEDED)
            .order_by(BatchPlan.id.desc())
        )
    ).all()
    for plan in plans:
        if plan.status is PlanStatus.DRAFT:
            return plan
    if plans:
        return plans[0]
    raise NotFound("batch.no_plan", "This course has no batch plan yet; run the planner first.")


async def _assignment(db: AsyncSession, plan_id: int) -> dict[int, int]:
    rows = await db.execute(
        select(BatchAssignment.trainee_id, BatchAssignment.session_id).where(
            BatchAssignment.plan_id == plan_id
        )
    )
    return {t: s for t, s in rows.all()}


async def _plan_view(db: AsyncSession, plan: BatchPlan) -> dict[str, Any]:
    """Units × batches: sizes, leaders, on-duty share per batch, and every broken rule."""
    assignment = await _assignment(db, plan.id)
    problem, sessions, trainees = await _build_problem(
        db, plan.course_id, plan.rules or {}, assignment.keys()
    )
    broken = validate_plan(problem, Plan({str(t): str(s) for t, s in assignment.items()}))
    unit_names = {
        u: n
        for u, n in (
            await db.execute(
                select(OrgUnit.id, OrgUnit.name).where(
                    OrgUnit.id.in_({t.org_unit_id for t in trainees.values()})
                )
            )
        ).all()
    }
    share = problem.rules.on_duty_share
    groups = moments(problem.slots)
    by_unit: dict[int, list[Trainee]] = {}
    for t in trainees.values():
        by_unit.setdefault(t.org_unit_id, []).append(t)
    units = []
    for unit_id, members in sorted(by_unit.items()):
        sizes = Counter(assignment[t.id] for t in members if t.id in assignment)
        batches = []
        for s in sessions:
            in_class = max(
                (sum(sizes[int(x)] for x in g) for g in groups if str(s.id) in g),
                default=sizes[s.id],
            )
            batches.append(
                {
                    "session_id": s.id,
                    "size": sizes[s.id],
                    "leaders": [
                        {"id": t.id, "name": t.name}
                        for t in members
                        if t.is_leader and assignment.get(t.id) == s.id
                    ],
                    "on_duty_share": round(1 - in_class / len(members), 4) if members else 1.0,
                }
            )
        units.append(
            {
                "unit_id": unit_id,
                "name": unit_names.get(unit_id, ""),
                "size": len(members),
                "max_in_class": max_in_class(len(members), share),
                "batches": batches,
            }
        )
    totals = Counter(assignment.values())
    return {
        "plan_id": plan.id,
        "course_id": plan.course_id,
        "status": plan.status.value,
        "rules": plan.rules,
        "created_by": plan.created_by,
        "created_at": _iso(plan.created_at),
        "published_at": _iso(plan.published_at),
        "sessions": [
            {
                "id": s.id,
                "title": s.title,
                "starts_at": _iso(s.starts_at),
                "ends_at": _iso(s.ends_at),
                "size": totals[s.id],
            }
            for s in sessions
        ],
        "units": units,
        "violations": [{**v.details(), "message": v.message} for v in broken],
        "assignments": [{"trainee_id": t, "session_id": s} for t, s in sorted(assignment.items())],
    }


async def create_batch_plan(request: web.Request) -> web.Response:
    """Run the planner over the course's sessions and save the result as the draft plan."""
    data = validate(PLAN_BODY, await read_json(request), path="body")
    course_id = path_id(request, "course")
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, Course, course_id, "course")
        sessions = await _course_sessions(db, course_id)
        session_ids = {s.id for s in sessions}
        if "keep_apart" in data:
            await _replace_pairs(db, course_id, data["keep_apart"])
        if "unavailable" in data:
            await _replace_unavailable(db, session_ids, data["unavailable"])
        rules = {
            "on_duty_share": data.get("on_duty_share", 0.5),
            "org_unit_ids": sorted(set(data.get("org_unit_ids", []))),
            "use_site_capacity": data.get("use_site_capacity", True),
        }
        problem, _, trainees = await _build_problem(db, course_id, rules, None)
        if not trainees:
            raise InvalidInput("batch.no_trainees", "No active trainees in the chosen org units.")
        plan = await asyncio.to_thread(plan_batches, problem)
        await db.execute(
            delete(BatchPlan).where(
                BatchPlan.course_id == course_id, BatchPlan.status == PlanStatus.DRAFT
            )
        )
        row = BatchPlan(
            course_id=course_id, status=PlanStatus.DRAFT, rules=rules, created_by=who.label
        )
        db.add(row)
        await db.flush()
        await db.execute(
            insert(BatchAssignment),
            [
                {"plan_id": row.id, "trainee_id": int(t), "session_id": int(s)}
                for t, s in plan.assignment.items()
            ],
        )
        audit(db, who, "plan", "batch_plans", row.id, None, {**rules, "trainees": len(trainees)})
        view = await _plan_view(db, row)
    return web.json_response(view, status=201)


async def _replace_pairs(db: AsyncSession, course_id: int, pairs: list[list[int]]) -> None:
    wanted = {(min(a, b), max(a, b)) for a, b in pairs}
    if any(a == b for a, b in wanted):
        raise InvalidInput("batch.bad_pair", "A keep-apart pair names the same trainee twice.")
    ids = {x for pair in wanted for x in pair}
    if ids:
        known = set((await db.scalars(select(Trainee.id).where(Trainee.id.in_(ids)))).all())
        if ids - known:
            raise InvalidInput(
                "batch.unknown_trainee",
                f"Keep-apart pairs name unknown trainees {sorted(ids - known)}.",
            )
    await db.execute(delete(KeepApartPair).where(KeepApartPair.course_id == course_id))
    for a, b in sorted(wanted):
        db.add(KeepApartPair(course_id=course_id, trainee_a_id=a, trainee_b_id=b))
    await db.flush()


async def _replace_unavailable(
    db: AsyncSession, session_ids: set[int], items: list[dict[str, Any]]
) -> None:
    for item in items:
        if item["session_id"] not in session_ids:
            raise InvalidInput(
                "batch.unknown_slot",
                f"Session {item['session_id']} is not a session of this course.",
            )
    ids = {item["trainee_id"] for item in items}
    if ids:
        known = set((await db.scalars(select(Trainee.id).where(Trainee.id.in_(ids)))).all())
        if ids - known:
            raise InvalidInput(
                "batch.unknown_trainee", f"Unknown trainees {sorted(ids - known)} in unavailable."
            )
    if session_ids:
        await db.execute(
            delete(TraineeUnavailability).where(TraineeUnavailability.session_id.in_(session_ids))
        )
    seen: set[tuple[int, int]] = set()
    for item in items:
        key = (item["trainee_id"], item["session_id"])
        if key not in seen:
            seen.add(key)
            db.add(
                TraineeUnavailability(
                    trainee_id=key[0], session_id=key[1], reason=item.get("reason") or ""
                )
            )
    await db.flush()


async def get_batch_plan(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db:
        await load(db, Course, path_id(request, "course"), "course")
        plan = await _current_plan(db, path_id(request, "course"))
        return web.json_response(await _plan_view(db, plan))


async def _change_plan(request: web.Request, how: str) -> web.Response:
    data = validate(
        MOVE_BODY if how == "move" else SWAP_BODY, await read_json(request), path="body"
    )
    course_id = path_id(request, "course")
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, Course, course_id, "course")
        plan = await _current_plan(db, course_id)
        assignment = await _assignment(db, plan.id)
        problem, _, _ = await _build_problem(db, course_id, plan.rules or {}, assignment.keys())
        before = Plan({str(t): str(s) for t, s in assignment.items()})
        if how == "move":
            after = move(problem, before, str(data["trainee_id"]), str(data["session_id"]))
        else:
            after = swap(problem, before, str(data["trainee_a"]), str(data["trainee_b"]))
        changed = {
            int(t): int(s) for t, s in after.assignment.items() if before.assignment.get(t) != s
        }
        for trainee_id, session_id in changed.items():
            await db.execute(
                update(BatchAssignment)
                .where(BatchAssignment.plan_id == plan.id, BatchAssignment.trainee_id == trainee_id)
                .values(session_id=session_id)
            )
        audit(
            db,
            who,
            how,
            "batch_plans",
            plan.id,
            {str(t): assignment[t] for t in changed},
            {str(t): s for t, s in changed.items()},
        )
        view = await _plan_view(db, plan)
    return web.json_response(view)


async def move_in_plan(request: web.Request) -> web.Response:
    return await _change_plan(request, "move")


async def swap_in_plan(request: web.Request) -> web.Response:
    return await _change_plan(request, "swap")


async def publish_plan(request: web.Request) -> web.Response:
    """Publish the draft: it becomes the roster of the course's sessions."""
    course_id = path_id(request, "course")
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, Course, course_id, "course")
        draft = await db.scalar(
            select(BatchPlan)
            .where(BatchPlan.course_id == course_id, BatchPlan.status == PlanStatus.DRAFT)
            .order_by(BatchPlan.id.desc())
            .limit(1)
        )
        if draft is None:
            raise Conflict("batch.no_draft", "There is no draft plan to publish; run the planner.")
        await db.execute(
            update(BatchPlan)
            .where(BatchPlan.course_id == course_id, BatchPlan.status == PlanStatus.PUBLISHED)
            .values(status=PlanStatus.SUPERSEDED)
        )
        draft.status = PlanStatus.PUBLISHED
        draft.published_at = utcnow()
        audit(
            db,
            who,
            "publish",
            "batch_plans",
            draft.id,
            {"status": "draft"},
            {"status": "published"},
        )
        await db.flush()
        view = await _plan_view(db, draft)
    return web.json_response(view)


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
    raw = request.query.get("site_id")
    site_id: int | None = None
    if raw is not None:
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
        settings = await _settings(db, session_id)
        rule = OutOfBatchRule(
            settings.out_of_batch_rule
            if settings is not None and settings.out_of_batch_rule
            else DEFAULT_OUT_OF_BATCH
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


_WRITERS: weakref.WeakKeyDictionary[web.Application, CheckinWriter] = weakref.WeakKeyDictionary()


def checkin_writer(app: web.Application) -> CheckinWriter:
    """This process's group-commit writer of the app's store (made on first use)."""
    writer = _WRITERS.get(app)
    if writer is None:
        sessions = app[SESSIONS]
        secret = checkin_secret(app[CONFIG].secret_key)

        async def alone(item: CheckinItem) -> dict[str, Any]:
            return await checkin_alone(sessions, secret, item)

        async def alerts(found: list[dict[str, Any]]) -> None:
            await checkin_guard.publish_alerts(app, found)

        writer = CheckinWriter(sessions, secret, DEFAULT_OUT_OF_BATCH, alone, on_alerts=alerts)
        _WRITERS[app] = writer
    return writer


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
    response = await checkin_writer(request.app).submit(item)
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
# Session settings and electives
# --------------------------------------------------------------------------------------------

SETTINGS_BODY = _body(
    {
        "capacity": Optional(Int(0, 100_000)),
        "registration_open": Bool(),
        "out_of_batch_rule": Optional(OneOf(*[r.value for r in OutOfBatchRule])),
        "any_room": Bool(),
    },
    set(),
)


def _settings_view(session_id: int, s: SessionSettings | None) -> dict[str, Any]:
    stored = s.out_of_batch_rule if s is not None else None
    return {
        "session_id": session_id,
        "capacity": s.capacity if s is not None else None,
        "registration_open": bool(s.registration_open) if s is not None else False,
        "out_of_batch_rule": stored,
        "effective_out_of_batch_rule": stored or DEFAULT_OUT_OF_BATCH.value,
        "any_room": bool(s.any_room) if s is not None else False,
    }


async def get_settings(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        return web.json_response(_settings_view(session.id, await _settings(db, session.id)))


async def put_settings(request: web.Request) -> web.Response:
    data = validate(SETTINGS_BODY, await read_json(request), path="body")
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        row = await _settings(db, session.id)
        before = _settings_view(session.id, row) if row is not None else None
        if row is None:
            row = SessionSettings(session_id=session.id, registration_open=False, version=0)
            db.add(row)
        for key, value in data.items():
            setattr(row, key, value)
        await db.flush()
        view = _settings_view(session.id, row)
        audit(db, who, "settings", "sessions", session.id, before, view)
    return web.json_response(view)


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
    settings = (
        await db.scalars(
            select(SessionSettings)
            .where(SessionSettings.session_id == session_id)
            .execution_options(populate_existing=True)
        )
    ).first()
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


async def register_elective(request: web.Request) -> web.Response:
    """A trainee registers for a session (学员点课); beyond capacity they are waitlisted."""
    who = principal(request)
    assert who.trainee_id is not None
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, session_id, "session")
    if session.status is SessionStatus.ENDED:
        raise Conflict("registration.closed", "The session has ended.")
    async with request.app[SESSIONS]() as db, db.begin():
        settings = await _lock_registrations(db, session_id)
        reg = await db.scalar(
            select(ElectiveRegistration).where(
                ElectiveRegistration.session_id == session_id,
                ElectiveRegistration.trainee_id == who.trainee_id,
            )
        )
        registered = await _count_registered(db, session_id)
        if reg is None or reg.status is RegistrationStatus.CANCELLED:
            if settings.capacity is None or registered < settings.capacity:
                status, position = RegistrationStatus.REGISTERED, None
                registered += 1
            else:
                last = await db.scalar(
                    select(func.max(ElectiveRegistration.position)).where(
                        ElectiveRegistration.session_id == session_id,
                        ElectiveRegistration.status == RegistrationStatus.WAITLISTED,
                    )
                )
                status, position = RegistrationStatus.WAITLISTED, int(last or 0) + 1
            if reg is None:
                reg = ElectiveRegistration(
                    session_id=session_id, trainee_id=who.trainee_id, status=status
                )
                db.add(reg)
            reg.status, reg.position, reg.updated_at = status, position, utcnow()
            await db.flush()
        view = _registration_view(reg, settings.capacity, registered)
    return web.json_response(view)


async def cancel_elective(request: web.Request) -> web.Response:
    """A trainee cancels; the first on the waitlist moves up in the same transaction."""
    who = principal(request)
    assert who.trainee_id is not None
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await load(db, ClassSession, session_id, "session")
    async with request.app[SESSIONS]() as db, db.begin():
        settings = await _lock_registrations(db, session_id)
        reg = await db.scalar(
            select(ElectiveRegistration).where(
                ElectiveRegistration.session_id == session_id,
                ElectiveRegistration.trainee_id == who.trainee_id,
            )
        )
        if reg is None or reg.status is RegistrationStatus.CANCELLED:
            raise NotFound("registration.not_found", "You are not registered for this session.")
        was, old_position = reg.status, reg.position
        reg.status, reg.position, reg.updated_at = RegistrationStatus.CANCELLED, None, utcnow()
        await db.flush()
        behind = old_position or 0
        if was is RegistrationStatus.REGISTERED:
            registered = await _count_registered(db, session_id)
            if settings.capacity is None or registered < settings.capacity:
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
        view = _registration_view(reg, settings.capacity, await _count_registered(db, session_id))
    return web.json_response(view)


async def list_registrations(request: web.Request) -> web.Response:
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await load(db, ClassSession, session_id, "session")
        settings = await _settings(db, session_id)
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
                "created_at": _iso(reg.created_at),
            }
            for reg, name, staff_no in rows
        ]
    counts = Counter(i["status"] for i in items)
    return web.json_response(
        {
            "session_id": session_id,
            "capacity": settings.capacity if settings else None,
            "registration_open": bool(settings.registration_open) if settings else False,
            "registered": counts["registered"],
            "waitlisted": counts["waitlisted"],
            "items": items,
        }
    )


# --------------------------------------------------------------------------------------------
# Registration of the endpoints
# --------------------------------------------------------------------------------------------


def register(registry: Registry) -> None:
    add = registry.add
    managers, trainees = roles.MANAGERS, roles.TRAINEES
    course = "/api/v1/courses/{id}/batch-plan"
    session = "/api/v1/sessions/{id}"
    add(
        Endpoint(
            "POST",
            course,
            create_batch_plan,
            managers,
            "Plan the staggered batches of a course and save them as the draft plan",
            "batches",
            body=PLAN_BODY,
            status=201,
        )
    )
    add(
        Endpoint(
            "GET",
            course,
            get_batch_plan,
            managers,
            "Show a course's batch plan: units by batches, leaders, on-duty share, violations",
            "batches",
        )
    )
    add(
        Endpoint(
            "POST",
            course + "/move",
            move_in_plan,
            managers,
            "Move a trainee to another batch of the plan (re-validated)",
            "batches",
            body=MOVE_BODY,
        )
    )
    add(
        Endpoint(
            "POST",
            course + "/swap",
            swap_in_plan,
            managers,
            "Swap two trainees' batches in the plan (re-validated)",
            "batches",
            body=SWAP_BODY,
        )
    )
    add(
        Endpoint(
            "POST",
            course + "/publish",
            publish_plan,
            managers,
            "Publish the draft batch plan as the course's roster",
            "batches",
        )
    )
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
    add(
        Endpoint(
            "GET",
            session + "/settings",
            get_settings,
            managers,
            "Show a session's capacity, registration and out-of-batch settings",
            "electives",
        )
    )
    add(
        Endpoint(
            "PUT",
            session + "/settings",
            put_settings,
            managers,
            "Change a session's capacity, registration and out-of-batch settings",
            "electives",
            body=SETTINGS_BODY,
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/registration",
            register_elective,
            trainees,
            "Register for a session as an elective (waitlisted when full)",
            "electives",
        )
    )
    add(
        Endpoint(
            "DELETE",
            session + "/registration",
            cancel_elective,
            trainees,
            "Cancel one's registration; the first waitlisted moves up",
            "electives",
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/registrations",
            list_registrations,
            managers,
            "List a session's registrations and waitlist",
            "electives",
        )
    )
