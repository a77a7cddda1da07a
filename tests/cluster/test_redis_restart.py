"""Redis restarted mid-session (issue #8): a redis-server the test owns (no persistence, so
the restart empties it) under two server processes, with a site agent and browsers on each.

- Both processes resubscribe on their own; browsers are told (``gap``) and resync, because
  the topics' epochs changed with the data Redis lost.
- Live events resume across processes: a question asked on one node reaches the browsers of
  both, and a question put on air reaches the site agents on both.
- No record is lost: questions asked while Redis was down are stored (only their live
  fan-out was missed), and every question is listed once.
- Presence stays true: no site is declared offline (``node_lost``) because Redis forgot its
  presence key; the walls show every site online throughout and after.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp

from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig
from deploy.local_cluster import LocalCluster
from tests.cluster_helpers import (
    LiveBrowser,
    RedisServer,
    add_sites,
    lift_question_rate_limit,
    make_session_live,
    seed_trainees,
    shared_backends,
    staff_login,
    stop_clients,
    trainee_headers,
)
from tests.web.live_helpers import wait_for

DOWN_FOR = 3.0


async def _ask(http: aiohttp.ClientSession, base: str, session_id: int, token: str, n: int) -> int:
    body = {"text": f"第{n}个问题：基层如何减负？", "client_id": f"redis-q{n}"}
    async with http.post(
        f"{base}/api/v1/sessions/{session_id}/questions", json=body, headers=trainee_headers(token)
    ) as r:
        assert r.status == 201, await r.text()
        return int((await r.json())["id"])


def _seen_questions(browser: LiveBrowser) -> set[int]:
    return {
        int(e["data"]["id"])
        for e in browser.events
        if e.get("kind") in ("question_approved", "question_submitted")
    }


async def _ready(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(base + "/readyz") as r:
        body: dict[str, Any] = await r.json()
        return body


async def test_redis_restart_mid_session_resumes_live_and_loses_no_record(
    tmp_path: Path,
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        async with shared_backends(tmp_path, redis_url=redis.url, log_level="WARNING") as b:
            await _run(tmp_path, b.world, b.url, b.env, redis)
    finally:
        redis.stop()


async def _run(
    tmp_path: Path, world: Any, url: str, env: dict[str, str], redis: RedisServer
) -> None:
    session_id = world.session_id
    topic = f"session:{session_id}"
    await make_session_live(url, session_id)
    await lift_question_rate_limit(url, session_id)
    (other_site,) = await add_sites(url, world, 1)
    sites = [(world.site_id, world.site_secret), other_site]
    (_, token), *_ = await seed_trainees(url, world, 2)
    cluster = LocalCluster(tmp_path / "cluster", 2, env, "python")
    await asyncio.to_thread(cluster.start)
    nodes = [n.url for n in cluster.nodes]
    agents: list[Agent] = []
    tasks: list[asyncio.Task[int]] = []
    browsers: list[LiveBrowser] = []
    on_air: list[list[Any]] = []  # per agent: the question_on_air commands it received
    try:
        timeout = aiohttp.ClientTimeout(total=10)
        async with (
            aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=timeout) as (
                http
            ),
            aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar(), timeout=timeout) as phone,
        ):
            csrf = await staff_login(http, nodes[0], world, "operator")
            for base in nodes:  # one wall on each node
                browsers.append(LiveBrowser(http, base, ["presence", topic]).start())
            for i, (site_id, secret) in enumerate(sites):  # one agent on each node
                config = AgentConfig(
                    server=nodes[i],
                    site_secret=secret,
                    site_id=site_id,
                    state_dir=str(tmp_path / f"agent-{i}"),
                )
                agents.append(Agent(config))
                on_air.append([])
                agents[-1].on("question_on_air", lambda e, seen=on_air[-1]: seen.append(e.data))
                tasks.append(asyncio.create_task(agents[-1].run()))
            await wait_for(lambda: all(a.connected for a in agents), timeout=20)
            await asyncio.wait_for(asyncio.gather(*(b.subscribed.wait() for b in browsers)), 20)
            asked = [await _ask(phone, nodes[0], session_id, token, 0)]
            await wait_for(lambda: all(asked[0] in _seen_questions(b) for b in browsers), 5)
            epochs = {b.cursors[topic][0] for b in browsers}

            redis.kill()
            killed = time.monotonic()
            n = 1
            while time.monotonic() - killed < DOWN_FOR:  # the records go on being written
                asked.append(await _ask(phone, nodes[n % 2], session_id, token, n))
                n += 1
                await asyncio.sleep(0.3)
            await asyncio.to_thread(redis.start)
            restarted = time.monotonic()

            async def resubscribed() -> None:
                while True:
                    states = [(await _ready(http, base)).get("bus") for base in nodes]
                    if states == ["ok", "ok"] and all(
                        b.gaps >= 1 and b.cursors[topic][0] not in epochs for b in browsers
                    ):
                        return
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(resubscribed(), 20)
            back_after = time.monotonic() - restarted
            # live events resume, across processes
            after = []
            for i in range(4):
                after.append(await _ask(phone, nodes[i % 2], session_id, token, 100 + i))
            await wait_for(
                lambda: all(set(after) <= _seen_questions(b) for b in browsers), timeout=5
            )
            # ... and to the agents: a question put on air reaches the sites on both nodes
            async with http.post(
                f"{nodes[1]}/api/v1/questions/{after[0]}/on-air", headers={"X-CSRF-Token": csrf}
            ) as r:
                assert r.status == 200, await r.text()
            await wait_for(
                lambda: all(any(d["question"]["id"] == after[0] for d in seen) for seen in on_air),
                timeout=5,
            )
            print(
                f"redis down {DOWN_FOR:.0f} s; both nodes resubscribed and walls resynced "
                f"{back_after:.1f} s after the restart; {len(asked) - 1} questions asked meanwhile"
            )

            # no record lost: every question asked is listed once
            async with phone.get(
                f"{nodes[1]}/api/v1/sessions/{session_id}/questions?order=time&limit=200",
                headers=trainee_headers(token),
            ) as r:
                assert r.status == 200, await r.text()
                listed = [int(q["id"]) for q in (await r.json())["items"]]
            assert sorted(listed) == sorted(asked + after)

            # presence: nobody was declared offline because Redis forgot the keys
            await asyncio.sleep(3.0)  # more than a reaper round after the keys came back
            for b in browsers:
                offline = [
                    e["data"]
                    for e in b.events
                    if e["topic"] == "presence" and e["data"].get("state") == "offline"
                ]
                assert offline == [], offline
                for name, history in b.history.items():
                    assert history.check() == [], (name, history.items)
            snapshot: dict[int, str] = {}
            async with http.ws_connect(nodes[1] + "/ws/client") as ws:
                await ws.receive_json(timeout=5)
                await ws.send_json({"type": "subscribe", "topics": ["presence"]})
                while (m := await ws.receive_json(timeout=5)).get("type") != "resync":
                    pass
                snapshot = {int(s["id"]): s["state"] for s in m["snapshot"]["sites"]}
            assert {s: snapshot.get(s) for s, _ in sites} == {s: "online" for s, _ in sites}
    finally:
        await stop_clients(agents, tasks, browsers)
        await asyncio.to_thread(cluster.stop)
