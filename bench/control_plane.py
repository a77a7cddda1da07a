"""Control-plane fan-out, side by side in ONE run, the same client harness and payload for all:

* ``r1``   a minimal server on ``websockets``' ``broadcast()`` (``bench/peers/r1_websockets.py``),
* ``r2``   python-socketio on aiohttp, one room per topic (``bench/peers/r2_socketio.py``),
* ``ours`` the real ``classroom-server`` ``/ws/client`` path; the event is published on the
  Redis bus the server listens to (``RedisBus.publish``, what ``Live.announce`` calls),

then two extra rows for ours through the operator's real HTTP call (``POST
/questions/{id}/on-air``): ``ours-onair`` (one process, in-memory bus) and ``cluster`` (two
processes on Redis, clients split across them, the call made on the first).

Each server runs in its own process (its CPU time read from /proc/<pid>/stat, its RSS from
/proc/<pid>/status); the clients are raw asyncio WebSocket clients in ``--workers`` other
processes (``bench/cp_clients.py``). An event (a question put on air, ~300 bytes of JSON
carrying an event id) is published at t0 (monotonic clock, the same on every process of the
machine); each socket records when it arrived. Reported per server and socket count:
connections held, fan-out p50/p99 (t0 → socket), server CPU time per delivered event, RSS per
idle socket; at the first size, a stream of events without and with one client that stops
reading (small receive window): the others' p99, and what became of the stalled client.

``--storm N`` adds the connect-storm row first (issue 18 item 2): N sockets opened at once
(``--storm-concurrency`` in flight per client process), each until subscribed (the ``resync``
of its topic arrived; for ``ours``: cookie sign-in, participation check, cursor, snapshot):
sockets per second, per-socket p50/p99, and the CPU each socket cost the server and the
clients (the clients' cost is there to show they are not what limits the rate).

Needs PostgreSQL (as the tests) and Redis on 127.0.0.1:6379 for ``ours``/``ours-onair``/
``cluster``.
Run: .venv/bin/python bench/control_plane.py [--sizes 1000,4000] [--servers r1,r2,ours,...]
     .venv/bin/python bench/control_plane.py --quick      (50 sockets, a few events: a smoke run)
     .venv/bin/python bench/control_plane.py --storm 2000 --sizes '' --servers r1,r2,ours
                                                   (the connect storm alone)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402
from cp_clients import worker_main  # noqa: E402
from measure import arguments, cpu_seconds, machine, pct, rss_kib  # noqa: E402
from workers import WorkerPool  # noqa: E402

from server.config import Config  # noqa: E402
from server.store import db as store_db  # noqa: E402
from tests.server_process import (  # noqa: E402
    LOAD_TEST_ENV,
    ServerProcess,
    free_port,
    stop_process,
)

REDIS_URL = "redis://127.0.0.1:6379/0"
ALL_SERVERS = ("r1", "r2", "ours", "ours-onair", "cluster")
QUESTION = "请嘉宾谈谈：在基层治理中如何减轻村干部的填表负担，同时保证数据真实可靠？"


def payload(eid: int, session_id: int, pad: int = 0) -> dict[str, Any]:
    """The ``question_on_air`` data our Q&A API announces (same keys), with the event id;
    ``pad`` adds about that many bytes of earlier questions (the stall test's bigger events)."""
    data: dict[str, Any] = {
        "session_id": session_id,
        "question": {
            "id": 100_000 + eid,
            "session_id": session_id,
            "state": "on_air",
            "text": QUESTION,
            "site_id": 2,
            "addressed_to": "主讲嘉宾",
            "anonymous": False,
            "pinned": False,
            "vote_count": 128,
            "also_asked_count": 3,
            "created_at": "2026-11-22T09:41:07+08:00",
            "flags": [],
        },
        "previous": 99_999 + eid,
        "eid": eid,
    }
    if pad:
        data["earlier"] = [QUESTION] * (pad // len(QUESTION.encode()) + 1)
    return data


# -- measuring a process ----------------------------------------------------------------


@contextlib.contextmanager
def session_priority(nice: int) -> Any:
    """With Linux's autogroup scheduling (``kernel.sched_autogroup_enabled``), a process's own
    nice value only ranks it against processes of its session: against the rest of a shared
    machine it is the session's autogroup nice that counts. As root, set it for the run and put
    it back afterwards."""
    path = Path("/proc/self/autogroup")
    before: str | None = None
    if nice:
        with contextlib.suppress(OSError, ValueError, IndexError):
            before = path.read_text().split("nice")[1].strip()
            path.write_text(str(nice))
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                path.write_text(before)


# -- the client processes -----------------------------------------------------------------


class Clients(WorkerPool):
    """``workers`` processes of raw WebSocket clients (cp_clients.py), driven over pipes."""

    def __init__(self, workers: int) -> None:
        super().__init__(worker_main, workers, timeout=180)

    async def connect(
        self, targets: list[dict[str, Any]], stall_candidate: bool, concurrency: int = 25
    ) -> dict[str, Any]:
        """Open these sockets, ``concurrency`` at a time per worker process."""
        shares: list[dict[str, Any]] = [
            {
                "targets": targets[i :: len(self.pipes)],
                "stall_candidate": stall_candidate and i == 0,
                "concurrency": concurrency,
                "budget": 60 + 0.1 * len(targets),
            }
            for i in range(len(self.pipes))
        ]
        replies = await self.call("connect", shares)
        return {
            "ok": sum(r["ok"] for r in replies),
            "failed": sum(r["failed"] for r in replies),
            "errors": [e for r in replies for e in r["errors"]][:5],
            "took": [t for r in replies for t in r["took"]],
        }

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.procs if p.pid is not None)

    async def arrivals(self) -> tuple[dict[int, list[float]], int]:
        merged: dict[int, list[float]] = {}
        stalled = 0
        for reply in await self.call("collect"):
            stalled += reply["stalled_arrivals"]
            for eid, times in reply["arrivals"].items():
                merged.setdefault(eid, []).extend(times)
        return merged, stalled

    async def status(self) -> dict[str, Any]:
        replies = await self.call("status")
        closed: dict[str, int] = {}
        for r in replies:
            for code, n in r["closed"].items():
                closed[code] = closed.get(code, 0) + n
        return {
            "open": sum(r["open"] for r in replies),
            "receiving": sum(r["receiving"] for r in replies),
            "closed": closed,
            "candidate": next(
                (r["candidate"] for r in replies if r["candidate"] is not None), None
            ),
        }

    async def stop(self) -> None:
        with contextlib.suppress(Exception):
            await self.call("exit", timeout=10)
        self.reap()


# -- servers under test -------------------------------------------------------------------


class PeerProcess:
    """A reference server (R1 or R2) in its own process."""

    def __init__(self, script: str, work: Path) -> None:
        self.port = free_port()
        self.log = work / f"{Path(script).stem}-{self.port}.log"
        self.cmd = [
            sys.executable,
            str(ROOT / "bench" / "peers" / script),
            "--port",
            str(self.port),
        ]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 20.0) -> PeerProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(self.cmd, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.cmd} exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise TimeoutError(f"{self.cmd} did not listen within {timeout} s")

    def stop(self) -> None:
        stop_process(self.proc)


