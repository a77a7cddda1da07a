"""A session row as :mod:`server.core.session_run` sees it: the plan and the run.

The one place that turns a ``ClassSession`` into the window attendance and presence are judged
on (the report, the transcripts, the presence timeline).
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.core.session_run import RunWindow, SessionTimes, run_window
from server.store.models import ClassSession


def session_times(session: ClassSession) -> SessionTimes:
    return SessionTimes(
        str(session.id),
        str(session.course_id),
        session.starts_at.timestamp(),
        session.ends_at.timestamp(),
        session.started_at.timestamp() if session.started_at is not None else None,
        session.ended_at.timestamp() if session.ended_at is not None else None,
    )


def session_window(session: ClassSession, now: datetime) -> RunWindow:
    return run_window(session_times(session), now.timestamp())


def window_bounds(window: RunWindow) -> tuple[datetime, datetime]:
    return datetime.fromtimestamp(window.start, UTC), datetime.fromtimestamp(window.end, UTC)
