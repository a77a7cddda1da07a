from __future__ import annotations

import pytest

from server.core.errors import Conflict, Forbidden, InvalidInput
from server.core.rollcall import (
    EntryStatus,
    check_seconds,
    close_statuses,
    decide_answer,
    tally,
    targeted_sites,
)


def test_time_limit_is_bounded() -> None:
    assert check_seconds(60) == 60
    for bad in (0, 9, 601):
        with pytest.raises(InvalidInput):
            check_seconds(bad)


def test_targets_all_sites_or_only_participating_ones() -> None:
    assert targeted_sites(None, [3, 1, 2]) == [1, 2, 3]
    assert targeted_sites([2], [1, 2, 3]) == [2]
    with pytest.raises(InvalidInput) as caught:
        targeted_sites([9], [1, 2])
    assert caught.value.code == "rollcall.unknown_site"


def _answer(**overrides: object) -> object:
    args: dict[str, object] = dict(
        now=10.0,
        deadline=60.0,
        closed=False,
        status=EntryStatus.PENDING,
        in_room_site=2,
        sites=[1, 2],
    )
    args.update(overrides)
    return decide_answer(**args)  # type: ignore[arg-type]


def test_an_expected_trainee_in_the_room_may_answer_before_the_deadline() -> None:
    decision = _answer()
    assert decision.site_id == 2 and decision.late_joiner is False  # type: ignore[attr-defined]


def test_a_trainee_who_arrived_after_the_start_may_answer_too() -> None:
    assert _answer(status=None).late_joiner is True  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("overrides", "code", "error"),
    [
        ({"now": 61.0}, "rollcall.closed", Conflict),
        ({"closed": True}, "rollcall.closed", Conflict),
        ({"status": EntryStatus.ANSWERED}, "rollcall.already_answered", Conflict),
        ({"in_room_site": None}, "rollcall.not_in_room", Forbidden),
        ({"in_room_site": 5}, "rollcall.other_site", Forbidden),
    ],
)
def test_answers_that_cannot_count_are_refused_with_a_reason(
    overrides: dict[str, object], code: str, error: type[Exception]
) -> None:
    with pytest.raises(error) as caught:
        _answer(**overrides)
    assert getattr(caught.value, "code", None) == code


def test_closing_marks_the_pending_as_missed_and_keeps_answers() -> None:
    closed = close_statuses({1: EntryStatus.PENDING, 2: EntryStatus.ANSWERED})
    assert closed == {1: EntryStatus.MISSED, 2: EntryStatus.ANSWERED}


def test_tally_counts_per_site() -> None:
    result = tally([(1, EntryStatus.ANSWERED), (1, EntryStatus.MISSED), (2, EntryStatus.PENDING)])
    assert result == {
        1: {"expected": 2, "answered": 1, "pending": 0, "missed": 1},
        2: {"expected": 1, "answered": 0, "pending": 1, "missed": 0},
    }
