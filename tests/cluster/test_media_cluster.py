"""A broadcast in a two-node cluster: the relay lives in the node that started it; agents and
browsers connected to the other node get their signalling carried over the bus (Redis) and
their media straight to the owner (loopback here).

- The origin site's agent is on node A, the other site's agent on node B: B's site is told to
  receive and gets frames; a browser on node B views the program.
- Node B answers ``GET .../broadcast`` with the owner's view and refuses a second start.
- The floor granted through node B switches the program on node A (the origin then receives
  the floor site); the broadcast stopped through node B ends on A, with its recording.
- Node A restarted (it starts knowing nothing of the agents on B): a broadcast started on it
  again reaches the site on node B.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import aiohttp
from aiortc import RTCSessionDescription

from classroom_agent.agent import Agent
from deploy.local_cluster import LocalCluster
from server.media import forward
from server.media.peers import add_transceivers
from tests.cluster_helpers import (
    add_sites,
    make_session_live,
    shared_backends,
    staff_login,
    stop_clients,
)
from tests.media import peer
from tests.media.test_broadcast_e2e import agent_config, grows, received
from tests.web.live_helpers import wait_for


async def view_program(http: aiohttp.ClientSession, base: str, session_id: int) -> list[float]:
    """A browser's viewer on ``base``'s /ws/client (aiortc instead of Chromium): the arrival
    time of every video frame goes into the returned list."""
    frames: list[float] = []
    pc = peer()
    for transceiver in add_transceivers(pc, "recvonly"):
        if transceiver.kind == "video":
            forward.install_passthrough(transceiver.receiver, lambda f: frames.append(time.time()))
        else:
            forward.install_passthrough(transceiver.receiver, lambda f: None)
    await pc.setLocalDescription(await pc.createOffer())
    ws = await http.ws_connect(base + "/ws/client")
    await ws.send_json(
        {
            "type": "media_offer",
            "session_id": session_id,
            "role": "view",
            "request_id": "wall",
            "sdp": pc.localDescription.sdp,
        }
    )
    async with asyncio.timeout(15):
        while (message := await ws.receive_json())["type"] != "media_answer":
            assert message["type"] != "media_error", message
    await pc.setRemoteDescription(RTCSessionDescription(sdp=message["sdp"], type="answer"))
    asyncio.get_running_loop().create_task(_hold(ws, pc))
    return frames


async def _hold(ws: aiohttp.ClientWebSocketResponse, pc: Any) -> None:
    try:
        async for _ in ws:
            pass
    finally:
        await pc.close()


async def test_a_broadcast_owned_by_one_node_serves_sites_and_browsers_on_the_other(
    tmp_path: Path,
) -> None:
    forward.set_host_addresses(["127.0.0.1"])
    try:
        async with shared_backends(tmp_path, log_level="WARNING") as b:
            await _run(tmp_path, b.world, b.url, b.env)
    finally:
        forward.set_host_addresses(None)


async def _run(tmp_path: Path, world: Any, url: str, env: dict[str, str]) -> None:
    sid = world.session_id
    await make_session_live(url, sid)
    origin_site, floor_site = await add_sites(url, world, 2)
    cluster = LocalCluster(
        tmp_path / "cluster", 2, {**env, "CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1"}, "python"
    )
    await asyncio.to_thread(cluster.start)
    node_a, node_b = (n.url for n in cluster.nodes)
    agents: list[Agent] = []
    runs: list[asyncio.Task[int]] = []
    try:
        for base, site in ((node_a, origin_site), (node_b, floor_site)):
            config = agent_config(base, site, tmp_path / f"agent-{site[0]}", "testpattern")
            agents.append(Agent(config))
            runs.append(asyncio.create_task(agents[-1].run()))
        origin, far = agents
        await wait_for(lambda: all(a.connected for a in agents), timeout=20)
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(cookie_jar=jar) as http:
            csrf = await staff_login(http, node_a, world, "operator")
            headers = {"X-CSRF-Token": csrf}
            body = {"source": "site", "site_id": origin_site[0]}
            async with http.post(
                f"{node_a}/api/v1/sessions/{sid}/broadcast/start", json=body, headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            # the site whose agent is on node B is told, receives, and keeps receiving
            await grows(lambda: received(far, sid), 30, timeout=20)
            for _ in range(3):
                await grows(lambda: received(far, sid), 8, timeout=1.5)
            # a browser on node B views the program from node A's relay
            frames = await view_program(http, node_b, sid)
            await wait_for(lambda: len(frames) > 20, timeout=15)

            # node B knows the broadcast: its view (that the origin really sends, within a
            # second or two of its first frames), and a second start is refused
            async def view_on_b() -> dict[str, Any]:
                async with http.get(f"{node_b}/api/v1/sessions/{sid}/broadcast") as r:
                    return dict(await r.json())

            view = await view_on_b()
            for _ in range(30):
                if view.get("origin_publishing"):
                    break
                await asyncio.sleep(0.1)
                view = await view_on_b()
            assert view["live"] and view["program"] == f"site:{origin_site[0]}"
            assert view["origin_publishing"] is True, view
            async with http.get(f"{node_a}/api/v1/sessions/{sid}/broadcast") as r:
                owner = await r.json()
            assert view["node"] == owner["node"] and owner["relay"] is not None
            async with http.post(
                f"{node_b}/api/v1/sessions/{sid}/broadcast/start", json=body, headers=headers
            ) as r:
                assert r.status == 409
                assert (await r.json())["error"]["code"] == "broadcast.already_live"

            # the floor granted through node B switches the program on node A
            assert received(origin, sid) == 0  # the origin receives only a floor site
            async with http.post(
                f"{node_b}/api/v1/sessions/{sid}/floor/grant",
                json={"site_id": floor_site[0]},
                headers=headers,
            ) as r:
                assert r.status == 200, await r.text()

            async def program() -> str:
                async with http.get(f"{node_a}/api/v1/sessions/{sid}/broadcast") as r:
                    return str((await r.json())["program"])

            async def switched() -> None:
                while await program() != f"site:{floor_site[0]}":
                    await asyncio.sleep(0.1)

            await asyncio.wait_for(switched(), 10)
            await grows(lambda: received(origin, sid), 10, timeout=10)

            # stopped through node B: it ends on node A, with its recording
            async with http.post(
                f"{node_b}/api/v1/sessions/{sid}/broadcast/stop", headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            await wait_for(lambda: not far.media.sessions and not origin.media.sessions, 10)

            async def recorded() -> dict[str, Any]:
                while True:
                    async with http.get(f"{node_b}/api/v1/sessions/{sid}/recordings") as r:
                        items = (await r.json())["recordings"]
                    if items and items[0]["status"] != "recording":
                        return dict(items[0])
                    await asyncio.sleep(0.2)

            recording = await asyncio.wait_for(recorded(), 10)
            assert recording["status"] == "done" and recording["video_frames"] > 30
            async with http.get(f"{node_b}/api/v1/sessions/{sid}/broadcast") as r:
                assert (await r.json())["live"] is False

            # node A restarts: it knows nothing of the agent on node B until it asks (census);
            # a broadcast started on it again reaches that site
            await asyncio.to_thread(cluster.nodes[0].kill)
            await asyncio.to_thread(cluster.nodes[0].start)
            await wait_for(lambda: origin.connected, timeout=20)
            async with http.post(
                f"{node_a}/api/v1/sessions/{sid}/broadcast/start", json=body, headers=headers
            ) as r:
                assert r.status == 200, await r.text()
            await grows(lambda: received(far, sid), 30, timeout=20)
            async with http.post(
                f"{node_a}/api/v1/sessions/{sid}/broadcast/stop", headers=headers
            ) as r:
                assert r.status == 200, await r.text()
    finally:
        await stop_clients(agents, runs)
        await asyncio.to_thread(cluster.stop)
