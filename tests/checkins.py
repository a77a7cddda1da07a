"""Check-in, as the tests (and ``bench/attendance.py``) see it from outside: the code a site's
screen shows, and what a session's check-ins left in the database ("none lost, none doubled")."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import code_for_window, current_code, window_index
from server.store.attendance_models import AttendanceRecordRow, CheckinRequest
from server.store.models import utcnow


def screen_code(secret: bytes, site_id: int, session_id: int, back_windows: int = 0) -> str:
    """The check-in code the site's screen shows now for the session, or ``back_windows``
    rotation windows ago (``secret``: the server's check-in key)."""
    now = utcnow().timestamp()
    if back_windows == 0:
        return current_code(secret, str(site_id), str(session_id), now).code
    return code_for_window(secret, str(site_id), str(session_id), window_index(now) - back_windows)


async def stored_checkins(db: AsyncSession, session_id: int) -> tuple[int, int, int]:
    """(attendance records, stored check-in requests, trainees with more than one record) of
    the session."""
    records = await db.scalar(
        select(func.count()).where(AttendanceRecordRow.session_id == session_id)
    )
    requests = await db.scalar(select(func.count()).where(CheckinRequest.session_id == session_id))
    per_trainee = (
        select(func.count().label("n"))
        .where(AttendanceRecordRow.session_id == session_id)
        .group_by(AttendanceRecordRow.trainee_id)
        .subquery()
    )
    doubled = await db.scalar(
        select(func.count()).select_from(per_trainee).where(per_trainee.c.n > 1)
    )
    return int(records or 0), int(requests or 0), int(doubled or 0)
