"""A check-in sends staff a small live event on the session topic (the operator's wall updates
its count at once): one per burst, after the commit, naming sites, never trainees."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from server.bus.memory import MemoryBus
from server.bus.port import BusEvent
from server.web.checkin.events import KIND, CheckinEvents
from tests.conftest import ClientFactory, World
from tests.web.live_helpers import AgentPeer, browser_socket, hello


async def test_a_burst_of_check_ins_makes_one_event_per_session() -> None:
    bus = MemoryBus()
    seen: list[tuple[str, BusEvent]] = []
    bus.subscribe(lambda topic, event: seen.append((topic, event)))
    await bus.start()
    events = CheckinEvents(bus, coalesce_s=0.05)
    try:
        for i in range(50):
            events.changed(7, 2 + i % 3)
        events.changed(8, None)
        deadline = time.monotonic() + 5
        while len(seen) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.1)  # nothing more comes
        got = {topic: (e.type, dict(e.payload)) for topic, e in seen}
        assert len(seen) == 2, seen
        assert got["session:7"] == (KIND, {"session_id": 7, "site_ids": [2, 3, 4]})
        assert got["session:8"] == (KIND, {"session_id": 8, "site_ids": []})
        events.changed(7, 9)  # a later one is a new event
        deadline = time.monotonic() + 5
        while len(seen) < 3 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        assert dict(seen[2][1].payload) == {"session_id": 7, "site_ids": [9]}
    finally:
        events.close()
        await bus.close()


async def test_a_site_agents_check_in_reaches_the_operators_socket(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    assert (await op.post(f"/api/v1/sessions/{world.session_id}/start")).status == 200
    browser = await browser_socket(op)
    await browser.subscribe(f"session:{world.session_id}")
    await browser.expect("resync")
    ws: Any = await op.ws_connect(
        "/ws/agent", headers={"Authorization": f"Bearer {world.site_secret}"}
    )
    agent = AgentPeer(ws)
    await agent.send(hello(world.site_id))
    await agent.expect("welcome")
    body = {"trainee_id": world.trainee_id, "session_id": world.session_id, "method": "qr"}
    item = {"id": "ev-0001", "kind": "checkin", "ts": time.time(), "body": body}
    await agent.send({"type": "outbox", "items": [item]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ev-0001": "recorded"}
    event = await browser.expect("event", kind=KIND)
    assert event["data"] == {"session_id": world.session_id, "site_ids": [world.site_id]}
    # the same item again changes nothing and says nothing
    await agent.send({"type": "outbox", "items": [item]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ev-0001": "duplicate"}
    try:
        again = await browser.expect("event", timeout=1.5, kind=KIND)
    except TimeoutError:
        again = None
    assert again is None, again
