"""Rows the tests and the benches seed alike."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.store.models import ClassSession, Course, Program, ProgramUnit, Site, TeachingMethod


async def add_course(
    db: AsyncSession, program: str, unit: str, **course: Any
) -> tuple[Program, ProgramUnit, Course]:
    """A 2026 program named ``program`` with one unit holding one course (``course`` its
    columns); flushed, so that each row has its id."""
    row = Program(name=program, year=2026)
    db.add(row)
    await db.flush()
    punit = ProgramUnit(program_id=row.id, title=unit)
    db.add(punit)
    await db.flush()
    added = Course(unit_id=punit.id, **course)
    db.add(added)
    await db.flush()
    return row, punit, added


async def add_lecture(
    db: AsyncSession,
    course_id: int,
    title: str,
    starts: datetime,
    ends: datetime,
    sites: Iterable[Site],
) -> ClassSession:
    """A lecture of the course planned from ``starts`` to ``ends`` at these sites (scheduled);
    flushed, so that it has its id."""
    session = ClassSession(
        course_id=course_id,
        title=title,
        starts_at=starts,
        ends_at=ends,
        teaching_method=TeachingMethod.LECTURE,
        sites=list(sites),
    )
    db.add(session)
    await db.flush()
    return session
