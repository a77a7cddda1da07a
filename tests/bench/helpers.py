"""A bench script as its quick tests run it (so that the bench code cannot rot)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_bench(script: str, *args: str, out_dir: Path, timeout: float) -> tuple[Any, str]:
    """Run ``bench/<script> ARGS --out FILE``: the JSON it wrote and what it printed.

    A non-zero exit fails the test, showing the end of both output streams.
    """
    out = out_dir / f"{Path(script).stem}.json"
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *args, "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(out.read_text()), done.stdout
