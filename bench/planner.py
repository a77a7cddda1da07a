"""Benchmark of the staggered-batch planner (server.core.batches).

10,000 trainees in 40 units (seeded random): two leaders per unit, 5% unavailable in one slot,
300 keep-apart pairs, ~60 sites (one home site per unit plus 20 shared rooms) whose per-slot
capacity is 55% of the trainees homed there. Plans into 2 and 3 slots, 5 runs each.

Run: .venv/bin/python bench/planner.py
"""

from __future__ import annotations

import math
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from server.core.batches import (
    BatchProblem,
    BatchRules,
    Slot,
    Trainee,
    plan_batches,
    validate_plan,
)

TRAINEES = 10_000
UNITS = 40
SHARED_SITES = 20
PAIRS = 300
RUNS = 5


def build(k: int, seed: int = 7) -> BatchProblem:
    rng = random.Random(seed)
    slots = tuple(Slot(f"s{i + 1}", 3600.0 * 3 * i, 3600.0 * 3 * i + 7200.0) for i in range(k))
    weights = [rng.uniform(0.5, 1.5) for _ in range(UNITS)]
    sizes = [int(TRAINEES * w / sum(weights)) for w in weights]
    sizes[0] += TRAINEES - sum(sizes)
    trainees: list[Trainee] = []
    for u, size in enumerate(sizes):
        for i in range(size):
            tid = f"u{u:02d}-t{i:04d}"
            shared = rng.random() < 0.2
            site = f"shared-{rng.randrange(SHARED_SITES):02d}" if shared else f"home-{u:02d}"
            leader = i < 2
            unavailable: frozenset[str] = frozenset()
            if not leader and rng.random() < 0.05:
                unavailable = frozenset({rng.choice(slots).id})
            trainees.append(Trainee(tid, f"unit-{u:02d}", site, leader, unavailable))
    homed: dict[str, int] = {}
    for t in trainees:
        homed[t.site_id] = homed.get(t.site_id, 0) + 1
    capacity = {site: math.ceil(0.55 * n) for site, n in homed.items()}
    by_unit: dict[str, list[str]] = {}
    for t in trainees:
        by_unit.setdefault(t.unit_id, []).append(t.id)
    pairs: set[tuple[str, str]] = set()
    while len(pairs) < PAIRS:
        if rng.random() < 0.8:
            a, b = rng.sample(by_unit[f"unit-{rng.randrange(UNITS):02d}"], 2)
        else:
            a, b = (rng.choice(by_unit[f"unit-{rng.randrange(UNITS):02d}"]) for _ in range(2))
        if a != b:
            pairs.add((min(a, b), max(a, b)))
    rules = BatchRules(on_duty_share=0.5, keep_apart=tuple(sorted(pairs)))
    return BatchProblem(tuple(slots), tuple(trainees), capacity, rules)


def main() -> None:
    print(f"python {platform.python_version()} ({platform.python_implementation()})")
    print(f"machine {platform.machine()}, {platform.platform()}, {os.cpu_count()} CPUs")
    print(f"processor {_cpu_name()}")
    for k in (2, 3):
        problem = build(k)
        sites = len(problem.site_capacity)
        times = []
        plan = None
        for _ in range(RUNS):
            start = time.perf_counter()
            plan = plan_batches(problem)
            times.append(time.perf_counter() - start)
        assert plan is not None
        start = time.perf_counter()
        broken = validate_plan(problem, plan)
        check = time.perf_counter() - start
        print(
            f"k={k}: {len(problem.trainees)} trainees, {UNITS} units, {sites} sites, "
            f"{len(problem.rules.keep_apart)} keep-apart pairs -> "
            f"best {min(times) * 1000:.0f} ms, median {statistics.median(times) * 1000:.0f} ms "
            f"over {RUNS} runs; validate_plan {check * 1000:.0f} ms, "
            f"{len(broken)} violation(s)"
        )


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


if __name__ == "__main__":
    main()
