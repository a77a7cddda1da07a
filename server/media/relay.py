"""The forwarding relay: encoded frames from publishers to subscribers, never decoded.

Publishers are peers that send media (the main classroom, each site's return feed); subscribers
are peers that receive the *program*. Each subscriber has one :class:`ProgramFeed` per kind
(video, audio); the relay pushes every frame of a publisher into the feeds that currently want
that publisher, and the subscriber's ``RTCRtpSender`` packetizes the ``av.Packet`` it gets from
``ProgramFeed.recv()`` without encoding.

Program rules (``set_program``): the program is the main classroom by default, or the site that
has the floor. A subscriber never gets its own feed back: a site that is the program receives the
main classroom instead, and the main classroom receives the floor site (nothing when the program
is the main classroom itself).

Video rules, per feed: the first frame sent is a keyframe; a source switch happens only at a
keyframe of the new source (until then the old source keeps flowing, so there is no freeze); the
queue is bounded by age, not by a small frame count: a burst of frames (a publisher or a network
that stalled for a moment) is queued and sent, but when the oldest queued frame has waited more
than ``max_age`` (or ``capacity`` frames are queued) the reader is too far behind and the whole
queue is dropped (newest wins; a dropped delta frame makes the feed wait for the next keyframe,
so nothing undecodable and no stale backlog is sent).
Keyframes are requested upstream (RTCP PLI) when a subscriber starts reading, when the source
switches, when a subscriber sends PLI/FIR and, after a drop, once the subscriber is reading again
(a reader that stopped does not make the publisher send keyframes); requests to a publisher are
rate-limited (``keyframe_min_interval``): a request inside the interval is sent once at its end,
unless a keyframe has come in meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import av
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError

from server.media import forward
from server.media.fastpath import FastSender, Packetizer
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

KINDS = ("video", "audio")
# A video feed's reader may fall behind by this long (a burst) before its queue is dropped. A
# bound of 2 frames dropped on every 3-frame burst, and the keyframe it then needed could be
# deferred by the publisher's keyframe rate limit: a freeze of up to a second (issue #6).
VIDEO_QUEUE_MAX_AGE = 0.25
VIDEO_QUEUE_FRAMES = 30  # a hard cap as well (1 s at 30 fps)
AUDIO_QUEUE_FRAMES = 5  # 100 ms of 20 ms Opus packets
MAX_PTS_STEP_SECONDS = 5.0

FrameListener = Callable[[str, str, EncodedFrame, bool], None]

_VP8_START_CODE = b"\x9d\x01\x2a"


def is_keyframe(frame: EncodedFrame) -> bool:
    """Whether a decoder can start at this frame (always true for audio)."""
    data = frame.data
    if frame.codec == "video/vp8":
        # RFC 6386 9.1: bit 0 of the frame tag is 0 for a key frame, followed after 3 bytes by
        # the start code 9d 01 2a.
        return len(data) >= 10 and not data[0] & 0x01 and data[3:6] == _VP8_START_CODE
    if frame.codec == "video/h264":
        return _h264_has_idr(data)
    return not frame.codec.startswith("video/")


def _h264_has_idr(data: bytes) -> bool:
    pos = data.find(b"\x00\x00\x01")
    while 0 <= pos < len(data) - 3:
        nal_type = data[pos + 3] & 0x1F
        if nal_type in (5, 7):  # IDR slice, sequence parameter set
            return True
        pos = data.find(b"\x00\x00\x01", pos + 3)
    return False


PUBLISHING_WITHIN = 3.0
"""A publisher with no frame in this many seconds is not publishing (see Relay.publishing)."""


@dataclass(slots=True)
class FeedStats:
    frames_out: int = 0
    frames_dropped: int = 0
    overflows: int = 0  # times the reader was too far behind and the queue was dropped
    switches: int = 0
    keyframe_requests: int = 0
    started_at: float | None = None  # time.monotonic() of the sender's first recv()


class ProgramFeed(MediaStreamTrack):
    """One subscriber's track of one kind: yields ``av.Packet`` from the current source."""

    def __init__(
        self,
        relay: Relay,
        owner_id: str,
        kind: str,
        capacity: int | None = None,
        max_age: float | None = None,
    ) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}")
        self.kind = kind
        self.owner_id = owner_id
        self.source: str | None = None
        self.pending: str | None = None
        self.stats = FeedStats()
        self._relay = relay
        self._capacity = capacity or (VIDEO_QUEUE_FRAMES if kind == "video" else AUDIO_QUEUE_FRAMES)
        # audio: a frame count only (every Opus packet decodes on its own)
        self._max_age = max_age if max_age is not None else VIDEO_QUEUE_MAX_AGE
        if kind != "video" and max_age is None:
            self._max_age = float("inf")
        # (source, frame, time.monotonic() it was queued)
        self._queue: deque[tuple[str, EncodedFrame, float]] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._video = kind == "video"
        self._need_keyframe = self._video
        self._active = False
        # output timeline (RTP timestamps must keep increasing across source switches)
        self._last_source: str | None = None
        self._last_src_pts = 0
        self._last_out_pts: int | None = None
        self._last_out_time = 0.0
        # the fast path (server.media.fastpath): frames go out at once, nothing is queued
        self._fast: FastSender | None = None
        self._stopped: asyncio.Future[None] | None = None

    def use_fast_path(self, sender: Any) -> FastSender:
        """Send through ``sender``'s SRTP session and socket directly, frame by frame
        (``recv()`` then only marks the feed active and waits until it stops)."""
        self._fast = FastSender(sender)
        return self._fast

    @property
    def fast(self) -> FastSender | None:
        return self._fast

    @property
    def active(self) -> bool:
        """True once the subscriber's sender has started reading."""
        return self._active

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._video and (self._need_keyframe or self.pending is not None)

    def wants(self, source_id: str) -> bool:
        return self._active and source_id in (self.source, self.pending)

    def set_target(self, target: str | None) -> None:
        """Follow ``target`` (a publisher id) from now on; ``None`` sends nothing."""
        if target is None:
            self.source = self.pending = None
            self._queue.clear()
            return
        if target == self.source:
            self.pending = None
            return
        if not self._video:
            self.source = target
            return
        if self.source is None:
            self.source = target
            self.pending = None
            self._need_keyframe = True
        else:
            self.pending = target
        self._request_keyframe(target)

    def offer(self, source_id: str, frame: EncodedFrame, keyframe: bool) -> None:
        """Take a frame from publisher ``source_id`` (called by the relay on the event loop)."""
        if not self._active or self.readyState != "live":
            return
        if self._video and source_id == self.pending:
            if not keyframe:
                return
            self.source, self.pending = source_id, None
            self._need_keyframe = False
            self.stats.switches += 1
            self.stats.frames_dropped += len(self._queue)
            self._queue.clear()
        elif source_id != self.source:
            return
        elif self._need_keyframe:
            if not keyframe:
                self.stats.frames_dropped += 1
                if self._waiter is not None or (self._fast is not None and self._fast.writable()):
                    # the reader is there: make sure one is coming
                    self._request_keyframe(source_id)
                return
            self._need_keyframe = False
        if self._fast is not None:
            self._send_now(source_id, frame, keyframe)
        else:
            self._push(source_id, frame, keyframe)

    def source_restarted(self, source_id: str) -> None:
        """``source_id`` reconnected (a new encoder): start again from one of its keyframes."""
        if self._video and source_id == self.source:
            self._need_keyframe = True

    def request_keyframe(self) -> None:
        """The subscriber lost picture data (PLI/FIR): ask the current source for a keyframe."""
        if self._video:
            self._request_keyframe(self.pending or self.source)

    async def recv(self) -> av.Packet[Any]:
        if self.readyState != "live":
            raise MediaStreamError
        if not self._active:
            self._active = True
            self.stats.started_at = time.monotonic()
            self._need_keyframe = self._video  # requested below, as the queue is empty
            if self._fast is not None:
                return await self._serve_fast()
        self._drop_stale(time.monotonic())
        while not self._queue:
            if self._need_keyframe and self._video:  # after a drop: ask now that we read
                self._request_keyframe(self.pending or self.source)
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
            if self.readyState != "live":
                raise MediaStreamError
        source_id, frame, _ = self._queue.popleft()
        self.stats.frames_out += 1
        packet = av.Packet(frame.data)
        packet.pts = self._next_pts(source_id, frame)
        packet.time_base = Fraction(1, frame.clock_rate)
        return packet

    def stop(self) -> None:
        super().stop()
        self._queue.clear()
        self._wake()
        if self._stopped is not None and not self._stopped.done():
            self._stopped.set_result(None)

    async def _serve_fast(self) -> av.Packet[Any]:
        """The sender's coroutine reads once: from now on frames are sent as they come in
        (:meth:`_send_now`); it waits here until the feed stops."""
        if self._video:
            self._request_keyframe(self.pending or self.source)
        self._stopped = asyncio.get_running_loop().create_future()
        await self._stopped
        raise MediaStreamError

    def _send_now(self, source_id: str, frame: EncodedFrame, keyframe: bool) -> None:
        fast = self._fast
        assert fast is not None
        packets = self._relay.packetize(source_id, self.kind, frame)
        if fast.send_frame(packets, self._next_pts(source_id, frame)):
            self.stats.frames_out += 1
            return
        # not connected or stalled: drop (never queue); video restarts at a keyframe
        self.stats.frames_dropped += 1
        if fast.configured and self._video and not self._need_keyframe:
            self.stats.overflows += 1
            self._need_keyframe = True

    def _push(self, source_id: str, frame: EncodedFrame, keyframe: bool) -> None:
        now = time.monotonic()
        if len(self._queue) >= self._capacity:
            self._overflow()
        else:
            self._drop_stale(now)
        if self._need_keyframe and self._video:
            if not keyframe:
                self.stats.frames_dropped += 1
                return
            self._need_keyframe = False
        self._queue.append((source_id, frame, now))
        self._wake()

    def _drop_stale(self, now: float) -> None:
        if self._queue and now - self._queue[0][2] > self._max_age:
            self._overflow()

    def _overflow(self) -> None:
        """The reader is too far behind: drop the queue (newest wins). Frames after a dropped
        video frame cannot be decoded, so video waits for a keyframe; it is requested when the
        reader waits for a frame (:meth:`recv`), not for a reader that has stopped."""
        self.stats.overflows += 1
        self.stats.frames_dropped += len(self._queue)
        self._queue.clear()
        if self._video:
            self._need_keyframe = True

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def _request_keyframe(self, source_id: str | None) -> None:
        if source_id is not None and self._active:
            self.stats.keyframe_requests += 1
            self._relay.request_keyframe(source_id)

    def _next_pts(self, source_id: str, frame: EncodedFrame) -> int:
        now = time.monotonic()
        rate = frame.clock_rate
        if self._last_out_pts is None:
            out = 0
        else:
            step = frame.pts - self._last_src_pts
            if source_id != self._last_source or not 0 < step <= MAX_PTS_STEP_SECONDS * rate:
                step = max(1, round((now - self._last_out_time) * rate))
            out = self._last_out_pts + step
        self._last_source, self._last_src_pts = source_id, frame.pts
        self._last_out_pts, self._last_out_time = out, now
        return out


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
                    feed.use_fast_path(transceiver.sender)
                feed.set_target(self.source_for(peer_id))
                sub.feeds[kind] = feed
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

    def packetize(self, publisher_id: str, kind: str, frame: EncodedFrame) -> Any:
        """``frame`` of ``publisher_id`` as RTP payloads, packetized once for every fast-path
        subscriber (:class:`server.media.fastpath.PacketizedFrame`)."""
        pub = self._publishers.get(publisher_id)
        packetizers = pub.packetizers if pub is not None else self._orphan_packetizers
        packetizer = packetizers.get(kind)
        if packetizer is None:
            packetizer = packetizers[kind] = Packetizer()
        return packetizer.packetize(frame)

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
        for sub in self._subscribers.values():
            feed = sub.feeds.get(kind)
            if feed is not None and feed.wants(source_id):
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
                            "frames_out": feed.stats.frames_out,
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
        if sub.pc is not None:
            await sub.pc.close()
