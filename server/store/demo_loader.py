"""Load the demo data (``classroom-server --demo``) into an EMPTY database, once."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import security
from server.core.demo import DemoData, build_demo, sample_trainees
from server.core.demo_story import demo_presence, demo_runs, demo_story
from server.core.ledger import LedgerRules
from server.core.zone import CHINA_TZ
from server.store.attendance_models import BatchAssignment, BatchPlan, PlanStatus
from server.store.completion_models import ProgramSettings
from server.store.demo_story import write_presence, write_run, write_story
from server.store.models import (
    ClassSession,
    Course,
    OrgUnit,
    Program,
    ProgramUnit,
    Role,
    Site,
    SiteKind,
    TeachingMethod,
    Trainee,
    User,
)

# TESTS ONLY: with this environment variable set to 1 the demo uses the published, fixed
# credentials below, so browser tests can sign in; never set it on a real install. Without it
# (``make run``, any install) every password and personal code is random, made at the first
# load and printed once.
TEST_CREDENTIALS_ENV = "CLASSROOM_DEMO_TEST_CREDENTIALS"
DEMO_PASSWORDS = {
    "admin": "demo-admin-2026",
    "operator": "demo-operator-2026",
    "moderator": "demo-moderator-2026",
}
DEMO_SECRET_SITES = 2  # sub-classrooms that get an agent secret (the main classroom does too)


def fixed_test_credentials() -> bool:
    return os.environ.get(TEST_CREDENTIALS_ENV) == "1"


def demo_join_code(staff_no: str) -> str:
    """The fixed personal code of a demo trainee when ``fixed_test_credentials()``."""
    return security.normalise_join_code(f"DEMO{staff_no}")


def demo_credentials(data: DemoData) -> tuple[dict[str, str], dict[str, str]]:
    """(password by user name, personal code by staff number) for a first load."""
    if fixed_test_credentials():
        return (
            {a.username: DEMO_PASSWORDS[a.username] for a in data.accounts},
            {t.staff_no: demo_join_code(t.staff_no) for t in data.trainees},
        )
    passwords = {a.username: security.new_password() for a in data.accounts}
    return passwords, {t.staff_no: security.new_join_code()[0] for t in data.trainees}


def login_lines(
    data: DemoData, today: dt.date, passwords: dict[str, str], codes: dict[str, str]
) -> list[str]:
    lines = ["  demo logins (shown this once: write them down, or change them in the console):"]
    if fixed_test_credentials():
        lines[0] = f"  demo logins: FIXED TEST CREDENTIALS ({TEST_CREDENTIALS_ENV}=1), tests only:"
    lines += [f"    {name} / {password}" for name, password in passwords.items()]
    sample = sample_trainees(data, today)
    lines.append("    trainee codes: " + ", ".join(f"{t.name} {codes[t.staff_no]}" for t in sample))
    lines.append("    (other trainees: issue personal codes in the console)")
    return lines


async def load_demo(
    sessions: async_sessionmaker[Any],
    today: dt.date | None = None,
    recordings_dir: Path | None = None,
) -> list[str]:
    """Insert the demo catalogue if the database has no org unit and no user yet.

    Today's session is scheduled around now; every session before today has ended with its
    attendance, and the last one is filled with everything that happened in it
    (server/store/demo_story.py), with a recording file when ``recordings_dir`` is given.
    Returns the lines to print: the demo logins and the agent secrets, at the first load only.
    """
    now = dt.datetime.now(dt.UTC)
    today = today or now.astimezone(CHINA_TZ).date()
    data = build_demo(today, now=now)
    story = demo_story(data, today)
    runs = demo_runs(data, today)
    async with sessions() as db, db.begin():
        users = await db.scalar(select(func.count()).select_from(User))
        units = await db.scalar(select(func.count()).select_from(OrgUnit))
        if users or units:
            return ["  (demo data already loaded; its logins were printed at the first start)"]
        passwords, codes = demo_credentials(data)
        lines = login_lines(data, today, passwords, codes)
        for account in data.accounts:
            db.add(
                User(
                    username=account.username,
                    display_name=account.display_name,
                    password_hash=security.hash_password(passwords[account.username]),
                    role=Role(account.role),
                )
            )
        org_ids: dict[str, int] = {}
        for unit in data.org_units:
            row = OrgUnit(
                name=unit.name,
                code=unit.code,
                parent_id=org_ids[unit.parent_key] if unit.parent_key else None,
            )
            db.add(row)
            await db.flush()
            org_ids[unit.key] = row.id
        site_rows: dict[str, Site] = {}
        for site in data.sites:
            site_row = Site(
                name=site.name,
                code=site.code,
                capacity=site.capacity,
                kind=SiteKind.MAIN if site.parent_key is None else SiteKind.SUB,
                parent_id=site_rows[site.parent_key].id if site.parent_key else None,
                org_unit_id=org_ids[site.org_unit_key] if site.org_unit_key else None,
            )
            db.add(site_row)
            await db.flush()
            site_rows[site.key] = site_row
        trainee_rows: dict[str, Trainee] = {}
        for trainee in data.trainees:
            trainee_rows[trainee.staff_no] = Trainee(
                name=trainee.name,
                staff_no=trainee.staff_no,
                org_unit_id=org_ids[trainee.org_unit_key],
                position=trainee.position,
                is_leader=trainee.is_leader,
                home_site_id=site_rows[trainee.home_site_key].id,
                gender=trainee.gender,
                join_code_hash=security.sha256(codes[trainee.staff_no]),
            )
            db.add(trainee_rows[trainee.staff_no])
        program = Program(
            name=data.program.name,
            description=data.program.description,
            year=data.sessions[0].starts_at.year if data.sessions else dt.date.today().year,
        )
        db.add(program)
        await db.flush()
        # What completing it needs (结业要求): the yearly class hours the trainee page shows
        # (self-study counts, as toward the year) and 80% attendance.
        db.add(
            ProgramSettings(
                program_id=program.id,
                min_hours=LedgerRules().yearly_required_hours,
                count_self_study=True,
                min_attendance_share=0.8,
            )
        )
        unit_ids: dict[str, int] = {}
        for punit in data.units:
            row_u = ProgramUnit(program_id=program.id, title=punit.title, seq=punit.seq)
            db.add(row_u)
            await db.flush()
            unit_ids[punit.key] = row_u.id
        course_rows: dict[str, Course] = {}
        for course in data.courses:
            row_c = Course(unit_id=unit_ids[course.unit_key], title=course.title, credits=0.5)
            db.add(row_c)
            await db.flush()
            course_rows[course.key] = row_c
        session_rows: dict[str, ClassSession] = {}
        # Today's and the coming sessions first: session 1 is today's (every room takes part),
        # the one a first-time user (and the browser tests) starts; lists sort by time anyway.
        ran = {run.session_key for run in runs}
        for session in sorted(data.sessions, key=lambda s: (s.key in ran, s.starts_at)):
            course = next(c for c in data.courses if c.key == session.course_key)
            session_rows[session.key] = ClassSession(
                course_id=course_rows[session.course_key].id,
                title=f"{course.title}（第{session.batch}批）",
                starts_at=session.starts_at,
                ends_at=session.ends_at,
                teaching_method=TeachingMethod(course.method.value),
                sites=[site_rows[k] for k in session.site_keys],
            )
            db.add(session_rows[session.key])
        await db.flush()
        trainee_ids = {no: row.id for no, row in trainee_rows.items()}
        await write_batch_plans(db, data, course_rows, session_rows, trainee_ids, now)
        home_sites = {t.staff_no: site_rows[t.home_site_key].id for t in data.trainees}
        for run in runs:  # no past session left "not started"
            if story is None or run.session_key != story.session_key:
                write_run(db, run, session_rows[run.session_key], trainee_ids, home_sites)
        write_presence(db, demo_presence(data, runs), {k: r.id for k, r in site_rows.items()})
        if story is not None:
            await write_story(
                db,
                story,
                session_rows[story.session_key],
                trainee_ids,
                home_sites,
                recordings_dir,
            )
        secrets_lines = ["  agent secrets (shown once; issue new ones in the console or API):"]
        for agent_site in list(site_rows.values())[: 1 + DEMO_SECRET_SITES]:
            secret, digest = security.new_site_secret(agent_site.id)
            agent_site.secret_hash = digest
            secrets_lines.append(f"    {agent_site.name}: {secret}")
    return [*lines, *secrets_lines]


async def write_batch_plans(
    db: AsyncSession,
    data: DemoData,
    courses: dict[str, Course],
    sessions: dict[str, ClassSession],
    trainee_ids: dict[str, int],
    now: dt.datetime,
) -> None:
    """Each course's plan as published by the office (第一批 / 第二批 of every trainee)."""
    for course_key, plan in data.batch_plans.items():
        row = BatchPlan(
            course_id=courses[course_key].id,
            status=PlanStatus.PUBLISHED,
            rules={"on_duty_share": 0.5, "org_unit_ids": [], "use_site_capacity": True},
            created_by="demo",
            published_at=now,
        )
        db.add(row)
        await db.flush()
        db.add_all(
            BatchAssignment(plan_id=row.id, trainee_id=trainee_ids[no], session_id=sessions[key].id)
            for no, key in sorted(plan.items())
        )
