"""Recording the program without re-encoding, and replaying a recording as a live source.

:class:`Recorder` is an in-process subscriber of the relay (``Relay.open_feed``): it gets the
program's encoded frames, exactly what every site gets, floor switches included (they happen
at keyframes), and muxes them with PyAV into WebM (VP8 + Opus) or MP4 (H264 + Opus). Nothing is
decoded except the first keyframe, once, to learn the picture size for the file header. The
file starts at a keyframe. H264 arrives from WebRTC as Annex-B access units whose keyframes
carry their SPS/PPS in band; the MP4's ``avcC`` is made from the first keyframe's own SPS/PPS
(not from an encoder's), the muxer stores the samples length-prefixed, and the in-band
SPS/PPS stay in every keyframe so a floor switch to a source with another picture size
decodes.
Timestamps are the arrival times at the recorder (milliseconds from the start), so audio and
video stay in step across source switches. While recording, the program's source is asked
for a keyframe every ``keyframe_every`` seconds so a replay can be joined at any time.

:class:`Replay` reads such a file and pushes its frames, paced by their timestamps, into the
relay as an in-process publisher: the relay forwards them like a live feed (H264 from an MP4
is turned back into Annex-B, with SPS/PPS before each keyframe, as WebRTC senders need).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from server.media.forward import EncodedFrame
from server.media.relay import KINDS, LocalPublisher, ProgramFeed, Relay, is_keyframe
from server.private_files import private_dir, private_file

log = logging.getLogger(__name__)

MS = Fraction(1, 1000)
FORMATS = {"VP8": ("webm", "libvpx", ".webm"), "H264": ("mp4", "libx264", ".mp4")}
_DECODERS = {"video/vp8": "vp8", "video/h264": "h264"}


def recording_suffix(video_codec: str) -> str:
    return FORMATS[video_codec][2]


@dataclass(slots=True)
class RecordingResult:
    path: Path
    format: str
    bytes: int
    duration_s: float
    video_frames: int
    audio_frames: int
    switches: list[dict[str, Any]] = field(default_factory=list)


class Recorder:
    """Records what ``peer_id`` (an in-process subscriber following the program) receives."""

    def __init__(
        self,
        relay: Relay,
        path: Path,
        video_codec: str = "VP8",
        peer_id: str = "recorder",
        keyframe_every: float = 4.0,
    ) -> None:
        self.relay = relay
        self.path = path
        self.format, self._video_encoder, _ = FORMATS[video_codec]
        self.peer_id = peer_id
        self.keyframe_every = keyframe_every
        self.switches: list[dict[str, Any]] = []
        self._container: Any = None
        self._streams: dict[str, Any] = {}
        self._t0 = 0.0
        self._last_pts: dict[str, int] = {}
        self._frames = dict.fromkeys(KINDS, 0)
        self._tasks: list[asyncio.Task[None]] = []
        self._feeds: dict[str, ProgramFeed] = {}
        self._source: str | None = None

    def start(self) -> None:
        private_dir(self.path.parent)
        self._t0 = time.monotonic()
        for kind in KINDS:
            feed = self.relay.open_feed(self.peer_id, kind)
            self._feeds[kind] = feed
            self._tasks.append(asyncio.create_task(self._pump(kind, feed), name=f"rec-{kind}"))
        self._tasks.append(asyncio.create_task(self._keyframes(), name="rec-keyframes"))

    async def stop(self) -> RecordingResult:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.relay.close_subscriber(self.peer_id)
        if self._container is not None:
            self._container.close()
            self._container = None
        size = self.path.stat().st_size if self.path.exists() else 0
        return RecordingResult(
            path=self.path,
            format=self.format,
            bytes=size,
            duration_s=round(max(self._last_pts.values(), default=0) / 1000, 3),
            video_frames=self._frames["video"],
            audio_frames=self._frames["audio"],
            switches=list(self.switches),
        )

    async def _keyframes(self) -> None:
        while True:
            await asyncio.sleep(self.keyframe_every)
            self._feeds["video"].request_keyframe()

    async def _pump(self, kind: str, feed: ProgramFeed) -> None:
        while True:
            packet = await feed.recv()
            if kind == "video" and feed.source != self._source:
                self._source = feed.source
                self.switches.append(
                    {"at_s": round(time.monotonic() - self._t0, 3), "program": feed.source}
                )
            try:
                self._write(kind, bytes(packet))
            except Exception:  # one bad frame must not end the recording
                log.exception("recorder could not write a %s frame", kind)

    def _write(self, kind: str, data: bytes) -> None:
        keyframe = kind == "video" and is_keyframe(
            EncodedFrame(f"video/{self._codec_name()}", data, 0, 90000)
        )
        if self._container is None:
            if not keyframe:
                return  # the file starts at a keyframe; audio before the first picture is not kept
            self._open(data)
            # Time starts at the first picture, not when recording was asked for (a broadcast
            # whose camera came 51 s later replayed 51 s of nothing first).
            self._t0 = time.monotonic()
            for switch in self.switches:
                switch["at_s"] = 0.0
        stream = self._streams[kind]
        pts = round((time.monotonic() - self._t0) * 1000)
        pts = max(pts, self._last_pts.get(kind, -1) + 1)
        self._last_pts[kind] = pts
        packet = av.Packet(data)
        packet.stream = stream
        packet.time_base = MS
        packet.pts = packet.dts = pts
        if kind == "video":
            packet.is_keyframe = keyframe
        self._container.mux(packet)
        self._frames[kind] += 1

    def _codec_name(self) -> str:
        return "vp8" if self.format == "webm" else "h264"

    def _open(self, keyframe: bytes) -> None:
        private_file(self.path)  # 0600 before the muxer opens it (it keeps the mode)
        if self.format == "mp4":
            # The stream's parameters (size, profile, SPS/PPS as extradata -> avcC) come from the
            # keyframe itself; no encoder is opened, so none can put its own SPS/PPS in the file.
            with av.open(io.BytesIO(keyframe), format="h264") as probe:
                template = h264_stream(probe)
                container: Any = av.open(str(self.path), "w", format=self.format)
                video = container.add_stream_from_template(template)
        else:
            width, height = picture_size(self._codec_name(), keyframe)
            container = av.open(str(self.path), "w", format=self.format)
            video = container.add_stream(self._video_encoder, rate=30)
            video.width, video.height = width, height
            video.pix_fmt = "yuv420p"
        video.time_base = MS
        audio = container.add_stream("libopus", rate=48000)
        audio.layout = "stereo"
        audio.time_base = MS
        self._container = container
        self._streams = {"video": video, "audio": audio}


def picture_size(codec: str, keyframe: bytes) -> tuple[int, int]:
    """Width and height of a keyframe (decoded once)."""
    decoder: Any = av.CodecContext.create(codec, "r")
    frames = decoder.decode(av.Packet(keyframe))
    if not frames:
        frames = decoder.decode(None)
    if not frames:
        raise ValueError("the first keyframe could not be decoded")
    return int(frames[0].width), int(frames[0].height)


def h264_stream(probe: Any) -> Any:
    """The video stream of ``probe`` (an H264 Annex-B keyframe opened as raw ``h264``) if it
    describes the picture (size, profile, SPS/PPS as extradata), for ``add_stream_from_template``.
    """
    stream = probe.streams.video[0] if probe.streams.video else None
    if stream is None or not stream.codec_context.width or not stream.codec_context.extradata:
        raise ValueError("the first H264 keyframe has no usable SPS/PPS")
    return stream


class Replay:
    """Plays a recording into the relay as publisher ``peer_id``, paced, looping."""

    def __init__(self, relay: Relay, peer_id: str, path: Path, loop: bool = True) -> None:
        self.relay = relay
        self.peer_id = peer_id
        self.path = path
        self.loop = loop
        self.frames_sent = 0
        self._task: asyncio.Task[None] | None = None
        self._publisher: LocalPublisher | None = None

    def start(self) -> None:
        self._publisher = self.relay.add_local_publisher(self.peer_id)
        self._task = asyncio.create_task(self._play(), name=f"replay-{self.peer_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.relay.close_publisher(self.peer_id)

    async def _play(self) -> None:
        assert self._publisher is not None
        offset = 0.0  # seconds of earlier loops
        while True:
            start = time.monotonic()
            end = 0.0
            first: float | None = None  # paced from the first frame, wherever the file starts
            with av.open(str(self.path)) as container:
                annexb = {
                    s.index: av.BitStreamFilterContext("h264_mp4toannexb", in_stream=s)
                    for s in container.streams.video
                    if s.codec_context.name == "h264" and _is_avcc(s.codec_context.extradata)
                }
                for packet in container.demux():
                    if packet.size == 0 or packet.pts is None:
                        continue
                    stream = packet.stream
                    kind = str(stream.type)
                    codec = f"{kind}/{stream.codec_context.name}"
                    if kind not in KINDS:
                        continue
                    at = float(packet.pts * packet.time_base)
                    if first is None:
                        first = at
                    at = max(0.0, at - first)
                    end = max(end, at)
                    delay = start + at - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    rate = 90000 if kind == "video" else 48000
                    bsf = annexb.get(stream.index)
                    for data in [bytes(p) for p in bsf.filter(packet)] if bsf else [bytes(packet)]:
                        self._publisher.push(
                            kind, EncodedFrame(codec, data, round((offset + at) * rate), rate)
                        )
                        self.frames_sent += 1
            if not self.loop:
                return
            offset += end + 0.05
            await asyncio.sleep(0.05)


def _is_avcc(extradata: bytes | None) -> bool:
    """H264 extradata in MP4's avcC form (samples length-prefixed), not Annex-B."""
    return extradata is not None and len(extradata) > 0 and extradata[0] == 1
