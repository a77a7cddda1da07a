"""What a site publishes: a generated test pattern (a clock and a tone), a media file, or a
V4L2 camera with an ALSA microphone; scaled and paced to the size the server asks for."""

from __future__ import annotations

import asyncio
import fractions
import math
import struct
import time
from dataclasses import dataclass
from typing import Any

import av
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

VIDEO_CLOCK = 90000
AUDIO_RATE = 48000
AUDIO_PTIME = 0.020

# 3x5 digit font, one string per row: '#' is lit
_FONT: dict[str, tuple[str, ...]] = {
    "0": ("###", "#.#", "#.#", "#.#", "###"),
    "1": (".#.", "##.", ".#.", ".#.", "###"),
    "2": ("###", "..#", "###", "#..", "###"),
    "3": ("###", "..#", "###", "..#", "###"),
    "4": ("#.#", "#.#", "###", "..#", "..#"),
    "5": ("###", "#..", "###", "..#", "###"),
    "6": ("###", "#..", "###", "#.#", "###"),
    "7": ("###", "..#", "..#", "..#", "..#"),
    "8": ("###", "#.#", "###", "#.#", "###"),
    "9": ("###", "#.#", "###", "..#", "###"),
    ":": ("...", ".#.", "...", ".#.", "..."),
    ".": ("...", "...", "...", "...", ".#."),
    " ": ("...", "...", "...", "...", "..."),
}


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: str  # none, testpattern, file, v4l2
    target: str = ""

    @property
    def publishes(self) -> bool:
        return self.kind != "none"


def parse_source(text: str) -> SourceSpec:
    """``none``, ``testpattern``, ``file:PATH`` or ``v4l2:/dev/videoN``."""
    value = text.strip()
    if value in ("none", "testpattern"):
        return SourceSpec(value)
    kind, sep, target = value.partition(":")
    if sep and kind in ("file", "v4l2") and target:
        return SourceSpec(kind, target)
    raise ValueError(
        f"source must be none, testpattern, file:PATH or v4l2:/dev/videoN, got {text!r:.80}"
    )


def parse_size(text: str) -> tuple[int, int]:
    width, sep, height = text.lower().partition("x")
    if not sep or not width.isdigit() or not height.isdigit():
        raise ValueError(f"a size is WIDTHxHEIGHT (e.g. 640x480), got {text!r:.40}")
    w, h = int(width), int(height)
    if not (16 <= w <= 3840 and 16 <= h <= 2160) or w % 2 or h % 2:
        raise ValueError(f"{text}: width and height must be even, 16x16 to 3840x2160")
    return w, h


class _Paced(MediaStreamTrack):
    """Frames at a fixed rate from the first ``recv()`` on."""

    def __init__(self, rate: float) -> None:
        super().__init__()
        self._rate = rate
        self._start: float | None = None
        self._count = 0

    async def _next(self) -> int:
        if self.readyState != "live":
            raise MediaStreamError
        if self._start is None:
            self._start = time.time()
            self._count = 0
        else:
            self._count += 1
            wait = self._start + self._count / self._rate - time.time()
            if wait > 0:
                await asyncio.sleep(wait)
        return self._count


