"""Live presence of branch sites: one state machine per site, a board of many, a timeline.

Each site's classroom agent keeps one connection to the server and sends a heartbeat every
``heartbeat_interval`` seconds (5 s). From the facts the I/O layer reports -- a connection
opened, a heartbeat (with the agent's stream state), a connection closed (cleanly or lost) and
time passing -- :class:`SitePresence` derives the state the operator wall shows:

- ``ONLINE``: connected, heartbeats on time, stream ok.
- ``DEGRADED``: connected, but the heartbeat is late (none for MORE than 7.5 s) or the agent
  reports a bad stream. Back to ``ONLINE`` the reason says which ended: ``heartbeat`` (the
  heartbeats came back) only after late or missed heartbeats, ``stream_ok`` after a bad stream.
- ``OFFLINE``: closed cleanly (at once), no heartbeat for 15 s (3 missed heartbeats), or a
  connection lost for 3 s without reconnecting.

Debouncing. A lost connection (no clean close) first enters the internal state ``FLAPPING``,
which is never reported: the wall keeps showing what it showed before. If the agent
reconnects within ``flap_window`` (3 s, inclusive) nothing is reported at all. Otherwise the
site is reported ``OFFLINE`` at ``lost_at + 3 s`` -- or at ``last_heartbeat + 15 s`` if that
comes first: offline is never reported later than 15 s after the last sign of life.

Silence on an open connection. When heartbeats stop but the socket stays open (a half-open
TCP link), the site goes to ``SILENT`` after 15 s: it is REPORTED as ``OFFLINE``, yet the
machine still knows a connection is open, so a later heartbeat brings the site back and a
later close is legal and reports nothing.

Time. Every method takes ``now``. A rule that fires between two calls is applied at the
instant it fired (``at`` of the change is the deadline, not ``now``), so the reported history
does not depend on how often :meth:`SitePresence.tick` is called. A deadline fires only once
``now`` is strictly past it. ``now`` going backwards (a wall clock stepped back) is clamped to
the latest time seen.

Contract with the I/O layer: at most one agent connection per site. When a second connection
for the same site arrives, call :meth:`connected` for it and drop the old one WITHOUT calling
:meth:`closed`. Calling :meth:`heartbeat` or :meth:`closed` with no open connection raises
:class:`IllegalTransition`.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from enum import Enum, StrEnum

from server.core.errors import Conflict
from server.core.zone import CHINA_TZ

SiteId = int
"""A site's database id (``sites.id``)."""


class PresenceState(Enum):
    """States of a site. Only OFFLINE, ONLINE and DEGRADED are ever reported."""

    OFFLINE = "offline"
    ONLINE = "online"
    DEGRADED = "degraded"
    FLAPPING = "flapping"  # internal: connection lost < flap_window ago; shows the previous state
    SILENT = "silent"  # internal: connection open but no heartbeat for 15 s; shows OFFLINE


REPORTED_STATES = frozenset({PresenceState.OFFLINE, PresenceState.ONLINE, PresenceState.DEGRADED})


class PresenceEvent(Enum):
    CONNECTED = "connected"
    HEARTBEAT = "heartbeat"
    TICK = "tick"
    CLEAN_CLOSE = "clean_close"
    CONNECTION_LOST = "connection_lost"


class Guard(Enum):
    """The condition under which an event takes a given transition (evaluated by the machine)."""

    ALWAYS = "always"
    STREAM_OK = "stream_ok"  # the heartbeat (or the last known stream state) says ok / none
    STREAM_BAD = "stream_bad"  # ... says the stream is bad
    LATE = "late"  # no heartbeat for more than late_after (7.5 s)
    DEAD = "dead"  # no heartbeat for offline_after (15 s)
    FLAP_OVER = "flap_over"  # the connection has been lost for flap_window (3 s)


class Reason(StrEnum):
    """Why a reported change happened (stable strings, shown on the wall and in logs)."""

    CONNECTED = "connected"
    HEARTBEAT = "heartbeat"  # heartbeats came back after being late or missed
    STREAM_BAD = "stream_bad"
    STREAM_OK = "stream_ok"  # the stream is good again; the heartbeats never stopped
    HEARTBEAT_LATE = "heartbeat_late"
    HEARTBEAT_MISSED = "heartbeat_missed"
    CLEAN_CLOSE = "clean_close"
    CONNECTION_LOST = "connection_lost"
    NODE_LOST = "node_lost"  # the server process holding the agent's socket died


_S = PresenceState
_E = PresenceEvent
_G = Guard

