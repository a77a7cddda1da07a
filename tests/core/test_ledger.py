"""Credit-hour ledger: intervals, session results, yearly progress, honour list, audit."""

from __future__ import annotations

import dataclasses
import random
from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.checkin import AttendanceRecord
from server.core.errors import InvalidInput
from server.core.ledger import (
    AttendanceStatus,
    AuditEntry,
    AuditTrail,
    EntityRef,
    HonourCandidate,
    Interval,
    LedgerRules,
    LedgerSession,
    SessionResult,
    apply_corrections,
    attendance_status,
    clip,
    correct_result,
    honour_list,
    intersect,
    result_entity,
    session_result,
    total_length,
    union,
    yearly_progress,
)
from tests.core.helpers import raises_code

CST = timezone(timedelta(hours=8))
START = datetime(2024, 5, 18, 9, 0, tzinfo=CST).timestamp()
MIN = 60.0
END = START + 180 * MIN  # a three-hour session
SESSION = LedgerSession("sess-1", "course-party-history", START, END)
RULES = LedgerRules()


def _minutes(*pairs: tuple[float, float]) -> list[tuple[float, float]]:
    """Intervals given as minutes after the session start."""
    return [(START + a * MIN, START + b * MIN) for a, b in pairs]


# ---------------------------------------------------------------------------------------------
# Interval arithmetic
# ---------------------------------------------------------------------------------------------


def test_union_merges_overlapping_and_touching_intervals_and_drops_empty_ones() -> None:
    assert union([(5, 7), (0, 2), (1, 3), (3, 4), (9, 9)]) == (
        Interval(0, 4),
        Interval(5, 7),
    )


def test_union_of_several_groups() -> None:
    assert union([(0, 1)], [(1, 2)], [Interval(4, 5)]) == (Interval(0, 2), Interval(4, 5))
    assert union() == ()


def test_intersect_keeps_only_common_parts() -> None:
    assert intersect([(0, 10), (20, 30)], [(5, 25)]) == (Interval(5, 10), Interval(20, 25))
    assert intersect([(0, 10)], [(10, 20)]) == ()
    assert intersect([(0, 10)], []) == ()


def test_clip_cuts_to_a_window() -> None:
    assert clip([(0, 10), (15, 40)], 5, 20) == (Interval(5, 10), Interval(15, 20))


def test_total_length_counts_overlaps_once() -> None:
    assert total_length([(0, 10), (5, 15), (20, 21)]) == 16


def test_inverted_or_non_finite_interval_is_refused() -> None:
    raises_code("ledger.interval_invalid", lambda: Interval(2, 1))
    raises_code("ledger.interval_invalid", lambda: union([(0.0, float("inf"))]))


bounds = st.integers(min_value=0, max_value=10_000).map(float)
interval_pairs = st.tuples(bounds, bounds).map(lambda p: (min(p), max(p)))
interval_lists = st.lists(interval_pairs, max_size=12)


@settings(max_examples=100, deadline=None)
@given(interval_lists)
def test_union_is_idempotent_and_normalised(intervals: list[tuple[float, float]]) -> None:
    once = union(intervals)
    assert union(once) == once
    assert all(i.length > 0 for i in once)
    assert all(a.end < b.start for a, b in pairwise(once))


@settings(max_examples=100, deadline=None)
@given(interval_lists, st.randoms(use_true_random=False))
def test_union_ignores_order(intervals: list[tuple[float, float]], rnd: random.Random) -> None:
    shuffled = list(intervals)
    rnd.shuffle(shuffled)
    assert union(shuffled) == union(intervals)


@settings(max_examples=100, deadline=None)
@given(interval_lists, interval_lists)
def test_union_and_intersection_satisfy_inclusion_exclusion(
    a: list[tuple[float, float]], b: list[tuple[float, float]]
) -> None:
    assert total_length(union(a, b)) + total_length(intersect(a, b)) == total_length(
        a
    ) + total_length(b)
    assert intersect(a, b) == intersect(b, a)
    assert total_length(intersect(a, b)) <= min(total_length(a), total_length(b))


