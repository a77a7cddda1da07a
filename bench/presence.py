"""Presence under load: 500 site agents heartbeating every 5 s and 2,000 browser sockets on ONE
server process; then 50 agents killed at once.

Reports the server process's CPU share (of one core) and memory during a steady window, and the
time until every browser has seen all 50 killed sites go offline. Target: under 25% of a core
for the steady load; every killed site offline on every browser within 15 s.

Run: .venv/bin/python bench/presence.py [--agents 500] [--browsers 2000] [--steady 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import msgpack  # noqa: E402

from bench.measure import arguments, cpu_seconds, rss_kib, run_and_report  # noqa: E402
from server import security  # noqa: E402
from server.store import db as store_db  # noqa: E402
from server.store.models import Role, Site, SiteKind, User  # noqa: E402
from tests.cluster_helpers import add_login  # noqa: E402
from tests.server_process import LOAD_TEST_ENV, ServerProcess  # noqa: E402
from tests.web.live_helpers import heartbeat, hello, unbatched  # noqa: E402


async def seed(url: str, agents: int, browsers: int) -> tuple[list[tuple[int, str]], list[str]]:
    """Sites with agent secrets and ready-made operator logins (no password hashing in the loop)."""
    await store_db.migrate(url)
    engine = store_db.create_engine(url)
    sites: list[tuple[int, str]] = []
    tokens: list[str] = []
    async with store_db.session_factory(engine)() as db, db.begin():
        main = Site(name="主课堂", kind=SiteKind.MAIN, capacity=500)
        db.add(main)
        await db.flush()
        rows = [Site(name=f"分课堂{i:04d}", parent_id=main.id, capacity=50) for i in range(agents)]
        db.add_all(rows)
        await db.flush()
        for row in rows:
            secret, digest = security.new_site_secret(row.id)
            row.secret_hash = digest
            sites.append((row.id, secret))
        user = User(username="bench-operator", password_hash="x", role=Role.OPERATOR)
        db.add(user)
        await db.flush()
        now = datetime.now(UTC)
        for _ in range(browsers):
            tokens.append(add_login(db, now, user_id=user.id))
    await engine.dispose()
    return sites, tokens


class FakeAgent:
    """A site agent reduced to the protocol: hello, then a heartbeat every interval."""

    def __init__(self, site_id: int, secret: str, interval: float) -> None:
        self.site_id, self.secret, self.interval = site_id, secret, interval
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.task: asyncio.Task[None] | None = None

    async def start(self, session: aiohttp.ClientSession, url: str) -> None:
        self.ws = await session.ws_connect(
            url + "/ws/agent",
            headers={"Authorization": f"Bearer {self.secret}"},
            autoping=True,
            max_msg_size=65536,
        )
        await self.send(hello(self.site_id, agent_version="bench", capabilities=[]))
        self.task = asyncio.create_task(self.loop())

    async def send(self, message: dict[str, object]) -> None:
        assert self.ws is not None
        await self.ws.send_bytes(msgpack.packb(message))

    async def loop(self) -> None:
        assert self.ws is not None
        seq = 0
        reader = asyncio.create_task(self.drain())
        try:
            await asyncio.sleep(self.interval * (self.site_id % 100) / 100)  # spread the heartbeats
            while True:
                seq += 1
                await self.send(heartbeat(seq))
                await asyncio.sleep(self.interval)
        finally:
            reader.cancel()

    async def drain(self) -> None:
        assert self.ws is not None
        async for _ in self.ws:
            pass

    def silence(self) -> None:
        """Like a network cut: heartbeats stop, the TCP connection stays (no FIN reaches us)."""
        if self.task:
            self.task.cancel()

    def kill(self) -> None:
        """Like the agent's process dying: the OS closes the TCP socket, no close frame."""
        if self.task:
            self.task.cancel()
        if self.ws is not None and self.ws._response.connection is not None:
            transport = self.ws._response.connection.transport
            if transport is not None:
                transport.close()


