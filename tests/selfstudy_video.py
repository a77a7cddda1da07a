"""A tiny VP8 WebM for self-study tests: moving bars, 160x90 at 5 frames a second (about 1 KB
a second, encoded in well under a second for a minute of video)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

WIDTH, HEIGHT, FPS = 160, 90, 5


def write_webm(path: Path, seconds: int) -> Path:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    bars = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0)]
    line = b"".join(bytes(bars[x * len(bars) // WIDTH]) for x in range(WIDTH))
    with av.open(str(path), "w", format="webm") as container:
        stream: Any = container.add_stream("libvpx", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = WIDTH, HEIGHT, "yuv420p"
        stream.codec_context.time_base = Fraction(1, FPS)
        for i in range(seconds * FPS):
            shift = (i * 8 % WIDTH) * 3
            moved = line[shift:] + line[:shift]
            frame = av.VideoFrame(WIDTH, HEIGHT, "rgb24")
            plane = frame.planes[0]
            plane.update((moved + b"\0" * (plane.line_size - len(moved))) * HEIGHT)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path
