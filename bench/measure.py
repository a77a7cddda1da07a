"""What the bench scripts read off a server process from outside (CPU time and RSS from
/proc), the percentile they report, and the line that says which machine the numbers came from."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_times(pid: int) -> tuple[float, float]:
    """User and system CPU time the process has used so far (from /proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    return int(fields[11]) / tick, int(fields[12]) / tick


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far (from /proc/<pid>/stat)."""
    return sum(cpu_times(pid))


def rss_kib(pid: int) -> int:
    """The process's resident memory in KiB (from /proc/<pid>/status); 0 if not stated."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def pct(values: list[float], p: float) -> float:
    """The ``p``-th percentile (0 to 100) of ``values``, nearest rank; NaN for none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def machine() -> str:
    """``machine: <processor>, <n> CPUs, Python <version>``: printed under every result."""
    processor = platform.processor() or platform.machine()
    return f"machine: {processor}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