class Browser:
    def __init__(self) -> None:
        self.offline: dict[int, float] = {}
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None

    async def start(self, session: aiohttp.ClientSession, url: str, token: str) -> None:
        self.ws = await session.ws_connect(
            url + "/ws/client", headers={"Cookie": f"classroom_session={token}"}
        )
        await self.ws.send_str(json.dumps({"type": "subscribe", "topics": ["presence"]}))
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            for message in unbatched(msg.data):
                if message.get("type") == "event" and message["data"].get("state") == "offline":
                    self.offline.setdefault(message["data"]["site_id"], time.monotonic())


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-presence-"))
    url = f"sqlite+aiosqlite:///{work / 'bench.db'}"
    sites, tokens = await seed(url, args.agents, args.browsers)
    server = ServerProcess(
        work,
        None,
        env={**LOAD_TEST_ENV, "CLASSROOM_DATABASE_URL": url, "CLASSROOM_LOG_LEVEL": "WARNING"},
    ).start()
    assert server.proc is not None
    pid = server.proc.pid
    try:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            started = time.monotonic()
            agents = [FakeAgent(site_id, secret, args.interval) for site_id, secret in sites]
            for i in range(0, len(agents), 50):
                await asyncio.gather(*(a.start(session, server.url) for a in agents[i : i + 50]))
            browsers = [Browser() for _ in tokens]
            for i in range(0, len(browsers), 100):
                await asyncio.gather(
                    *(
                        b.start(session, server.url, t)
                        for b, t in zip(browsers[i : i + 100], tokens[i : i + 100], strict=True)
                    )
                )
            took = time.monotonic() - started
            print(f"connected {len(agents)} agents and {len(browsers)} browsers in {took:.1f} s")
            await asyncio.sleep(args.interval * 2)  # settle: every site online, first heartbeats in
            cpu0, wall0 = cpu_seconds(pid), time.monotonic()
            await asyncio.sleep(args.steady)
            cpu1, wall1 = cpu_seconds(pid), time.monotonic()
            share = (cpu1 - cpu0) / (wall1 - wall0)
            memory = rss_kib(pid) / 1024
            print(
                f"steady load over {wall1 - wall0:.0f} s: server CPU {share * 100:.1f}% of a core, "
                f"RSS {memory:.0f} MiB"
            )

            victims = agents[: args.kill]
            killed_at = time.monotonic()
            for agent in victims:
                agent.silence() if args.silent else agent.kill()
            ids = {a.site_id for a in victims}
            deadline = killed_at + 30
            while time.monotonic() < deadline and not all(
                ids <= b.offline.keys() for b in browsers
            ):
                await asyncio.sleep(0.1)
            seen = [
                max(b.offline[i] for i in ids) - killed_at
                for b in browsers
                if ids <= b.offline.keys()
            ]
            complete = len(seen) == len(browsers)
            closed = sum(1 for b in browsers if b.ws is not None and b.ws.closed)
            counts = sorted(len(ids & b.offline.keys()) for b in browsers)
            median = counts[len(counts) // 2]
            print(f"victims seen offline per browser: min {counts[0]}, median {median}")
            missing = Counter(i for b in browsers for i in ids - b.offline.keys())
            if missing:
                print(f"victims most often missing: {missing.most_common(5)}")
            print(f"browser sockets closed by the server (too slow to read): {closed}")
            how = "silenced (network cut)" if args.silent else "killed (process died)"
            print(
                f"{args.kill} agents {how}: all offline on {len(seen)}/{len(browsers)} browsers; "
                f"slowest browser saw the last after {max(seen) if seen else float('nan'):.2f} s"
                + ("" if complete else " (INCOMPLETE)")
            )
            for agent in agents[args.kill :]:
                agent.kill()
    finally:
        server.stop()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--agents", type=int, default=500)
    parser.add_argument("--browsers", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--steady", type=float, default=30.0)
    parser.add_argument("--kill", type=int, default=50)
    parser.add_argument("--silent", action="store_true", help="stop heartbeats instead of closing")
    run_and_report(run(parser.parse_args()))


if __name__ == "__main__":
    main()
