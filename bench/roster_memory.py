"""Peak memory and time of reading the worst XLSX shapes under the upload cap (issue 14 item 7).

    .venv/bin/python bench/roster_memory.py            # this checkout's server/roster_files.py
    PYTHONPATH=/path/to/other/checkout .venv/bin/python bench/roster_memory.py --timeout 120

Each shape is read in a fresh child process (peak RSS of that process, ru_maxrss).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.security import xlsx_shapes  # noqa: E402

CHILD = """
import json, resource, sys, time
from server import roster_files
from server.core.errors import DomainError
data = open(sys.argv[1], "rb").read()
started = time.perf_counter()
try:
    header, rows = roster_files.read_table(data, "x.xlsx", max_bytes=6 * 1024 * 1024)
    outcome = f"read {len(rows)} rows"
except DomainError as exc:
    outcome = exc.code
print(json.dumps({"outcome": outcome, "seconds": round(time.perf_counter() - started, 2),
                  "peak_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)}))
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--timeout", type=float, default=120.0)
    args = parser.parse_args()
    shapes = {
        "one row of 3,000,000 cells": xlsx_shapes.one_row_of_millions(),
        "header + blank rows to 1,048,576": xlsx_shapes.blank_rows(),
        "599 rows of 1,000 blank cells": xlsx_shapes.blank_cells_everywhere(),
        "honest roster, 20,000 trainees": xlsx_shapes.honest_roster(20_000),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name, data in shapes.items():
            path = Path(tmp) / "f.xlsx"
            path.write_bytes(data)
            try:
                done = subprocess.run(
                    [sys.executable, "-c", CHILD, str(path)],
                    capture_output=True,
                    text=True,
                    timeout=args.timeout,
                    check=False,
                )
                result = json.loads(done.stdout.strip().splitlines()[-1])
            except subprocess.TimeoutExpired:
                result = {"outcome": f"still reading after {args.timeout:g} s (killed)"}
            print(f"{name:36s} {len(data) / 1024:7.0f} KiB  {json.dumps(result)}", flush=True)


if __name__ == "__main__":
    main()
