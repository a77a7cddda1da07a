"""Cascade relays with real peers on loopback: a district's agent relays the program to its
towns (the server sends one copy to the district), a town joining late gets its first frame
through the district, the floor at a town takes that town off the relay and back, and when the
district's agent is killed (SIGKILL) its towns re-parent to the server within 5 s, then come
back to the district when its agent restarts; when it hangs (SIGSTOP) they notice the silence
and re-parent within 5 s too."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

from classroom_agent.agent import Agent
from server.config import Config
from server.web.keys import MEDIA
from tests.conftest import ClientFactory, World
from tests.media.test_broadcast_e2e import (
    agent_config,
    grows,
    live_session,
    received,
    spawn_agent,
)
from tests.server_process import stop_process
from tests.web.live_helpers import wait_for

REPARENT_LIMIT = 5.0  # seconds: the bound for children of a dead relay


def frames_since(agent: Agent, since: float) -> int:
    """Frames the agent's receiver got after ``since`` (monotonic), whatever its peer."""
    receivers = [m.receiver for m in agent.media.sessions.values() if m.receiver is not None]
    return sum(1 for r in receivers for at in r.clock.times if at > since)


async def test_towns_pull_from_their_district_relay_and_re_parent_when_it_dies(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    op, url, sid, sites = await live_session(
        client_as, world, config, ["D", "T1", "T2"], parents={"T1": "D", "T2": "D"}
    )
    district, t1, t2 = sites["D"][0], sites["T1"][0], sites["T2"][0]

    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    town1 = Agent(agent_config(url, sites["T1"], tmp_path / "T1", "none"))
    town2 = Agent(agent_config(url, sites["T2"], tmp_path / "T2", "none"))
    runs = [asyncio.create_task(main.run()), asyncio.create_task(town1.run())]
    proc = spawn_agent(url, sites["D"], tmp_path / "D", "--relay-children", "4")
    try:
        await wait_for(lambda: district in op.server.app[MEDIA].relays, timeout=20)
        r = await op.post(
            f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main", "record": False}
        )
        assert r.status == 200, await r.text()
        assert (await r.json())["upstream"] == {str(t1): district, str(t2): district}
        b = op.server.app[MEDIA].live[sid]

        def served_by_server() -> set[str]:
            return set(b.relay.stats()["subscribers"])

        # town 1 receives through the district: the server has no subscriber for it
        await grows(lambda: received(town1, sid), 30, timeout=20)
        for _ in range(3):
            await grows(lambda: received(town1, sid), 8, timeout=1.5)
        assert f"site:{district}" in served_by_server()
        assert f"site:{t1}" not in served_by_server()

        # town 2 joins late: its first frame comes through the district (keyframe asked
        # upstream through the relay)
        runs.append(asyncio.create_task(town2.run()))
        joined = time.monotonic()
        await grows(lambda: received(town2, sid), 1, timeout=10)
        late_first = time.monotonic() - joined
        await grows(lambda: received(town2, sid), 10, timeout=2)
        assert f"site:{t2}" not in served_by_server()

        # the floor at town 1: it must get the main classroom, not its own feed, so it leaves
        # the relay; town 2 keeps pulling from the district (which now gets town 1's feed)
        r = await op.post(f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": t1})
        assert r.status == 200, await r.text()
        await wait_for(lambda: b.upstream[t1] is None, timeout=5)
        await wait_for(lambda: f"site:{t1}" in served_by_server(), timeout=10)
        sub = b.relay.stats()["subscribers"][f"site:{t1}"]
        assert sub["video"]["source"] == "main"
        await grows(lambda: received(town1, sid), 10, timeout=10)
        await grows(lambda: received(town2, sid), 10, timeout=5)
        assert b.upstream[t2] == district
        r = await op.post(f"/api/v1/sessions/{sid}/floor/revoke")
        assert r.status == 200, await r.text()
        await wait_for(lambda: b.upstream[t1] == district, timeout=5)
        await wait_for(lambda: f"site:{t1}" not in served_by_server(), timeout=10)
        await grows(lambda: received(town1, sid), 10, timeout=10)

        # the district's agent dies: both towns re-parent to the server within 5 s
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        killed = time.monotonic()
        await wait_for(
            lambda: frames_since(town1, killed) >= 5 and frames_since(town2, killed) >= 5,
            timeout=REPARENT_LIMIT,
            step=0.02,
        )
        reparented = time.monotonic() - killed
        assert b.upstream[t1] is None and b.upstream[t2] is None
        assert {f"site:{t1}", f"site:{t2}"} <= served_by_server()

        # the district comes back: its towns pull from it again
        proc = spawn_agent(url, sites["D"], tmp_path / "D", "--relay-children", "4")
        await wait_for(lambda: b.upstream.get(t1) == district, timeout=20)
        await wait_for(lambda: f"site:{t1}" not in served_by_server(), timeout=10)
        await grows(lambda: received(town1, sid), 20, timeout=15)
        await grows(lambda: received(town2, sid), 20, timeout=15)
        assert town1.health().stream.state == "ok"

        # the district's agent hangs (SIGSTOP: its socket stays open, nothing flows): the
        # towns notice the silence and tell the server, which re-parents them within 5 s
        proc.send_signal(signal.SIGSTOP)
        hung = time.monotonic()
        try:
            await wait_for(
                lambda: (
                    frames_since(town1, hung + 0.3) >= 5 and frames_since(town2, hung + 0.3) >= 5
                ),
                timeout=REPARENT_LIMIT,
                step=0.02,
            )
            unhung = time.monotonic() - hung
            assert b.upstream[t1] is None and b.upstream[t2] is None
            assert district in b.suspects
        finally:
            proc.send_signal(signal.SIGCONT)
        print(
            f"late town: first frame {late_first * 1000:.0f} ms after its agent started;"
            f" re-parented {reparented * 1000:.0f} ms after the relay was killed,"
            f" {unhung * 1000:.0f} ms after it hung"
        )
        assert (await op.post(f"/api/v1/sessions/{sid}/broadcast/stop")).status == 200
    finally:
        stop_process(proc)
    for agent in (main, town1, town2):
        agent.stop()
    await asyncio.wait_for(asyncio.gather(*runs), 15)
