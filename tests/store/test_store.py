"""The store suite: the same tests on a temp SQLite file and on a throwaway PostgreSQL database."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.store import db as store_db
from server.store.models import (
    AuditEntry,
    ClassSession,
    Course,
    LoginSession,
    OrgUnit,
    Program,
    ProgramUnit,
    Role,
    SessionStatus,
    Site,
    SiteKind,
    TeachingMethod,
    Trainee,
    User,
)

Sessions = async_sessionmaker[Any]

TABLES = {
    "org_units",
    "sites",
    "trainees",
    "users",
    "login_sessions",
    "programs",
    "program_units",
    "courses",
    "class_sessions",
    "session_sites",
    "audit_log",
    "alembic_version",
    "selfstudy_courses",
    "selfstudy_progress",
    "selfstudy_checks",
    "unit_contacts",
    "program_settings",
    "leave_requests",
    "leave_request_sessions",
    "readings",
    "writeups",
    "certificates",
}


async def test_migrations_create_every_table(database_url: str) -> None:
    engine = store_db.create_engine(database_url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
    await engine.dispose()
    assert names >= TABLES


async def test_migrating_twice_is_a_no_op(database_url: str) -> None:
    await store_db.migrate(database_url)
    engine = store_db.create_engine(database_url)
    async with engine.connect() as conn:
        version = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalar_one()
    await engine.dispose()
    from alembic.script import ScriptDirectory

    scripts = ScriptDirectory.from_config(store_db.alembic_config(database_url))
    assert version == scripts.get_current_head()


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    """Sessions on the test's database; its engine is disposed afterwards, after a failure too."""
    engine = store_db.create_engine(database_url)
    yield store_db.session_factory(engine)
    await engine.dispose()


async def _catalogue(sessions: Sessions) -> int:
    """A program with one course and a session of it at the main classroom and a sub-classroom
    of an org unit; the session's id."""
    async with sessions() as db, db.begin():
        unit = OrgUnit(name="鄞州区", code="YZ")
        db.add(unit)
        await db.flush()
        main = Site(name="主课堂", kind=SiteKind.MAIN, capacity=300)
        db.add(main)
        await db.flush()
        sub = Site(name="鄞州分课堂", parent_id=main.id, org_unit_id=unit.id, capacity=80)
        db.add(sub)
        program = Program(name="2026 周末知行学堂", year=2026)
        db.add(program)
        await db.flush()
        punit = ProgramUnit(program_id=program.id, title="专题一", seq=1)
        db.add(punit)
        await db.flush()
        course = Course(unit_id=punit.id, title="新发展理念", lecturer="王教授", credits=0.5)
        db.add(course)
        await db.flush()
        start = datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
        session = ClassSession(
            course_id=course.id,
            starts_at=start,
            ends_at=start + timedelta(hours=2),
            teaching_method=TeachingMethod.INTERVIEW,
            sites=[main, sub],
        )
        db.add(session)
        await db.flush()
        return session.id


async def test_session_keeps_its_window_in_utc_and_its_sites(sessions: Sessions) -> None:
    session_id = await _catalogue(sessions)
    async with sessions() as db:
        session = await db.get(ClassSession, session_id)
        assert session is not None
        assert session.starts_at == datetime(2026, 11, 22, 1, 30, tzinfo=UTC)
        assert session.starts_at.tzinfo is not None
        assert session.status is SessionStatus.SCHEDULED
        assert session.teaching_method is TeachingMethod.INTERVIEW
        assert [s.name for s in session.sites] == ["主课堂", "鄞州分课堂"]


async def test_naive_datetimes_are_refused(sessions: Sessions) -> None:
    async with sessions() as db:
        db.add(
            AuditEntry(actor="t", action="x", entity="e", entity_id="1", at=datetime(2026, 1, 1))
        )
        with pytest.raises(Exception, match="naive datetime"):
            await db.flush()


async def test_staff_numbers_are_unique(sessions: Sessions) -> None:
    await _catalogue(sessions)
    async with sessions() as db:
        unit_id = (await db.scalars(select(OrgUnit.id))).first()
        db.add_all(
            [
                Trainee(name="李娜", staff_no="S1", org_unit_id=unit_id),
                Trainee(name="王芳", staff_no="S1", org_unit_id=unit_id),
            ]
        )
        with pytest.raises(IntegrityError):
            await db.commit()


