"""The cascade benchmark end to end with two towns, so that the bench code cannot rot: in
"direct" the server serves the district and both towns, in "cascade" only the district, and
every town receives the program in both."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.helpers import run_bench

pytestmark = [pytest.mark.slow]


def test_cascade_bench_runs_both_modes_and_every_town_receives(tmp_path: Path) -> None:
    result, _ = run_bench(
        "cascade.py",
        "--towns",
        "2",
        "--window",
        "2",
        "--settle",
        "0.5",
        out_dir=tmp_path,
        timeout=120,
    )
    direct, cascade = result["rows"]
    assert (direct["mode"], direct["server_subscribers"]) == ("direct", 3)
    assert (cascade["mode"], cascade["server_subscribers"]) == ("cascade", 1)
    for row in (direct, cascade):
        assert row["district_fps"] > 5 and row["town_fps_min"] > 5, row