@settings(max_examples=100, deadline=None)
@given(interval_lists, interval_pairs, interval_pairs)
def test_clipping_is_monotone_in_the_window(
    intervals: list[tuple[float, float]],
    inner: tuple[float, float],
    outer: tuple[float, float],
) -> None:
    lo, hi = min(inner[0], outer[0]), max(inner[1], outer[1])  # [lo, hi] contains inner
    small = clip(intervals, *inner)
    large = clip(intervals, lo, hi)
    assert total_length(small) <= total_length(large)
    assert intersect(small, large) == small  # small is inside large
    assert total_length(large) <= hi - lo


# ---------------------------------------------------------------------------------------------
# Rules
# ---------------------------------------------------------------------------------------------


def test_default_rules_follow_the_sources() -> None:
    assert RULES.late_after_minutes == 10
    assert RULES.early_leave_minutes == 10
    assert RULES.minutes_per_class_hour == 45
    assert RULES.steps_per_class_hour == 2
    assert RULES.min_attendance_share is None
    assert RULES.yearly_required_hours == 32


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [(0, 0.0), (22.4, 0.0), (22.5, 0.5), (44.99, 0.5), (45, 1.0), (67.5, 1.5), (180, 4.0)],
)
def test_class_hours_are_45_minutes_rounded_down_to_half_hours(
    minutes: float, hours: float
) -> None:
    assert RULES.class_hours(minutes * 60) == hours


def test_class_hours_are_not_lost_to_float_noise_in_epoch_times() -> None:
    start = 1_716_000_000.1
    assert RULES.class_hours((start + 2700.0) - start) == 1.0


def test_class_hours_follow_configured_minutes_and_steps() -> None:
    rules = LedgerRules(minutes_per_class_hour=40, steps_per_class_hour=1)
    assert rules.class_hours(79 * 60) == 1.0
    assert rules.class_hours(80 * 60) == 2.0


@pytest.mark.parametrize(
    "bad",
    [
        {"late_after_minutes": -1},
        {"minutes_per_class_hour": 0},
        {"steps_per_class_hour": 3},
        {"min_attendance_share": 0},
        {"min_attendance_share": 1.5},
        {"course_credits": {"c": -1}},
        {"yearly_required_hours": -2},
    ],
)
def test_invalid_rules_are_refused(bad: dict[str, object]) -> None:
    raises_code("ledger.rules_invalid", lambda: LedgerRules(**bad))  # type: ignore[arg-type]


def test_rules_are_frozen_including_course_credits() -> None:
    credits = {"c": 1.0}
    rules = LedgerRules(course_credits=credits)
    credits["c"] = 99.0
    assert rules.course_credits["c"] == 1.0
    with pytest.raises(TypeError):
        rules.course_credits["c"] = 2.0  # type: ignore[index]
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.late_after_minutes = 0  # type: ignore[misc]


def test_calendar_year_is_taken_in_china_time() -> None:
    new_year_morning = datetime(2025, 1, 1, 7, 0, tzinfo=CST).timestamp()  # 2024 in UTC
    assert datetime.fromtimestamp(new_year_morning, UTC).year == 2024
    assert RULES.year_of(new_year_morning) == 2025
    assert LedgerRules(calendar_utc_offset_hours=0).year_of(new_year_morning) == 2024
    # The deployment's configured zone, when given, decides instead.
    assert LedgerRules(calendar_zone=UTC).year_of(new_year_morning) == 2024
    tokyo = timezone(timedelta(hours=9))
    assert LedgerRules(calendar_zone=tokyo).year_of(new_year_morning - 3600) == 2025


# ---------------------------------------------------------------------------------------------
# Session results
# ---------------------------------------------------------------------------------------------


def test_full_attendance_of_a_three_hour_session() -> None:
    result = session_result(SESSION, "t-1", _minutes((0, 180)), rules=RULES)
    assert result.attended_minutes == 180
    assert result.receivable_minutes == 180
    assert result.class_hours == 4.0
    assert not (result.late or result.left_early or result.absent or result.makeup)
    assert result.credited and result.session_start == START


def test_presence_outside_the_session_window_is_clipped() -> None:
    result = session_result(SESSION, "t-1", _minutes((-30, 60), (170, 240)), rules=RULES)
    assert result.attended_minutes == 70
    assert result.class_hours == 1.5


