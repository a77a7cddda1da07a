"""Broadcast rules (no I/O): who publishes, who receives what, when a site's stream is bad,
and the relay tree of a cascade.

Peer ids (the relay's names for publishers and subscribers):

* the *origin* of a broadcast is ``"main"`` (the main classroom: its agent or the operator's
  browser), ``"site:<id>"`` (a broadcast given from a site) or ``"rec:<id>"`` (a recording
  replayed as if it were live);
* every site's agent is ``"site:<id>"``, except the main classroom's agent in a ``main``
  broadcast, which is ``"main"``.

The program is the origin, or the site that holds the floor. The relay never sends a peer its
own feed (see ``server.media.relay``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from server.core.errors import Conflict, InvalidInput

MAIN_PEER = "main"


class Source(StrEnum):
    MAIN = "main"
    SITE = "site"
    RECORDING = "recording"


class Quality(StrEnum):
    """What a site's agent publishes: the lecture itself, or a small return feed."""

    MAIN = "main"
    RETURN = "return"


def site_peer(site_id: int) -> str:
    return f"site:{site_id}"


def recording_peer(recording_id: int) -> str:
    return f"rec:{recording_id}"


def peer_site(peer_id: str) -> int | None:
    """The site id of a ``site:<id>`` peer id; ``None`` for any other peer."""
    kind, _, rest = peer_id.partition(":")
    if kind == "site" and rest.isdigit():
        return int(rest)
    return None


@dataclass(frozen=True, slots=True)
class Plan:
    """One session's broadcast: where it comes from, which sites take part, the floor."""

    session_id: int
    source: Source
    site_ids: frozenset[int]
    main_site_id: int | None = None  # the session's main classroom (a site of kind main)
    origin_site_id: int | None = None  # source = site
    recording_id: int | None = None  # source = recording
    floor_site_id: int | None = None

    @property
    def origin(self) -> str:
        if self.source is Source.SITE:
            assert self.origin_site_id is not None
            return site_peer(self.origin_site_id)
        if self.source is Source.RECORDING:
            assert self.recording_id is not None
            return recording_peer(self.recording_id)
        return MAIN_PEER

    @property
    def program(self) -> str:
        """The peer whose feed everybody sees now."""
        if self.floor_site_id is not None and self.floor_site_id in self.site_ids:
            return self.peer_of(self.floor_site_id)
        return self.origin

    def peer_of(self, site_id: int) -> str:
        """The relay peer id of a site's agent (publisher and subscriber alike)."""
        if self.source is Source.MAIN and site_id == self.main_site_id:
            return MAIN_PEER
        return site_peer(site_id)

    def site_of(self, peer_id: str) -> int | None:
        if peer_id == MAIN_PEER:
            return self.main_site_id if self.source is Source.MAIN else None
        return peer_site(peer_id)

    def with_floor(self, site_id: int | None) -> Plan:
        return replace(self, floor_site_id=site_id)

    @property
    def direct_sites(self) -> frozenset[int]:
        """Sites that receive something other than the program and so pull from the server
        and relay for nobody: the origin site and the site that has the floor."""
        sites = {self.origin_site_id, self.floor_site_id}
        if self.source is Source.MAIN:
            sites.add(self.main_site_id)
        return frozenset(s for s in sites if s is not None)

    def instruction(self, site_id: int) -> dict[str, Any]:
        """What the site's agent must do: publish (which quality) and subscribe."""
        if site_id not in self.site_ids:
            return {"publish": False, "subscribe": False}
        origin = self.peer_of(site_id) == self.origin
        return {
            "publish": True,
            "quality": (Quality.MAIN if origin else Quality.RETURN).value,
            "subscribe": True,
        }


