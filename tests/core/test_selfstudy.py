"""Self-study rules: what watched time is credited, the 在吗？ check, credit and the year."""

from __future__ import annotations

from typing import Any

import pytest

from server.core.errors import Conflict, InvalidInput, RateLimited
from server.core.selfstudy import (
    Beat,
    CheckMissed,
    CourseTerms,
    Progress,
    SelfStudyRules,
    answer_check,
    course_credit,
    progress_from_json,
    progress_to_json,
    report,
    sniff_video,
    year_hours,
)

T0 = 1_800_000_000.0
TERMS = CourseTerms(duration_s=600, opens_at=T0 - 3600, closes_at=T0 + 86400)
CHECKED = CourseTerms(
    duration_s=600,
    opens_at=T0 - 3600,
    closes_at=T0 + 86400,
    presence_check=True,
    check_min_s=20,
    check_max_s=40,
    check_answer_s=30,
)


def beat(position: float, *, device: str = "phone", playing: bool = True, visible: bool = True,
         rate: float = 1.0) -> Beat:  # fmt: skip
    return Beat(device=device, position=position, playing=playing, visible=visible, rate=rate)


def watch(
    progress: Progress,
    terms: CourseTerms,
    start_at: float,
    start_pos: float,
    seconds: int,
    step: int = 5,
    **kw: Any,
) -> tuple[Progress, list[str]]:
    reasons = []
    for k in range(0, seconds + 1, step):
        progress, outcome = report(
            progress,
            terms,
            beat(start_pos + k, **kw),
            start_at + k,
            draw=0.0,
        )
        reasons.append(outcome.reason)
    return progress, reasons


def test_playing_visible_at_normal_speed_is_credited_from_the_second_heartbeat() -> None:
    progress, reasons = watch(Progress(), TERMS, T0, 0, 60)
    assert reasons[0] == "start" and set(reasons[1:]) == {"counted"}
    assert progress.watched_s == pytest.approx(60)
    assert progress.position == 60


def test_hidden_or_paused_time_is_not_credited() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 20)
    progress, reasons = watch(progress, TERMS, T0 + 25, 25, 20, visible=False)
    assert reasons[0] == "counted" and set(reasons[1:]) == {"not_watching"}
    progress, reasons = watch(progress, TERMS, T0 + 50, 45, 20, playing=False)
    assert set(reasons) == {"not_watching"}
    assert progress.watched_s == pytest.approx(25)  # 0..20, then 20..25 until it was hidden


def test_double_speed_is_not_credited_but_a_small_tolerance_is() -> None:
    progress, reasons = watch(Progress(), TERMS, T0, 0, 20, rate=2.0)
    assert set(reasons[1:]) == {"wrong_speed"} and progress.watched_s == 0
    progress, reasons = watch(Progress(), TERMS, T0, 0, 20, rate=1.05)
    assert progress.watched_s == pytest.approx(20)


def test_a_seek_ahead_and_a_seek_back_are_not_credited() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 10)
    progress, outcome = report(progress, TERMS, beat(300), T0 + 15, draw=0)
    assert outcome.reason == "jump" and progress.position == 300
    progress, outcome = report(progress, TERMS, beat(305), T0 + 20, draw=0)
    assert outcome.reason == "counted"
    progress, outcome = report(progress, TERMS, beat(100), T0 + 25, draw=0)
    assert outcome.reason == "jump"
    assert progress.watched_s == pytest.approx(15)


def test_a_position_advancing_faster_than_the_clock_is_a_jump() -> None:
    progress, _ = report(Progress(), TERMS, beat(0), T0, draw=0)
    progress, outcome = report(progress, TERMS, beat(20), T0 + 10, draw=0)
    assert outcome.reason == "jump" and progress.watched_s == 0


def test_a_gap_between_heartbeats_is_not_credited() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 10)
    progress, outcome = report(progress, TERMS, beat(50), T0 + 50, draw=0)
    assert outcome.reason == "gap" and progress.watched_s == pytest.approx(10)


def test_watching_the_same_minute_twice_counts_once() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 60)
    progress, _ = report(progress, TERMS, beat(0), T0 + 100, draw=0)  # seeks back: jump
    progress, _ = watch(progress, TERMS, T0 + 105, 5, 55)
    assert progress.watched_s == pytest.approx(60)


def test_a_second_device_is_not_counted_and_the_first_is_told() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 10)
    progress, outcome = report(progress, TERMS, beat(0, device="laptop"), T0 + 12, draw=0)
    assert outcome.reason == "other_device" and outcome.counted_s == 0
    progress, outcome = report(progress, TERMS, beat(15), T0 + 15, draw=0)
    assert outcome.other_device and outcome.reason == "counted"
    progress, outcome = report(progress, TERMS, beat(20), T0 + 20, draw=0)
    assert not outcome.other_device


def test_a_silent_device_lets_another_take_over() -> None:
    progress, _ = watch(Progress(), TERMS, T0, 0, 10)
    progress, outcome = report(progress, TERMS, beat(10, device="laptop"), T0 + 50, draw=0)
    assert outcome.reason == "start" and progress.device == "laptop"
    progress, outcome = report(progress, TERMS, beat(15, device="laptop"), T0 + 55, draw=0)
    assert outcome.reason == "counted"