Publish = Callable[[int, int], Awaitable[None]]  # (event id, padding bytes)


@dataclass
class UnderTest:
    """One server (or cluster) ready for the clients: where to connect and how to publish."""

    name: str
    pids: list[int]
    targets: Callable[[int, int], list[dict[str, Any]]]  # (first index, count) -> client targets
    publish: Publish
    close: Callable[[], Awaitable[None]]
    logs: list[Path] = field(default_factory=list)


def _peer_under_test(
    kind: str,
    peer: PeerProcess,
    topic: str,
    publish: Publish,
    close: Callable[[], Awaitable[None]],
) -> UnderTest:
    """A reference server (R1, R2) in its process: every client socket subscribes to ``topic``."""
    assert peer.proc is not None
    return UnderTest(
        kind,
        [peer.proc.pid],
        lambda first, n: [
            {"kind": kind, "host": "127.0.0.1", "port": peer.port, "topic": topic} for _ in range(n)
        ],
        publish,
        close,
        [peer.log],
    )


async def start_r1(work: Path, session_id: int) -> UnderTest:
    from websockets.asyncio.client import connect

    peer = PeerProcess("r1_websockets.py", work).start()
    control = await connect(f"ws://127.0.0.1:{peer.port}/", compression=None)
    topic = f"session:{session_id}"

    async def publish(eid: int, pad: int) -> None:
        message = {"type": "publish", "topic": topic, "kind": "question_on_air"}
        await control.send(json.dumps({**message, "data": payload(eid, session_id, pad)}))

    async def close() -> None:
        await control.close()
        peer.stop()

    return _peer_under_test("r1", peer, topic, publish, close)