# THE transition table: (state, event, guard) -> next state. A missing key is illegal.
TRANSITIONS: Mapping[tuple[PresenceState, PresenceEvent, Guard], PresenceState] = {
    # No connection.
    (_S.OFFLINE, _E.CONNECTED, _G.STREAM_OK): _S.ONLINE,
    (_S.OFFLINE, _E.CONNECTED, _G.STREAM_BAD): _S.DEGRADED,
    # Connected and fresh.
    (_S.ONLINE, _E.CONNECTED, _G.STREAM_OK): _S.ONLINE,  # replacement connection
    (_S.ONLINE, _E.CONNECTED, _G.STREAM_BAD): _S.DEGRADED,
    (_S.ONLINE, _E.HEARTBEAT, _G.STREAM_OK): _S.ONLINE,
    (_S.ONLINE, _E.HEARTBEAT, _G.STREAM_BAD): _S.DEGRADED,
    (_S.ONLINE, _E.TICK, _G.LATE): _S.DEGRADED,
    (_S.ONLINE, _E.TICK, _G.DEAD): _S.SILENT,
    (_S.ONLINE, _E.CLEAN_CLOSE, _G.ALWAYS): _S.OFFLINE,
    (_S.ONLINE, _E.CONNECTION_LOST, _G.ALWAYS): _S.FLAPPING,
    # Connected, late heartbeat or bad stream.
    (_S.DEGRADED, _E.CONNECTED, _G.STREAM_OK): _S.ONLINE,
    (_S.DEGRADED, _E.CONNECTED, _G.STREAM_BAD): _S.DEGRADED,
    (_S.DEGRADED, _E.HEARTBEAT, _G.STREAM_OK): _S.ONLINE,
    (_S.DEGRADED, _E.HEARTBEAT, _G.STREAM_BAD): _S.DEGRADED,
    (_S.DEGRADED, _E.TICK, _G.DEAD): _S.SILENT,
    (_S.DEGRADED, _E.CLEAN_CLOSE, _G.ALWAYS): _S.OFFLINE,
    (_S.DEGRADED, _E.CONNECTION_LOST, _G.ALWAYS): _S.FLAPPING,
    # Connection lost, waiting flap_window for a reconnect (not reported).
    (_S.FLAPPING, _E.CONNECTED, _G.STREAM_OK): _S.ONLINE,
    (_S.FLAPPING, _E.CONNECTED, _G.STREAM_BAD): _S.DEGRADED,
    (_S.FLAPPING, _E.TICK, _G.FLAP_OVER): _S.OFFLINE,
    (_S.FLAPPING, _E.TICK, _G.DEAD): _S.OFFLINE,
    # Connection open, agent silent for offline_after (reported OFFLINE).
    (_S.SILENT, _E.CONNECTED, _G.STREAM_OK): _S.ONLINE,
    (_S.SILENT, _E.CONNECTED, _G.STREAM_BAD): _S.DEGRADED,
    (_S.SILENT, _E.HEARTBEAT, _G.STREAM_OK): _S.ONLINE,
    (_S.SILENT, _E.HEARTBEAT, _G.STREAM_BAD): _S.DEGRADED,
    (_S.SILENT, _E.CLEAN_CLOSE, _G.ALWAYS): _S.OFFLINE,
    (_S.SILENT, _E.CONNECTION_LOST, _G.ALWAYS): _S.OFFLINE,
}

_REASONS: Mapping[tuple[PresenceEvent, Guard], Reason] = {
    (_E.CONNECTED, _G.STREAM_OK): Reason.CONNECTED,
    (_E.CONNECTED, _G.STREAM_BAD): Reason.CONNECTED,
    (_E.HEARTBEAT, _G.STREAM_OK): Reason.HEARTBEAT,
    (_E.HEARTBEAT, _G.STREAM_BAD): Reason.STREAM_BAD,
    (_E.TICK, _G.LATE): Reason.HEARTBEAT_LATE,
    (_E.TICK, _G.DEAD): Reason.HEARTBEAT_MISSED,
    (_E.TICK, _G.FLAP_OVER): Reason.CONNECTION_LOST,
    (_E.CLEAN_CLOSE, _G.ALWAYS): Reason.CLEAN_CLOSE,
    (_E.CONNECTION_LOST, _G.ALWAYS): Reason.CONNECTION_LOST,
}


