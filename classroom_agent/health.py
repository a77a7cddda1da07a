"""Site health for the heartbeat: pure builders plus one small reader of the load average."""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Literal

DisplayState = Literal["ok", "off", "error", "none"]
StreamState = Literal["ok", "bad", "none"]

LOADAVG_PATH = "/proc/loadavg"


def parse_loadavg(text: str) -> float:
    """The 1-minute load average from the text of ``/proc/loadavg`` (``"0.52 0.58 0.59 ..."``)."""
    parts = text.split()
    if not parts:
        raise ValueError("empty /proc/loadavg")
    value = float(parts[0])
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"bad load average {parts[0]!r}")
    return value


def cpu_load_share(load1: float, cpu_count: int | None) -> float:
    """Share of all cores busy, 0.0 to 1.0: the load average divided by the cores, clamped."""
    cpus = cpu_count if cpu_count and cpu_count > 0 else 1
    if not math.isfinite(load1) or load1 <= 0:
        return 0.0
    return min(1.0, load1 / cpus)


def read_cpu_load(path: str = LOADAVG_PATH) -> float:
    """The machine's CPU load share now; 0.0 where no load average exists (Windows)."""
    try:
        with open(path, encoding="ascii") as f:
            load1 = parse_loadavg(f.read())
    except (OSError, ValueError):
        try:
            load1 = os.getloadavg()[0]
        except (AttributeError, OSError):
            return 0.0
    return cpu_load_share(load1, os.cpu_count())


@dataclass(frozen=True, slots=True)
class StreamHealth:
    """The broadcast player's state; ``none`` until the media issue brings the player."""

    state: StreamState = "none"
    fps: float | None = None
    bitrate_kbps: float | None = None
    freezes_1m: int | None = None
    delay_ms: float | None = None

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {"state": self.state}
        for key in ("fps", "bitrate_kbps", "freezes_1m", "delay_ms"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        return out


@dataclass(frozen=True, slots=True)
class Health:
    """The ``health`` map of a heartbeat (``HEALTH`` in ``server/core/messages.py``)."""

    uptime_s: float
    rtt_ms: float | None
    cpu_load: float
    display_state: DisplayState
    checked_in: int
    stream: StreamHealth = field(default_factory=StreamHealth)

    def to_wire(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "uptime_s": round(max(0.0, self.uptime_s), 3),
            "cpu_load": round(min(1.0, max(0.0, self.cpu_load)), 3),
            "display_state": self.display_state,
            "stream": self.stream.to_wire(),
            "checked_in": max(0, self.checked_in),
        }
        if self.rtt_ms is not None:
            out["rtt_ms"] = round(max(0.0, self.rtt_ms), 1)
        return out