async def start_r2(work: Path, session_id: int) -> UnderTest:
    import socketio  # type: ignore[import-untyped]

    peer = PeerProcess("r2_socketio.py", work).start()
    control = socketio.AsyncClient()
    await control.connect(f"http://127.0.0.1:{peer.port}", transports=["websocket"])
    topic = f"session:{session_id}"

    async def publish(eid: int, pad: int) -> None:
        message = {"topic": topic, "kind": "question_on_air", "data": payload(eid, session_id, pad)}
        await control.emit("publish", message)

    async def close() -> None:
        await control.disconnect()
        peer.stop()

    return _peer_under_test("r2", peer, topic, publish, close)


@dataclass
class OursWorld:
    url: str  # the PostgreSQL database
    session_id: int
    passwords: dict[str, str]
    tokens: list[str]  # trainee logins: one per client socket
    askers: list[str]  # other trainee logins: they ask the questions put on air
    drop: Callable[[], Awaitable[None]]


async def seed_trainees(url: str, session_id: int, site_id: int, unit: int, n: int) -> list[str]:
    """Trainees checked in to the session, with ready-made logins (cookie tokens)."""
    from server.store.models import Trainee
    from tests.cluster_helpers import add_login, in_the_room

    engine = store_db.create_engine(url)
    tokens: list[str] = []
    now = datetime.now(UTC)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            trainees = [
                Trainee(name=f"学员{i}", staff_no=f"CP{i:05d}", org_unit_id=unit) for i in range(n)
            ]
            db.add_all(trainees)
            await db.flush()
            for t in trainees:
                db.add(in_the_room(t.id, session_id, site_id, now))
                tokens.append(add_login(db, now, trainee_id=t.id))
    finally:
        await engine.dispose()
    return tokens


async def make_ours_world(sockets: int, questions: int) -> OursWorld:
    from tests.conftest import create_pg_database, seed_world

    url, drop = await create_pg_database()
    await store_db.migrate(url)
    world = await seed_world(Config(data_dir=tempfile.mkdtemp(prefix="cp-seed-"), database_url=url))
    tokens = await seed_trainees(
        url, world.session_id, world.site_id, world.org_unit_id, sockets + questions
    )
    return OursWorld(
        url, world.session_id, world.passwords, tokens[:sockets], tokens[sockets:], drop
    )


def ours_env(w: OursWorld, redis_prefix: str | None, node: str) -> dict[str, str]:
    env = {
        **LOAD_TEST_ENV,
        "CLASSROOM_DATABASE_URL": w.url,
        "CLASSROOM_LOG_LEVEL": "WARNING",
        "CLASSROOM_DB_POOL_SIZE": "20",
        "CLASSROOM_NODE_ID": node,
    }
    if redis_prefix is not None:
        env |= {"CLASSROOM_REDIS_URL": REDIS_URL, "CLASSROOM_REDIS_PREFIX": redis_prefix}
    return env


def ours_targets(
    nodes: list[ServerProcess], w: OursWorld
) -> Callable[[int, int], list[dict[str, Any]]]:
    topic = f"session:{w.session_id}"
    return lambda first, n: [
        {
            "kind": "ours",
            "host": "127.0.0.1",
            "port": nodes[i % len(nodes)].port,
            "topic": topic,
            "token": w.tokens[i],
        }
        for i in range(first, first + n)
    ]


async def start_ours_bus(work: Path, w: OursWorld) -> UnderTest:
    from server.bus.redis_bus import RedisBus

    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    node = ServerProcess(work / "ours", env=ours_env(w, prefix, "ours")).start()
    bus = RedisBus(REDIS_URL, prefix=prefix, node_id="bench-publisher")
    bus.subscribe(lambda topic, event: None)
    await bus.start()
    topic = f"session:{w.session_id}"

    async def publish(eid: int, pad: int) -> None:
        await bus.publish(topic, "question_on_air", payload(eid, w.session_id, pad))

    async def close() -> None:
        await bus.close()
        node.stop()
        await drop_redis_prefix(prefix)

    assert node.proc is not None
    return UnderTest("ours", [node.proc.pid], ours_targets([node], w), publish, close, [node.log])