class TestPatternVideo(_Paced):
    """A gray ramp, a moving bar and a clock (HH:MM:SS.t, local time) drawn in the picture."""

    kind = "video"

    def __init__(self, width: int, height: int, fps: float, label: str = "") -> None:
        super().__init__(fps)
        self.width, self.height, self.fps = width, height, fps
        self._base = bytes((16 + (x * 200) // max(1, width)) for x in range(width)) * height
        self._chroma = bytes([128]) * ((width // 2) * (height // 2))
        self._scale = max(2, height // 40)
        self.frames = 0

    async def recv(self) -> av.VideoFrame:
        n = await self._next()
        luma = bytearray(self._base)
        w, h = self.width, self.height
        bar = (n * 4) % w
        for y in range(h - h // 8, h):  # a moving bar shows motion at a glance
            row = y * w
            luma[row + bar : row + min(w, bar + w // 16)] = b"\xeb" * (min(w, bar + w // 16) - bar)
        now = time.time()
        text = time.strftime("%H:%M:%S", time.localtime(now)) + f".{int(now * 10) % 10}"
        self._draw(luma, text, self._scale * 2, self._scale * 2)
        frame = av.VideoFrame(w, h, "yuv420p")
        frame.planes[0].update(_pad(luma, w, h, frame.planes[0].line_size))
        for plane in frame.planes[1:]:
            plane.update(_pad(self._chroma, w // 2, h // 2, plane.line_size))
        frame.pts = int(n * VIDEO_CLOCK / self.fps)
        frame.time_base = fractions.Fraction(1, VIDEO_CLOCK)
        self.frames += 1
        return frame

    def _draw(self, luma: bytearray, text: str, x0: int, y0: int) -> None:
        s, w = self._scale, self.width
        for i, ch in enumerate(text):
            glyph = _FONT.get(ch, _FONT[" "])
            for gy, row in enumerate(glyph):
                for gx, cell in enumerate(row):
                    if cell != "#":
                        continue
                    x = x0 + (i * 4 + gx) * s
                    if x + s > w:
                        continue
                    for y in range(y0 + gy * s, min(self.height, y0 + (gy + 1) * s)):
                        luma[y * w + x : y * w + x + s] = b"\xeb" * s


def _pad(data: bytes | bytearray, width: int, height: int, line_size: int) -> bytes:
    if line_size == width:
        return bytes(data)
    pad = b"\x00" * (line_size - width)
    return b"".join(bytes(data[y * width : (y + 1) * width]) + pad for y in range(height))


class ToneAudio(_Paced):
    """A 1 kHz tone, 20 ms frames of mono 48 kHz s16."""

    kind = "audio"

    def __init__(self, level: float = 0.1) -> None:
        super().__init__(1 / AUDIO_PTIME)
        samples = int(AUDIO_RATE * AUDIO_PTIME)
        amplitude = int(32767 * level)
        self._pcm = struct.pack(
            f"<{samples}h",
            *(
                round(amplitude * math.sin(2 * math.pi * 1000 * i / AUDIO_RATE))
                for i in range(samples)
            ),
        )
        self._samples = samples

    async def recv(self) -> av.AudioFrame:
        n = await self._next()
        frame = av.AudioFrame(format="s16", layout="mono", samples=self._samples)
        frame.planes[0].update(self._pcm)
        frame.pts = n * self._samples
        frame.sample_rate = AUDIO_RATE
        frame.time_base = fractions.Fraction(1, AUDIO_RATE)
        return frame


class ScaledVideo(MediaStreamTrack):
    """Another video track scaled to ``width``×``height`` and thinned to at most ``fps``."""

    kind = "video"

    def __init__(self, source: Any, width: int, height: int, fps: float) -> None:
        super().__init__()
        self._source = source
        self._size = (width, height)
        self._gap = 1 / fps
        self._last = 0.0

    async def recv(self) -> av.VideoFrame:
        while True:
            frame = await self._source.recv()
            now = time.monotonic()
            if now - self._last >= self._gap * 0.9:
                self._last = now
                out: av.VideoFrame = frame.reformat(
                    width=self._size[0], height=self._size[1], format="yuv420p"
                )
                out.pts, out.time_base = frame.pts, frame.time_base
                return out

    def stop(self) -> None:
        super().stop()
        self._source.stop()


def open_source(
    spec: SourceSpec, width: int, height: int, fps: float, audio_device: str = ""
) -> tuple[Any, Any | None, Any | None]:
    """(video track, audio track or None, player to stop or None) for a source."""
    if spec.kind == "testpattern":
        return TestPatternVideo(width, height, fps), ToneAudio(), None
    from aiortc.contrib.media import MediaPlayer

    if spec.kind == "file":
        player = MediaPlayer(spec.target, loop=True)
        audio = player.audio
    elif spec.kind == "v4l2":
        player = MediaPlayer(
            spec.target,
            format="v4l2",
            options={"video_size": f"{width}x{height}", "framerate": str(int(fps))},
        )
        audio = MediaPlayer(audio_device, format="alsa").audio if audio_device else None
    else:
        raise ValueError(f"source {spec.kind} publishes nothing")
    if player.video is None:
        raise ValueError(f"{spec.target} has no video")
    return ScaledVideo(player.video, width, height, fps), audio, player
