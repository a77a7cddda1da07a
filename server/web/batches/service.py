"""Batch planning (service): plan a course's staggered batches, change and publish the plan.

The planner and its rules are :mod:`server.core.batches`; this module loads the course's
sessions and roster into a :class:`BatchProblem`, stores the plan the core returns and shows it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.batches import (
    BatchProblem,
    BatchRules,
    Plan,
    Slot,
    max_in_class,
    move,
    on_duty_share,
    plan_batches,
    swap,
    validate_plan,
)
from server.core.batches import Trainee as PlanTrainee
from server.core.errors import Conflict, InvalidInput, NotFound
from server.core.roles import Principal
from server.store.attendance_models import (
    BatchAssignment,
    BatchPlan,
    KeepApartPair,
    PlanStatus,
    TraineeUnavailability,
)
from server.store.models import ClassSession, Course, OrgUnit, Site, Trainee, utcnow
from server.web.db import Sessions, audit, iso, load, transaction


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
    """The plan being worked on (see :func:`_plan_worked_on`); refused when there is none."""
    plan = await _plan_worked_on(db, course_id)
    if plan is None:
        raise NotFound("batch.no_plan", "This course has no batch plan yet; run the planner first.")
    return plan


async def _plan_worked_on(db: AsyncSession, course_id: int) -> BatchPlan | None:
    """The plan being worked on: the newest draft, else the published one, else None."""
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
    return plans[0] if plans else None


async def _assignment(db: AsyncSession, plan_id: int) -> dict[int, int]:
    rows = await db.execute(
        select(BatchAssignment.trainee_id, BatchAssignment.session_id).where(
            BatchAssignment.plan_id == plan_id
        )
    )
    return {t: s for t, s in rows.all()}


async def plan_view(db: AsyncSession, plan: BatchPlan) -> dict[str, Any]:
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
    by_unit: dict[int, list[Trainee]] = {}
    for t in trainees.values():
        by_unit.setdefault(t.org_unit_id, []).append(t)
    units = []
    for unit_id, members in sorted(by_unit.items()):
        sizes = Counter(str(assignment[t.id]) for t in members if t.id in assignment)
        batches = []
        for s in sessions:
            batches.append(
                {
                    "session_id": s.id,
                    "size": sizes[str(s.id)],
                    "leaders": [
                        {"id": t.id, "name": t.name}
                        for t in members
                        if t.is_leader and assignment.get(t.id) == s.id
                    ],
                    "on_duty_share": on_duty_share(problem.slots, sizes, str(s.id), len(members)),
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
        "created_at": iso(plan.created_at),
        "published_at": iso(plan.published_at),
        "sessions": [
            {
                "id": s.id,
                "title": s.title,
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
                "size": totals[s.id],
            }
            for s in sessions
        ],
        "units": units,
        "violations": [{**v.details(), "message": v.message} for v in broken],
        "assignments": [{"trainee_id": t, "session_id": s} for t, s in sorted(assignment.items())],
    }


async def create_plan(
    sessions: Sessions, who: Principal, course_id: int, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Run the planner over the course's sessions and save the result as the draft plan."""
    async with transaction(sessions, write=True) as db:
        await load(db, Course, course_id, "course")
        session_ids = {s.id for s in await _course_sessions(db, course_id)}
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
        return await plan_view(db, row)


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


async def current_plan(sessions: Sessions, course_id: int) -> dict[str, Any]:
    """The plan being worked on (see :func:`_plan_worked_on`), as :func:`plan_view` shows it. A
    course without a plan yet is no error (the plan page opens on it to run the planner): its
    view has status "none", the course's sessions and nobody placed."""
    async with transaction(sessions) as db:
        await load(db, Course, course_id, "course")
        plan = await _plan_worked_on(db, course_id)
        if plan is not None:
            return await plan_view(db, plan)
        return {
            "plan_id": None,
            "course_id": course_id,
            "status": "none",
            "rules": None,
            "created_by": "",
            "created_at": None,
            "published_at": None,
            "sessions": [
                {
                    "id": s.id,
                    "title": s.title,
                    "starts_at": iso(s.starts_at),
                    "ends_at": iso(s.ends_at),
                    "size": 0,
                }
                for s in await _course_sessions(db, course_id)
            ],
            "units": [],
            "violations": [],
            "assignments": [],
        }


async def change_plan(
    sessions: Sessions, who: Principal, course_id: int, how: str, data: Mapping[str, Any]
) -> dict[str, Any]:
    """Move one trainee (``how`` "move") or swap two ("swap") in the current plan; the core
    refuses a change that breaks a rule."""
    async with transaction(sessions, write=True) as db:
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
        return await plan_view(db, plan)


async def publish(sessions: Sessions, who: Principal, course_id: int) -> dict[str, Any]:
    """Publish the draft: it becomes the roster of the course's sessions."""
    async with transaction(sessions, write=True) as db:
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
        return await plan_view(db, draft)
