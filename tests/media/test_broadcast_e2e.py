"""The broadcast with real peers on loopback: the real server, real classroom agents (aiortc,
generated test pattern), signalling over /ws/agent, the floor switching the program, a site
joining late, an agent killed (SIGKILL) and restarted, the recording of it all."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest

from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig
from server import security
from server.config import Config
from server.media import forward
from server.store import db as store_db
from server.store.models import ClassSession, Site
from server.web.keys import LIVE, MEDIA
from tests.conftest import ClientFactory, World
from tests.server_process import stop_process
from tests.web.live_helpers import wait_for

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def config(config: Config) -> Config:
    """The shared test configuration (tests/conftest.py) with media on loopback."""
    return replace(config, media_bind_addresses=["127.0.0.1"])


@pytest.fixture(autouse=True)
def _restore_host_addresses() -> Any:
    yield
    forward.set_host_addresses(None)


async def add_sites(
    config: Config, world: World, names: list[str], parents: dict[str, str] | None = None
) -> dict[str, tuple[int, str]]:
    """Secrets for the main classroom and new sites in the world's session: children of the
    main classroom, or of the site named in ``parents`` (created earlier in ``names``)."""
    engine = store_db.create_engine(config.effective_database_url)
    out: dict[str, tuple[int, str]] = {}
    async with store_db.session_factory(engine)() as db, db.begin():
        session = await db.get(ClassSession, world.session_id, options=[])
        await db.refresh(session, ["sites"])
        main = next(s for s in session.sites if s.kind.value == "main")
        secret, digest = security.new_site_secret(main.id)
        main.secret_hash = digest
        out["main"] = (main.id, secret)
        for name in names:
            parent = out[(parents or {}).get(name, "main")][0]
            site = Site(name=f"分课堂{name}", code=f"S{name}", parent_id=parent, capacity=30)
            db.add(site)
            await db.flush()
            secret, digest = security.new_site_secret(site.id)
            site.secret_hash = digest
            session.sites.append(site)
            out[name] = (site.id, secret)
    await engine.dispose()
    return out


async def live_session(
    client_as: ClientFactory,
    world: World,
    config: Config,
    names: list[str],
    parents: dict[str, str] | None = None,
) -> tuple[Any, str, int, dict[str, tuple[int, str]]]:
    """The world's session started by the operator, with the sites of :func:`add_sites`:
    (operator client, server URL, session id, sites)."""
    sites = await add_sites(config, world, names, parents)
    op = await client_as("operator")
    sid = world.session_id
    assert (await op.post(f"/api/v1/sessions/{sid}/start")).status == 200
    return op, f"http://{op.server.host}:{op.server.port}", sid, sites


def agent_config(url: str, site: tuple[int, str], state: Path, source: str) -> AgentConfig:
    return AgentConfig(
        server=url,
        site_id=site[0],
        site_secret=site[1],
        state_dir=str(state),
        heartbeat_interval=0.5,
        backoff_base=0.05,
        backoff_cap=0.5,
        source=source,
        main_size="320x240",
        main_fps=15,
        return_size="160x120",
        return_fps=10,
        media_bind="127.0.0.1",
    )


def received(agent: Agent, session_id: int) -> int:
    media = agent.media.sessions.get(session_id)
    return media.receiver.frames if media is not None and media.receiver is not None else 0


async def grows(count: Callable[[], int], by: int, timeout: float = 10.0) -> None:
    start = count()
    await wait_for(lambda: count() >= start + by, timeout=timeout, step=0.05)


def feed_source(stats: dict[str, Any], peer: str) -> str | None:
    sub = stats["subscribers"].get(peer)
    return None if sub is None else sub["video"]["source"]


async def test_broadcast_reaches_every_site_floor_switches_late_joiner_recording(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    op, url, sid, sites = await live_session(client_as, world, config, ["A", "B"])

    agents = {
        "main": Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern")),
        "A": Agent(agent_config(url, sites["A"], tmp_path / "A", "testpattern")),
    }
    runs = [asyncio.create_task(a.run()) for a in agents.values()]
    await wait_for(lambda: all(a.connected for a in agents.values()), timeout=10)

    r = await op.post(f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main"})
    assert r.status == 200, await r.text()
    view = await r.json()
    assert view["program"] == "main" and view["recording_id"] is not None
    again = await op.post(f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main"})
    assert again.status == 409 and (await again.json())["error"]["code"] == "broadcast.already_live"

    b = op.server.app[MEDIA].live[sid]
    site_a, site_b = f"site:{sites['A'][0]}", f"site:{sites['B'][0]}"
    # every site receives frames continuously (15 fps sent: >= 10 more within 1.5 s, repeatedly)
    await grows(lambda: received(agents["A"], sid), 20, timeout=15)
    for _ in range(3):
        await grows(lambda: received(agents["A"], sid), 10, timeout=1.5)
    assert agents["A"].health().stream.state == "ok"
    assert feed_source(b.relay.stats(), site_a) == "main"

    # a site joining late is brought in when its agent connects
    agents["B"] = Agent(agent_config(url, sites["B"], tmp_path / "B", "testpattern"))
    runs.append(asyncio.create_task(agents["B"].run()))
    joined = time.monotonic()
    await grows(lambda: received(agents["B"], sid), 1, timeout=10)
    late_first_frame = time.monotonic() - joined
    await grows(lambda: received(agents["B"], sid), 10, timeout=2)
    await wait_for(lambda: b.relay.has_publisher(site_b), timeout=10)

    # the floor: the program switches to site A, A gets the main classroom, nobody its own feed
    r = await op.post(f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": sites["A"][0]})
    assert r.status == 200, await r.text()
    await wait_for(lambda: feed_source(b.relay.stats(), site_b) == site_a, timeout=5)
    await wait_for(lambda: feed_source(b.relay.stats(), "main") == site_a, timeout=5)
    assert feed_source(b.relay.stats(), site_a) == "main"
    for name in ("A", "B", "main"):
        await grows(lambda n=name: received(agents[n], sid), 8, timeout=3)
    r = await op.post(f"/api/v1/sessions/{sid}/floor/revoke")
    assert r.status == 200, await r.text()
    await wait_for(lambda: feed_source(b.relay.stats(), site_b) == "main", timeout=5)
    await grows(lambda: received(agents["B"], sid), 10, timeout=3)
    state = await (await op.get(f"/api/v1/sessions/{sid}/broadcast")).json()
    assert state["live"] and state["program"] == "main"
    assert state["relay"]["subscribers"][site_b]["video"]["switches"] >= 2

    # the server's view of each site's stream, from the heartbeats
    await asyncio.sleep(1.2)
    for name in ("A", "B"):
        health = agents[name].health().stream
        assert health.state == "ok" and (health.fps or 0) >= 8, (name, health)

    r = await op.post(f"/api/v1/sessions/{sid}/broadcast/stop")
    assert r.status == 200, await r.text()
    await wait_for(lambda: not agents["A"].media.sessions, timeout=5)
    recordings = (await (await op.get(f"/api/v1/sessions/{sid}/recordings")).json())["recordings"]
    assert len(recordings) == 1
    rec = recordings[0]
    assert rec["status"] == "done" and rec["format"] == "webm" and rec["video_frames"] > 50
    assert [s["program"] for s in rec["switches"]] == ["main", site_a, "main"]
    path = Path(config.data_dir) / "recordings"
    files = list(path.iterdir())
    with av.open(str(files[0])) as container:
        decoded = sum(1 for _ in container.decode(video=0))
    assert decoded >= rec["video_frames"] - 2
    download = await op.get(rec["file"])
    assert download.status == 200 and download.headers["Content-Type"] == "video/webm"

    for agent in agents.values():
        agent.stop()
    await asyncio.wait_for(asyncio.gather(*runs), 15)
    print(f"late joiner: first frame {late_first_frame * 1000:.0f} ms after its agent started")


async def test_replay_of_a_recording_reaches_the_sites(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    op, url, sid, sites = await live_session(client_as, world, config, ["A"])
    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    site = Agent(agent_config(url, sites["A"], tmp_path / "A", "none"))
    runs = [asyncio.create_task(main.run()), asyncio.create_task(site.run())]
    r = await op.post(f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main"})
    assert r.status == 200, await r.text()
    await grows(lambda: received(site, sid), 45, timeout=15)
    assert (await op.post(f"/api/v1/sessions/{sid}/broadcast/stop")).status == 200
    rec = (await (await op.get(f"/api/v1/sessions/{sid}/recordings")).json())["recordings"][0]
    assert rec["status"] == "done"

    bad = await op.post(
        f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "recording", "recording_id": 999}
    )
    assert (await bad.json())["error"]["code"] == "broadcast.unknown_recording"
    r = await op.post(
        f"/api/v1/sessions/{sid}/broadcast/start",
        json={"source": "recording", "recording_id": rec["id"]},
    )
    assert r.status == 200, await r.text()
    assert (await r.json())["program"] == f"rec:{rec['id']}"
    before = received(site, sid)
    await grows(lambda: received(site, sid), 20, timeout=15)
    assert received(site, sid) > before
    assert (await op.post(f"/api/v1/sessions/{sid}/broadcast/stop")).status == 200
    main.stop()
    site.stop()
    await asyncio.wait_for(asyncio.gather(*runs), 15)


def spawn_agent(
    url: str, site: tuple[int, str], state: Path, *extra: str
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CLASSROOM_AGENT_SITE_SECRET": site[1],
        "PYTHONPATH": str(ROOT),
    }
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "classroom_agent.cli",
            "--server",
            url,
            "--state-dir",
            str(state),
            "--log-file",
            str(state / "agent.log"),
            "--source",
            "testpattern",
            "--return-size",
            "160x120",
            "--return-fps",
            "10",
            "--media-bind",
            "127.0.0.1",
            "--heartbeat-interval",
            "0.5",
            "--backoff-cap",
            "0.5",
            *extra,
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def test_an_agent_killed_and_restarted_resumes_publishing_and_receiving(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    op, url, sid, sites = await live_session(client_as, world, config, ["A"])
    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    run = asyncio.create_task(main.run())
    r = await op.post(
        f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main", "record": False}
    )
    assert r.status == 200, await r.text()
    b = op.server.app[MEDIA].live[sid]
    peer = f"site:{sites['A'][0]}"

    def frames_to_a() -> int:
        sub = b.relay.stats()["subscribers"].get(peer)
        return 0 if sub is None else int(sub["video"]["frames_out"])

    def frames_from_a() -> int:
        pub = b.relay.stats()["publishers"].get(peer)
        return 0 if pub is None else int(pub["frames_in"]["video"])

    proc = spawn_agent(url, sites["A"], tmp_path / "A")
    try:
        await grows(frames_to_a, 30, timeout=30)
        await grows(frames_from_a, 10, timeout=10)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        # the killed agent's peers stop; a new process with the same state takes over
        proc = spawn_agent(url, sites["A"], tmp_path / "A")
        await wait_for(lambda: frames_to_a() < 30, timeout=30)  # a new subscriber peer
        await grows(frames_to_a, 30, timeout=30)
        await grows(frames_from_a, 10, timeout=10)
        assert await main_receives(main, sid)
    finally:
        stop_process(proc)
    main.stop()
    await asyncio.wait_for(run, 15)


async def main_receives(agent: Agent, sid: int) -> bool:
    """The main classroom gets nothing while it is the program itself."""
    await asyncio.sleep(0.5)
    return received(agent, sid) == 0


async def test_a_site_that_stops_getting_frames_is_degraded_then_online_again(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    op, url, sid, sites = await live_session(client_as, world, config, ["A"])
    live = op.server.app[LIVE]
    site = Agent(agent_config(url, sites["A"], tmp_path / "A", "none"))
    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    runs = [asyncio.create_task(site.run()), asyncio.create_task(main.run())]
    r = await op.post(
        f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main", "record": False}
    )
    assert r.status == 200, await r.text()
    a = sites["A"][0]
    await grows(lambda: received(site, sid), 30, timeout=15)
    await wait_for(lambda: live.presence.state(a) == "online", timeout=5)
    # the lecture stops reaching the site (the main classroom's agent goes away)
    main.stop()
    await asyncio.wait_for(runs.pop(), 15)
    await wait_for(lambda: live.presence.state(a) == "degraded", timeout=10)
    assert site.health().stream.state == "bad"
    # it comes back: the site is online again
    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    runs.append(asyncio.create_task(main.run()))
    await wait_for(lambda: live.presence.state(a) == "online", timeout=20)
    assert site.health().stream.state == "ok"
    for agent in (site, main):
        agent.stop()
    await asyncio.wait_for(asyncio.gather(*runs), 15)