def test_gaps_are_not_counted_and_overlapping_stays_count_once() -> None:
    result = session_result(SESSION, "t-1", _minutes((0, 60), (30, 90), (120, 180)), rules=RULES)
    assert result.attended_minutes == 150
    assert result.class_hours == 3.0


def test_time_the_site_was_offline_is_not_credited() -> None:
    online = _minutes((0, 45), (105, 180))  # a one-hour outage at the site
    result = session_result(SESSION, "t-1", _minutes((0, 180)), rules=RULES, site_online=online)
    assert result.attended_minutes == 120
    assert result.receivable_minutes == 120
    assert not result.late and not result.left_early


def test_arriving_more_than_ten_minutes_late_is_late() -> None:
    on_time = session_result(SESSION, "t-1", _minutes((10, 180)), rules=RULES)
    late = session_result(SESSION, "t-1", _minutes((10.5, 180)), rules=RULES)
    assert not on_time.late and late.late


def test_leaving_more_than_ten_minutes_early_is_left_early() -> None:
    stays = session_result(SESSION, "t-1", _minutes((0, 170)), rules=RULES)
    leaves = session_result(SESSION, "t-1", _minutes((0, 169)), rules=RULES)
    assert not stays.left_early and leaves.left_early


def test_lateness_threshold_is_configurable() -> None:
    strict = LedgerRules(late_after_minutes=0, early_leave_minutes=0)
    result = session_result(SESSION, "t-1", _minutes((1, 179)), rules=strict)
    assert result.late and result.left_early


def test_checking_in_before_the_start_is_not_late() -> None:
    result = session_result(SESSION, "t-1", _minutes((-20, 180)), rules=RULES)
    assert not result.late and result.attended_minutes == 180


def test_no_presence_in_the_window_is_absent_with_nothing_earned() -> None:
    rules = LedgerRules(course_credits={SESSION.course_id: 2})
    result = session_result(SESSION, "t-1", _minutes((200, 260)), rules=rules)
    assert result.absent and not result.credited
    assert (result.attended_minutes, result.class_hours, result.credits) == (0, 0, 0)
    assert not result.late and not result.left_early


def test_present_while_the_site_was_offline_all_session_is_not_absent_but_earns_nothing() -> None:
    result = session_result(
        SESSION, "t-1", _minutes((0, 180)), rules=RULES, site_online=_minutes((200, 300))
    )
    assert not result.absent
    assert result.attended_minutes == 0 and result.class_hours == 0 and not result.credited


def test_course_credits_are_earned_with_any_class_hours() -> None:
    rules = LedgerRules(course_credits={SESSION.course_id: 1.5})
    earned = session_result(SESSION, "t-1", _minutes((0, 30)), rules=rules)
    too_short = session_result(SESSION, "t-1", _minutes((0, 20)), rules=rules)
    assert earned.credits == 1.5 and earned.class_hours == 0.5
    assert too_short.credits == 0 and not too_short.credited


def test_unknown_course_gives_no_credits_but_class_hours() -> None:
    result = session_result(SESSION, "t-1", _minutes((0, 180)), rules=RULES)
    assert result.credits == 0 and result.class_hours == 4


def test_minimum_attendance_share_gates_class_hours_and_credits() -> None:
    rules = LedgerRules(min_attendance_share=0.8, course_credits={SESSION.course_id: 1})
    below = session_result(SESSION, "t-1", _minutes((0, 143)), rules=rules)
    at = session_result(SESSION, "t-1", _minutes((0, 144)), rules=rules)
    assert below.class_hours == 0 and below.credits == 0 and not below.credited
    assert at.class_hours == 3.0 and at.credits == 1 and at.credited


def test_minimum_share_is_measured_against_the_time_the_site_received() -> None:
    rules = LedgerRules(min_attendance_share=0.8)
    online = _minutes((0, 90))
    result = session_result(SESSION, "t-1", _minutes((0, 80)), rules=rules, site_online=online)
    assert result.credited and result.class_hours == 1.5


def test_makeup_flag_is_carried_and_still_earns_hours() -> None:
    result = session_result(SESSION, "t-1", _minutes((0, 90)), rules=RULES, makeup=True)
    assert result.makeup and result.class_hours == 2.0