def test_heartbeats_too_close_together_are_refused() -> None:
    progress, _ = report(Progress(), TERMS, beat(0), T0, draw=0)
    with pytest.raises(RateLimited):
        report(progress, TERMS, beat(0.1), T0 + 0.2, draw=0)


def test_nothing_is_credited_outside_the_window() -> None:
    late = CourseTerms(duration_s=600, opens_at=T0 - 100, closes_at=T0 + 7)
    progress, reasons = watch(Progress(), late, T0, 0, 20)
    assert reasons[-1] == "window_closed" and progress.watched_s == pytest.approx(5)


def test_a_position_outside_the_video_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        report(Progress(), TERMS, beat(-1), T0, draw=0)
    with pytest.raises(InvalidInput):
        report(Progress(), TERMS, beat(float("nan")), T0, draw=0)


def test_a_check_opens_after_random_watching_and_an_answer_keeps_the_stretch() -> None:
    progress, _ = watch(Progress(), CHECKED, T0, 0, 20)  # draw 0: due after 20 s
    assert progress.check is not None and progress.check.seq == 1
    assert progress.check.deadline == T0 + 20 + 30
    progress, outcome = report(progress, CHECKED, beat(25), T0 + 25, draw=0)
    assert outcome.reason == "check_open" and progress.watched_s == pytest.approx(20)
    progress, events = answer_check(progress, CHECKED, 1, T0 + 30, draw=1.0)
    assert [e.kind for e in events] == ["answered"]
    assert progress.committed and not progress.stretch and progress.next_check_after == 40
    assert progress.watched_s == pytest.approx(20)


def test_a_missed_check_discards_the_stretch_since_the_previous_check() -> None:
    progress, _ = watch(Progress(), CHECKED, T0, 0, 20)
    progress, _ = answer_check(progress, CHECKED, 1, T0 + 22, draw=0)  # 0..20 is final
    progress, _ = watch(progress, CHECKED, T0 + 25, 20, 20)  # 20..40, check 2 opens
    assert progress.check is not None and progress.check.seq == 2
    progress, outcome = report(progress, CHECKED, beat(40, playing=False), T0 + 80, draw=0)
    assert [e.kind for e in outcome.events] == ["missed"]
    assert outcome.events[0].discarded_s == pytest.approx(20)
    assert progress.watched_s == pytest.approx(20) and progress.checks_missed == 1


def test_answering_after_the_deadline_is_a_miss() -> None:
    progress, _ = watch(Progress(), CHECKED, T0, 0, 20)
    with pytest.raises(CheckMissed) as caught:
        answer_check(progress, CHECKED, 1, T0 + 60, draw=0)
    assert caught.value.progress.watched_s == 0
    with pytest.raises(Conflict):
        answer_check(caught.value.progress, CHECKED, 1, T0 + 61, draw=0)


def test_credit_is_full_at_ninety_percent_and_half_hours_below() -> None:
    rules = SelfStudyRules()
    assert rules.credited_hours(0.9, 2.0) == 2.0
    assert rules.credited_hours(0.89, 2.0) == 1.5
    assert rules.credited_hours(0.24, 2.0) == 0.0
    assert rules.credited_hours(0.25, 2.0) == 0.5
    progress, _ = watch(Progress(), TERMS, T0, 0, 540)
    credit = course_credit(progress, 600, 2.0)
    assert credit.completed and credit.class_hours == 2.0 and credit.share == pytest.approx(0.9)


def test_the_year_counts_self_study_only_when_the_setting_says_so() -> None:
    both = year_hours(20, 14, 32, count_selfstudy=True)
    assert both.counted_hours == 34 and both.met and both.percent == 100
    live = year_hours(20, 14, 32, count_selfstudy=False)
    assert live.counted_hours == 20 and not live.met and live.percent == 62.5


def test_video_files_are_recognised_by_their_magic_bytes() -> None:
    assert sniff_video(b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01B\x82\x84webm") == "webm"
    assert sniff_video(b"\x00\x00\x00\x20ftypisom") == "mp4"
    with pytest.raises(InvalidInput):
        sniff_video(b"GIF89a")
    with pytest.raises(InvalidInput):
        sniff_video(b"\x1a\x45\xdf\xa3\x00\x00matroska")


def test_progress_survives_its_stored_form() -> None:
    progress, _ = watch(Progress(), CHECKED, T0, 0, 20)
    assert progress_from_json(progress_to_json(progress)) == progress
    assert progress_from_json(None) == Progress()


def test_terms_that_cannot_work_are_refused() -> None:
    with pytest.raises(InvalidInput):
        CourseTerms(duration_s=0, opens_at=T0, closes_at=T0 + 1)
    with pytest.raises(InvalidInput):
        CourseTerms(duration_s=10, opens_at=T0, closes_at=T0)
    with pytest.raises(InvalidInput):
        CourseTerms(duration_s=10, opens_at=T0, closes_at=T0 + 1, check_min_s=50, check_max_s=10)
