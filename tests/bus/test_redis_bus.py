"""What only the Redis bus does: survive a Redis restart, fail fast while Redis is down, notice
a silent subscription, keep keys under its prefix with an idle time to live.

The restart tests run their OWN redis-server (no persistence) on a free port, kill it and start
it again on the same port. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import socket
import time
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from server.bus import BusUnavailable, RedisBus
from server.core.topics import Resync, ResyncReason
from tests.bus.test_bus_contract import REDIS_URL, Harness, Inbox, wait_until

pytestmark = pytest.mark.redis

REDIS_SERVER = "/usr/bin/redis-server"
TOPIC = "session:42"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class OwnRedis:
    """A redis-server child process on a fixed port that a test may kill and start again."""

    def __init__(self, port: int, workdir: Path) -> None:
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.workdir = workdir
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(self.workdir),
            "--enable-debug-command", "yes",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        client = aioredis.Redis.from_url(self.url, socket_connect_timeout=0.2)
        try:
            deadline = time.monotonic() + 5.0
            while True:
                with contextlib.suppress(Exception):
                    if await client.ping():
                        return
                if time.monotonic() > deadline or self.proc.returncode is not None:
                    raise AssertionError(f"redis-server did not come up on port {self.port}")
                await asyncio.sleep(0.02)
        finally:
            await client.aclose()

    async def kill(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 5.0)


@pytest.fixture
async def own_redis(tmp_path: Path) -> AsyncIterator[OwnRedis]:
    server = OwnRedis(free_port(), tmp_path)
    await server.start()
    try:
        yield server
    finally:
        await server.kill()


def quick_bus(url: str, node_id: str, prefix: str = "") -> RedisBus:
    return RedisBus(
        url,
        prefix=prefix or f"test:{uuid.uuid4().hex}:",
        node_id=node_id,
        op_timeout=1.0,
        ping_interval=0.2,
        backoff_base=0.05,
        backoff_cap=0.5,
    )


async def test_after_a_redis_restart_buses_resubscribe_and_clients_resync(
    own_redis: OwnRedis,
) -> None:
    prefix = f"test:{uuid.uuid4().hex}:"  # two processes of one deployment
    a, b = quick_bus(own_redis.url, "node-a", prefix), quick_bus(own_redis.url, "node-b", prefix)
    inbox_a, inbox_b = Inbox(), Inbox()
    gaps: list[frozenset[str] | None] = []
    a.subscribe(inbox_a, gaps.append)
    b.subscribe(inbox_b)
    await a.start()
    await b.start()
    try:
        before = await a.publish(TOPIC, "tick", {"n": 1})
        await inbox_b.wait_for(1)

        await own_redis.kill()
        started = time.monotonic()
        with pytest.raises(BusUnavailable) as down:
            await a.publish(TOPIC, "tick", {"n": 2})
        assert down.value.code == "bus.unavailable"
        assert time.monotonic() - started < 1.5
        await wait_until(lambda: not a.online and not b.online, timeout=3.0)
        started = time.monotonic()
        with pytest.raises(BusUnavailable):
            await b.publish(TOPIC, "tick", {"n": 2})
        assert time.monotonic() - started < 0.1  # refused at once while the listener is down

        await own_redis.start()
        await wait_until(lambda: a.online and b.online, timeout=5.0)
        assert gaps == [None]
        assert (a.reconnects, b.reconnects) == (1, 1)

        after = await b.publish(TOPIC, "tick", {"n": 3})
        assert after.seq == 1 and after.epoch != before.epoch  # Redis lost the topic
        for inbox in (inbox_a, inbox_b):
            await inbox.wait_for(2)
            assert [(e.epoch, e.seq) for e in inbox.events] == [
                (before.epoch, 1),
                (after.epoch, 1),
            ]
        assert await a.resume(TOPIC, before.epoch, 1) == Resync(
            ResyncReason.EPOCH_CHANGED, after.epoch, 1
        )
    finally:
        await a.close()
        await b.close()


async def test_a_silent_subscription_is_dropped_and_renewed(own_redis: OwnRedis) -> None:
    bus = quick_bus(own_redis.url, "node-a")
    inbox = Inbox()
    gaps: list[frozenset[str] | None] = []
    bus.subscribe(inbox, gaps.append)
    await bus.start()
    client = aioredis.Redis.from_url(own_redis.url)
    try:
        # The server stops answering for 1 s while the socket stays open (like a half-open link).
        sleeper = asyncio.create_task(client.execute_command("DEBUG", "SLEEP", "1"))
        await wait_until(lambda: not bus.online, timeout=2.0)
        await sleeper
        await wait_until(lambda: bus.online, timeout=5.0)
        assert gaps == [None]
        await bus.publish(TOPIC, "tick", {})
        await inbox.wait_for(1)
    finally:
        await client.aclose()
        await bus.close()


async def test_close_releases_every_connection(own_redis: OwnRedis) -> None:
    client = aioredis.Redis.from_url(own_redis.url)
    try:

        async def others() -> int:
            return len(await client.client_list()) - 1

        assert await others() == 0
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ResourceWarning)
            busy, idle = quick_bus(own_redis.url, "node-a"), quick_bus(own_redis.url, "node-b")
            busy.subscribe(Inbox())
            await idle.start()
            await idle.close()  # right after start: its listener task never ran
            await busy.start()
            await asyncio.gather(*(busy.publish(TOPIC, "tick", {}) for _ in range(20)))
            assert await others() >= 2
            await busy.close()
            gc.collect()
        assert [str(w.message) for w in caught if w.category is ResourceWarning] == []
        deadline = time.monotonic() + 2.0
        while await others() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert await others() == 0
    finally:
        await client.aclose()


async def test_start_fails_fast_when_redis_is_down() -> None:
    bus = quick_bus(f"redis://127.0.0.1:{free_port()}/0", "node-a")
    started = time.monotonic()
    with pytest.raises(BusUnavailable):
        await bus.start()
    assert time.monotonic() - started < 1.5
    await bus.close()


async def test_every_key_is_under_the_prefix_and_topics_expire_when_idle() -> None:
    harness = Harness("redis")
    try:
        bus = await harness.bus("node-a")
        await bus.publish(TOPIC, "tick", {})
        await bus.set_presence(12, "node-a", "online", {}, ttl=30.0)
        client = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        try:
            keys = sorted([k async for k in client.scan_iter(match=f"{harness.prefix}*")])
            assert keys == [
                f"{harness.prefix}presence:12",
                f"{harness.prefix}topic:{{{TOPIC}}}:log",
                f"{harness.prefix}topic:{{{TOPIC}}}:meta",
            ]
            for key in keys:
                assert 0 < await client.pttl(key) <= 2 * 86400 * 1000
        finally:
            await client.aclose()
    finally:
        await harness.cleanup()
