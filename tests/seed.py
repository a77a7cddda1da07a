"""Rows the tests and the benches seed alike."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.store.models import Course, Program, ProgramUnit


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
