"""Issue 14 item 4 (sites) against a real server process: a leaked old site secret stops
working the moment a new one is issued, including on the agent socket already open and on the
site screen's cookie and live socket; other sites are not disturbed."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import aiohttp

from tests.security.checkin_world import (
    TIMEOUT,
    as_operator,
    healthy,
    outbox_results,
    served,
    signed_in,
)
from tests.web.live_helpers import AgentPeer, hello, subscribed


async def test_a_new_site_secret_closes_the_old_agent_socket_and_screen_at_once(
    tmp_path: Path,
) -> None:
    async with served(tmp_path) as (rooms, server):
        world, sid, base = rooms.world, rooms.session_id, server.url
        async with (
            aiohttp.ClientSession(base_url=base, timeout=TIMEOUT) as raw,
            as_operator(base, rooms) as op,
            signed_in(base) as screen,
        ):
            old_secret = world.site_secret
            auth = {"Authorization": f"Bearer {old_secret}"}
            agent = AgentPeer(await raw.ws_connect("/ws/agent", headers=auth))
            await agent.send(hello(world.site_id))
            await agent.expect("welcome")
            other = AgentPeer(
                await raw.ws_connect(
                    "/ws/agent", headers={"Authorization": f"Bearer {rooms.site_b_secret}"}
                )
            )
            await other.send(hello(rooms.site_b))
            await other.expect("welcome")
            async with screen.post("/api/v1/auth/screen", json={"secret": old_secret}) as r:
                assert r.status == 200
                screen.headers["X-CSRF-Token"] = (await r.json())["csrf_token"]
            screen_ws = await subscribed(screen, f"session:{sid}")

            started = time.monotonic()
            async with op.post(f"/api/v1/sites/{world.site_id}/secret") as r:
                assert r.status == 201
            code, _ = await agent.closed(timeout=3)
            assert code is not None and time.monotonic() - started < 3
            # A check-in sent on the old socket afterwards goes nowhere.
            item = {"id": "late-1", "kind": "checkin", "ts": time.time(), "body": {}}
            with contextlib.suppress(ConnectionError, RuntimeError):
                await agent.send({"type": "outbox", "items": [item]})
            assert agent.ws.closed
            # The screen's live socket is closed too, and its cookie no longer signs in.
            await screen_ws.ws.receive(timeout=3)
            assert screen_ws.ws.closed
            async with screen.get("/api/v1/auth/me") as r:
                assert (await r.json())["actor"] == "anonymous"
            # The old secret opens nothing any more.
            async with raw.get("/ws/agent", headers=auth) as r:
                assert r.status == 401
                assert (await r.json())["error"]["code"] == "auth.bad_site_secret"
            # Site B's agent was not disturbed, and the server keeps serving.
            await other.send({"type": "outbox", "items": [{**item, "id": "b-1"}]})
            ack = await other.expect("outbox_ack")
            assert "b-1" in ack["results"]
            assert await healthy(base) < 1.0
        assert set(await outbox_results(rooms)) == {"b-1"}  # nothing of the old socket's
