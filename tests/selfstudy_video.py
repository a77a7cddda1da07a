"""A tiny VP8 WebM for self-study tests: the demo's moving bars (server/store/demo_story.py),
160x90 at 5 frames a second (about 1 KB a second, encoded in well under a second for a minute
of video)."""

from __future__ import annotations

from pathlib import Path

from server.store.demo_story import write_test_pattern


def write_webm(path: Path, seconds: int) -> Path:
    write_test_pattern(path, seconds, size=(160, 90), fps=5, step=8)
    return path
