"""Live broadcasts of this server process: one forwarding relay per broadcasting session.

The rules (who publishes, what the program is, whom each site receives) are in
``server.core.broadcast``; this module holds the relays and peers, the recorder and the replay,
and tells agents what to do through a ``send_to_site`` callback (the agent socket layer). It
knows nothing of HTTP.

Media lives in the process that started the broadcast (its owner); ``send_to_site`` reaches
agents on other nodes of a cluster through the bus, and their offers come back the same way
(``server.web.media_cluster``): every peer's media goes to the owner's media address.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from server.core.broadcast import Plan, Source, judge_stream, relay_tree
from server.core.errors import Conflict, DomainError, InvalidInput, NotFound
from server.media.peers import MediaSettings, ice_servers_for, ice_servers_to_wire
from server.media.recorder import Recorder, RecordingResult, Replay, recording_suffix
from server.media.relay import Relay
from server.media.tasks import Background

log = logging.getLogger(__name__)

RELAY_SUSPECT_SECONDS = 60.0
"""How long a relay reported silent by a child serves nobody (unless its agent reconnects)."""

SendToSite = Callable[[int, dict[str, Any]], bool]
Announce = Callable[[int, str, dict[str, Any]], Awaitable[None]]


@dataclass
class Broadcast:
    plan: Plan
    relay: Relay
    started_at: float
    told: dict[int, float] = field(default_factory=dict)  # site -> when told to receive
    recorder: Recorder | None = None
    recording_id: int | None = None
    replay: Replay | None = None
    web_peers: dict[str, set[str]] = field(default_factory=dict)  # socket key -> peer ids
    parents: dict[int, int | None] = field(default_factory=dict)  # the site tree
    upstream: dict[int, int | None] = field(default_factory=dict)  # site -> relay site or None
    suspects: dict[int, float] = field(default_factory=dict)  # relay site -> reported silent at
    generation: int = 1  # one more each time another node takes the broadcast over
    publishing: tuple[bool, bool] = (False, False)  # (origin, program) as last announced


class Broadcasts:
    def __init__(
        self, settings: MediaSettings, send_to_site: SendToSite, announce: Announce
    ) -> None:
        self.settings = settings
        self.send_to_site = send_to_site
        self.announce = announce
        self.live: dict[int, Broadcast] = {}
        self.relays: dict[int, int] = {}  # connected agents that relay -> children they take
        self._background = Background(log, "announcement")

    # -- lifecycle -----------------------------------------------------------------------

    async def start(
        self,
        plan: Plan,
        record_to: Path | None = None,
        recording_id: int | None = None,
        replay_from: Path | None = None,
        parents: dict[int, int | None] | None = None,
        generation: int = 1,
    ) -> Broadcast:
        if plan.session_id in self.live:
            raise Conflict("broadcast.already_live", "This session is already broadcasting.")
        relay = Relay(plan.origin, self.settings)
        relay.set_program(plan.program)
        b = Broadcast(plan, relay, time.time(), parents=dict(parents or {}), generation=generation)
        b.upstream = self._tree(b)
        self.live[plan.session_id] = b
        if replay_from is not None:
            b.replay = Replay(relay, plan.origin, replay_from)
            b.replay.start()
        if record_to is not None:
            b.recorder = Recorder(relay, record_to, self.settings.video_codec)
            b.recording_id = recording_id
            b.recorder.start()
        for site_id in sorted(plan.site_ids):
            self.instruct(b, site_id)
        b.publishing = self._publishing(b)
        await self.announce(plan.session_id, "broadcast_started", self.view(b))
        return b

    async def stop(self, session_id: int) -> tuple[Broadcast, RecordingResult | None]:
        b = self.live.pop(session_id, None)
        if b is None:
            raise NotFound("broadcast.not_live", "This session is not broadcasting.")
        result = await b.recorder.stop() if b.recorder is not None else None
        if b.replay is not None:
            await b.replay.stop()
        for site_id in sorted(b.plan.site_ids):
            self.send_to_site(
                site_id, {"type": "broadcast", "session_id": session_id, "state": "stopped"}
            )
        await b.relay.close()
        await self.announce(session_id, "broadcast_stopped", {"session_id": session_id})
        return b, result

    async def drop(self, session_id: int) -> Broadcast | None:
        """End this node's relay of a broadcast another node has taken over, telling nobody
        (the new owner instructs the sites); its recording stops where it is."""
        b = self.live.pop(session_id, None)
        if b is None:
            return None
        if b.recorder is not None:
            await b.recorder.stop()
        if b.replay is not None:
            await b.replay.stop()
        await b.relay.close()
        return b

    async def close(self) -> None:
        for session_id in list(self.live):
            try:
                await self.stop(session_id)
            except Exception:
                log.exception("stopping broadcast %d failed", session_id)

    # -- is the programme really sent? ---------------------------------------------------

    def _publishing(self, b: Broadcast) -> tuple[bool, bool]:
        return b.relay.publishing(b.plan.origin), b.relay.publishing(b.plan.program)

    async def announce_publishing(self) -> None:
        """Announce ``publishing_changed`` for each broadcast whose origin or program began or
        stopped sending frames since it was last announced: the other nodes of a cluster answer
        for the broadcast from its announced view, and a console asking them must not be told
        "nobody publishes" long after the camera came in."""
        for session_id, b in list(self.live.items()):
            now = self._publishing(b)
            if now != b.publishing:
                b.publishing = now
                await self.announce(session_id, "publishing_changed", self.view(b))

    async def watch_publishing(self, every: float = 1.0) -> None:
        while True:
            await asyncio.sleep(every)
            try:
                await self.announce_publishing()
            except Exception:  # the next tick tries again
                log.exception("announcing who publishes failed")

    def get(self, session_id: int) -> Broadcast:
        b = self.live.get(session_id)
        if b is None:
            raise NotFound("media.no_broadcast", "This session is not broadcasting now.")
        return b

    # -- agents --------------------------------------------------------------------------

    def instruction(self, b: Broadcast, site_id: int) -> dict[str, Any]:
        todo = b.plan.instruction(site_id)
        return {
            "type": "broadcast",
            "session_id": b.plan.session_id,
            "state": "live",
            "generation": b.generation,
            **todo,
            "upstream": b.upstream.get(site_id),
            "video_codec": self.settings.video_codec,
            "ice_servers": ice_servers_to_wire(ice_servers_for(self.settings, f"site-{site_id}")),
        }

    def instruct(self, b: Broadcast, site_id: int) -> None:
        message = self.instruction(b, site_id)
        # the origin receives only the floor site, so no stream is expected of it
        expected = message["subscribe"] and message.get("quality") != "main"
        if self.send_to_site(site_id, message) and expected:
            b.told.setdefault(site_id, time.time())

    def agent_connected(self, site_id: int, relay_children: int = 0) -> None:
        """A site's agent (re)connected: tell it every broadcast it takes part in; if it
        relays, its child sites may now pull the program from it."""
        if relay_children > 0:
            self.relays[site_id] = relay_children
        else:
            self.relays.pop(site_id, None)
        for b in self.live.values():
            b.suspects.pop(site_id, None)
            if site_id in b.plan.site_ids:
                self.instruct(b, site_id)
                self.retree(b)

    def agent_disconnected(self, site_id: int) -> None:
        """A site's agent went away: the children it relayed for re-parent at once."""
        if self.relays.pop(site_id, None) is None:
            return
        for b in self.live.values():
            self.retree(b)

    # -- the cascade ---------------------------------------------------------------------

    def _tree(self, b: Broadcast) -> dict[int, int | None]:
        now = time.monotonic()
        dead = [s for s, at in b.suspects.items() if now - at < RELAY_SUSPECT_SECONDS]
        return relay_tree(
            b.plan.site_ids, b.parents, self.relays, dead=dead, direct=b.plan.direct_sites
        )

    def upstream_lost(self, site_id: int, session_id: int, relay_site: int) -> None:
        """A site gets nothing from its relay (hung, or cut off while its socket lingers):
        the relay's children pull from elsewhere for ``RELAY_SUSPECT_SECONDS``, or until its
        agent reconnects."""
        b = self.live.get(session_id)
        if b is None or b.upstream.get(site_id) != relay_site:
            return
        log.warning(
            "session %d: site %d gets nothing from relay %d", session_id, site_id, relay_site
        )
        b.suspects[relay_site] = time.monotonic()
        self.retree(b)
        asyncio.get_running_loop().call_later(RELAY_SUSPECT_SECONDS + 0.1, self._recheck, b)

    def _recheck(self, b: Broadcast) -> None:
        if self.live.get(b.plan.session_id) is b:
            now = time.monotonic()
            b.suspects = {s: at for s, at in b.suspects.items() if now - at < RELAY_SUSPECT_SECONDS}
            self.retree(b)

    def retree(self, b: Broadcast) -> None:
        """Recompute whom each site pulls from; a site whose upstream changed is told (it
        offers again), and the peer it leaves is closed."""
        new = self._tree(b)
        old, b.upstream = b.upstream, new
        for site_id in sorted(b.plan.site_ids):
            before, after = old.get(site_id), new.get(site_id)
            if before == after:
                continue
            log.info(
                "session %d: site %d now pulls from %s (was %s)",
                b.plan.session_id,
                site_id,
                after or "the server",
                before or "the server",
            )
            if before is not None:
                self.send_to_site(
                    before,
                    {"type": "relay_close", "session_id": b.plan.session_id, "site_id": site_id},
                )
            self.instruct(b, site_id)
        if new != old:
            self._background.spawn(self.announce(b.plan.session_id, "relays_changed", self.view(b)))

    def expected_since(self, site_id: int) -> float | None:
        times = [b.told[site_id] for b in self.live.values() if site_id in b.told]
        return min(times) if times else None

    def judge(self, site_id: int, health: dict[str, Any], now: float) -> dict[str, Any]:
        """The heartbeat's health with the server's verdict on the stream (presence feeds
        ``degraded`` from it)."""
        stream = dict(health["stream"])
        stream["state"] = judge_stream(stream, self.expected_since(site_id), now)
        return {**health, "stream": stream}

    async def agent_offer(self, site_id: int, session_id: int, role: str, sdp: str) -> str | None:
        """Answer an agent's offer; ``None`` when a relay site will answer it (the offer of a
        site that pulls from a relay is passed to that relay's agent as ``relay_offer``)."""
        b = self.get(session_id)
        if site_id not in b.plan.site_ids:
            raise InvalidInput("media.not_in_session", "This site does not take part.")
        peer = b.plan.peer_of(site_id)
        if role == "publish":
            return await _answer(b.relay.publish(peer, sdp))
        relay_site = b.upstream.get(site_id)
        if relay_site is not None:
            await b.relay.close_subscriber(peer)
            message = {"type": "relay_offer", "session_id": session_id, "site_id": site_id}
            if self.send_to_site(relay_site, {**message, "sdp": sdp}):
                return None
            self.agent_disconnected(relay_site)  # its socket is gone: serve the site here
        return await _answer(b.relay.subscribe(peer, sdp))

    def relay_answered(self, relay_site: int, session_id: int, site_id: int) -> bool:
        """May ``relay_site`` answer ``site_id``'s offer (is it still that site's relay)?"""
        b = self.live.get(session_id)
        return b is not None and b.upstream.get(site_id) == relay_site

    async def agent_close(self, site_id: int, session_id: int, role: str) -> None:
        b = self.live.get(session_id)
        if b is None:
            return
        peer = b.plan.peer_of(site_id)
        if role == "publish":
            await b.relay.close_publisher(peer)
            return
        await b.relay.close_subscriber(peer)
        relay_site = b.upstream.get(site_id)
        if relay_site is not None:
            self.send_to_site(
                relay_site, {"type": "relay_close", "session_id": session_id, "site_id": site_id}
            )

    # -- browsers ------------------------------------------------------------------------

    async def web_offer(
        self,
        key: str,
        session_id: int,
        role: str,
        request_id: str,
        sdp: str,
        site_id: int | None = None,
        viewer_site: int | None = None,
    ) -> str:
        """A browser's offer. ``viewer_site``: the browser is that site's screen, so it gets
        what the site gets (never its own feed)."""
        b = self.get(session_id)
        if role == "publish":
            if b.plan.source is not Source.MAIN:
                raise Conflict(
                    "media.not_origin",
                    "This broadcast does not come from the main classroom; nothing to publish.",
                )
            peer = b.plan.origin
            b.web_peers.setdefault(key, set()).add("pub:" + peer)
            return await _answer(b.relay.publish(peer, sdp))
        peer = f"web:{key}:{request_id}"
        follow = None
        if role == "site":
            if site_id is None or site_id not in b.plan.site_ids:
                raise InvalidInput(
                    "media.site_not_in_session", "Name a site that takes part (site_id)."
                )
            follow = b.plan.peer_of(site_id)
        viewer_of = None
        if viewer_site is not None:
            if viewer_site not in b.plan.site_ids:
                raise InvalidInput("media.not_in_session", "This site does not take part.")
            viewer_of = b.plan.peer_of(viewer_site)
        b.web_peers.setdefault(key, set()).add(peer)
        return await _answer(b.relay.subscribe(peer, sdp, follow=follow, viewer_of=viewer_of))

    async def web_close(self, key: str, session_id: int | None, request_id: str | None) -> None:
        """Close one browser peer (``request_id``; ``"publish"`` for its camera), or all of a
        socket's peers (``None``: the socket closed)."""
        for sid, b in list(self.live.items()):
            if session_id is not None and sid != session_id:
                continue
            peers = b.web_peers.get(key, set())
            for peer in sorted(peers):
                if request_id is not None and peer != (
                    "pub:" + b.plan.origin if request_id == "publish" else f"web:{key}:{request_id}"
                ):
                    continue
                peers.discard(peer)
                if peer.startswith("pub:"):
                    await b.relay.close_publisher(peer[4:])
                else:
                    await b.relay.close_subscriber(peer)
            if not peers:
                b.web_peers.pop(key, None)

    # -- the floor -----------------------------------------------------------------------

    async def set_floor(self, session_id: int, site_id: int | None) -> None:
        b = self.live.get(session_id)
        if b is None:
            return
        b.plan = b.plan.with_floor(site_id)
        b.relay.set_program(b.plan.program)
        self.retree(b)
        await self.announce(session_id, "program_changed", self.view(b))

    async def floor_event(self, session_id: int, kind: str, site_id: int) -> None:
        b = self.live.get(session_id)
        if b is None:
            return
        if kind == "floor_granted":
            await self.set_floor(session_id, site_id)
        elif kind == "floor_returned" and b.plan.floor_site_id == site_id:
            await self.set_floor(session_id, None)

    # -- views ---------------------------------------------------------------------------

    def view(self, b: Broadcast) -> dict[str, Any]:
        plan = b.plan
        return {
            "session_id": plan.session_id,
            "live": plan.session_id in self.live,
            "source": plan.source.value,
            "origin": plan.origin,
            "program": plan.program,
            "floor_site_id": plan.floor_site_id,
            # the main classroom: in a "main" broadcast its feed is the origin, from its agent
            # or from the operator's browser camera (the wall tells which)
            "main_site_id": plan.main_site_id,
            "site_ids": sorted(plan.site_ids),
            "recording_id": b.recording_id,
            "replaying": plan.recording_id,
            # frames from the programme's origin reach the relay: without them the sites get
            # nothing however "live" the broadcast is (the console says so)
            "origin_publishing": b.relay.publishing(plan.origin),
            # ... and from the site with the floor, when one has it (the program)
            "program_publishing": b.relay.publishing(plan.program),
            "started_at": b.started_at,
            # one more each time another node took the broadcast over: pages that publish or
            # view through the dead owner's relay connect again when it changes
            "generation": b.generation,
            "upstream": {str(site): relay for site, relay in sorted(b.upstream.items()) if relay},
        }

    def stats(self, b: Broadcast) -> dict[str, Any]:
        return b.relay.stats()


async def _answer(pending: Awaitable[str]) -> str:
    try:
        return await pending
    except DomainError:  # ours, with its own code (media.ports_exhausted ...)
        raise
    except Exception as exc:  # aiortc raises assorted errors on a malformed or unusable offer
        raise InvalidInput("media.bad_sdp", f"The offer cannot be used: {exc}"[:300]) from None


def recording_file(directory: Path, session_id: int, video_codec: str) -> Path:
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    return directory / f"session-{session_id}-{stamp}{recording_suffix(video_codec)}"
