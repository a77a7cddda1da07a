"""One subscriber's track of one kind (:class:`ProgramFeed`): which frames it sends, and when.

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

With the fast path (:mod:`server.media.fastpath`, the default) a feed sends each frame the
moment it comes in, through its subscriber's :class:`~server.media.fastpath.FastSender`;
otherwise it queues frames for its ``RTCRtpSender`` to read (``recv()``).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Protocol

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from server.media.fanout import MAX_PTS_STEP_SECONDS, FanOut
from server.media.fastpath import FastSender, PacketizedFrame
from server.media.forward import EncodedFrame


class FeedOwner(Protocol):
    """What a feed needs from its relay."""

    def request_keyframe(self, publisher_id: str) -> None: ...

    def packetize(self, publisher_id: str, kind: str, frame: EncodedFrame) -> PacketizedFrame: ...

    def fan_out_for(self, publisher_id: str, kind: str) -> FanOut | None:
        """The fan-out of this publisher's frames of ``kind`` (None: every feed sends its own)."""

    def offers_changed(self, feed: ProgramFeed) -> None:
        """``feed`` joined or left a fan-out, or its pending source changed: whether the relay
        must offer it frames one by one (see :meth:`ProgramFeed.wants`)."""


KINDS = ("video", "audio")
# A video feed's reader may fall behind by this long (a burst) before its queue is dropped. A
# bound of 2 frames dropped on every 3-frame burst, and the keyframe it then needed could be
# deferred by the publisher's keyframe rate limit: a freeze of up to a second (issue #6).
VIDEO_QUEUE_MAX_AGE = 0.25
VIDEO_QUEUE_FRAMES = 30  # a hard cap as well (1 s at 30 fps)
AUDIO_QUEUE_FRAMES = 5  # 100 ms of 20 ms Opus packets


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
        relay: FeedOwner,
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
        self._pending: str | None = None
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
        # the source's fan-out while this feed takes its frames there (server.media.fanout)
        self._fan_out: FanOut | None = None

    def use_fast_path(self, sender: Any, gso: bool = True, native: bool = True) -> FastSender:
        """Send through ``sender``'s SRTP session and socket directly, frame by frame
        (``recv()`` then only marks the feed active and waits until it stops); ``gso``: a
        video frame's packets in one system call (:data:`server.media.fastpath.MAX_GSO`);
        ``native``: protected and sent in C where :mod:`server.media._rtpsend` was built."""
        self._fast = FastSender(sender, gso=gso, native=native)
        return self._fast

    @property
    def fast(self) -> FastSender | None:
        return self._fast

    @property
    def active(self) -> bool:
        """True once the subscriber's sender has started reading."""
        return self._active

    @property
    def pending(self) -> str | None:
        """The publisher this video feed switches to at its next keyframe."""
        return self._pending

    @pending.setter
    def pending(self, source_id: str | None) -> None:
        if source_id != self._pending:
            self._pending = source_id
            self._relay.offers_changed(self)

    @property
    def needs_offers(self) -> bool:
        """Must the relay offer this feed each frame (it is not in a fan-out, or a switch to
        another publisher is pending)?"""
        return self._fan_out is None or self._pending is not None

    @property
    def frames_out(self) -> int:
        """Frames sent (fast path, including those a fan-out sent) or read by the sender."""
        return self._fast.frames_sent if self._fast is not None else self.stats.frames_out

    @property
    def in_fan_out(self) -> bool:
        return self._fan_out is not None

    @property
    def queued(self) -> int:
        return len(self._queue)

    @property
    def waiting_for_keyframe(self) -> bool:
        return self._video and (self._need_keyframe or self.pending is not None)

    def wants(self, source_id: str) -> bool:
        """Should the relay offer this feed a frame of ``source_id`` (a feed in the source's
        fan-out is sent its frames there)?"""
        return self._active and (
            source_id == self.pending or (source_id == self.source and self._fan_out is None)
        )

    def set_target(self, target: str | None) -> None:
        """Follow ``target`` (a publisher id) from now on; ``None`` sends nothing."""
        if target is None:
            self._leave_fan_out()
            self.source = self.pending = None
            self._queue.clear()
            return
        if target == self.source:
            self.pending = None
            return
        if not self._video:
            self._leave_fan_out()
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
            self._leave_fan_out()
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
            self._leave_fan_out()
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
        self._leave_fan_out()
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
        pts = self._next_pts(source_id, frame)
        if fast.send_frame(packets, pts):
            self.stats.frames_out += 1
            if self.readyState == "live":
                self._join_fan_out(source_id, frame.pts, fast.timestamp_origin + pts)
            return
        # not connected or stalled: drop (never queue); video restarts at a keyframe
        self.stats.frames_dropped += 1
        if fast.configured and self._video and not self._need_keyframe:
            self.stats.overflows += 1
            self._need_keyframe = True

    def _join_fan_out(self, source_id: str, source_pts: int, timestamp: int) -> None:
        """Steady now (this frame went straight to the socket): take the source's next frames
        in its fan-out, at the same offset between its pts and this feed's timestamps."""
        fan_out = self._relay.fan_out_for(source_id, self.kind)
        fast = self._fast
        if fan_out is None or fast is None or not fast.direct():
            return
        if fan_out.join(self, fast.member, source_pts, timestamp - source_pts):
            self._fan_out = fan_out
            self._relay.offers_changed(self)

    def _leave_fan_out(self) -> None:
        if self._fan_out is not None:
            self._fan_out.leave(self)  # calls left_fan_out

    def left_fan_out(self, source_pts: int, sent_at: float) -> None:
        """Out of the fan-out: this feed's timeline goes on from the last frame it was sent
        there (``source_pts`` of its source, at ``sent_at``)."""
        self._fan_out = None
        self._relay.offers_changed(self)
        fast = self._fast
        if fast is not None and self._last_out_pts is not None:
            self._last_src_pts = source_pts
            self._last_out_pts = (fast.member.last_timestamp - fast.timestamp_origin) & 0xFFFFFFFF
            self._last_out_time = sent_at

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
