"""Reconnect back-off: capped exponential with full jitter, reset after a stable connection."""

from __future__ import annotations

import random
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from classroom_agent.backoff import backoff_ceiling, backoff_delay, retry_attempt


class Fixed:
    """A uniform source that always answers the same share of the range."""

    def __init__(self, share: float) -> None:
        self.share = share

    def uniform(self, a: float, b: float) -> float:
        return a + (b - a) * self.share


def test_ceiling_doubles_from_half_a_second_up_to_thirty() -> None:
    assert [backoff_ceiling(n) for n in range(8)] == [0.5, 1, 2, 4, 8, 16, 30, 30]


def test_ceiling_stays_at_the_cap_for_huge_attempt_numbers() -> None:
    assert backoff_ceiling(10_000) == 30.0
    assert backoff_ceiling(63, base=0.01, cap=5) == 5


def test_negative_attempt_is_refused() -> None:
    with pytest.raises(ValueError, match="attempt"):
        backoff_ceiling(-1)


@settings(max_examples=200, deadline=None)
@given(attempt=st.integers(0, 200), seed=st.integers(0, 2**32))
def test_delay_is_between_zero_and_the_ceiling(attempt: int, seed: int) -> None:
    delay = backoff_delay(attempt, random.Random(seed))
    assert 0.0 <= delay <= min(30.0, 0.5 * 2.0 ** min(attempt, 64))


def test_delay_reaches_both_ends_of_the_window() -> None:
    assert backoff_delay(3, Fixed(0.0)) == 0.0
    assert backoff_delay(3, Fixed(1.0)) == 4.0
    assert backoff_delay(30, Fixed(1.0)) == 30.0


def test_jitter_is_spread_evenly_over_the_whole_window() -> None:
    rng = random.Random(20260509)
    delays = [backoff_delay(10, rng) for _ in range(20_000)]  # window [0, 30]
    assert 14.5 < statistics.fmean(delays) < 15.5
    deciles = [0] * 10
    for delay in delays:
        deciles[min(9, int(delay / 3.0))] += 1
    # Full jitter: every tenth of the window gets about a tenth of the retries.
    assert all(1700 < count < 2300 for count in deciles), deciles


def test_two_agents_with_different_random_sources_do_not_retry_in_lockstep() -> None:
    a, b = random.Random(1), random.Random(2)
    pairs = [(backoff_delay(n, a), backoff_delay(n, b)) for n in range(1, 8)]
    assert all(x != y for x, y in pairs)


def test_base_and_cap_are_configurable_for_fast_tests() -> None:
    assert backoff_delay(0, Fixed(1.0), base=0.01, cap=0.05) == 0.01
    assert backoff_delay(9, Fixed(1.0), base=0.01, cap=0.05) == 0.05


def test_failures_keep_counting_while_connections_stay_short() -> None:
    assert retry_attempt(0, 0.0) == 0
    assert retry_attempt(4, 0.0) == 4
    assert retry_attempt(4, 29.9) == 4


def test_a_connection_up_thirty_seconds_resets_the_back_off() -> None:
    assert retry_attempt(7, 30.0) == 0
    assert retry_attempt(7, 3.0, reset_after=2.0) == 0
