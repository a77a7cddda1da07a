"""A node is lost and all its browsers reconnect at once (issue 18 item 2).

Two ``classroom-server`` processes on one PostgreSQL database and one Redis bus; ``--browsers``
pages (``bench/page_clients.py``: live.js's subscribe / resume / back-off + jitter, with the
balancer's failover), half on each node, in ``--workers`` client processes, all subscribed to
one session topic; events are published on the topic throughout (``--rate`` a second, through
the bus, as ``Live.announce`` does). Then the first node is killed with SIGKILL. Measured from
the kill: when each of its browsers is live again on the other node (socket open, subscription
answered: its ``pong`` after the answer arrived), and at the end whether every browser holds
the topic's last event (no event lost over the outage: replayed or resynced).

Run: .venv/bin/python bench/reconnect_storm.py [--browsers 10000] [--workers 4] [--nice -10]
                                                [--out f.json]
Needs PostgreSQL (as the tests) and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from control_plane import (  # noqa: E402
    REDIS_URL,
    drop_redis_prefix,
    make_ours_world,
    ours_env,
    session_priority,
)
from measure import arguments, cpu_seconds, machine, pct  # noqa: E402
from page_clients import worker_main  # noqa: E402
from workers import WorkerPool  # noqa: E402

from tests.server_process import ServerProcess  # noqa: E402


class Workers(WorkerPool):
    """``count`` processes of simulated pages (page_clients.py), driven over pipes."""

    def __init__(self, count: int) -> None:
        super().__init__(worker_main, count, timeout=300)

    async def stop(self) -> None:
        try:
            await self.call("close", timeout=30)
            await self.call("exit", timeout=10)
        except Exception:  # a worker that is gone is stopped below
            pass
        self.reap()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    from server.bus.redis_bus import RedisBus

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="bench-reconnect-"))
    workers = Workers(args.workers)
    world = await make_ours_world(args.browsers, 0)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    nodes: list[ServerProcess] = []
    bus = RedisBus(REDIS_URL, prefix=prefix, node_id="bench-publisher")
    publishing: asyncio.Task[None] | None = None
    try:
        nodes = list(
            await asyncio.gather(
                *(
                    asyncio.to_thread(
                        ServerProcess(
                            work / f"node-{i}", env=ours_env(world, prefix, f"node-{i}")
                        ).start
                    )
                    for i in range(2)
                )
            )
        )
        for pid in [os.getpid(), *(n.proc.pid for n in nodes if n.proc is not None)] + [
            p.pid for p in workers.procs if p.pid is not None
        ]:
            os.setpriority(os.PRIO_PROCESS, pid, args.nice)
        bus.subscribe(lambda topic, event: None)
        await bus.start()
        topic = f"session:{world.session_id}"
        ports = [n.port for n in nodes]
        last_seq = 0

        async def publish(kind: str) -> None:
            nonlocal last_seq
            event = await bus.publish(topic, kind, {"session_id": world.session_id, "n": last_seq})
            last_seq = event.seq

        await publish("bench_started")

        # page i goes to worker i % workers; ``--on-killed`` of each worker's pages start on
        # the node that will be killed (node 0), spread evenly, the rest on node 1
        def home(i: int) -> int:
            j = i // args.workers
            return 0 if int((j + 1) * args.on_killed) > int(j * args.on_killed) else 1

        homes = [home(i) for i in range(args.browsers)]
        pages = [
            {"token": world.tokens[i], "ports": ports[h:] + ports[:h], "topic": topic}
            for i, h in enumerate(homes)
        ]
        started = time.monotonic()
        shares = [
            {"pages": pages[w :: args.workers], "concurrency": args.concurrency, "budget": 240}
            for w in range(args.workers)
        ]
        connected = await workers.call("connect", shares)
        connect_s = time.monotonic() - started
        live = sum(r["live"] for r in connected)
        print(f"{live}/{args.browsers} browsers live in {connect_s:.1f} s", flush=True)

        async def keep_publishing() -> None:
            while True:
                await asyncio.sleep(1 / args.rate)
                await publish("question_on_air")

        publishing = asyncio.create_task(keep_publishing())
        await asyncio.sleep(1.0)
        survivor = nodes[1]
        assert survivor.proc is not None and nodes[0].proc is not None
        cpu0 = cpu_seconds(survivor.proc.pid)
        killed_at = time.monotonic()
        nodes[0].proc.send_signal(signal.SIGKILL)
        nodes[0].proc.wait(timeout=10)
        print("node-0 killed", flush=True)
        deadline = killed_at + args.wait
        status: dict[str, int] = {}
        timeline: list[tuple[float, float, int]] = []  # (s since the kill, survivor CPU s, back)
        while time.monotonic() < deadline:
            await asyncio.sleep(0.25)
            replies = await workers.call("status", killed_at)
            status = {k: sum(r[k] for r in replies) for k in ("pages", "live", "lost", "back")}
            timeline.append(
                (
                    round(time.monotonic() - killed_at, 2),
                    round(cpu_seconds(survivor.proc.pid) - cpu0, 2),
                    status["back"],
                )
            )
            if status["lost"] and status["back"] == status["lost"] and status["live"] == live:
                break
        cpu_storm = cpu_seconds(survivor.proc.pid) - cpu0
        # events keep flowing a moment to the pages that came back (a fast storm may be over
        # before the next event, and what comes after it must reach them too)
        await asyncio.sleep(1.5)
        publishing.cancel()
        await asyncio.gather(publishing, return_exceptions=True)
        await publish("bench_done")
        await asyncio.sleep(args.settle)  # the last event reaches every page
        collected = await workers.call("collect", killed_at)
        back = sorted(t for r in collected for t in r["back_s"])
        attempts = [a for r in collected for a in r["attempts"]]
        lost_s = sorted(t for r in collected for t in r["lost_s"])
        tried_s = sorted(t for r in collected for t in r["tried_s"])
        open_s = sorted(t for r in collected for t in r["open_s"])
        cursors = [c for r in collected for c in r["cursors"]]
        on_survivor = sum(1 for r in collected for p in r["ports"] if p == survivor.port)
        result = {
            "browsers": args.browsers,
            "workers": args.workers,
            "on_killed_node": sum(1 for h in homes if h == 0),
            "connect_s": round(connect_s, 1),
            "live_before": live,
            "lost": status.get("lost", 0),
            "back": len(back),
            "not_back": sum(r["not_back"] for r in collected),
            "noticed_p50_s": round(pct(lost_s, 50), 2),
            "noticed_max_s": round(lost_s[-1], 2) if lost_s else None,
            "last_try_p50_s": round(pct(tried_s, 50), 2),
            "handshake_p50_s": round(pct(open_s, 50), 2),
            "back_within_10s": sum(1 for t in back if t <= 10.0),
            "back_p50_s": round(pct(back, 50), 2),
            "back_p99_s": round(pct(back, 99), 2),
            "back_max_s": round(back[-1], 2) if back else None,
            "attempts_max": max(attempts, default=0),
            "attempts_mean": round(sum(attempts) / len(attempts), 2) if attempts else None,
            "on_survivor": on_survivor,
            "events_published": last_seq,
            "at_last_event": sum(1 for c in cursors if c is not None and c[1] == last_seq),
            "skipped_events": sum(r["skipped"] for r in collected),
            "refused_handshakes": sum(r["failures"] for r in collected),
            "resyncs": sum(r["resyncs"] for r in collected),
            "survivor_cpu_s_until_back": round(cpu_storm, 2),
            "timeline": timeline,
        }
        return result
    finally:
        if publishing is not None:
            publishing.cancel()
        await workers.stop()
        await bus.close()
        for node in nodes:
            node.stop()
        await drop_redis_prefix(prefix)
        await world.drop()


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--browsers", type=int, default=10000)
    parser.add_argument("--workers", type=int, default=4, help="client processes")
    parser.add_argument(
        "--on-killed",
        type=float,
        default=0.5,
        help="share of the browsers on the node that is killed (1: all of them reconnect)",
    )
    parser.add_argument("--concurrency", type=int, default=200, help="first connects in flight")
    parser.add_argument("--rate", type=float, default=2.0, help="events a second on the topic")
    parser.add_argument("--wait", type=float, default=30.0, help="s to wait for everyone back")
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of the nodes, the client processes, this one and this "
        "session's autogroup (as root, e.g. -10: the figures then depend less on other load "
        "on a shared machine; put back at the end)",
    )
    parser.add_argument("--out", help="write the result as JSON here")
    args = parser.parse_args(argv)
    started = time.monotonic()
    with session_priority(args.nice):
        result = asyncio.run(run(args))
    print(json.dumps(result, indent=1))
    print(
        f"\n{result['back']}/{result['lost']} browsers of the killed node back within "
        f"{result['back_max_s']} s (p50 {result['back_p50_s']} s, p99 {result['back_p99_s']} s; "
        f"{result['back_within_10s']} within 10 s); {result['at_last_event']}/"
        f"{result['browsers']} hold the last of {result['events_published']} events"
    )
    print(
        f"{machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