async def start_ours_onair(work: Path, w: OursWorld, nodes_count: int, questions: int) -> UnderTest:
    """One process on the in-memory bus, or a cluster on Redis; events = real on-air calls."""
    prefix = f"bench:{uuid.uuid4().hex[:8]}:" if nodes_count > 1 else None
    name = "cluster" if nodes_count > 1 else "ours-onair"
    nodes = await asyncio.gather(
        *(
            asyncio.to_thread(
                ServerProcess(work / f"{name}-{i}", env=ours_env(w, prefix, f"{name}-{i}")).start
            )
            for i in range(nodes_count)
        )
    )
    http = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    base = nodes[0].url
    login = await http.post(
        base + "/api/v1/auth/login",
        json={"username": "moderator", "password": w.passwords["moderator"]},
    )
    assert login.status == 200, await login.text()
    moderator = {
        "Cookie": f"classroom_session={login.cookies['classroom_session'].value}",
        "X-CSRF-Token": (await login.json())["csrf_token"],
    }
    question_ids: dict[int, int] = {}  # eid -> question id, asked before the clients connect
    pending = list(w.askers)

    async def ask(eid: int) -> None:
        token = pending.pop()
        async with http.post(
            f"{base}/api/v1/sessions/{w.session_id}/questions",
            json={"text": f"{QUESTION}[eid:{eid}]"},
            headers={"Cookie": f"classroom_session={token}", "X-CSRF-Token": "c"},
        ) as r:
            body = await r.json()
            assert r.status == 201, body
        if body["state"] != "approved":
            async with http.post(
                f"{base}/api/v1/questions/{body['id']}/approve", headers=moderator
            ) as r:
                assert r.status == 200, await r.text()
        question_ids[eid] = body["id"]

    async def publish(eid: int, pad: int) -> None:
        async with http.post(
            f"{base}/api/v1/questions/{question_ids[eid]}/on-air", headers=moderator
        ) as r:
            assert r.status == 200, await r.text()

    async def close() -> None:
        await http.close()
        for node in nodes:
            node.stop()
        if prefix is not None:
            await drop_redis_prefix(prefix)

    under = UnderTest(
        name,
        [n.proc.pid for n in nodes if n.proc is not None],
        ours_targets(nodes, w),
        publish,
        close,
        [n.log for n in nodes],
    )
    under.ask = ask  # type: ignore[attr-defined]
    return under


