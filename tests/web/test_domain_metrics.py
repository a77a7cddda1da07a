"""What an operator alerts on, scraped from /metrics after real traffic: a site agent online,
check-ins refused at the site and on a phone (by code), an outbox item, a broadcast, the
process and GC collectors, and the bus lag probe."""

from __future__ import annotations

import asyncio
import math
import re
import time
from typing import Any

from server.web.keys import MEDIA
from tests.conftest import ClientFactory, World
from tests.web.live_helpers import heartbeat
from tests.web.test_live import _welcomed_agent


def _value(text: str, name: str, **labels: str) -> float | None:
    for line in text.splitlines():
        if not line.startswith(name + ("{" if labels else " ")):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split("}")[0])) if labels else {}
        if found == labels:
            return float(line.rsplit(" ", 1)[1])
    return None


async def _scrape(client: Any) -> str:
    response = await client.get("/metrics")
    assert response.status == 200
    return str(await response.text())


async def test_domain_metrics_follow_sites_check_ins_outbox_and_broadcasts(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    agent = await _welcomed_agent(op, world)
    await agent.send(heartbeat(1))
    await agent.expect("heartbeat_ack")
    body = {"trainee_id": world.trainee_id, "session_id": world.session_id, "method": "staff"}
    item = {"id": "ck-1", "kind": "checkin", "ts": time.time() - 60, "body": body}
    await agent.send({"type": "outbox", "items": [item]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ck-1": "checkin.session_not_live"}
    trainee = await client_as("trainee")
    refused = await trainee.post(
        f"/api/v1/sessions/{world.session_id}/checkin", json={"code": "000000"}
    )
    refused_code = (await refused.json())["error"]["code"]

    text = await _scrape(op)
    assert _value(text, "classroom_sites", state="online") == 1.0
    assert _value(text, "classroom_sites", state="offline") == 0.0
    assert _value(text, "classroom_live_sockets", kind="agent", actor="site_agent") == 1.0
    assert _value(text, "classroom_outbox_items_total", kind="checkin", result=item_result()) == 1
    assert _value(text, "classroom_checkins_total", source="site", result=item_result()) == 1
    assert _value(text, "classroom_checkins_total", source="trainee", result=refused_code) == 1
    assert _value(text, "classroom_broadcasts_live") == 0.0
    assert _value(text, "classroom_media_ports_in_use") == 0.0
    assert (_value(text, "process_cpu_seconds_total") or 0) > 0
    assert _value(text, "python_gc_collections_total", generation="0") is not None
    assert _value(text, "classroom_bus_gaps_total") == 0.0

    lag = math.nan
    for _ in range(50):  # the probe goes out at start-up, then every 10 s
        lag = _value(await _scrape(op), "classroom_bus_lag_seconds") or math.nan
        if not math.isnan(lag):
            break
        await asyncio.sleep(0.1)
    assert 0 <= lag < 1

    assert (await op.post(f"/api/v1/sessions/{world.session_id}/start")).status == 200
    started = await op.post(
        f"/api/v1/sessions/{world.session_id}/broadcast/start", json={"source": "main"}
    )
    assert started.status in (200, 201), await started.text()
    text = await _scrape(op)
    assert _value(text, "classroom_broadcasts_live") == 1.0
    session = str(world.session_id)
    # the recorder: a subscriber in this process, so it holds no UDP port
    assert set(op.server.app[MEDIA].live[world.session_id].relay.stats()["subscribers"]) == {
        "recorder"
    }
    assert _value(text, "classroom_broadcast_peers", session_id=session, role="subscriber") == 1
    assert _value(text, "classroom_media_ports_in_use") == 0.0
    assert (await op.post(f"/api/v1/sessions/{world.session_id}/broadcast/stop")).status == 200
    assert _value(await _scrape(op), "classroom_broadcasts_live") == 0.0


def item_result() -> str:
    return "checkin.session_not_live"
