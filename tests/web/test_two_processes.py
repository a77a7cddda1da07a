"""Two server processes sharing PostgreSQL and Redis: presence crosses processes, and a node
killed with SIGKILL is noticed by the other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from tests.cluster_helpers import shared_backends
from tests.conftest import World
from tests.server_process import ServerProcess
from tests.site_agent import site_agent
from tests.web.live_helpers import BrowserPeer


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], World]]:
    async with shared_backends(tmp_path) as backends:
        yield backends.env, backends.world


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

            agent = site_agent(
                node_a.url,
                world.site_secret,
                world.site_id,
                tmp_path / "agent",
                heartbeat_interval=5.0,
                backoff_base=5.0,
                backoff_cap=30.0,
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


async def test_a_screen_only_site_is_present_across_processes_and_goes_offline_once(
    shared: tuple[dict[str, str], World], tmp_path: Path
) -> None:
    """A kiosk screen page (no agent) reports through a load balancer: its reports land on
    either node, the wall on node B sees the room online once, then offline once (issue 13)."""
    env, world = shared
    node_a = ServerProcess(tmp_path / "a", env={**env, "CLASSROOM_NODE_ID": "node-a"}).start()
    node_b = ServerProcess(tmp_path / "b", env={**env, "CLASSROOM_NODE_ID": "node-b"}).start()
    try:
        jar = aiohttp.CookieJar(unsafe=True)
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session,
            aiohttp.ClientSession(cookie_jar=jar) as kiosk,
        ):
            r = await session.post(
                node_b.url + "/api/v1/auth/login",
                json={"username": "operator", "password": world.passwords["operator"]},
            )
            assert r.status == 200
            browser = BrowserPeer(await session.ws_connect(node_b.url + "/ws/client"))
            await browser.receive()
            await browser.subscribe("presence")
            await browser.expect("resync")

            r = await kiosk.post(
                node_a.url + "/api/v1/auth/screen", json={"secret": world.site_secret}
            )
            assert r.status == 200, await r.text()
            csrf = {"X-CSRF-Token": (await r.json())["csrf_token"]}
            body = {"attached": False, "paused": True, "frames": 0, "sound": "none"}
            for i, node in enumerate((node_a, node_b, node_a)):  # round robin
                r = await kiosk.post(
                    node.url + "/api/v1/site/screen-status", json=body, headers=csrf
                )
                assert r.status == 200, await r.text()
                if i == 0:
                    online = await browser.expect("event", kind="presence", timeout=5)
                    assert online["data"]["state"] == "online", online
                    assert online["data"]["site_id"] == world.site_id
                await asyncio.sleep(4.0)
            stopped = time.monotonic() - 4.0
            offline = await browser.expect("event", kind="presence", timeout=25)
            took = time.monotonic() - stopped
            # late (degraded) first, like an agent's heartbeat, then offline
            states = [offline["data"]["state"]]
            if states[0] == "degraded":
                offline = await browser.expect("event", kind="presence", timeout=25)
                took = time.monotonic() - stopped
                states.append(offline["data"]["state"])
            assert states[-1] == "offline", states
            assert offline["data"]["reason"] == "heartbeat_missed", offline
            assert 14.0 <= took <= 18.0, took
            with pytest.raises(TimeoutError):  # reported once, not by both nodes
                await browser.expect("event", kind="presence", timeout=4)
    finally:
        node_a.stop()
        node_b.stop()
