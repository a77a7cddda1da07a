"""The cascade benchmark end to end with two towns, so that the bench code cannot rot: in
"direct" the server serves the district and both towns, in "cascade" only the district, and
every town receives the program in both."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow]


def test_cascade_bench_runs_both_modes_and_every_town_receives(tmp_path: Path) -> None:
    out = tmp_path / "cascade.json"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "bench" / "cascade.py"),
            "--towns",
            "2",
            "--window",
            "2",
            "--settle",
            "0.5",
            "--out",
            str(out),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    direct, cascade = json.loads(out.read_text())["rows"]
    assert (direct["mode"], direct["server_subscribers"]) == ("direct", 3)
    assert (cascade["mode"], cascade["server_subscribers"]) == ("cascade", 1)
    for row in (direct, cascade):
        assert row["district_fps"] > 5 and row["town_fps_min"] > 5, row
