"""Failed-attempt throttling with exponential back-off (sign-in, personal codes).

A key (a user name, a client address) may fail ``free`` times; each further failure locks it
for ``base`` seconds doubled per failure, up to ``max_lock`` (OWASP: throttle rather than lock
out for good, so a stranger cannot shut an administrator out for longer than ``max_lock``).
While locked, every attempt is refused before any password is checked, so a correct guess
during a lock tells nothing. Callers count an attempt as failed BEFORE checking it (and take it
back on success): concurrent guesses cannot all slip through while the slow check runs.
A success forgets the key (``succeeded``); a key with no failure
for ``forget`` seconds is forgotten too. At most ``max_keys`` keys are kept (the oldest are
dropped first), so a flood of made-up user names cannot grow memory without bound.

Pure: the caller passes the clock; no I/O.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass

from server.core.errors import RateLimited


@dataclass(frozen=True, slots=True)
class Policy:
    free: int  # failures allowed before any wait
    base: float  # first wait, seconds
    max_lock: float  # longest wait, seconds
    forget: float  # a key with no failure for this long starts again
    max_keys: int = 50_000


@dataclass(slots=True)
class _State:
    failures: int
    last: float
    locked_until: float


def lock_seconds(policy: Policy, failures: int) -> float:
    """The wait after ``failures`` failures in a row: none for the first ``free``, then
    ``base`` doubled per further failure, at most ``max_lock``."""
    over = failures - policy.free
    if over <= 0:
        return 0.0
    return float(min(policy.max_lock, policy.base * 2 ** min(over - 1, 40)))


class FailureThrottle:
    __slots__ = ("_keys", "policy")

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._keys: OrderedDict[str, _State] = OrderedDict()

    def _state(self, key: str, now: float) -> _State | None:
        state = self._keys.get(key)
        if state is not None and now - state.last > self.policy.forget:
            del self._keys[key]
            return None
        return state

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0 when it may now)."""
        state = self._state(key, now)
        return 0.0 if state is None else max(0.0, state.locked_until - now)

    def failed(self, key: str, now: float) -> None:
        state = self._state(key, now)
        if state is None:
            state = _State(0, now, 0.0)
            self._keys[key] = state
            while len(self._keys) > self.policy.max_keys:
                self._keys.popitem(last=False)
        state.failures += 1
        state.last = now
        self._keys.move_to_end(key)
        lock = lock_seconds(self.policy, state.failures)
        if lock > 0:
            state.locked_until = max(state.locked_until, now + lock)

    def succeeded(self, key: str) -> None:
        self._keys.pop(key, None)

    def undo(self, key: str) -> None:
        """Take back one failure counted in advance (the attempt succeeded after all)."""
        state = self._keys.get(key)
        if state is not None and state.failures > 0:
            state.failures -= 1

    def __len__(self) -> int:
        return len(self._keys)


def check_throttles(
    checks: list[tuple[FailureThrottle, str]], now: float, code: str, what: str
) -> None:
    """Raise ``RateLimited`` (429, with ``retry_after``) if any (throttle, key) is locked."""
    wait = max((throttle.wait(key, now) for throttle, key in checks), default=0.0)
    if wait > 0:
        seconds = max(1, round(wait))
        raise RateLimited(
            code,
            f"Too many failed {what}; try again in {seconds} seconds.",
            {"retry_after": math.ceil(wait)},
        )