class IllegalTransition(Conflict):
    """An event arrived that the presence machine cannot take in its current state."""

    def __init__(self, site_id: SiteId, event: PresenceEvent, state: PresenceState) -> None:
        super().__init__(
            "presence.illegal_transition",
            f"site {site_id}: event {event.name} is not allowed in state {state.name}"
            " (the I/O layer must report connected() before heartbeats and closes)",
            {"site_id": site_id, "event": event.name, "state": state.name},
        )
        self.event = event
        self.state = state


@dataclass(frozen=True, slots=True)
class PresenceConfig:
    heartbeat_interval: float = 5.0
    late_factor: float = 1.5
    missed_heartbeats: int = 3
    flap_window: float = 3.0

    def __post_init__(self) -> None:
        if not self.heartbeat_interval > 0 or not self.flap_window > 0:
            raise ValueError("heartbeat_interval and flap_window must be positive")
        if not 1 <= self.late_factor < self.missed_heartbeats:
            raise ValueError("need 1 <= late_factor < missed_heartbeats")

    @property
    def late_after(self) -> float:
        """Silence after which a site is DEGRADED (7.5 s by default)."""
        return self.heartbeat_interval * self.late_factor

    @property
    def offline_after(self) -> float:
        """Silence after which a site is OFFLINE (15 s by default)."""
        return self.heartbeat_interval * self.missed_heartbeats


@dataclass(frozen=True, slots=True)
class PresenceChanged:
    """A reported change; ``at`` is the instant the rule fired (seconds, caller's clock)."""

    site_id: SiteId
    old: PresenceState
    new: PresenceState
    at: float
    reason: Reason


Send = Callable[[PresenceChanged], object]


class SitePresence:
    """The presence state machine of one site; reports each change once through ``send``."""

    __slots__ = (
        "_config",
        "_last_seen",
        "_lost_at",
        "_now",
        "_reported",
        "_send",
        "_state",
        "_stream_ok",
        "site_id",
    )

    def __init__(self, site_id: SiteId, send: Send, config: PresenceConfig | None = None) -> None:
        self.site_id = site_id
        self._send = send
        self._config = config or PresenceConfig()
        self._state = PresenceState.OFFLINE
        self._reported = PresenceState.OFFLINE
        self._stream_ok = True
        self._last_seen = 0.0  # last connect or heartbeat: the last sign of life
        self._lost_at = 0.0
        self._now = float("-inf")

    # -- what the I/O layer calls -------------------------------------------------------

    def connected(self, now: float) -> PresenceState:
        """The agent opened a connection (after its ``hello`` was accepted)."""
        now = self._advance(now)
        guard = _G.STREAM_OK if self._stream_ok else _G.STREAM_BAD
        return self._fire(_E.CONNECTED, guard, now)

    def heartbeat(self, now: float, stream_ok: bool = True) -> PresenceState:
        """A heartbeat arrived; ``stream_ok`` is False when the agent reports a bad stream."""
        now = self._advance(now)
        return self._fire(_E.HEARTBEAT, _G.STREAM_OK if stream_ok else _G.STREAM_BAD, now)

    def tick(self, now: float) -> PresenceState:
        """Time passed: apply every deadline strictly before ``now``."""
        self._advance(now)
        return self._reported

    def closed(self, now: float, clean: bool) -> PresenceState:
        """The connection closed: ``clean`` (agent said goodbye) or lost."""
        now = self._advance(now)
        return self._fire(_E.CLEAN_CLOSE if clean else _E.CONNECTION_LOST, _G.ALWAYS, now)

    # -- what the rest of the server reads ----------------------------------------------

    @property
    def state(self) -> PresenceState:
        """The reported state: OFFLINE, ONLINE or DEGRADED."""
        return self._reported

    @property
    def internal_state(self) -> PresenceState:
        return self._state

    @property
    def is_connected(self) -> bool:
        return self._state in (_S.ONLINE, _S.DEGRADED, _S.SILENT)

    def next_deadline(self) -> float | None:
        """When the next time rule may fire (it fires once ``now`` is strictly past it)."""
        state = self._state
        if state is _S.ONLINE:
            return self._late_at()
        if state is _S.DEGRADED:
            return self._dead_at()
        if state is _S.FLAPPING:
            return min(self._flap_over_at(), self._dead_at())
        return None

    # -- the machine ----------------------------------------------------------------------

    def _late_at(self) -> float:
        return self._last_seen + self._config.late_after

    def _dead_at(self) -> float:
        return self._last_seen + self._config.offline_after

    def _flap_over_at(self) -> float:
        return self._lost_at + self._config.flap_window

    def _tick_guard(self, at: float) -> Guard:
        # The deadline and the guard use the same expressions, so at == deadline matches.
        if at >= self._dead_at():
            return _G.DEAD
        if self._state is _S.FLAPPING:
            return _G.FLAP_OVER
        return _G.LATE

    def _advance(self, now: float) -> float:
        """Fire every deadline strictly before ``now``, each at its own instant."""
        if now > self._now:
            self._now = now
        now = self._now
        deadline = self.next_deadline()
        while deadline is not None and deadline < now:
            before = self._state
            self._fire(_E.TICK, self._tick_guard(deadline), deadline)
            if self._state is before:  # every timed rule changes state; never loop forever
                break
            deadline = self.next_deadline()
        return now

    def _fire(self, event: PresenceEvent, guard: Guard, at: float) -> PresenceState:
        old_state = self._state
        new_state = TRANSITIONS.get((old_state, event, guard))
        if new_state is None:
            raise IllegalTransition(self.site_id, event, old_state)
        reason = _REASONS[event, guard]
        if reason is Reason.HEARTBEAT and old_state is _S.DEGRADED and not self._stream_ok:
            # degraded by a bad stream, not by late heartbeats: the heartbeats never stopped
            reason = Reason.STREAM_OK
        if event is _E.CONNECTED or event is _E.HEARTBEAT:
            self._last_seen = at
        if event is _E.HEARTBEAT:
            self._stream_ok = guard is _G.STREAM_OK
        elif event is _E.CONNECTION_LOST:
            self._lost_at = at
        if new_state is _S.OFFLINE:
            self._stream_ok = True  # a new connection starts with no stream news
        self._state = new_state
        if new_state is _S.FLAPPING:
            return self._reported
        reported = _S.OFFLINE if new_state is _S.SILENT else new_state
        if reported is not self._reported:
            old = self._reported
            self._reported = reported
            self._send(PresenceChanged(self.site_id, old, reported, at, reason))
        return reported