def test_result_from_an_attendance_record_with_a_gap() -> None:
    record = (
        AttendanceRecord.new("t-1", SESSION.session_id, "site-a")
        .check_in(START + 2 * MIN)
        .check_out(START + 60 * MIN)
        .check_in(START + 75 * MIN)
        .close_at(END)
    )
    result = session_result(SESSION, "t-1", record.spans(END), rules=RULES)
    assert result.attended_minutes == 163
    assert result.class_hours == 3.5
    assert not result.late and not result.left_early


def test_session_with_an_inverted_window_is_refused() -> None:
    raises_code("ledger.session_window_invalid", lambda: LedgerSession("s", "c", 10, 10))


session_minutes = st.integers(min_value=1, max_value=600)
minute_pairs = st.tuples(
    st.integers(min_value=-100, max_value=700), st.integers(min_value=-100, max_value=700)
).map(lambda p: (START + min(p) * MIN, START + max(p) * MIN))


@settings(max_examples=100, deadline=None)
@given(
    length=session_minutes,
    presence=st.lists(minute_pairs, max_size=8),
    online=st.none() | st.lists(minute_pairs, max_size=8),
)
def test_attended_time_never_exceeds_the_session_or_the_broadcast(
    length: int,
    presence: list[tuple[float, float]],
    online: list[tuple[float, float]] | None,
) -> None:
    session = LedgerSession("s", "c", START, START + length * MIN)
    result = session_result(session, "t", presence, rules=RULES, site_online=online)
    assert 0 <= result.attended_minutes <= result.receivable_minutes <= length
    assert result.class_hours * 45 <= result.attended_minutes
    assert result.attended_minutes < (result.class_hours + 0.5) * 45
    assert result.absent == (total_length(clip(presence, session.start, session.end)) == 0)


@settings(max_examples=100, deadline=None)
@given(a=st.floats(min_value=0, max_value=1e6), b=st.floats(min_value=0, max_value=1e6))
def test_class_hours_are_monotone_in_attended_time(a: float, b: float) -> None:
    low, high = sorted((a, b))
    assert RULES.class_hours(low) <= RULES.class_hours(high)
    assert RULES.class_hours(high) * 2 == int(RULES.class_hours(high) * 2)


# ---------------------------------------------------------------------------------------------
# Yearly progress
# ---------------------------------------------------------------------------------------------


def _result(
    trainee: str, session_id: str, hours: float, *, course: str = "c", year: int = 2024
) -> SessionResult:
    start = datetime(year, 6, 1, 9, tzinfo=CST).timestamp()
    return SessionResult(
        trainee_id=trainee,
        session_id=session_id,
        course_id=course,
        session_start=start,
        attended_minutes=hours * 45,
        receivable_minutes=180,
        late=False,
        left_early=False,
        class_hours=hours,
        credits=1.0 if hours else 0.0,
        makeup=False,
        absent=hours == 0,
        credited=hours > 0,
    )


def test_yearly_progress_sums_hours_of_the_year_for_the_trainee() -> None:
    results = [
        _result("t-1", "s1", 4, course="c1"),
        _result("t-1", "s2", 3.5, course="c2"),
        _result("t-1", "s3", 0, course="c3"),
        _result("t-1", "s0", 4, course="c0", year=2023),
        _result("t-2", "s1", 4, course="c1"),
    ]
    progress = yearly_progress("t-1", 2024, results, RULES)
    assert progress.class_hours == 7.5 and progress.credits == 2.0
    assert progress.required_hours == 32 and progress.remaining_hours == 24.5
    assert progress.percent == 23.4 and not progress.met
    assert progress.sessions_counted == 2


def test_yearly_requirement_met_caps_percent_at_100() -> None:
    results = [_result("t-1", f"s{i}", 4, course=f"c{i}") for i in range(9)]
    progress = yearly_progress("t-1", 2024, results, RULES)
    assert progress.class_hours == 36 and progress.met
    assert progress.percent == 100.0 and progress.remaining_hours == 0


def test_yearly_progress_of_a_trainee_with_no_sessions() -> None:
    progress = yearly_progress("t-9", 2024, [], RULES)
    assert (progress.class_hours, progress.percent, progress.remaining_hours) == (0, 0, 32)


def test_yearly_requirement_is_configurable() -> None:
    progress = yearly_progress(
        "t-1", 2024, [_result("t-1", "s", 4)], LedgerRules(yearly_required_hours=4)
    )
    assert progress.met and progress.percent == 100.0