def make_plan(
    session_id: int,
    body: Mapping[str, Any],
    site_ids: Iterable[int],
    main_site_ids: Iterable[int],
    recording_ids: Iterable[int] = (),
    floor_site_id: int | None = None,
) -> Plan:
    """Check a ``broadcast/start`` body against the session; raise with a stable code."""
    sites = frozenset(site_ids)
    mains = sorted(set(main_site_ids) & sites)
    source = Source(body["source"])
    site_id = body.get("site_id")
    recording_id = body.get("recording_id")
    if source is Source.SITE:
        if site_id is None:
            raise InvalidInput("broadcast.site_required", "source 'site' needs site_id.")
        if site_id not in sites:
            raise InvalidInput(
                "broadcast.site_not_in_session", f"Site {site_id} does not take part."
            )
    elif site_id is not None:
        raise InvalidInput("broadcast.unexpected_site", "site_id goes with source 'site' only.")
    if source is Source.RECORDING:
        if recording_id is None:
            raise InvalidInput(
                "broadcast.recording_required", "source 'recording' needs recording_id."
            )
        if recording_id not in set(recording_ids):
            raise InvalidInput(
                "broadcast.unknown_recording", f"Recording {recording_id} cannot be replayed."
            )
    elif recording_id is not None:
        raise InvalidInput(
            "broadcast.unexpected_recording", "recording_id goes with source 'recording' only."
        )
    return Plan(
        session_id=session_id,
        source=source,
        site_ids=sites,
        main_site_id=mains[0] if mains else None,
        origin_site_id=site_id if source is Source.SITE else None,
        recording_id=recording_id if source is Source.RECORDING else None,
        floor_site_id=floor_site_id,
    )


def check_can_start(status: str, already_live: bool) -> None:
    if status != "live":
        raise Conflict(
            "broadcast.session_not_live",
            "Start the session first; a broadcast runs only in a live session.",
            {"status": status},
        )
    if already_live:
        raise Conflict(
            "broadcast.already_live", "This session is already broadcasting; stop it first."
        )


# -- stream health -------------------------------------------------------------------------

MIN_FPS = 5.0
"""Below this many frames per second received, the room does not really see the lecture."""
MAX_FREEZES_PER_MINUTE = 3
START_GRACE = 10.0
"""Seconds a site has, after it is told to receive, before a missing stream counts as bad."""


def judge_stream(stream: Mapping[str, Any], expected_since: float | None, now: float) -> str:
    """The stream state the server believes: ``ok``, ``bad``, ``none`` or ``starting``.

    ``expected_since`` is when the site was told to receive the broadcast (``None``: no
    broadcast for it). For ``START_GRACE`` seconds after that, a site that has no picture yet
    (no stream, or an agent's ``bad`` with no frame received) is ``starting``: the broadcast is
    reaching it, which is not a fault. After that, a site that reports no stream, too few frames
    a second or too many freezes is ``bad``; the agent's own ``bad`` with frames always stands.
    """
    reported = str(stream.get("state", "none"))
    if expected_since is None:
        return reported
    if now - expected_since < START_GRACE:
        return "starting" if reported != "ok" and not stream.get("fps") else reported
    if reported in ("bad", "none"):
        return "bad"
    fps = stream.get("fps")
    if fps is not None and fps < MIN_FPS:
        return "bad"
    freezes = stream.get("freezes_1m")
    if freezes is not None and freezes > MAX_FREEZES_PER_MINUTE:
        return "bad"
    return "ok"


