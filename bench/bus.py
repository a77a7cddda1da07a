"""Benchmark of the live bus (server.bus): publish -> deliver, in-memory and Redis.

For each adapter, 10,000 events on 10 topics, two ways:
- ping-pong: publish one event, wait until the process's handler got it, repeat
  (latency = publish call to handler call, unloaded);
- pipelined: 100 workers publish concurrently (throughput = events / time until the last
  one was delivered; latency as above, under load).

Redis: the server at $CLASSROOM_BENCH_REDIS (default redis://127.0.0.1:6379/0) under a unique
key prefix that is deleted afterwards; skipped if Redis cannot be reached. Every run is
bounded by a 120 s timeout.

Run: .venv/bin/python bench/bus.py
"""

from __future__ import annotations

import asyncio
import os
import platform
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import redis.asyncio as aioredis

from server.bus import Bus, BusEvent, BusUnavailable, MemoryBus, RedisBus

EVENTS = 10_000
TOPICS = 10
IN_FLIGHT = 100
RUN_TIMEOUT = 120.0
REDIS_URL = os.environ.get("CLASSROOM_BENCH_REDIS", "redis://127.0.0.1:6379/0")
PAYLOAD = {"kind": "question_on_air", "question_id": 1234, "text": "如何做好错时参训?", "votes": 17}


class Recorder:
    def __init__(self) -> None:
        self.sent_at: dict[tuple[str, int], float] = {}
        self.latencies: list[float] = []
        self.count = 0
        self.target = 0
        self.done = asyncio.Event()

    def expect(self, count: int) -> None:
        self.count, self.target = 0, count
        self.latencies.clear()
        self.done.clear()

    def __call__(self, topic: str, event: BusEvent) -> None:
        now = time.perf_counter()
        started = self.sent_at.pop((topic, event.payload["n"]), None)
        if started is not None:
            self.latencies.append(now - started)
        self.count += 1
        if self.count >= self.target:
            self.done.set()


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


async def ping_pong(bus: Bus, rec: Recorder) -> list[float]:
    rec.expect(EVENTS)
    for n in range(EVENTS):
        topic = f"session:{n % TOPICS}"
        target = rec.count + 1
        rec.sent_at[(topic, n)] = time.perf_counter()
        await bus.publish(topic, "tick", {**PAYLOAD, "n": n})
        while rec.count < target:
            await asyncio.sleep(0)
    return list(rec.latencies)


async def pipelined(bus: Bus, rec: Recorder) -> tuple[float, list[float]]:
    """IN_FLIGHT workers (think: request handlers) publish EVENTS between them."""
    rec.expect(EVENTS)

    async def worker(first: int) -> None:
        for n in range(first, EVENTS, IN_FLIGHT):
            topic = f"session:{n % TOPICS}"
            rec.sent_at[(topic, n)] = time.perf_counter()
            await bus.publish(topic, "tick", {**PAYLOAD, "n": n})
            await asyncio.sleep(0)  # a handler yields; the in-memory publish itself never does

    started = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(IN_FLIGHT)))
    await rec.done.wait()
    return time.perf_counter() - started, list(rec.latencies)


async def run(name: str, bus: Bus) -> None:
    rec = Recorder()
    bus.subscribe(rec)
    await bus.start()
    try:
        async with asyncio.timeout(RUN_TIMEOUT):
            lat = await ping_pong(bus, rec)
            print(
                f"{name:7} ping-pong  {len(lat):6d} ev  p50 {pct(lat, 0.5):8.1f} us"
                f"  p99 {pct(lat, 0.99):8.1f} us  mean {statistics.fmean(lat) * 1e6:8.1f} us"
            )
            elapsed, lat = await pipelined(bus, rec)
            print(
                f"{name:7} pipelined  {EVENTS / elapsed:8.0f} ev/s  p50 {pct(lat, 0.5):8.1f} us"
                f"  p99 {pct(lat, 0.99):8.1f} us  ({IN_FLIGHT} in flight)"
            )
    finally:
        await bus.close()


async def main() -> None:
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs")
    print(f"{EVENTS} events on {TOPICS} topics, payload {len(str(PAYLOAD))} chars")
    await run("memory", MemoryBus(node_id="bench"))
    prefix = f"bench:{uuid.uuid4().hex}:"
    try:
        await run("redis", RedisBus(REDIS_URL, prefix=prefix, node_id="bench", op_timeout=5.0))
    except BusUnavailable as exc:
        print(f"redis    skipped: {exc}")
    finally:
        client = aioredis.Redis.from_url(REDIS_URL, socket_connect_timeout=1.0)
        try:
            keys = [k async for k in client.scan_iter(match=f"{prefix}*", count=500)]
            if keys:
                await client.delete(*keys)
        except Exception:
            pass
        finally:
            await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
