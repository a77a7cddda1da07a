"""The real classroom agent against the real server: presence, outbox exactly once, resume."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from classroom_agent.agent import Agent
from server.store import db as store_db
from server.store.live_models import OutboxItem
from server.web.keys import LIVE
from tests.conftest import ClientFactory, World
from tests.site_agent import site_agent
from tests.web.live_helpers import subscribed, wait_for


def _agent(url: str, world: World, state_dir: Path) -> Agent:
    return site_agent(url, world.site_secret, world.site_id, state_dir, heartbeat_interval=0.3)


async def _outbox_rows(url: str) -> int:
    engine = store_db.create_engine(url)
    async with store_db.session_factory(engine)() as db:
        count = await db.scalar(select(func.count()).select_from(OutboxItem))
    await engine.dispose()
    return int(count or 0)


async def test_agent_goes_online_delivers_its_outbox_once_and_resumes_after_restart(
    client_as: ClientFactory, world: World, tmp_path: Path, config: Any
) -> None:
    op = await client_as("operator")
    live = op.server.app[LIVE]
    url = f"http://{op.server.host}:{op.server.port}"
    browser = await subscribed(op, "presence")

    agent = _agent(url, world, tmp_path / "agent")
    seen: list[dict[str, Any]] = []
    agent.on("*", lambda event: seen.append({"kind": event.kind, "seq": event.seq}))
    running = asyncio.create_task(agent.run())
    online = await browser.expect("event", kind="presence", state="online", timeout=10)
    assert online["data"]["site_id"] == world.site_id

    first = agent.record_checkin(world.trainee_id, world.session_id)
    second = agent.record_checkin(world.trainee_id + 1000, world.session_id)
    await wait_for(lambda: not agent.outbox.pending(10), timeout=10)
    assert await _outbox_rows(config.effective_database_url) == 2
    assert first != second

    topic = f"site:{world.site_id}"
    await live.bus.publish(topic, "session_started", {"session_id": world.session_id})
    await wait_for(lambda: any(e["kind"] == "session_started" for e in seen), timeout=5)

    agent.stop()
    assert await asyncio.wait_for(running, 10) == 0
    offline = await browser.expect("event", kind="presence", state="offline", timeout=5)
    assert offline["data"]["reason"]

    # While the agent is away, the server sends two commands; the restarted agent replays them.
    await live.bus.publish(topic, "roll_call", {"session_id": world.session_id, "roll_call_id": 1})
    await live.bus.publish(
        topic, "roll_call_ended", {"session_id": world.session_id, "roll_call_id": 1}
    )
    again = _agent(url, world, tmp_path / "agent")
    replayed: list[str] = []
    again.on("*", lambda event: replayed.append(event.kind))
    running = asyncio.create_task(again.run())
    await wait_for(lambda: replayed[-2:] == ["roll_call", "roll_call_ended"], timeout=10)
    assert again.welcome is not None and again.welcome.resume == "replay"
    assert "session_started" not in replayed
    again.stop()
    assert await asyncio.wait_for(running, 10) == 0
    assert await _outbox_rows(config.effective_database_url) == 2