async def test_an_org_unit_with_trainees_cannot_be_deleted(sessions: Sessions) -> None:
    await _catalogue(sessions)
    async with sessions() as db, db.begin():
        unit = (await db.scalars(select(OrgUnit))).one()
        db.add(Trainee(name="刘洋", staff_no="S2", org_unit_id=unit.id))
    async with sessions() as db:
        unit = (await db.scalars(select(OrgUnit))).one()
        await db.delete(unit)
        with pytest.raises(IntegrityError):
            await db.commit()


async def test_a_login_belongs_to_exactly_one_principal(sessions: Sessions) -> None:
    await _catalogue(sessions)
    now = datetime.now(UTC)
    async with sessions() as db:
        db.add(LoginSession(token_hash="x" * 64, csrf_token="c", expires_at=now, created_at=now))
        with pytest.raises(IntegrityError):
            await db.commit()


async def test_users_keep_their_role(sessions: Sessions) -> None:
    async with sessions() as db, db.begin():
        db.add(User(username="mod", password_hash="h", role=Role.MODERATOR))
    async with sessions() as db:
        user = (await db.scalars(select(User))).one()
        assert user.role is Role.MODERATOR


async def test_audit_entries_keep_json_before_and_after(sessions: Sessions) -> None:
    async with sessions() as db, db.begin():
        db.add(
            AuditEntry(
                actor="user:1:operator",
                action="update",
                entity="trainees",
                entity_id="7",
                before={"position": "科员"},
                after={"position": "副科长"},
                reason="晋升",
            )
        )
    async with sessions() as db:
        entry = (await db.scalars(select(AuditEntry))).one()
        assert entry.before == {"position": "科员"}
        assert entry.after == {"position": "副科长"}
        assert entry.at.tzinfo is not None


async def test_a_self_study_course_keeps_its_window_and_each_trainee_one_progress(
    sessions: Sessions,
) -> None:
    from server.store.selfstudy_models import SelfStudyCheck, SelfStudyCourse, SelfStudyProgress

    await _catalogue(sessions)
    opens = datetime(2026, 12, 1, tzinfo=UTC)
    async with sessions() as db, db.begin():
        unit_id = (await db.scalars(select(ProgramUnit.id))).one()
        org = (await db.scalars(select(OrgUnit.id))).one()
        trainee = Trainee(name="张三", staff_no="S1", org_unit_id=org)
        course = SelfStudyCourse(
            title="案例课", unit_id=unit_id, class_hours=2.0, opens_at=opens,
            closes_at=opens + timedelta(days=30), format="webm", duration_s=600.0,
            created_by="operator", file_name="x.webm",
        )  # fmt: skip
        db.add_all([trainee, course])
        await db.flush()
        db.add(SelfStudyProgress(course_id=course.id, trainee_id=trainee.id, state={"a": [1]}))
        db.add(
            SelfStudyCheck(
                course_id=course.id, trainee_id=trainee.id, seq=1, issued_at=opens,
                deadline=opens + timedelta(seconds=60),
            )
        )  # fmt: skip
        ids = (course.id, trainee.id)
    async with sessions() as db:
        row = await db.get(SelfStudyProgress, ids)
        assert row is not None and row.state == {"a": [1]} and row.watched_s == 0
        stored = await db.get(SelfStudyCourse, ids[0])
        assert stored is not None and stored.opens_at == opens and stored.org_unit_ids == []
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            db.add(SelfStudyProgress(course_id=ids[0], trainee_id=ids[1], state={}))
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            db.add(
                SelfStudyCheck(
                    course_id=ids[0], trainee_id=ids[1], seq=1, issued_at=opens, deadline=opens
                )
            )
    with pytest.raises(IntegrityError):
        async with sessions() as db, db.begin():
            bad = SelfStudyCourse(
                title="x", unit_id=1, class_hours=1, opens_at=opens, closes_at=opens,
                format="mp4", duration_s=1, created_by="o",
            )  # fmt: skip
            db.add(bad)
