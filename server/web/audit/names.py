"""The names behind the ids the audit trail's entries hold (``server.core.audit_refs`` says
which): a session's title, a trainee's, a site's, an org unit's name ...; a trainee's staff
number, a session's place among its course's sessions (第N批) and a batch plan's course."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.audit_refs import Names
from server.store.attendance_models import AttendanceRecordRow, BatchPlan
from server.store.completion_models import LeaveRequestRow
from server.store.models import (
    ClassSession,
    Course,
    OrgUnit,
    Program,
    ProgramUnit,
    Site,
    Trainee,
    User,
)
from server.store.rollcall_models import RollCall
from server.store.selfstudy_models import SelfStudyCourse
from server.web.db import CHUNK

# kind → (id column, name column) of the records named directly
_SIMPLE: dict[str, tuple[Any, Any]] = {
    "trainee": (Trainee.id, Trainee.name),
    "site": (Site.id, Site.name),
    "org_unit": (OrgUnit.id, OrgUnit.name),
    "course": (Course.id, Course.title),
    "unit": (ProgramUnit.id, ProgramUnit.title),
    "program": (Program.id, Program.name),
    "selfstudy_course": (SelfStudyCourse.id, SelfStudyCourse.title),
    "staff_no": (Trainee.id, Trainee.staff_no),
}


async def _pairs(db: AsyncSession, query: Any, column: Any, ids: set[int]) -> list[Any]:
    wanted = sorted(ids)
    rows: list[Any] = []
    for i in range(0, len(wanted), CHUNK):
        rows += (await db.execute(query.where(column.in_(wanted[i : i + CHUNK])))).all()
    return rows


async def _batches(db: AsyncSession, session_ids: set[int]) -> dict[int, str]:
    """Each session's place among its course's sessions (1, 2 ...: by start, as the batch plan
    numbers its batches), as text like every name."""
    courses = {
        c
        for _, c in await _pairs(
            db, select(ClassSession.id, ClassSession.course_id), ClassSession.id, session_ids
        )
    }
    rows = await _pairs(
        db,
        select(ClassSession.id, ClassSession.course_id).order_by(
            ClassSession.starts_at, ClassSession.id
        ),
        ClassSession.course_id,
        courses,
    )
    seen: dict[int, int] = {}
    out = {}
    for session, course in rows:
        seen[course] = seen.get(course, 0) + 1
        if session in session_ids:
            out[session] = str(seen[course])
    return out


async def names_of(db: AsyncSession, wanted: dict[str, set[int]]) -> Names:
    """Kind → id → name for the ids wanted (those not found left out)."""
    ids = {kind: set(v) for kind, v in wanted.items()}
    # records known through their session and trainee: find those first
    attendance = await _pairs(
        db,
        select(
            AttendanceRecordRow.id, AttendanceRecordRow.session_id, AttendanceRecordRow.trainee_id
        ),
        AttendanceRecordRow.id,
        ids.pop("attendance", set()),
    )
    calls = await _pairs(
        db, select(RollCall.id, RollCall.session_id), RollCall.id, ids.pop("roll_call", set())
    )
    leave = await _pairs(
        db,
        select(LeaveRequestRow.id, LeaveRequestRow.trainee_id),
        LeaveRequestRow.id,
        ids.pop("leave_request", set()),
    )
    ids.setdefault("session", set()).update([s for _, s, _ in attendance] + [s for _, s in calls])
    ids.setdefault("trainee", set()).update([t for _, _, t in attendance] + [t for _, t in leave])
    out: dict[str, dict[int, str]] = {}
    for kind, (id_column, name_column) in _SIMPLE.items():
        rows = await _pairs(db, select(id_column, name_column), id_column, ids.get(kind, set()))
        out[kind] = {i: n for i, n in rows if n}
    sessions = await _pairs(
        db,
        select(ClassSession.id, ClassSession.title, Course.title).join(
            Course, Course.id == ClassSession.course_id
        ),
        ClassSession.id,
        ids.get("session", set()),
    )
    out["session"] = {i: title or course for i, title, course in sessions if title or course}
    users = await _pairs(
        db, select(User.id, User.display_name, User.username), User.id, ids.get("user", set())
    )
    out["user"] = {i: shown or name for i, shown, name in users}
    both = out["trainee"], out["session"]
    out["attendance"] = {
        i: " · ".join(n for n in (both[0].get(t), both[1].get(s)) if n)
        for i, s, t in attendance
        if t in both[0] or s in both[1]
    }
    out["batch"] = await _batches(db, ids.get("batch", set()))
    plans = await _pairs(
        db,
        select(BatchPlan.id, Course.title).join(Course, Course.id == BatchPlan.course_id),
        BatchPlan.id,
        ids.get("batch_plan", set()),
    )
    out["batch_plan"] = {i: title for i, title in plans if title}
    out["roll_call"] = {i: both[1][s] for i, s in calls if s in both[1]}
    out["leave_request"] = {i: both[0][t] for i, t in leave if t in both[0]}
    return out