class PresenceBoard:
    """Every site's presence, ticked through a deadline heap: ``tick`` costs O(due sites).

    A tick with nothing due checks the heap top and returns without allocating. Each event
    that moves a site's deadline pushes one heap entry; stale entries are skipped when popped,
    so the heap holds about one live and one stale entry per site.
    """

    def __init__(self, send: Send, config: PresenceConfig | None = None) -> None:
        self._send = send
        self._config = config or PresenceConfig()
        self._sites: dict[SiteId, SitePresence] = {}
        self._scheduled: dict[SiteId, float] = {}
        self._heap: list[tuple[float, int, SiteId]] = []
        self._counter = itertools.count()

    def site(self, site_id: SiteId) -> SitePresence:
        """The site's machine, created OFFLINE on first use."""
        presence = self._sites.get(site_id)
        if presence is None:
            presence = SitePresence(site_id, self._send, self._config)
            self._sites[site_id] = presence
        return presence

    def connected(self, site_id: SiteId, now: float) -> PresenceState:
        presence = self.site(site_id)
        state = presence.connected(now)
        self._schedule(presence)
        return state

    def heartbeat(self, site_id: SiteId, now: float, stream_ok: bool = True) -> PresenceState:
        presence = self.site(site_id)
        state = presence.heartbeat(now, stream_ok)
        self._schedule(presence)
        return state

    def closed(self, site_id: SiteId, now: float, clean: bool) -> PresenceState:
        presence = self.site(site_id)
        state = presence.closed(now, clean)
        self._schedule(presence)
        return state

    def tick(self, now: float) -> int:
        """Apply every deadline strictly before ``now``; returns how many sites were ticked."""
        heap = self._heap
        ticked = 0
        while heap and heap[0][0] < now:
            deadline, _, site_id = heapq.heappop(heap)
            if self._scheduled.get(site_id) != deadline:
                continue  # stale: the site's deadline moved since this entry was pushed
            del self._scheduled[site_id]
            presence = self._sites[site_id]
            presence.tick(now)
            self._schedule(presence)
            ticked += 1
        return ticked

    def remove(self, site_id: SiteId) -> None:
        """Forget a site (its heap entries become stale)."""
        self._sites.pop(site_id, None)
        self._scheduled.pop(site_id, None)

    def state(self, site_id: SiteId) -> PresenceState:
        presence = self._sites.get(site_id)
        return presence.state if presence is not None else PresenceState.OFFLINE

    def states(self) -> dict[SiteId, PresenceState]:
        return {site_id: p.state for site_id, p in self._sites.items()}

    def counts(self) -> dict[PresenceState, int]:
        counts = dict.fromkeys(
            (PresenceState.ONLINE, PresenceState.DEGRADED, PresenceState.OFFLINE), 0
        )
        for presence in self._sites.values():
            counts[presence.state] += 1
        return counts

    def __len__(self) -> int:
        return len(self._sites)

    def _schedule(self, presence: SitePresence) -> None:
        deadline = presence.next_deadline()
        site_id = presence.site_id
        if deadline is None:
            self._scheduled.pop(site_id, None)
        elif self._scheduled.get(site_id) != deadline:
            self._scheduled[site_id] = deadline
            heapq.heappush(self._heap, (deadline, next(self._counter), site_id))


