"""Reads scoped to the sessions a person or site takes part in (issue 14 item 10)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.conftest import ClientFactory, World
from tests.web.http_helpers import expect_error, expect_ok


async def _other_session(op: Any, world: World, main_site: int) -> int:
    """A session held only in the main room: the world's trainee and site take no part."""
    now = datetime.now(UTC)
    body = {
        "course_id": world.ids["courses"],
        "title": "别处的课",
        "starts_at": (now - timedelta(minutes=5)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "teaching_method": "interview",
        "site_ids": [main_site],
    }
    created = await expect_ok(await op.post("/api/v1/sessions", json=body), 201)
    return int(created["id"])


async def test_trainees_and_sites_outside_a_session_cannot_read_it(
    client_as: ClientFactory, world: World
) -> None:
    op, trainee, agent = (
        await client_as("operator"),
        await client_as("trainee"),
        await client_as("site_agent"),
    )
    sites = await expect_ok(await op.get("/api/v1/sites"))
    main = next(s["id"] for s in sites["items"] if s["id"] != world.site_id)
    other = await _other_session(op, world, main)
    await expect_ok(await op.post(f"/api/v1/sessions/{other}/start"))
    poll = await expect_ok(
        await op.post(
            f"/api/v1/sessions/{other}/polls", json={"prompt": "哪个?", "options": ["甲", "乙"]}
        ),
        201,
    )
    reads = [
        f"/api/v1/sessions/{other}/questions",
        f"/api/v1/sessions/{other}/polls",
        f"/api/v1/sessions/{other}/floor",
        f"/api/v1/sessions/{other}/on-air",
        f"/api/v1/sessions/{other}/roll-calls/open",
        f"/api/v1/polls/{poll['id']}",
    ]
    for path in reads:
        await expect_error(await trainee.get(path), 403, "session.not_participant")
        await expect_error(await agent.get(path), 403, "session.not_participant")
        if "roll-calls" not in path:  # staff read roll calls through their own endpoints
            await expect_ok(await op.get(path))
    # their own session still reads
    for path in ("questions", "polls", "floor", "on-air", "roll-calls/open"):
        await expect_ok(await trainee.get(f"/api/v1/sessions/{world.session_id}/{path}"))
        await expect_ok(await agent.get(f"/api/v1/sessions/{world.session_id}/{path}"))
    # and the live topic: refused for the other session, granted for their own
    ws = await trainee.ws_connect("/ws/client")
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"type": "subscribe", "topics": [f"session:{other}"]})
    refused = await ws.receive_json()
    assert refused["type"] == "error" and refused["code"] == "ws.forbidden_topic"
    await ws.send_json({"type": "subscribe", "topics": [f"session:{world.session_id}"]})
    assert (await ws.receive_json())["type"] == "resync"
    await ws.close()