def test_same_session_twice_is_refused() -> None:
    results = [_result("t-1", "s1", 4), _result("t-1", "s1", 4)]
    raises_code("ledger.duplicate_result", lambda: yearly_progress("t-1", 2024, results, RULES))


def test_repeated_course_counts_once_when_configured() -> None:
    results = [_result("t-1", "s1", 2, course="c1"), _result("t-1", "s2", 4, course="c1")]
    assert yearly_progress("t-1", 2024, results, RULES).class_hours == 6
    once = LedgerRules(count_each_course_once=True)
    assert yearly_progress("t-1", 2024, results, once).class_hours == 4


# ---------------------------------------------------------------------------------------------
# Honour list (学习标兵)
# ---------------------------------------------------------------------------------------------


def test_honour_list_ranks_by_hours_then_quiz_then_staff_number() -> None:
    candidates = [
        HonourCandidate("t-a", "NB0007", 40, 80),
        HonourCandidate("t-b", "NB0003", 44, 70),
        HonourCandidate("t-c", "NB0005", 40, 95),
        HonourCandidate("t-d", "NB0002", 40, 80),
        HonourCandidate("t-e", "NB0001", 12, 100),
    ]
    ranked = honour_list(candidates, top_n=4)
    assert [(e.rank, e.candidate.trainee_id) for e in ranked] == [
        (1, "t-b"),
        (2, "t-c"),
        (3, "t-d"),
        (3, "t-a"),  # tied with t-d on hours and quiz: one rank, listed by staff number
    ]


def test_honour_list_ties_share_a_rank_and_the_next_skips() -> None:
    hours = [40, 40, 40, 32, 32, 12]
    candidates = [HonourCandidate(f"t-{i}", f"NB{i:04}", h) for i, h in enumerate(hours)]
    ranked = honour_list(candidates, top_n=10)
    assert [e.rank for e in ranked] == [1, 1, 1, 4, 4, 6]
    assert [e.candidate.trainee_id for e in ranked[:3]] == ["t-0", "t-1", "t-2"]
    # hours summed from session results in another order still tie
    floats = [HonourCandidate("a", "1", 0.1 + 0.2), HonourCandidate("b", "2", 0.3)]
    assert [e.rank for e in honour_list(floats, top_n=2)] == [1, 1]


def test_honour_list_keeps_everyone_tied_at_the_cut() -> None:
    hours = [40, 36, 32, 32, 32, 12]
    candidates = [HonourCandidate(f"t-{i}", f"NB{i:04}", h) for i, h in enumerate(hours)]
    ranked = honour_list(candidates, top_n=3)  # 第三名 is shared by three: all three are on it
    assert [(e.rank, e.candidate.trainee_id) for e in ranked] == [
        (1, "t-0"),
        (2, "t-1"),
        (3, "t-2"),
        (3, "t-3"),
        (3, "t-4"),
    ]
    assert len(honour_list(candidates, top_n=2)) == 2  # no tie at the cut: exactly two


def test_honour_list_can_require_the_yearly_hours() -> None:
    candidates = [HonourCandidate("t-a", "1", 31.5, 100), HonourCandidate("t-b", "2", 32, 0)]
    ranked = honour_list(candidates, top_n=10, min_class_hours=RULES.yearly_required_hours)
    assert [e.candidate.trainee_id for e in ranked] == ["t-b"]


def test_honour_list_of_zero_and_invalid_sizes() -> None:
    assert honour_list([HonourCandidate("t", "1", 1)], top_n=0) == ()
    raises_code("ledger.top_n_invalid", lambda: honour_list([], top_n=-1))


def test_honour_list_refuses_a_trainee_twice() -> None:
    twice = [HonourCandidate("t", "1", 1), HonourCandidate("t", "1", 2)]
    raises_code("ledger.duplicate_candidate", lambda: honour_list(twice, top_n=3))


candidates_strategy = st.lists(
    st.builds(
        HonourCandidate,
        trainee_id=st.text(alphabet="abcdef", min_size=1, max_size=4),
        staff_number=st.text(alphabet="0123", min_size=1, max_size=3),
        class_hours=st.integers(min_value=0, max_value=8).map(lambda h: h / 2),
        quiz_score=st.integers(min_value=0, max_value=3).map(float),
    ),
    max_size=15,
    unique_by=lambda c: c.trainee_id,
)


