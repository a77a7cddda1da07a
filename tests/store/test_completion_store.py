"""The leave / write-up / certificate tables on SQLite and PostgreSQL (migration 0008)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server.store import db as store_db
from server.store.completion_models import (
    CertificateRow,
    LeaveRequestRow,
    LeaveSessionRow,
    ProgramSettings,
    WriteupRow,
)
from server.store.models import (
    ClassSession,
    Course,
    OrgUnit,
    Program,
    ProgramUnit,
    TeachingMethod,
    Trainee,
)

START = datetime(2026, 12, 20, 1, 0, tzinfo=UTC)


def _certificate(code: str, trainee: Trainee, program: Program) -> CertificateRow:
    return CertificateRow(
        code=code,
        trainee_id=trainee.id,
        program_id=program.id,
        trainee_name=trainee.name,
        program_name=program.name,
        hours=12.5,
    )


async def test_leave_write_up_and_certificate_rows(database_url: str) -> None:
    engine = store_db.create_engine(database_url)
    sessions = store_db.session_factory(engine)
    async with sessions() as db, db.begin():
        unit = OrgUnit(name="北仑区")
        program = Program(name="周末知行学堂", year=2026)
        db.add_all([unit, program])
        await db.flush()
        punit = ProgramUnit(program_id=program.id, title="专题一")
        trainee = Trainee(name="张三", staff_no="BL001", org_unit_id=unit.id)
        db.add_all([punit, trainee])
        await db.flush()
        course = Course(unit_id=punit.id, title="课")
        db.add(course)
        await db.flush()
        session = ClassSession(
            course_id=course.id,
            starts_at=START,
            ends_at=START + timedelta(hours=3),
            teaching_method=TeachingMethod.LECTURE,
        )
        db.add(session)
        await db.flush()
        db.add(ProgramSettings(program_id=program.id))
        leave = LeaveRequestRow(
            trainee_id=trainee.id,
            program_id=program.id,
            reason="出差",
            state="requested",
            first_start=START,
        )
        db.add(leave)
        await db.flush()
        db.add(LeaveSessionRow(request_id=leave.id, session_id=session.id))
        db.add(
            WriteupRow(trainee_id=trainee.id, program_id=program.id, text="x", state="submitted")
        )
        db.add(_certificate("ABCDEFGHIJKLMNOP", trainee, program))
    async with sessions() as db:
        settings = await db.get(ProgramSettings, program.id)
        assert settings is not None
        assert (settings.leave_limit_num, settings.leave_limit_den) == (1, 7)
        on_leave = (
            await db.scalars(
                select(LeaveSessionRow.session_id).where(LeaveSessionRow.request_id == leave.id)
            )
        ).all()
        assert on_leave == [session.id]
        row = await db.scalar(select(LeaveRequestRow))
        assert row is not None and row.first_start == START
    async with sessions() as db:  # one certificate per trainee and program, whatever its code
        with pytest.raises(IntegrityError):
            async with db.begin():
                db.add(_certificate("QRSTUVWXYZ234567", trainee, program))
    async with sessions() as db:
        with pytest.raises(IntegrityError):
            async with db.begin():
                db.add(ProgramSettings(program_id=program.id + 0, leave_limit_num=2))
    await engine.dispose()
