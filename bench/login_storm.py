"""/healthz latency during a storm of wrong admin passwords, and how many were let through
(issue 14 item 5). Starts its own demo server on loopback from the current directory's
``server`` package (run it from another checkout to measure that one).

    .venv/bin/python bench/login_storm.py [--guesses 200] [--concurrency 10]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.server_process import ServerProcess


async def storm(url: str, guesses: int, concurrency: int) -> None:
    statuses: Counter[int] = Counter()
    latencies: list[float] = []
    done = asyncio.Event()
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as attacker,
        aiohttp.ClientSession() as probe,
    ):

        async def guess(i: int) -> None:
            body = {"username": "admin", "password": f"wrong-{i}"}
            async with attacker.post(url + "/api/v1/auth/login", json=body) as r:
                statuses[r.status] += 1

        async def probing() -> None:
            while not done.is_set():
                started = time.perf_counter()
                async with probe.get(url + "/healthz") as r:
                    assert r.status == 200
                latencies.append((time.perf_counter() - started) * 1000)
                await asyncio.sleep(0.02)

        prober = asyncio.create_task(probing())
        started = time.perf_counter()
        await asyncio.gather(*(guess(i) for i in range(guesses)))
        elapsed = time.perf_counter() - started
        done.set()
        await prober
    print(
        f"{guesses} wrong passwords in {elapsed:.1f} s: {dict(statuses)} "
        f"(checked: {statuses[401]}); /healthz during the storm: median "
        f"{statistics.median(latencies):.1f} ms, max {max(latencies):.1f} ms, n={len(latencies)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--guesses", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        srv = ServerProcess(Path(tmp), None, "--demo").start(timeout=120)
        try:
            asyncio.run(storm(srv.url, args.guesses, args.concurrency))
        finally:
            srv.stop()


if __name__ == "__main__":
    main()
