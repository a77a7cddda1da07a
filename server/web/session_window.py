"""A session row as :mod:`server.core.session_run` sees it: the plan and the run.

The one place that turns a ``ClassSession`` into the window attendance and presence are judged
on (the report, the transcripts, the presence timeline), and into the planned window that leave
is asked and counted against.
"""

from __future__ import annotations

from datetime import UTC, datetime

from server.core.ledger import LedgerSession
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


def scheduled_session(session: ClassSession) -> LedgerSession:
    """The session as planned (its scheduled start and end), whether or not it has run."""
    times = session_times(session)
    return LedgerSession(
        times.session_id, times.course_id, times.scheduled_start, times.scheduled_end
    )


def session_window(session: ClassSession, now: datetime) -> RunWindow:
    return run_window(session_times(session), now.timestamp())


def window_bounds(window: RunWindow) -> tuple[datetime, datetime]:
    return datetime.fromtimestamp(window.start, UTC), datetime.fromtimestamp(window.end, UTC)
