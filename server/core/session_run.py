"""When a session really ran, and how attendance is judged on it.

The schedule (``starts_at``..``ends_at``) is the plan; attendance is judged on the run:
from when the operator started the session to when they ended it. A session started late
(09:00 planned, started 16:00) credits the trainees who were there at 16:00; one that ran over
credits the extra time; one ended early judges nobody as leaving early from the part that did
not happen.

Phases:

* **not started** (never started, whatever the clock says): nobody is absent, late or left
  early. Only an operator's manual mark can put presence on such a session (a session held
  without the console); that presence is credited on the planned window.
* **in progress** (started, not ended): attended time so far is counted and lateness is known,
  but nobody is absent or left early yet: a phone never shows 缺勤 or 早退 for a running session.
* **ended**: the full judgement of :func:`server.core.ledger.session_result`.

A session that has an end but no recorded start (data from before the start was kept) is
judged on its scheduled start.

Pure: times are float seconds since the epoch (UTC), passed in by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, tzinfo
from enum import StrEnum

from server.core.errors import InvalidInput
from server.core.ledger import (
    IntervalLike,
    LedgerRules,
    LedgerSession,
    SessionResult,
    session_result,
)

OFF_SCHEDULE_WARN_MINUTES = 15.0
"""Starting more than this many minutes before or after the schedule warns the operator."""

EARLY_START_ASK_MINUTES = 10.0
"""Starting more than this many minutes before the schedule is asked about first (the console
asks once more): the operator opens the console ten minutes early, not to start then."""


class Phase(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    ENDED = "ended"


@dataclass(frozen=True, slots=True)
class SessionTimes:
    """A session's plan and its run. ``started_at`` / ``ended_at`` are None until they happen."""

    session_id: str
    course_id: str
    scheduled_start: float
    scheduled_end: float
    started_at: float | None = None
    ended_at: float | None = None

    def __post_init__(self) -> None:
        given = [self.scheduled_start, self.scheduled_end]
        given += [t for t in (self.started_at, self.ended_at) if t is not None]
        if not all(math.isfinite(t) for t in given) or self.scheduled_end <= self.scheduled_start:
            raise InvalidInput(
                "ledger.session_window_invalid",
                "A session needs finite times and a scheduled start before its end.",
            )

    @property
    def phase(self) -> Phase:
        if self.ended_at is not None:
            return Phase.ENDED
        if self.started_at is not None:
            return Phase.IN_PROGRESS
        return Phase.NOT_STARTED


@dataclass(frozen=True, slots=True)
class RunWindow:
    """The window attendance is judged on."""

    phase: Phase
    start: float
    end: float
    """For a session in progress: ``now``; for one not started: the scheduled end."""

    @property
    def minutes(self) -> float:
        return (self.end - self.start) / 60


def run_window(times: SessionTimes, now: float) -> RunWindow:
    """The actual run: started..ended, started..now while in progress, the plan if not started.

    An end at or before the start (clock trouble) leaves a one-second window, so the result
    is "nobody credited" rather than an error.
    """
    phase = times.phase
    if phase is Phase.NOT_STARTED:
        return RunWindow(phase, times.scheduled_start, times.scheduled_end)
    start = times.started_at if times.started_at is not None else times.scheduled_start
    end = times.ended_at if times.ended_at is not None else now
    return RunWindow(phase, start, max(end, start + 1.0))


def start_offset_minutes(scheduled_start: float, started_at: float) -> float:
    """Minutes the start is after (+) or before (-) the schedule, to one decimal."""
    return round((started_at - scheduled_start) / 60, 1)


def off_schedule(
    scheduled_start: float, started_at: float, *, warn_after: float = OFF_SCHEDULE_WARN_MINUTES
) -> float | None:
    """The start's offset in minutes when it is far enough from the plan to warn, else None."""
    offset = start_offset_minutes(scheduled_start, started_at)
    return offset if abs(offset) > warn_after else None


def judge(
    times: SessionTimes,
    trainee_id: str,
    presence: Iterable[IntervalLike],
    *,
    rules: LedgerRules,
    now: float,
    site_online: Iterable[IntervalLike] | None = None,
    makeup: bool = False,
) -> SessionResult:
    """A trainee's result, judged on when the session really ran (see the module doc).

    ``session_start`` of the result stays the scheduled start (the plan decides which year and
    which report the session belongs to).
    """
    window = run_window(times, now)
    session = LedgerSession(times.session_id, times.course_id, window.start, window.end)
    result = session_result(
        session, trainee_id, presence, rules=rules, site_online=site_online, makeup=makeup
    )
    result = replace(result, session_start=times.scheduled_start)
    if window.phase is Phase.IN_PROGRESS:
        result = replace(result, absent=False, left_early=False, final=False)
    elif window.phase is Phase.NOT_STARTED:
        result = replace(result, absent=False, late=False, left_early=False, final=False)
    return result


def start_warning(scheduled_start: float, started_at: float) -> dict[str, str | float] | None:
    """The warning the start answer carries when the start is far from the schedule.

    ``minutes_off`` is signed: positive = started late, negative = started early.
    """
    offset = off_schedule(scheduled_start, started_at)
    if offset is None:
        return None
    when = "after" if offset > 0 else "before"
    return {
        "code": "session.started_off_schedule",
        "minutes_off": offset,
        "message": (
            f"The session started {abs(offset):g} minutes {when} its scheduled start; "
            "attendance is judged on when it really runs."
        ),
    }


class StartCheck(StrEnum):
    """What is unusual about starting a session now, asked about before the start."""

    ON_SCHEDULE = "on_schedule"
    OTHER_DAY = "other_day"
    """Scheduled for another calendar day (in the deployment's zone): tomorrow's, or an old one."""
    EARLY = "early"
    """Today, but more than :data:`EARLY_START_ASK_MINUTES` before its scheduled start."""


def start_check(scheduled_start: float, now: float, zone: tzinfo) -> StartCheck:
    """Whether starting now needs a second question, and why (``zone``: the deployment's).

    A late start the same day is not asked about: it happens (the lecturer is late), and the
    start's warning (:func:`start_warning`) tells the operator attendance follows the run. A
    start close to the schedule is never asked about, even across midnight (23:58 planned,
    started at 00:01, is three minutes late, not "another day").
    """
    offset = start_offset_minutes(scheduled_start, now)
    if -EARLY_START_ASK_MINUTES <= offset <= OFF_SCHEDULE_WARN_MINUTES:
        return StartCheck.ON_SCHEDULE
    day = datetime.fromtimestamp(scheduled_start, UTC).astimezone(zone).date()
    if day != datetime.fromtimestamp(now, UTC).astimezone(zone).date():
        return StartCheck.OTHER_DAY
    return StartCheck.EARLY if offset < 0 else StartCheck.ON_SCHEDULE
