"""Two server processes sharing PostgreSQL and Redis: presence crosses processes, and a node
killed with SIGKILL is noticed by the other."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis

from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig
from server.config import Config
from server.store import db as store_db
from tests.conftest import World, create_pg_database, seed_world
from tests.server_process import ServerProcess
from tests.web.live_helpers import BrowserPeer

REDIS_URL = "redis://127.0.0.1:6379/0"


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], World]]:
    url, drop = await create_pg_database()
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    try:
        await store_db.migrate(url)
        world = await seed_world(Config(data_dir=str(tmp_path), database_url=url))
        yield (
            {
                "CLASSROOM_DATABASE_URL": url,
                "CLASSROOM_REDIS_URL": REDIS_URL,
                "CLASSROOM_REDIS_PREFIX": prefix,
            },
            world,
        )
    finally:
        await drop()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def test_presence_crosses_processes_and_a_killed_node_is_noticed(
    shared: tuple[dict[str, str], World], tmp_path: Path
) -> None:
    env, world = shared
    node_a = ServerProcess(tmp_path / "a", env={**env, "CLASSROOM_NODE_ID": "node-a"}).start()
    node_b = ServerProcess(tmp_path / "b", env={**env, "CLASSROOM_NODE_ID": "node-b"}).start()
    agent_task: asyncio.Task[int] | None = None
    try:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
            r = await session.post(
                node_b.url + "/api/v1/auth/login",
                json={"username": "operator", "password": world.passwords["operator"]},
            )
            assert r.status == 200
            browser = BrowserPeer(await session.ws_connect(node_b.url + "/ws/client"))
            assert (await browser.receive())["node_id"] == "node-b"
            await browser.subscribe("presence")
            await browser.expect("resync")

            agent = Agent(
                AgentConfig(
                    server=node_a.url,
                    site_secret=world.site_secret,
                    site_id=world.site_id,
                    state_dir=str(tmp_path / "agent"),
                    heartbeat_interval=5.0,
                    backoff_base=5.0,
                    backoff_cap=30.0,
                )
            )
            agent_task = asyncio.create_task(agent.run())
            online = await browser.expect("event", kind="presence", state="online", timeout=15)
            assert online["data"]["site_id"] == world.site_id

            await asyncio.sleep(1.0)  # let a heartbeat refresh the presence key
            node_a.kill()
            killed_at = time.monotonic()
            offline = await browser.expect("event", kind="presence", state="offline", timeout=25)
            took = time.monotonic() - killed_at
            assert offline["data"]["site_id"] == world.site_id
            assert offline["data"]["reason"] == "node_lost"
            assert took <= 16.5, f"offline seen on node B {took:.1f} s after node A died"
    finally:
        if agent_task is not None:
            agent_task.cancel()
            await asyncio.gather(agent_task, return_exceptions=True)
        node_a.kill()
        node_b.stop()