@settings(max_examples=100, deadline=None)
@given(candidates_strategy, st.integers(min_value=0, max_value=20), st.randoms())
def test_honour_list_is_sorted_deterministic_and_bounded(
    candidates: list[HonourCandidate], top_n: int, rnd: random.Random
) -> None:
    ranked = honour_list(candidates, top_n)
    shuffled = list(candidates)
    rnd.shuffle(shuffled)
    assert honour_list(shuffled, top_n) == ranked
    assert len(ranked) >= min(top_n, len(candidates))
    for extra in ranked[top_n:]:  # beyond top_n only those tied with the last place
        assert extra.rank == ranked[top_n - 1].rank
    for place, (prev, e) in enumerate(zip([None, *ranked], ranked, strict=False), start=1):
        same = prev is not None and (prev.candidate.class_hours, prev.candidate.quiz_score) == (
            e.candidate.class_hours,
            e.candidate.quiz_score,
        )
        assert e.rank == (prev.rank if same and prev else place)
    keys = [
        (-e.candidate.class_hours, -e.candidate.quiz_score, e.candidate.staff_number)
        for e in ranked
    ]
    assert keys == sorted(keys)
    if ranked:
        worst_in = ranked[-1].candidate
        outside = set(candidates) - {e.candidate for e in ranked}
        assert all(c.class_hours <= worst_in.class_hours for c in outside)
        worst = (worst_in.class_hours, worst_in.quiz_score)
        assert all((c.class_hours, c.quiz_score) != worst for c in outside)


# ---------------------------------------------------------------------------------------------
# Corrections and the audit trail
# ---------------------------------------------------------------------------------------------


def _entry(**overrides: object) -> AuditEntry:
    fields: dict[str, object] = {
        "who": "operator-1",
        "when": START,
        "entity": EntityRef("session_result", "sess-1/t-1"),
        "before": {"class_hours": 0.0},
        "after": {"class_hours": 4.0},
        "why": "Signed the paper sheet; phone was dead",
    }
    fields.update(overrides)
    return AuditEntry(**fields)  # type: ignore[arg-type]


def test_correction_changes_the_result_and_records_before_after_who_when_why() -> None:
    original = session_result(SESSION, "t-1", [], rules=RULES)
    corrected, entry = correct_result(
        original,
        {"absent": False, "class_hours": 4, "late": False},
        who="operator-1",
        why="  Paper sign-in sheet  ",
        now=END + 3600,
    )
    assert corrected.class_hours == 4.0 and not corrected.absent
    assert corrected.credited and corrected.corrected
    assert original.class_hours == 0 and not original.corrected
    assert entry.who == "operator-1" and entry.when == END + 3600
    assert entry.entity == result_entity(original) == EntityRef("session_result", "sess-1/t-1")
    assert dict(entry.before) == {"absent": True, "class_hours": 0.0}
    assert dict(entry.after) == {"absent": False, "class_hours": 4.0}
    assert entry.why == "Paper sign-in sheet"


@pytest.mark.parametrize("why", ["", "   ", "\t\n"])
def test_correction_without_a_reason_is_refused(why: str) -> None:
    result = session_result(SESSION, "t-1", [], rules=RULES)
    error = raises_code(
        "ledger.reason_required",
        lambda: correct_result(result, {"absent": False}, who="op", why=why, now=END),
    )
    assert isinstance(error, InvalidInput)
    raises_code("ledger.reason_required", lambda: _entry(why=why))


def test_correction_without_an_actor_is_refused() -> None:
    result = session_result(SESSION, "t-1", [], rules=RULES)
    raises_code(
        "ledger.actor_required",
        lambda: correct_result(result, {"absent": False}, who=" ", why="ok", now=END),
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"trainee_id": "t-2"},
        {"credited": True},
        {"class_hours": -1},
        {"class_hours": float("nan")},
        {"class_hours": True},
        {"late": 1},
        {"late": "no"},
    ],
)
def test_correction_of_unknown_fields_or_bad_values_is_refused(changes: dict[str, object]) -> None:
    result = session_result(SESSION, "t-1", [], rules=RULES)
    raises_code(
        "ledger.correction_invalid",
        lambda: correct_result(result, changes, who="op", why="because", now=END),  # type: ignore[arg-type]
    )