async def drop_redis_prefix(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)  # type: ignore[no-untyped-call]
    keys = [k async for k in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


# -- the measurements ---------------------------------------------------------------------


class Eids:
    def __init__(self) -> None:
        self.next = 1

    def take(self, n: int) -> list[int]:
        out = list(range(self.next, self.next + n))
        self.next += n
        return out


async def stream(
    under: UnderTest,
    clients: Clients,
    eids: list[int],
    interval: float,
    settle: float,
    pad: int = 0,
) -> dict[str, Any]:
    """Publish the events ``interval`` s apart; latencies of every delivery; server CPU."""
    await clients.arrivals()  # forget anything earlier
    receiving = (await clients.status())["receiving"]
    cpu0 = sum(cpu_seconds(p) for p in under.pids)
    t0s: dict[int, float] = {}
    begin = time.monotonic()
    for i, eid in enumerate(eids):
        await asyncio.sleep(max(0.0, begin + i * interval - time.monotonic()))
        t0s[eid] = time.monotonic()
        await under.publish(eid, pad)
    await asyncio.sleep(settle)
    cpu1 = sum(cpu_seconds(p) for p in under.pids)
    arrivals, _ = await clients.arrivals()
    latencies = [t - t0s[eid] for eid, times in arrivals.items() if eid in t0s for t in times]
    per_event = [
        round(pct([t - t0s[eid] for t in arrivals.get(eid, [])], 99) * 1000, 1) for eid in eids
    ]
    delivered = len(latencies)
    expected = receiving * len(eids)
    return {
        "events": len(eids),
        "sockets": receiving,
        "delivered": delivered,
        "expected": expected,
        "p50_ms": round(pct(latencies, 50) * 1000, 2),
        "p99_ms": round(pct(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies) * 1000, 2) if latencies else None,
        "cpu_s": round(cpu1 - cpu0, 3),
        "cpu_us_per_delivery": round((cpu1 - cpu0) / delivered * 1e6, 2) if delivered else None,
        "median_event_p99_ms": round(pct(per_event, 50), 1) if per_event else None,
        "t0_monotonic": [round(t0s[eid], 3) for eid in eids],
        "p99_ms_per_event": per_event,
    }


async def connect_storm(
    under: UnderTest, clients: Clients, args: argparse.Namespace
) -> dict[str, Any]:
    """``--storm`` sockets opened at once (``--storm-concurrency`` in flight per client
    process), each until it is subscribed (its ``resync`` arrived): sockets per second, each
    socket's time, and the CPU it cost the server and the clients. Then all are closed."""
    n = args.storm
    server0, client0 = sum(cpu_seconds(p) for p in under.pids), clients.cpu_seconds()
    started = time.monotonic()
    got = await clients.connect(under.targets(0, n), False, args.storm_concurrency)
    wall = time.monotonic() - started
    server_cpu = sum(cpu_seconds(p) for p in under.pids) - server0
    client_cpu = clients.cpu_seconds() - client0
    took = got["took"]
    await clients.call("close")
    await asyncio.sleep(args.settle)  # the server sees them go before the next measurement
    ok = got["ok"]
    return {
        "sockets": n,
        "subscribed": ok,
        "failed": got["failed"],
        "errors": got["errors"],
        "wall_s": round(wall, 2),
        "per_s": round(ok / wall) if wall else None,
        "p50_ms": round(pct(took, 50) * 1000, 1),
        "p99_ms": round(pct(took, 99) * 1000, 1),
        "max_ms": round(max(took) * 1000, 1) if took else None,
        "server_cpu_us_per_socket": round(server_cpu / max(1, ok) * 1e6),
        "server_sockets_per_cpu_s": round(ok / server_cpu) if server_cpu else None,
        "client_cpu_us_per_socket": round(client_cpu / max(1, ok) * 1e6),
    }


async def measure_server(
    under: UnderTest, clients: Clients, args: argparse.Namespace, eids: Eids
) -> dict[str, Any]:
    result: dict[str, Any] = {"server": under.name, "steps": []}
    for pid in under.pids:
        os.setpriority(os.PRIO_PROCESS, pid, args.nice)
    if args.storm:
        result["storm"] = await connect_storm(under, clients, args)
        print(f"  {under.name} storm: {json.dumps(result['storm'])}", flush=True)
    connected = 0
    used = 0  # client targets handed out (ours: trainee logins used)
    ask = getattr(under, "ask", None)
    plan = [(n, eids.take(args.events)) for n in args.sizes]
    stall_eids = (eids.take(args.stall_events), eids.take(args.stall_events))
    if ask is not None:  # real on-air calls: the questions exist before the clients connect
        for _, step_eids in plan:
            for eid in step_eids:
                await ask(eid)

    async def grow(size: int, stall_candidate: bool) -> dict[str, Any]:
        nonlocal connected, used
        rss_before = sum(rss_kib(p) for p in under.pids)
        started = time.monotonic()
        got = await clients.connect(under.targets(used, size - connected), stall_candidate)
        used += size - connected
        connected += got["ok"]
        await asyncio.sleep(args.settle)
        rss_after = sum(rss_kib(p) for p in under.pids)
        return {
            "size": size,
            "connected": connected,
            "connect_failed": got["failed"],
            "connect_errors": got["errors"],
            "connect_s": round(time.monotonic() - started, 1),
            "new_sockets": got["ok"],
            "kib_per_idle_socket": round((rss_after - rss_before) / max(1, got["ok"]), 1),
            "rss_mib": round(rss_after / 1024, 1),
        }

    if args.stall_events and ask is None and args.sizes:
        stall_size = min(args.stall_sockets, args.sizes[0])
        grown = await grow(stall_size, True)
        result["stall"] = {"connect": grown, **await stall(under, clients, args, stall_eids)}
        connected -= 1  # the stalled client is gone
        print(f"  {under.name} stall: {json.dumps(result['stall'])}", flush=True)
    for size, step_eids in plan:
        step = await grow(size, False)
        interval = args.interval * max(1.0, size / 1000)
        step["fanout"] = await stream(under, clients, step_eids, interval, args.settle)
        step["held"] = (await clients.status())["open"]
        print(f"  {under.name} {size}: {json.dumps(step, ensure_ascii=False)}", flush=True)
        result["steps"].append(step)
    await clients.call("close")
    return result


async def stall(
    under: UnderTest, clients: Clients, args: argparse.Namespace, eids: tuple[list[int], list[int]]
) -> dict[str, Any]:
    """The same stream without, then with, one client that stops reading."""
    interval = 1.0 / args.stall_rate
    without = await stream(under, clients, eids[0], interval, args.settle, args.stall_pad)
    assert any(await clients.call("stall"))
    rss0 = sum(rss_kib(p) for p in under.pids)
    with_one = await stream(under, clients, eids[1], interval, args.settle, args.stall_pad)
    rss1 = sum(rss_kib(p) for p in under.pids)
    await clients.call("resume")  # read again: what was the server still holding for it?
    await asyncio.sleep(max(0.5, args.settle))
    candidate = (await clients.status())["candidate"]
    _, owed_frames = await clients.arrivals()
    await clients.call("drop_candidate")
    drops = sum(
        log.read_text(errors="replace").count("dropping socket")
        for log in under.logs
        if log.exists()
    )
    return {
        "without": without,
        "with_stalled": with_one,
        "added_p50_ms": round(with_one["p50_ms"] - without["p50_ms"], 2),
        "added_p99_ms": round(with_one["p99_ms"] - without["p99_ms"], 2),
        "added_median_event_p99_ms": round(
            with_one["median_event_p99_ms"] - without["median_event_p99_ms"], 1
        ),
        "server_rss_growth_kib": rss1 - rss0,
        "stalled_client": candidate,
        "frames_it_got_after_reading_again": owed_frames,
        "server_logged_drops": drops,
    }


# -- the report ----------------------------------------------------------------------------


def markdown_table(header: str, rows: list[list[Any]]) -> list[str]:
    """A Markdown table's lines: the header (its titles separated by " | "), its rule, then a
    line a row."""

    def line(cells: list[Any]) -> str:
        return "| " + " | ".join(str(c) for c in cells) + " |"

    titles = header.split(" | ")
    return [line(titles), "|" + "---|" * len(titles), *(line(row) for row in rows)]


def storm_table(results: list[dict[str, Any]]) -> list[str]:
    rows = [
        [
            r["server"],
            f"{st['sockets']} at once",
            st["subscribed"],
            f"{st['wall_s']} s",
            st["per_s"],
            f"{st['p50_ms']} / {st['p99_ms']} / {st['max_ms']} ms",
            f"{st['server_cpu_us_per_socket']} ({st['server_sockets_per_cpu_s']})",
            st["client_cpu_us_per_socket"],
        ]
        for r in results
        if (st := r.get("storm")) is not None
    ]
    header = (
        "server | connect storm | subscribed | wall | sockets/s | per socket p50 / p99 / max | "
        "server CPU µs / socket (sockets per CPU-second) | client CPU µs / socket"
    )
    return [*markdown_table(header, rows), ""] if rows else []


def fanout_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for r in results:
        for s in r["steps"]:
            f = s["fanout"]
            rows.append(
                [
                    r["server"],
                    f"{s['held']}/{s['size']}",
                    f"{f['p50_ms']} ms",
                    f"{f['p99_ms']} ms",
                    f"{f['max_ms']} ms",
                    f"{f['delivered']}/{f['expected']}",
                    f["cpu_us_per_delivery"],
                    f"{s['kib_per_idle_socket']} ({s['new_sockets']} new)",
                ]
            )
    header = (
        "server | sockets held | fan-out p50 | p99 | max | delivered | CPU µs / delivery | "
        "KiB / idle socket"
    )
    return markdown_table(header, rows)


def stall_table(results: list[dict[str, Any]]) -> list[str]:
    rows = []
    for r in results:
        st = r.get("stall")
        if st is not None:
            w, o = st["without"], st["with_stalled"]
            rows.append(
                [
                    r["server"],
                    f"{w['events']} events to {w['sockets']} sockets",
                    f"{w['p50_ms']} → {o['p50_ms']} ms",
                    f"{w['p99_ms']} → {o['p99_ms']} ms",
                    f"{st['added_p99_ms']} ms",
                    f"{w['median_event_p99_ms']} → {o['median_event_p99_ms']} ms",
                    f"{json.dumps(st['stalled_client'])}; "
                    f"server RSS +{st['server_rss_growth_kib']} KiB; "
                    f"{st['frames_it_got_after_reading_again']} frames after reading again",
                ]
            )
    header = (
        "server | stream | p50 without → with | p99 without → with | added p99 | "
        "median per-event p99 without → with | stalled client"
    )
    return markdown_table(header, rows)


def table(results: list[dict[str, Any]]) -> str:
    return "\n".join([*storm_table(results), *fanout_table(results), "", *stall_table(results)])


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    work = Path(tempfile.mkdtemp(prefix="bench-cp-"))
    clients = Clients(args.workers)
    for proc in clients.procs:
        assert proc.pid is not None
        os.setpriority(os.PRIO_PROCESS, proc.pid, args.nice)
    eids = Eids()
    results: list[dict[str, Any]] = []
    world: OursWorld | None = None
    try:
        if {"ours", "ours-onair", "cluster"} & set(args.servers):
            world = await make_ours_world(
                max([*args.sizes, args.storm]) + 4, 2 * len(args.sizes) * args.events + 4
            )
        session_id = world.session_id if world is not None else 1
        for name in args.servers:
            print(f"== {name}", flush=True)
            if name == "r1":
                under = await start_r1(work, session_id)
            elif name == "r2":
                under = await start_r2(work, session_id)
            elif name == "ours":
                assert world is not None
                under = await start_ours_bus(work, world)
            else:
                assert world is not None
                nodes = 2 if name == "cluster" else 1
                under = await start_ours_onair(work, world, nodes, args.events)
            try:
                results.append(await measure_server(under, clients, args, eids))
            finally:
                await under.close()
    finally:
        await clients.stop()
        if world is not None:
            await world.drop()
    return results


async def guarded(job: Awaitable[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """SIGTERM cancels the run, so that servers and client processes are still stopped."""
    task = asyncio.ensure_future(job)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    return await task


def main(argv: list[str] | None = None) -> int:
    parser = arguments(__doc__)
    parser.add_argument("--sizes", default="1000,4000", help="socket counts, ascending")
    parser.add_argument("--servers", default=",".join(ALL_SERVERS))
    parser.add_argument("--events", type=int, default=20, help="events per size")
    parser.add_argument("--interval", type=float, default=0.5, help="s between events per 1,000")
    parser.add_argument("--settle", type=float, default=1.5, help="s to wait after the last event")
    parser.add_argument("--stall-sockets", type=int, default=100, help="sockets in the stall test")
    parser.add_argument("--stall-events", type=int, default=120)
    parser.add_argument("--stall-rate", type=float, default=8.0, help="events/s in the stall test")
    parser.add_argument(
        "--stall-pad",
        type=int,
        default=65536,
        help="bytes added to the stall test's events (Linux buffers about 4 MiB for a socket "
        "that does not read before any server sees it back up)",
    )
    parser.add_argument(
        "--storm",
        type=int,
        default=0,
        help="first open this many sockets at once and measure how fast they are all "
        "subscribed (the connect-storm row); 0: no storm",
    )
    parser.add_argument(
        "--storm-concurrency", type=int, default=500, help="storm sockets in flight per worker"
    )
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="scheduling priority of every server under test and client process, and of this "
        "session's autogroup (as root, e.g. -5: latencies then depend less on other load on a "
        "shared machine; put back at the end)",
    )
    parser.add_argument("--out", help="write the results as JSON here")
    parser.add_argument("--quick", action="store_true", help="50 sockets, a few events")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.events, args.interval, args.settle = "50", 3, 0.1, 0.3
        args.stall_events, args.stall_rate, args.stall_pad = 10, 20.0, 4096
        args.storm = args.storm or 50
    args.sizes = [int(s) for s in str(args.sizes).split(",") if s]
    args.servers = [s for s in args.servers.split(",") if s]
    unknown = set(args.servers) - set(ALL_SERVERS)
    if unknown:
        parser.error(f"unknown servers: {sorted(unknown)}")
    started = time.monotonic()
    with session_priority(args.nice):
        results = asyncio.run(guarded(run(args)))
    print()
    print(table(results))
    print(
        f"\n{machine()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
        f"took {time.monotonic() - started:.0f} s"
    )
    if args.out:
        Path(args.out).write_text(json.dumps(results, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
