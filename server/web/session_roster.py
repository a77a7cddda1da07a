"""Where a trainee stands for a session (service: SQL + the core rules), shared by check-in,
electives, leave, completion and the ledger.

* **On the roster** of a session: a trainee is on it when (a) a *published* batch plan of the
  session's course assigns them to any session of the course, (b) they are registered (not
  waitlisted) for the session as an elective, or (c) their home site takes part in it.
* **Planned session** for the out-of-batch rule: the session the published plan assigns them
  to. A course without a published plan, or an elective registration for the session, counts
  as planned into this session (regular attendance).
* **Session settings** (``session_settings``): the row electives edit (capacity, registration
  open, any room) that also holds the **out-of-batch rule** a check-in applies.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import roster_standing
from server.store.attendance_models import (
    BatchAssignment,
    BatchPlan,
    ElectiveRegistration,
    PlanStatus,
    RegistrationStatus,
    SessionSettings,
)
from server.store.models import ClassSession, Trainee


async def session_settings(db: AsyncSession, session_id: int) -> SessionSettings | None:
    """The session's settings row (None: nothing set, the defaults apply)."""
    found: SessionSettings | None = await db.get(SessionSettings, session_id)
    return found


async def published_plan(db: AsyncSession, course_id: int) -> BatchPlan | None:
    """The course's published batch plan (the newest), if any."""
    found: BatchPlan | None = await db.scalar(
        select(BatchPlan)
        .where(BatchPlan.course_id == course_id, BatchPlan.status == PlanStatus.PUBLISHED)
        .order_by(BatchPlan.id.desc())
        .limit(1)
    )
    return found


async def roster_position(
    db: AsyncSession, session: ClassSession, trainee: Trainee
) -> tuple[bool, str | None]:
    """(on the roster, planned session id for the out-of-batch rule); see the module doc."""
    plan = await published_plan(db, session.course_id)
    registered = await db.scalar(
        select(ElectiveRegistration.id).where(
            ElectiveRegistration.session_id == session.id,
            ElectiveRegistration.trainee_id == trainee.id,
            ElectiveRegistration.status == RegistrationStatus.REGISTERED,
        )
    )
    planned: int | None = None
    if plan is not None:
        planned = await db.scalar(
            select(BatchAssignment.session_id).where(
                BatchAssignment.plan_id == plan.id, BatchAssignment.trainee_id == trainee.id
            )
        )
    return roster_standing(
        session_id=str(session.id),
        plan_published=plan is not None,
        assigned_session_id=None if planned is None else str(planned),
        registered=registered is not None,
        home_site_id=None if trainee.home_site_id is None else str(trainee.home_site_id),
        participating_site_ids=frozenset(str(s.id) for s in session.sites),
    )


async def expected_trainees(db: AsyncSession, session: ClassSession) -> set[int]:
    """Who is expected in a session: its batch (published plan) or, without a plan, everyone
    homed at a participating site (of an ended session: who was on the roster when it ended,
    not a trainee imported since, whom its report and their completion would count absent);
    plus registered electives."""
    plan = await published_plan(db, session.course_id)
    if plan is not None:
        ids = set(
            (
                await db.scalars(
                    select(BatchAssignment.trainee_id).where(
                        BatchAssignment.plan_id == plan.id,
                        BatchAssignment.session_id == session.id,
                    )
                )
            ).all()
        )
    else:
        site_ids = [s.id for s in session.sites]
        homed = select(Trainee.id).where(
            Trainee.home_site_id.in_(site_ids), Trainee.active.is_(True)
        )
        if session.ended_at is not None:  # the roster as it was: not who was added since
            homed = homed.where(Trainee.created_at <= session.ended_at)
        ids = set((await db.scalars(homed)).all() if site_ids else [])
    ids |= set(
        (
            await db.scalars(
                select(ElectiveRegistration.trainee_id).where(
                    ElectiveRegistration.session_id == session.id,
                    ElectiveRegistration.status == RegistrationStatus.REGISTERED,
                )
            )
        ).all()
    )
    return ids