@dataclass(frozen=True, slots=True)
class PresenceInterval:
    """A stretch of one state; ``reason`` is why the change that began it happened (None: the
    site was in ``initial`` from the window's start, no change known)."""

    site_id: SiteId
    state: PresenceState
    start: float
    end: float
    reason: Reason | None = None

    @property
    def duration(self) -> float:
        return self.end - self.start

    def describe(self, tz: tzinfo = CHINA_TZ) -> str:
        """``site 7 offline 10:03:12–10:05:40`` (times as epoch seconds shown in ``tz``)."""
        span = f"{_clock(self.start, tz)}–{_clock(self.end, tz)}"
        return f"site {self.site_id} {self.state.value} {span}"


def _clock(t: float, tz: tzinfo) -> str:
    return datetime.fromtimestamp(t, tz).strftime("%H:%M:%S")


class PresenceTimeline:
    """Reported changes turned into per-site intervals clipped to a session window.

    Before its first change a site is in ``initial`` (OFFLINE). Changes before ``start`` set
    the state at ``start``; changes after ``end`` are ignored; only ``new`` of each change is
    trusted, so a lost change does not corrupt the intervals that follow.
    """

    def __init__(
        self,
        start: float,
        end: float,
        changes: Iterable[PresenceChanged] = (),
        initial: PresenceState = PresenceState.OFFLINE,
    ) -> None:
        if end < start:
            raise ValueError("the window ends before it starts")
        self.start = start
        self.end = end
        self.initial = initial
        self._changes: dict[SiteId, list[PresenceChanged]] = {}
        self.extend(changes)

    def add(self, change: PresenceChanged) -> None:
        self._changes.setdefault(change.site_id, []).append(change)

    def extend(self, changes: Iterable[PresenceChanged]) -> None:
        for change in changes:
            self.add(change)

    def sites(self) -> list[SiteId]:
        return sorted(self._changes)

    def intervals(self, site_id: SiteId) -> list[PresenceInterval]:
        """Back-to-back intervals covering [start, end]; empty ones are left out."""
        changes = sorted(self._changes.get(site_id, ()), key=lambda c: c.at)
        state, since, reason = self.initial, self.start, None
        result: list[PresenceInterval] = []
        for change in changes:
            if change.at > self.end:
                break
            at = max(change.at, self.start)
            if change.new is not state:
                if at > since:
                    result.append(PresenceInterval(site_id, state, since, at, reason))
                state, since, reason = change.new, at, change.reason
        if self.end > since:
            result.append(PresenceInterval(site_id, state, since, self.end, reason))
        return result

    def online_intervals(
        self, site_id: SiteId, include_degraded: bool = True
    ) -> list[tuple[float, float]]:
        """When the site was receiving the broadcast; DEGRADED counts unless told otherwise."""
        wanted = {PresenceState.ONLINE}
        if include_degraded:
            wanted.add(PresenceState.DEGRADED)
        merged: list[tuple[float, float]] = []
        for interval in self.intervals(site_id):
            if interval.state not in wanted:
                continue
            if merged and merged[-1][1] == interval.start:
                merged[-1] = (merged[-1][0], interval.end)
            else:
                merged.append((interval.start, interval.end))
        return merged

    def online_seconds(self, site_id: SiteId, include_degraded: bool = True) -> float:
        return sum(end - start for start, end in self.online_intervals(site_id, include_degraded))

    def offline_intervals(self, site_id: SiteId) -> list[PresenceInterval]:
        return [i for i in self.intervals(site_id) if i.state is PresenceState.OFFLINE]

    def describe(self, site_id: SiteId, tz: tzinfo = CHINA_TZ) -> list[str]:
        """One line per non-ONLINE interval: ``site 7 offline 10:03:12–10:05:40``."""
        return [
            interval.describe(tz)
            for interval in self.intervals(site_id)
            if interval.state is not PresenceState.ONLINE
        ]
