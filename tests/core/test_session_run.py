"""Attendance judged on when a session really ran, not on its schedule (issue 13.4)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from server.core.errors import InvalidInput
from server.core.ledger import LedgerRules
from server.core.session_run import (
    Phase,
    SessionTimes,
    StartCheck,
    judge,
    off_schedule,
    run_window,
    start_check,
    start_offset_minutes,
    start_warning,
)
from server.core.zone import CHINA_TZ

CST = timezone(timedelta(hours=8))
PLAN_START = datetime(2026, 12, 6, 9, 0, tzinfo=CST).timestamp()  # 09:00-11:30 planned
MIN = 60.0
PLAN_END = PLAN_START + 150 * MIN
RULES = LedgerRules()  # late after 10 min, early leave 10 min, 45 min a class hour, half hours


def times(started: float | None, ended: float | None) -> SessionTimes:
    """A session whose run is given in minutes after the PLANNED start (None = not yet)."""
    return SessionTimes(
        "s1",
        "c1",
        PLAN_START,
        PLAN_END,
        None if started is None else PLAN_START + started * MIN,
        None if ended is None else PLAN_START + ended * MIN,
    )


def stay(a: float, b: float) -> list[tuple[float, float]]:
    return [(PLAN_START + a * MIN, PLAN_START + b * MIN)]


def test_started_twenty_minutes_late_credits_who_was_there() -> None:
    run = times(20, 170)  # 09:20-11:50: the run is as long as the plan
    on_time = judge(run, "t1", stay(19, 170), rules=RULES, now=PLAN_END + 3600)
    assert on_time.attended_minutes == pytest.approx(150)
    assert on_time.class_hours == 3.0
    assert not on_time.late and not on_time.left_early and not on_time.absent
    assert on_time.final and on_time.credited
    # 09:25 is 25 minutes after the plan but only 5 after the real start: not late.
    five_after = judge(run, "t2", stay(25, 170), rules=RULES, now=PLAN_END + 3600)
    assert not five_after.late
    # 09:31 is 11 minutes after the real start: late.
    assert judge(run, "t3", stay(31, 170), rules=RULES, now=PLAN_END + 3600).late
    # Leaving at the PLANNED end (11:30) is leaving 20 minutes before the real one.
    assert judge(run, "t4", stay(20, 150), rules=RULES, now=PLAN_END + 3600).left_early
    # The session result keeps the planned start (the year and the report it belongs to).
    assert on_time.session_start == PLAN_START


def test_started_hours_off_schedule_judges_the_run_not_the_plan() -> None:
    run = times(7 * 60, 7 * 60 + 150)  # planned 09:00-11:30, ran 16:00-18:30
    there = judge(run, "t1", stay(7 * 60 - 2, 7 * 60 + 150), rules=RULES, now=PLAN_END + 9 * 3600)
    assert there.attended_minutes == pytest.approx(150)
    assert there.class_hours == 3.0 and not there.absent and not there.late
    # Someone who came at the planned time and left before the real start was not there.
    gone = judge(run, "t2", stay(0, 150), rules=RULES, now=PLAN_END + 9 * 3600)
    assert gone.absent and gone.attended_minutes == 0 and gone.class_hours == 0
    # And the operator is warned how far off the start was.
    assert off_schedule(PLAN_START, PLAN_START + 420 * MIN) == 420.0


def test_ended_early_nobody_left_early_from_what_did_not_happen() -> None:
    run = times(0, 90)  # 09:00-10:30 instead of 11:30
    full = judge(run, "t1", stay(0, 90), rules=RULES, now=PLAN_END)
    assert not full.left_early and full.attended_minutes == pytest.approx(90)
    assert full.class_hours == 2.0  # 90 min = two 45-minute class hours
    assert judge(run, "t2", stay(0, 70), rules=RULES, now=PLAN_END).left_early


def test_ran_over_credits_the_extra_time() -> None:
    run = times(0, 195)  # 09:00-12:15: 45 minutes over
    stayed = judge(run, "t1", stay(0, 195), rules=RULES, now=PLAN_END + 3600)
    assert stayed.attended_minutes == pytest.approx(195)
    assert stayed.class_hours == 4.0
    assert not stayed.left_early
    # Leaving at the planned 11:30 is now 45 minutes before the end.
    left = judge(run, "t2", stay(0, 150), rules=RULES, now=PLAN_END + 3600)
    assert left.left_early and left.class_hours == 3.0


def test_in_progress_is_never_absent_or_left_early() -> None:
    run = times(20, None)  # started 09:20, still running
    now = PLAN_START + 80 * MIN  # 10:20
    not_yet = judge(run, "t1", (), rules=RULES, now=now)
    assert not not_yet.absent and not not_yet.left_early and not not_yet.final
    assert not_yet.class_hours == 0
    # Stepped out 20 minutes ago: not "left early" while the session still runs.
    out = judge(run, "t2", stay(20, 60), rules=RULES, now=now)
    assert not out.left_early and not out.absent
    assert out.attended_minutes == pytest.approx(40)
    # In the room since the start: hours so far; lateness is known already.
    inside = judge(run, "t3", stay(35, 80), rules=RULES, now=now)
    assert inside.late and inside.attended_minutes == pytest.approx(45)
    assert run_window(run, now).phase is Phase.IN_PROGRESS
    assert run_window(run, now).minutes == pytest.approx(60)


@pytest.mark.parametrize("now_minutes", [-600, 30, 24 * 60])
def test_not_started_or_future_is_never_absent(now_minutes: float) -> None:
    """Before, during or long after its planned time, a session never started judges nobody."""
    run = times(None, None)
    result = judge(run, "t1", (), rules=RULES, now=PLAN_START + now_minutes * MIN)
    assert not result.absent and not result.late and not result.left_early
    assert not result.final and result.class_hours == 0 and not result.credited
    assert run_window(run, 0).phase is Phase.NOT_STARTED


def test_manual_mark_on_a_session_held_without_the_console_is_credited_on_the_plan() -> None:
    run = times(None, None)
    marked = judge(run, "t1", stay(30, 120), rules=RULES, now=PLAN_END + 3600)
    assert marked.attended_minutes == pytest.approx(90) and marked.class_hours == 2.0
    assert not marked.late and not marked.left_early and not marked.absent


def test_ended_without_a_recorded_start_uses_the_planned_start() -> None:
    run = times(None, 150)
    assert run_window(run, PLAN_END).start == PLAN_START
    assert judge(run, "t1", stay(0, 150), rules=RULES, now=PLAN_END).class_hours == 3.0


def test_end_before_start_credits_nobody_instead_of_failing() -> None:
    run = times(30, 10)
    result = judge(run, "t1", stay(0, 150), rules=RULES, now=PLAN_END)
    assert result.class_hours == 0 and not result.credited


def test_start_warning_says_how_far_off() -> None:
    assert start_offset_minutes(PLAN_START, PLAN_START + 20 * MIN) == 20.0
    assert start_warning(PLAN_START, PLAN_START + 10 * MIN) is None  # within 15 minutes
    assert start_warning(PLAN_START, PLAN_START - 14 * MIN) is None
    late = start_warning(PLAN_START, PLAN_START + 20 * MIN)
    assert late is not None and late["minutes_off"] == 20.0
    assert late["code"] == "session.started_off_schedule"
    early = start_warning(PLAN_START, PLAN_START - 60 * MIN)
    assert early is not None and early["minutes_off"] == -60.0


def test_bad_times_are_refused() -> None:
    with pytest.raises(InvalidInput):
        SessionTimes("s", "c", PLAN_END, PLAN_START)
    with pytest.raises(InvalidInput):
        SessionTimes("s", "c", PLAN_START, PLAN_END, float("nan"))


@pytest.mark.parametrize(
    ("now", "verdict"),
    [
        (PLAN_START - 10 * MIN, StartCheck.ON_SCHEDULE),  # ten minutes early: the usual
        (PLAN_START - 13 * MIN, StartCheck.EARLY),
        (PLAN_START - 8.5 * 60 * MIN, StartCheck.EARLY),  # 00:30 the same day
        (PLAN_START + 6 * 60 * MIN, StartCheck.ON_SCHEDULE),  # late the same day: warned after
        (PLAN_START - 24 * 60 * MIN, StartCheck.OTHER_DAY),  # tomorrow's session, today
        (PLAN_START - 9.5 * 60 * MIN, StartCheck.OTHER_DAY),  # 23:30 the evening before
        (PLAN_START + 24 * 60 * MIN, StartCheck.OTHER_DAY),  # yesterday's, never started
        (PLAN_START - 9 * 60 * MIN - 2 * MIN, StartCheck.OTHER_DAY),  # 23:58 the evening before
    ],
)
def test_start_check_asks_about_another_day_and_a_start_well_early(
    now: float, verdict: StartCheck
) -> None:
    assert start_check(PLAN_START, now, CHINA_TZ) is verdict


def test_start_check_takes_the_day_in_the_deployments_zone() -> None:
    """09:00 in Beijing is 01:00 UTC: at 23:30 UTC the evening before it is already that day."""
    utc_evening_before = PLAN_START - 1.5 * 60 * MIN  # 07:30 Beijing, 23:30 UTC the day before
    assert start_check(PLAN_START, utc_evening_before, CHINA_TZ) is StartCheck.EARLY
    assert start_check(PLAN_START, utc_evening_before, UTC) is StartCheck.OTHER_DAY


def test_a_start_close_to_a_midnight_schedule_is_not_another_day() -> None:
    """23:58 planned: started at 00:01 (3 minutes late) or at 23:50 the day before, no question."""
    midnight = datetime(2026, 12, 7, 0, 0, tzinfo=CST).timestamp()
    assert start_check(midnight - 2 * MIN, midnight + 1 * MIN, CHINA_TZ) is StartCheck.ON_SCHEDULE
    assert start_check(midnight + 5 * MIN, midnight - 2 * MIN, CHINA_TZ) is StartCheck.ON_SCHEDULE
    assert start_check(midnight - 2 * MIN, midnight + 30 * MIN, CHINA_TZ) is StartCheck.OTHER_DAY
