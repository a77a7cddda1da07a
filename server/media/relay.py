"""The forwarding relay: encoded frames from publishers to subscribers, never decoded.

Publishers are peers that send media (the main classroom, each site's return feed); subscribers
are peers that receive the *program*. Each subscriber has one :class:`ProgramFeed` per kind
(video, audio); the relay pushes every frame of a publisher into the feeds that currently want
that publisher; each frame is packetized once (:mod:`server.media.fastpath`) and sent to every
subscriber whose feed wants it (with ``MediaSettings.fast_path`` off, each subscriber's
``RTCRtpSender`` packetizes the ``av.Packet`` it reads from ``ProgramFeed.recv()`` instead).

Program rules (``set_program``): the program is the main classroom by default, or the site that
has the floor. A subscriber never gets its own feed back: a site that is the program receives the
main classroom instead, and the main classroom receives the floor site (nothing when the program
is the main classroom itself).

The feeds' rules (keyframes, switches, queue bounds, keyframe requests) are in
:mod:`server.media.feed`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiortc import RTCPeerConnection, RTCSessionDescription

from server.media import forward
from server.media.fanout import MAX_PTS_STEP_SECONDS, FanOut
from server.media.fastpath import PacketizedFrame, Packetizer
from server.media.feed import (
    AUDIO_QUEUE_FRAMES,
    KINDS,
    VIDEO_QUEUE_FRAMES,
    VIDEO_QUEUE_MAX_AGE,
    FeedStats,
    ProgramFeed,
    is_keyframe,
)
from server.media.forward import EncodedFrame
from server.media.peers import (
    MediaSettings,
    add_transceivers,
    codec_preferences,
    create_peer_connection,
    offered_kinds,
)
from server.media.tasks import Background

logger = logging.getLogger(__name__)

__all__ = [  # the feed's names stay importable from here
    "AUDIO_QUEUE_FRAMES",
    "KINDS",
    "MAX_PTS_STEP_SECONDS",
    "VIDEO_QUEUE_FRAMES",
    "VIDEO_QUEUE_MAX_AGE",
    "FeedStats",
    "LocalPublisher",
    "ProgramFeed",
    "Relay",
    "is_keyframe",
]

FrameListener = Callable[[str, str, EncodedFrame, bool], None]

PUBLISHING_WITHIN = 3.0
"""A publisher with no frame in this many seconds is not publishing (see Relay.publishing)."""


@dataclass(slots=True)
class _Publisher:
    peer_id: str
    pc: RTCPeerConnection | None  # None for an in-process publisher (a replayed recording)
    receivers: dict[str, Any] = field(default_factory=dict)
    frames_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    bytes_in: dict[str, int] = field(default_factory=lambda: dict.fromkeys(KINDS, 0))
    keyframes_in: int = 0
    last_frame_at: float = float("-inf")  # time.monotonic() of the latest frame in (any kind)
    last_keyframe_request: float = float("-inf")
    deferred_request: asyncio.TimerHandle | None = None
    request_outstanding: bool = False  # asked for since the last keyframe came in
    keyframe_requests_sent: int = 0
    keyframe_requests_coalesced: int = 0
    on_keyframe_request: Callable[[], None] | None = None  # an in-process publisher's
    packetizers: dict[str, Packetizer] = field(default_factory=dict)  # for the fast path


@dataclass(slots=True)
class _Subscriber:
    peer_id: str
    pc: RTCPeerConnection | None  # None for an in-process consumer (open_feed)
    feeds: dict[str, ProgramFeed] = field(default_factory=dict)
    follow: str | None = None  # a fixed publisher (an operator's site tile), not the program
    viewer_of: str | None = None  # receives what this peer receives (a site's screen page)


class LocalPublisher:
    """An in-process publisher (e.g. a recording played back): frames pushed by the caller."""

    def __init__(self, relay: Relay, pub: _Publisher) -> None:
        self._relay = relay
        self._pub = pub

    @property
    def peer_id(self) -> str:
        return self._pub.peer_id

    def push(self, kind: str, frame: EncodedFrame) -> None:
        if self._relay._publishers.get(self._pub.peer_id) is self._pub:
            self._relay._ingress(self._pub, kind, frame)

    def restarted(self) -> None:
        """The frames now come from a new encoder or connection: every subscriber starts
        again from one of its keyframes."""
        self._relay._source_restarted(self._pub.peer_id)


class Relay:
    """Publishers by peer id, subscribers by peer id, and the program."""

    def __init__(self, main_id: str, settings: MediaSettings | None = None) -> None:
        self.main_id = main_id
        self.settings = settings or MediaSettings()
        self._program = main_id
        self._publishers: dict[str, _Publisher] = {}
        self._subscribers: dict[str, _Subscriber] = {}
        self._listeners: list[FrameListener] = []
        self._background = Background(logger, "keyframe request")
        self._orphan_packetizers: dict[str, Packetizer] = {}
        # (publisher id, kind) -> the feeds that take its frames in one call (server.media.fanout)
        self._fan_outs: dict[tuple[str, str], FanOut] = {}
        # by kind, the live feeds the relay offers each frame (not in a fan-out, or switching)
        self._offered: dict[str, dict[ProgramFeed, None]] = {kind: {} for kind in KINDS}

    # -- program -------------------------------------------------------------------------

    @property
    def program(self) -> str:
        return self._program

    def set_program(self, source_id: str | None) -> None:
        """Make ``source_id`` (a site with the floor) the program; ``None`` = main classroom."""
        self._program = source_id or self.main_id
        for sub in self._subscribers.values():
            if sub.follow is not None:
                continue
            target = self.source_for(sub.peer_id)
            for feed in sub.feeds.values():
                feed.set_target(target)

    def source_for(self, subscriber_id: str) -> str | None:
        """The publisher whose feed ``subscriber_id`` receives now (never its own)."""
        sub = self._subscribers.get(subscriber_id)
        if sub is not None and sub.follow is not None:
            return sub.follow
        if sub is not None and sub.viewer_of is not None:
            subscriber_id = sub.viewer_of
        if self._program != subscriber_id:
            return self._program
        if subscriber_id != self.main_id:
            return self.main_id
        return None

    # -- signalling ----------------------------------------------------------------------

    async def publish(self, peer_id: str, offer_sdp: str) -> str:
        """Accept a publisher's offer (video and/or audio); return the answer SDP."""
        await self._close_publisher(peer_id)
        self._source_restarted(peer_id)
        pc = create_peer_connection(self.settings)
        pub = _Publisher(peer_id, pc)
        add_transceivers(pc, "recvonly", self.settings.video_codec, offered_kinds(offer_sdp))
        self._publishers[peer_id] = pub
        self._watch(pc, peer_id, publisher=True)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
            # No await between here and the install: the receivers start after ICE/DTLS.
            for transceiver in pc.getTransceivers():
                receiver = transceiver.receiver
                if receiver.track is not None and transceiver.kind not in pub.receivers:
                    kind = str(transceiver.kind)
                    forward.install_passthrough(receiver, self._sink(pub, kind))
                    pub.receivers[kind] = receiver
            await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await self._close_publisher(peer_id)
            raise
        return str(pc.localDescription.sdp)

    async def subscribe(
        self,
        peer_id: str,
        offer_sdp: str | None = None,
        follow: str | None = None,
        viewer_of: str | None = None,
    ) -> str:
        """Add a subscriber. With its offer (recvonly video/audio) return our answer; without,
        return our offer and pass its answer to :meth:`accept_answer`.

        ``follow`` names a publisher this subscriber always receives (a tile of the operator's
        site wall) instead of the program; ``viewer_of`` makes it receive what that peer
        receives (never that peer's own feed)."""
        await self._close_subscriber(peer_id)
        pc = create_peer_connection(self.settings)
        sub = _Subscriber(peer_id, pc, follow=follow, viewer_of=viewer_of)
        self._subscribers[peer_id] = sub
        self._watch(pc, peer_id, publisher=False)
        try:
            kinds = KINDS if offer_sdp is None else offered_kinds(offer_sdp)
            for kind in kinds:
                feed = ProgramFeed(self, peer_id, kind)
                transceiver = pc.addTransceiver(feed, direction="sendonly")
                transceiver.setCodecPreferences(codec_preferences(kind, self.settings.video_codec))
                forward.on_keyframe_request(transceiver.sender, feed.request_keyframe)
                if self.settings.fast_path:
                    feed.use_fast_path(
                        transceiver.sender,
                        gso=self.settings.udp_gso,
                        native=self.settings.native_send,
                    )
                feed.set_target(self.source_for(peer_id))
                sub.feeds[kind] = feed
                self.offers_changed(feed)
            if offer_sdp is None:
                await pc.setLocalDescription(await pc.createOffer())
            else:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
                await pc.setLocalDescription(await pc.createAnswer())
        except BaseException:
            await self._close_subscriber(peer_id)
            raise
        return str(pc.localDescription.sdp)

    def open_feed(self, peer_id: str, kind: str = "video") -> ProgramFeed:
        """An in-process subscriber (recorder, test, bench): a feed following the program
        rules for ``peer_id``, without a peer connection. Close it with :meth:`close_peer`."""
        sub = self._subscribers.get(peer_id)
        if sub is None:
            sub = self._subscribers[peer_id] = _Subscriber(peer_id, None)
        elif sub.pc is not None or kind in sub.feeds:
            raise ValueError(f"{peer_id!r} already has a {kind} feed")
        feed = ProgramFeed(self, peer_id, kind)
        feed.set_target(self.source_for(peer_id))
        sub.feeds[kind] = feed
        self.offers_changed(feed)
        return feed

    async def accept_answer(self, peer_id: str, answer_sdp: str) -> None:
        """Complete a :meth:`subscribe` made without an offer."""
        sub = self._subscribers.get(peer_id)
        if sub is None or sub.pc is None:
            raise KeyError(f"no subscriber connection {peer_id!r}")
        await sub.pc.setRemoteDescription(RTCSessionDescription(sdp=answer_sdp, type="answer"))

    def add_local_publisher(
        self, peer_id: str, on_keyframe_request: Callable[[], None] | None = None
    ) -> LocalPublisher:
        """An in-process publisher: its frames go through the same rules as a peer's.
        Keyframe requests to it call ``on_keyframe_request`` (rate-limited like a peer's), or
        are dropped without one (a file cannot make a keyframe on demand)."""
        if peer_id in self._publishers:
            raise ValueError(f"{peer_id!r} already publishes")
        pub = _Publisher(peer_id, None, on_keyframe_request=on_keyframe_request)
        self._publishers[peer_id] = pub
        return LocalPublisher(self, pub)

    def has_publisher(self, peer_id: str) -> bool:
        return peer_id in self._publishers

    def publishing(self, peer_id: str, within: float = PUBLISHING_WITHIN) -> bool:
        """Does ``peer_id`` publish AND has a frame of it come in within the last ``within``
        seconds (a connected camera whose tracks ended publishes nothing)?"""
        pub = self._publishers.get(peer_id)
        return pub is not None and time.monotonic() - pub.last_frame_at <= within

    def has_subscriber(self, peer_id: str) -> bool:
        return peer_id in self._subscribers

    async def close_publisher(self, peer_id: str) -> None:
        await self._close_publisher(peer_id)

    async def close_subscriber(self, peer_id: str) -> None:
        await self._close_subscriber(peer_id)

    async def close_peer(self, peer_id: str) -> None:
        """Close the peer's publisher and subscriber connections, if any."""
        await self._close_publisher(peer_id)
        await self._close_subscriber(peer_id)

    async def close(self) -> None:
        for peer_id in list(self._publishers) + list(self._subscribers):
            await self.close_peer(peer_id)
        self._background.cancel()

    # -- keyframes -----------------------------------------------------------------------

    def request_keyframe(self, publisher_id: str) -> None:
        """Ask a publisher for a keyframe, at most once per ``keyframe_min_interval``."""
        pub = self._publishers.get(publisher_id)
        if pub is None or ("video" not in pub.receivers and pub.on_keyframe_request is None):
            return
        wait = pub.last_keyframe_request + self.settings.keyframe_min_interval - time.monotonic()
        if wait <= 0:
            self._send_keyframe_request(pub)
            return
        pub.request_outstanding = True
        if pub.deferred_request is None:
            loop = asyncio.get_running_loop()
            pub.deferred_request = loop.call_later(wait, self._send_deferred_request, pub)
        else:
            pub.keyframe_requests_coalesced += 1

    def _send_keyframe_request(self, pub: _Publisher) -> None:
        if pub.deferred_request is not None:
            pub.deferred_request.cancel()
            pub.deferred_request = None
        pub.request_outstanding = False
        if self._publishers.get(pub.peer_id) is not pub:
            return
        pub.last_keyframe_request = time.monotonic()
        pub.keyframe_requests_sent += 1
        if pub.on_keyframe_request is not None:
            pub.on_keyframe_request()
        else:
            self._background.spawn(forward.send_pli(pub.receivers["video"]))

    def _send_deferred_request(self, pub: _Publisher) -> None:
        pub.deferred_request = None
        if pub.request_outstanding:  # not already answered by a keyframe since
            self._send_keyframe_request(pub)

    # -- frames --------------------------------------------------------------------------

    def packetize(self, publisher_id: str, kind: str, frame: EncodedFrame) -> PacketizedFrame:
        """``frame`` of ``publisher_id`` as RTP payloads, packetized once for every fast-path
        subscriber (:class:`server.media.fastpath.PacketizedFrame`)."""
        pub = self._publishers.get(publisher_id)
        packetizers = pub.packetizers if pub is not None else self._orphan_packetizers
        packetizer = packetizers.get(kind)
        if packetizer is None:
            packetizer = packetizers[kind] = Packetizer()
        return packetizer.packetize(frame)

    def fan_out_for(self, publisher_id: str, kind: str) -> FanOut | None:
        """The fan-out of ``publisher_id``'s frames of ``kind`` (None: setting ``fan_out`` off)."""
        if not self.settings.fan_out or publisher_id not in self._publishers:
            return None
        fan_out = self._fan_outs.get((publisher_id, kind))
        if fan_out is None:
            fan_out = self._fan_outs[(publisher_id, kind)] = FanOut()
        return fan_out

    def offers_changed(self, feed: ProgramFeed) -> None:
        offered = self._offered[feed.kind]
        sub = self._subscribers.get(feed.owner_id)
        if (
            feed.needs_offers
            and feed.readyState == "live"
            and sub is not None
            and sub.feeds.get(feed.kind) is feed
        ):
            offered[feed] = None
        else:
            offered.pop(feed, None)

    def _source_restarted(self, peer_id: str) -> None:
        for sub in self._subscribers.values():
            for feed in sub.feeds.values():
                feed.source_restarted(peer_id)

    def add_frame_listener(self, listener: FrameListener) -> None:
        """Call ``listener(publisher_id, kind, frame, keyframe)`` for every frame received."""
        self._listeners.append(listener)

    def _sink(self, pub: _Publisher, kind: str) -> forward.FrameSink:
        def sink(frame: EncodedFrame) -> None:
            self._ingress(pub, kind, frame)

        return sink

    def _ingress(self, pub: _Publisher, kind: str, frame: EncodedFrame) -> None:
        keyframe = is_keyframe(frame)
        pub.frames_in[kind] += 1
        pub.bytes_in[kind] += len(frame.data)
        pub.last_frame_at = time.monotonic()
        if keyframe and kind == "video":
            pub.keyframes_in += 1
            pub.request_outstanding = False
        for listener in self._listeners:
            listener(pub.peer_id, kind, frame, keyframe)
        source_id = pub.peer_id
        fan_out = self._fan_outs.get((source_id, kind))
        if fan_out is not None and fan_out.feeds:
            fan_out.send(self.packetize(source_id, kind, frame), frame.pts, frame.clock_rate)
        offered = self._offered[kind]
        for feed in list(offered) if offered else ():  # offer() may move a feed in or out
            if feed.wants(source_id):
                feed.offer(source_id, frame, keyframe)

    # -- stats ---------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "program": self._program,
            "publishers": {
                p.peer_id: {
                    "state": p.pc.connectionState if p.pc is not None else "in-process",
                    "kinds": sorted(p.receivers),
                    "frames_in": dict(p.frames_in),
                    "bytes_in": dict(p.bytes_in),
                    "keyframes_in": p.keyframes_in,
                    "keyframe_requests_sent": p.keyframe_requests_sent,
                    "keyframe_requests_coalesced": p.keyframe_requests_coalesced,
                    "fan_out": {
                        kind: len(fan_out)
                        for kind in KINDS
                        if (fan_out := self._fan_outs.get((p.peer_id, kind))) is not None
                    },
                }
                for p in self._publishers.values()
            },
            "subscribers": {
                s.peer_id: {
                    "state": s.pc.connectionState if s.pc is not None else "in-process",
                    **{
                        kind: {
                            "source": feed.source,
                            "pending": feed.pending,
                            "waiting_for_keyframe": feed.waiting_for_keyframe,
                            "frames_out": feed.frames_out,
                            "in_fan_out": feed.in_fan_out,
                            "frames_dropped": feed.stats.frames_dropped,
                            "overflows": feed.stats.overflows,
                            "switches": feed.stats.switches,
                            "keyframe_requests": feed.stats.keyframe_requests,
                            "started_at": feed.stats.started_at,
                            **({"fast": feed.fast.stats()} if feed.fast is not None else {}),
                        }
                        for kind, feed in s.feeds.items()
                    },
                }
                for s in self._subscribers.values()
            },
        }

    # -- internals -----------------------------------------------------------------------

    def _watch(self, pc: RTCPeerConnection, peer_id: str, *, publisher: bool) -> None:
        @pc.on("connectionstatechange")
        async def on_state() -> None:
            if pc.connectionState != "failed":
                return
            logger.info("media peer %s (%s) failed", peer_id, "pub" if publisher else "sub")
            table: dict[str, Any] = self._publishers if publisher else self._subscribers
            if getattr(table.get(peer_id), "pc", None) is pc:
                if publisher:
                    await self._close_publisher(peer_id)
                else:
                    await self._close_subscriber(peer_id)

    async def _close_publisher(self, peer_id: str) -> None:
        pub = self._publishers.pop(peer_id, None)
        if pub is None:
            return
        if pub.deferred_request is not None:
            pub.deferred_request.cancel()
        for kind in KINDS:
            fan_out = self._fan_outs.pop((peer_id, kind), None)
            if fan_out is not None:
                fan_out.dissolve()
        for receiver in pub.receivers.values():
            forward.stop_passthrough(receiver)
        if pub.pc is not None:
            await pub.pc.close()

    async def _close_subscriber(self, peer_id: str) -> None:
        sub = self._subscribers.pop(peer_id, None)
        if sub is None:
            return
        for feed in sub.feeds.values():
            feed.stop()
            self._offered[feed.kind].pop(feed, None)
        if sub.pc is not None:
            await sub.pc.close()