@dataclass(slots=True)
class FrameClock:
    """Frame arrival statistics for a receiver (fps, bitrate, freezes in the last minute).

    A freeze is an interval between two frames longer than ``max(3 × the typical interval,
    typical + 150 ms)`` (the WebRTC stats definition), the typical interval being the mean of
    the last 30.
    """

    window: float = 60.0
    times: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    freezes: list[float] = field(default_factory=list)

    def add(self, at: float, size: int) -> None:
        if self.times:
            recent = self.times[-31:]
            if len(recent) >= 5:
                typical = (recent[-1] - recent[0]) / (len(recent) - 1)
                if at - self.times[-1] > max(3 * typical, typical + 0.150):
                    self.freezes.append(at)
        self.times.append(at)
        self.sizes.append(size)
        self._trim(at)

    def _trim(self, now: float) -> None:
        cut = 0
        while cut < len(self.times) and self.times[cut] < now - self.window:
            cut += 1
        if cut:
            del self.times[:cut]
            del self.sizes[:cut]
        while self.freezes and self.freezes[0] < now - self.window:
            self.freezes.pop(0)

    def summary(self, now: float, span: float = 5.0) -> dict[str, float | int | None]:
        """fps and kbps over the last ``span`` seconds, freezes over the window, and the
        seconds since the last frame (``None`` before the first)."""
        self._trim(now)
        recent = [(t, s) for t, s in zip(self.times, self.sizes, strict=True) if t >= now - span]
        # a stalled stream is a freeze too, counted once it lasts over a second
        stalled = bool(self.times) and now - self.times[-1] > 1.0
        return {
            "fps": round(len(recent) / span, 2),
            "bitrate_kbps": round(sum(s for _, s in recent) * 8 / span / 1000, 1),
            "freezes_1m": len(self.freezes) + (1 if stalled else 0),
            "since_last": (now - self.times[-1]) if self.times else None,
        }


def stream_state(summary: Mapping[str, Any], expected_fps: float) -> str:
    """The agent's own verdict on what it receives: ``ok`` or ``bad``."""
    since = summary.get("since_last")
    if since is None or since > 2.0:
        return "bad"
    if summary["fps"] < min(MIN_FPS, expected_fps / 2):
        return "bad"
    if summary["freezes_1m"] > MAX_FREEZES_PER_MINUTE:
        return "bad"
    return "ok"


# -- cascade -------------------------------------------------------------------------------


def relay_tree(
    site_ids: Iterable[int],
    parents: Mapping[int, int | None],
    relays: Mapping[int, int],
    dead: Iterable[int] = (),
    direct: Iterable[int] = (),
) -> dict[int, int | None]:
    """Whom each site pulls the program from: a relaying ancestor (its nearest one that is a
    live relay in the session with room for another child), or the server (``None``).

    ``parents`` is the site tree; ``relays`` maps the sites whose agents can relay to how many
    children each takes; ``dead`` are relays that are gone (their children re-parent to the
    next live ancestor, or the server). ``direct`` are sites that receive something other than
    the program (the origin, the site that has the floor): they pull from the server and relay
    for nobody. The server thus sends one copy per top-level site and per orphaned subtree.
    Sites are placed in id order, so the same inputs always give the same tree.
    """
    sites = frozenset(site_ids)
    gone = frozenset(dead)
    alone = frozenset(direct)
    room = {
        site: capacity
        for site, capacity in relays.items()
        if site in sites and site not in gone and site not in alone and capacity > 0
    }
    plan: dict[int, int | None] = {}
    for site in sorted(sites):
        chosen: int | None = None
        if site not in alone:
            seen = {site}
            current = parents.get(site)
            while current is not None and current not in seen:
                seen.add(current)
                if room.get(current, 0) > 0:
                    chosen = current
                    room[current] -= 1
                    break
                current = parents.get(current)
        plan[site] = chosen
    return plan


def relay_capacity(capabilities: Iterable[str]) -> int:
    """How many child sites an agent relays for, from its hello ``capabilities``:
    ``relay.<n>`` (``relay`` alone: 8); 0 when it does not relay."""
    best = 0
    for item in capabilities:
        name, dot, count = item.partition(".")
        if name != "relay":
            continue
        if not dot:
            best = max(best, DEFAULT_RELAY_CHILDREN)
        elif count.isdigit():
            best = max(best, int(count))
    return min(best, MAX_RELAY_CHILDREN)


DEFAULT_RELAY_CHILDREN = 8
MAX_RELAY_CHILDREN = 64
"""An agent relays for at most this many children, whatever it claims (one upstream copy per
child leaves the site's uplink: a town office's line carries a few, not hundreds)."""
