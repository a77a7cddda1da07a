"""The life of a class session: scheduled → live → ended, in one table."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from server.core.errors import InvalidInput
from server.core.transitions import transition


class TeachingMethod(StrEnum):
    LECTURE = "lecture"  # 专题讲授
    CASE = "case"  # 案例教学
    INTERVIEW = "interview"  # 访谈式教学
    SEMINAR = "seminar"  # 研讨式教学
    FORUM = "forum"  # 学员论坛


class SessionStatus(StrEnum):
    SCHEDULED = "scheduled"
    LIVE = "live"
    ENDED = "ended"


class SessionAction(StrEnum):
    START = "start"
    END = "end"


TRANSITIONS: dict[tuple[SessionStatus, SessionAction], SessionStatus] = {
    (SessionStatus.SCHEDULED, SessionAction.START): SessionStatus.LIVE,
    (SessionStatus.LIVE, SessionAction.END): SessionStatus.ENDED,
}


def next_state(state: SessionStatus, action: SessionAction) -> SessionStatus:
    return transition(
        TRANSITIONS,
        state,
        action,
        refusal=(
            f"session.cannot_{action.value}",
            f"A session that is {state.value} cannot {action.value}.",
        ),
    )


def check_window(starts_at: datetime, ends_at: datetime, max_hours: float = 24.0) -> None:
    """A session's time window must be positive and at most a day long."""
    if ends_at <= starts_at:
        raise InvalidInput("session.bad_window", "ends_at must be after starts_at.")
    if (ends_at - starts_at).total_seconds() > max_hours * 3600:
        raise InvalidInput("session.bad_window", f"A session lasts at most {max_hours:g} hours.")
