"""Reconnect back-off: capped exponential with full jitter (``docs/agent-protocol.md``).

Wait ``random(0, min(cap, base * 2**attempt))`` seconds before reconnect number ``attempt``
(0 for the first retry); the attempt counter goes back to 0 after a connection that stayed up
``reset_after`` seconds. Full jitter spreads hundreds of sites reconnecting after a server
restart over the whole window instead of a synchronised stampede.
"""

from __future__ import annotations

from typing import Protocol

BASE_DELAY = 0.5
MAX_DELAY = 30.0
RESET_AFTER = 30.0


class UniformSource(Protocol):
    """Anything with ``uniform(a, b)``: :class:`random.Random` or a seeded one in tests."""

    def uniform(self, a: float, b: float) -> float: ...


def backoff_ceiling(attempt: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """The upper bound of the wait before retry ``attempt``: ``min(cap, base * 2**attempt)``."""
    if attempt < 0:
        raise ValueError(f"attempt must be >= 0, got {attempt}")
    if base < 0 or cap < 0:
        raise ValueError("base and cap must be >= 0")
    # 2**attempt grows without bound; stop doubling once past the cap (no float overflow).
    if attempt >= 64 or base * 2.0**attempt >= cap:
        return cap
    return base * 2.0**attempt


def backoff_delay(
    attempt: int, rng: UniformSource, base: float = BASE_DELAY, cap: float = MAX_DELAY
) -> float:
    """Seconds to wait before retry ``attempt`` (0-based): uniform in ``[0, ceiling]``."""
    ceiling = backoff_ceiling(attempt, base, cap)
    delay = rng.uniform(0.0, ceiling)
    return min(max(delay, 0.0), ceiling)


def retry_attempt(failures: int, connected_for: float, reset_after: float = RESET_AFTER) -> int:
    """The ``attempt`` to pass to :func:`backoff_delay` for the next retry.

    ``failures`` counts the retries since the link last worked; ``connected_for`` is how long
    the connection that just ended stayed up (0 when connecting failed). A connection that
    stayed up ``reset_after`` seconds proves the link works again, so the count starts over.
    """
    if connected_for >= reset_after:
        return 0
    return failures
