"""A broadcast outlives its node (issue #18.3): two server processes on one PostgreSQL and one
Redis; the node that owns the broadcast's relay is killed with SIGKILL during the lecture.

- The other node takes the broadcast over from its durable record (the owner's lease ran out),
  the origin site publishes to it again and every site receives the program again within 5 s:
  a site whose agent stays connected to the surviving node, and one whose agent's socket died
  with the owner and came back through a balancer.
- The surviving node answers for the broadcast as its own; stopping it there ends it for
  every site and removes the record, so nobody takes over a broadcast that was stopped.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect, sync_playwright
from sqlalchemy import select

from classroom_agent.agent import Agent
from deploy.local_cluster import Balancer, LocalCluster
from server.store import db as store_db
from server.store.media_models import LiveBroadcast
from tests.chromium import CHROMIUM, FAKE_MEDIA, HEADLESS
from tests.cluster_helpers import (
    Backends,
    add_sites,
    make_session_live,
    shared_backends,
    staff_login,
    stop_clients,
)
from tests.media.test_broadcast_e2e import agent_config
from tests.web.live_helpers import wait_for

TAKEOVER_LIMIT = 5.0  # seconds from the kill until every site receives the program again


def generation(agent: Agent, session_id: int) -> int:
    media = agent.media.sessions.get(session_id)
    return int(media.order.get("generation", 0)) if media is not None else 0


def frames_in_generation(agent: Agent, session_id: int, wanted: int) -> int:
    """Frames the site has received from the relay of broadcast generation ``wanted``."""
    media = agent.media.sessions.get(session_id)
    if media is None or media.receiver is None or generation(agent, session_id) != wanted:
        return 0
    return media.receiver.frames


async def records(url: str, session_id: int) -> list[tuple[str, int]]:
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db:
            rows = await db.execute(
                select(LiveBroadcast.node_id, LiveBroadcast.generation).where(
                    LiveBroadcast.session_id == session_id
                )
            )
            return [(str(r.node_id), int(r.generation)) for r in rows]
    finally:
        await engine.dispose()


@asynccontextmanager
async def live_on_two_nodes(
    tmp_path: Path, sites: int = 0, **options: Any
) -> AsyncIterator[tuple[Backends, list[tuple[int, str]], LocalCluster]]:
    """Shared backends with the world's session live and ``sites`` more sites (id, secret) taking
    part, and two server processes on them (media on 127.0.0.1; ``options`` for LocalCluster),
    started, and stopped at the end."""
    async with shared_backends(tmp_path, log_level="WARNING") as b:
        await make_session_live(b.url, b.world.session_id)
        added = await add_sites(b.url, b.world, sites) if sites else []
        env = {**b.env, "CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1"}
        cluster = LocalCluster(tmp_path / "cluster", 2, env, "python", **options)
        await asyncio.to_thread(cluster.start)
        try:
            yield b, added, cluster
        finally:
            await asyncio.to_thread(cluster.stop)


async def test_the_broadcast_of_a_killed_node_is_taken_over_within_five_seconds(
    tmp_path: Path,
) -> None:
    async with live_on_two_nodes(tmp_path, sites=3) as (b, sites, cluster):
        sid = b.world.session_id
        origin_site, near_site, far_site = sites
        node_a, node_b = cluster.nodes
        # the far site's agent reaches the cluster through a balancer that sends it to node A
        # first (round robin from the first backend) and to node B once A is gone
        balancer = Balancer([("127.0.0.1", node_a.port), ("127.0.0.1", node_b.port)])
        await balancer.start()
        agents: list[Agent] = []
        runs: list[asyncio.Task[int]] = []
        try:
            for base, site, source in (
                (node_b.url, origin_site, "testpattern"),
                (node_b.url, near_site, "none"),
                (f"http://127.0.0.1:{balancer.port}", far_site, "none"),
            ):
                config = agent_config(base, site, tmp_path / f"agent-{site[0]}", source)
                agents.append(Agent(config))
                runs.append(asyncio.create_task(agents[-1].run()))
            origin, near, far = agents
            await wait_for(lambda: all(a.connected for a in agents), timeout=20)
            assert balancer.connections[0] >= 1, "the far site's agent should be on node A"
            jar = aiohttp.CookieJar(unsafe=True)
            async with aiohttp.ClientSession(cookie_jar=jar) as http:
                csrf = await staff_login(http, node_a.url, b.world, "operator")
                headers = {"X-CSRF-Token": csrf}
                body = {"source": "site", "site_id": origin_site[0]}
                async with http.post(
                    f"{node_a.url}/api/v1/sessions/{sid}/broadcast/start",
                    json=body,
                    headers=headers,
                ) as r:
                    assert r.status == 200, await r.text()
                for agent in (near, far):
                    await wait_for(lambda a=agent: frames_in_generation(a, sid, 1) > 30, 20)
                [(owner, first)] = await records(b.url, sid)
                assert first == 1

                killed_at = time.monotonic()
                await asyncio.to_thread(node_a.kill)
                back: dict[str, float] = {}

                def receiving_again() -> bool:
                    for name, agent in (("near", near), ("far", far)):
                        if name not in back and frames_in_generation(agent, sid, 2) >= 5:
                            back[name] = time.monotonic() - killed_at
                    return len(back) == 2

                await wait_for(receiving_again, timeout=TAKEOVER_LIMIT + 10)
                assert max(back.values()) < TAKEOVER_LIMIT, back
                assert frames_in_generation(origin, sid, 2) == 0  # it publishes, receives none
                [(new_owner, second)] = await records(b.url, sid)
                assert new_owner != owner and second == 2

                # node B answers for the broadcast as its owner, and stops it for everybody
                async with http.get(f"{node_b.url}/api/v1/sessions/{sid}/broadcast") as r:
                    view = await r.json()
                assert view["live"] and view["node"] == new_owner and view["relay"] is not None
                async with http.post(
                    f"{node_b.url}/api/v1/sessions/{sid}/broadcast/stop",
                    headers=headers,
                ) as r:
                    assert r.status == 200, await r.text()
                await wait_for(lambda: not any(a.media.sessions for a in agents), timeout=10)
                assert await records(b.url, sid) == []
                print(f"sites receiving again after the kill: {back}")
        finally:
            await stop_clients(agents, runs)
            await balancer.close()


def _console_broadcasts_and_survives(url: str, world: Any, session_id: int, kill: Any) -> float:
    """The operator's console (Chromium, fake camera) broadcasts its camera through the
    balancer; ``kill(owner node id)`` kills the owner; the seconds until the console publishes
    into the new owner's relay."""
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[*HEADLESS, *FAKE_MEDIA],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(20_000)
            page.goto(url + "/operator/")
            page.get_by_label(re.compile("用户名|Username")).fill("operator")
            page.get_by_label(re.compile("密码|Password")).fill(world.passwords["operator"])
            page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            page.locator(f'a[data-session="{session_id}"]').click()
            page.locator("#bc-start").click()  # the local camera (ticked by default)
            try:
                expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=20_000)
            except AssertionError:
                # Seen once in 4 full runs (before any kill): the camera's first publication
                # through the balancer never connected. The console now offers it again by
                # itself (10 s connect timeout, then 1, 2, 4 s pauses; tested in
                # tests/browser/test_console_publish_retry.py), which can take longer than
                # this wait; the operator's other way out stays: reload and press
                # 从本机摄像头推流. The takeover below is what is tested.
                page.reload()
                page.locator(f'a[data-session="{session_id}"]').click()
                page.locator("#bc-publish").click()
                expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=20_000)
            # the console says 直播中 from the owner's view; through the balancer the other
            # node may answer, from the owner's last announcement (a second behind at most)
            view = page.evaluate(VIEW, session_id)
            for _ in range(30):
                if view.get("origin_publishing"):
                    break
                time.sleep(0.1)
                view = page.evaluate(VIEW, session_id)
            assert view["generation"] == 1 and view["origin_publishing"] is True, view
            killed_at = time.monotonic()
            kill(view["node"])
            deadline = killed_at + 20
            while time.monotonic() < deadline:
                try:
                    view = page.evaluate(VIEW, session_id)
                except PlaywrightError:
                    view = {}
                if view.get("generation") == 2 and view.get("origin_publishing"):
                    return time.monotonic() - killed_at
                time.sleep(0.1)
            raise AssertionError(f"the console did not publish to the new owner: {view}")
        finally:
            browser.close()


VIEW = """async (sid) => {
  const r = await fetch(`/api/v1/sessions/${sid}/broadcast`);
  return r.ok ? await r.json() : {};
}"""


async def test_the_consoles_camera_publishes_to_the_node_that_took_the_broadcast_over(
    tmp_path: Path,
) -> None:
    async with live_on_two_nodes(tmp_path, down_for=30) as (b, _, cluster):

        def kill(owner: str) -> None:
            next(n for n in cluster.nodes if n.name == owner).kill()

        seconds = await asyncio.to_thread(
            _console_broadcasts_and_survives, cluster.url, b.world, b.world.session_id, kill
        )
        print(f"the console's camera publishes again {seconds:.1f} s after the kill")
        assert seconds < TAKEOVER_LIMIT + 3  # the page's socket may have died too
