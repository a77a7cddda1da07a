"""The failed-attempt throttle: free failures, doubling waits, cap, forgetting, bounded keys."""

from __future__ import annotations

import pytest

from server.core.errors import RateLimited
from server.core.throttle import FailureThrottle, Policy, check_throttles

POLICY = Policy(free=3, base=2.0, max_lock=30.0, forget=600.0, max_keys=100)


def test_free_failures_then_doubling_waits_up_to_the_cap() -> None:
    t = FailureThrottle(POLICY)
    for _ in range(3):
        assert t.wait("admin", 0.0) == 0.0
        t.failed("admin", 0.0)
    assert t.wait("admin", 0.0) == 0.0  # three free failures
    waits = []
    now = 0.0
    for _ in range(6):
        t.failed("admin", now)
        waits.append(t.wait("admin", now))
        now += waits[-1]
    assert waits == [2.0, 4.0, 8.0, 16.0, 30.0, 30.0]


def test_success_and_time_forget_a_key_and_keys_are_bounded() -> None:
    t = FailureThrottle(POLICY)
    for _ in range(5):
        t.failed("a", 0.0)
    assert t.wait("a", 0.0) > 0
    t.succeeded("a")
    assert t.wait("a", 0.0) == 0.0
    for _ in range(5):
        t.failed("b", 0.0)
    assert t.wait("b", 700.0) == 0.0  # forgotten after `forget` s without failure
    for i in range(1000):
        t.failed(f"user{i}", 1.0)
    assert len(t) == 100


def test_check_throttles_raises_429_with_retry_after_of_the_longest_wait() -> None:
    users, addresses = FailureThrottle(POLICY), FailureThrottle(POLICY)
    for _ in range(5):
        users.failed("admin", 0.0)
    check_throttles([(addresses, "127.0.0.1")], 0.0, "auth.too_many_attempts", "x")
    with pytest.raises(RateLimited) as caught:
        check_throttles(
            [(users, "admin"), (addresses, "127.0.0.1")], 1.0, "auth.too_many_attempts", "x"
        )
    assert caught.value.code == "auth.too_many_attempts"
    assert caught.value.details == {"retry_after": 3}


def test_a_failure_counted_in_advance_is_taken_back_on_success() -> None:
    t = FailureThrottle(POLICY)
    for _ in range(3):
        t.failed("10.0.0.1", 0.0)
        t.undo("10.0.0.1")
    t.undo("never-seen")
    for _ in range(3):
        t.failed("10.0.0.1", 0.0)
    assert t.wait("10.0.0.1", 0.0) == 0.0  # the undone attempts did not count