def test_correction_that_changes_nothing_is_refused() -> None:
    result = session_result(SESSION, "t-1", [], rules=RULES)
    raises_code(
        "ledger.correction_empty",
        lambda: correct_result(result, {"absent": True}, who="op", why="because", now=END),
    )


def test_audit_entry_cannot_be_changed() -> None:
    entry = _entry()
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.why = "something else"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        entry.after = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        entry.after["class_hours"] = 0.0  # type: ignore[index]


def test_audit_entry_does_not_share_the_callers_dicts() -> None:
    after: dict[str, float | str | bool | int | None] = {"class_hours": 4.0}
    entry = _entry(after=after)
    after["class_hours"] = 99.0
    assert entry.after["class_hours"] == 4.0


def test_audit_entry_accepts_scalars_only() -> None:
    raises_code("ledger.audit_value_invalid", lambda: _entry(after={"stays": [1, 2]}))


def test_audit_trail_is_append_only() -> None:
    trail = AuditTrail()
    first, second = _entry(), _entry(when=START + 1, why="second look")
    trail.append(first)
    trail.append(second)
    assert len(trail) == 2 and list(trail) == [first, second]
    assert trail.entries == (first, second)
    assert isinstance(trail.entries, tuple)
    mutators = {
        name for name in dir(trail) if not name.startswith("_") and callable(getattr(trail, name))
    }
    assert mutators == {"append", "for_entity"}
    with pytest.raises(AttributeError):
        trail.extra = 1  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):
        trail.entries = ()  # type: ignore[misc]


def test_audit_trail_refuses_anything_but_entries() -> None:
    raises_code("ledger.audit_entry_invalid", lambda: AuditTrail().append("x"))  # type: ignore[arg-type]


def test_audit_trail_lists_the_corrections_of_one_result() -> None:
    result = session_result(SESSION, "t-1", [], rules=RULES)
    other = session_result(SESSION, "t-2", [], rules=RULES)
    trail = AuditTrail()
    fixed, entry1 = correct_result(result, {"absent": False}, who="op", why="seen", now=END)
    _, entry2 = correct_result(fixed, {"class_hours": 2}, who="op", why="2 h", now=END + 1)
    _, entry3 = correct_result(other, {"makeup": True}, who="op", why="mk", now=END + 2)
    for entry in (entry1, entry2, entry3):
        trail.append(entry)
    assert trail.for_entity(result_entity(result)) == (entry1, entry2)


def test_replaying_the_stored_corrections_gives_what_the_corrections_gave() -> None:
    original = session_result(SESSION, "t-1", [], rules=RULES)
    fixed, entry1 = correct_result(original, {"absent": False}, who="op", why="seen", now=END)
    fixed, entry2 = correct_result(fixed, {"class_hours": 2}, who="op", why="2 h", now=END + 1)
    replayed = apply_corrections(original, [entry1.after, entry2.after])
    assert replayed == fixed
    assert replayed.corrected and replayed.credited and replayed.class_hours == 2.0
    zeroed = apply_corrections(replayed, [{"class_hours": 0}])
    assert not zeroed.credited and zeroed.corrected
    assert apply_corrections(original, []) == original


def test_report_status_of_a_trainee() -> None:
    came = session_result(SESSION, "t-1", _minutes((0, 180)), rules=RULES)
    away = session_result(SESSION, "t-2", [], rules=RULES)
    running = dataclasses.replace(away, absent=False, final=False)
    status = attendance_status
    assert status(came, expected=True, has_record=True) is AttendanceStatus.PRESENT
    assert status(came, expected=False, has_record=True) is AttendanceStatus.MAKEUP
    makeup = dataclasses.replace(came, makeup=True)
    assert status(makeup, expected=True, has_record=True) is AttendanceStatus.MAKEUP
    assert status(away, expected=True, has_record=False) is AttendanceStatus.ABSENT
    assert status(running, expected=True, has_record=False) is AttendanceStatus.PENDING
    assert status(running, expected=True, has_record=True) is AttendanceStatus.PRESENT
    assert status(running, expected=False, has_record=True) is AttendanceStatus.MAKEUP
