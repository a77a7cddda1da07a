"""What the bench scripts share: what they read off a server process from outside (CPU time and
RSS from /proc), the percentile they report, their argument parser, and the line that says which
machine the numbers came from (printed under the results)."""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
from collections.abc import Coroutine
from pathlib import Path
from typing import Any


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


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """A bench script's argument parser, whose ``--help`` shows ``doc`` (the script's docstring)
    as written."""
    return argparse.ArgumentParser(
        description=doc, formatter_class=argparse.RawDescriptionHelpFormatter
    )


def run_and_report(measurement: Coroutine[Any, Any, None]) -> None:
    """Run a bench script's measurement (which prints its results), then print the machine line
    under them."""
    asyncio.run(measurement)
    print(machine())
