"""Issue 14 item 2 against a real server process: a site marks only trainees expected in its
room, and only within the session's time, through ``attendance/mark`` and through the real
classroom agent's outbox (which drops a refused item for good instead of resending it)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from pathlib import Path

from server.store.models import utcnow
from tests.security.checkin_world import (
    answer,
    as_operator,
    healthy,
    outbox_results,
    served,
    signed_in,
)
from tests.site_agent import site_agent
from tests.web.live_helpers import wait_for


async def test_a_site_cannot_mark_a_trainee_of_another_district_or_another_day(
    tmp_path: Path,
) -> None:
    async with (
        served(tmp_path) as (rooms, server),
        signed_in(server.url, site_secret=rooms.site_b_secret) as site_b,
        as_operator(server.url, rooms) as op,
    ):
        world, sid = rooms.world, rooms.session_id
        mark = f"/api/v1/sessions/{sid}/attendance/mark"
        # Site B (江北) marks a trainee of site A (海曙): refused, with a code.
        async with site_b.post(mark, json={"trainee_id": world.trainee_id, "reason": "在场"}) as r:
            status, body = await answer(r)
        assert (status, body["error"]["code"]) == (409, "attendance.not_expected_here")
        # ... its own trainee, dated six days back: refused.
        six_days = (utcnow() - timedelta(days=6)).isoformat()
        own = {"trainee_id": rooms.trainee_b, "reason": "补录"}
        async with site_b.post(mark, json={**own, "start": six_days}) as r:
            status, body = await answer(r)
        assert (status, body["error"]["code"]) == (409, "checkin.outside_session")
        # ... its own trainee, now: marked.
        async with site_b.post(mark, json=own) as r:
            status, body = await answer(r)
        assert status == 200 and body["site_id"] == rooms.site_b

        # The real agent of site B: the same rules on its outbox, and a refusal is final.
        agent = site_agent(server.url, rooms.site_b_secret, rooms.site_b, tmp_path / "agent")
        running = asyncio.create_task(agent.run())
        try:
            other = agent.record_checkin(world.trainee_id, sid)
            old = agent.record_checkin(rooms.trainee_b, sid, ts=time.time() - 6 * 86400)
            fine = agent.record_checkin(rooms.trainee_b, sid)
            await wait_for(lambda: len(agent.outbox) == 0, timeout=15)
            results = await outbox_results(rooms)
            assert results[other] == "attendance.not_expected_here"
            assert results[old] == "checkin.outside_session"
            assert results[fine] == "recorded"
            await asyncio.sleep(1.5)  # three resend periods: nothing comes back
            assert len(agent.outbox) == 0 and len(await outbox_results(rooms)) == 3
        finally:
            agent.stop()
            await asyncio.wait_for(running, 10)

        # The operator opens every room of this session: now site B may mark anyone.
        async with op.put(f"/api/v1/sessions/{sid}/settings", json={"any_room": True}) as r:
            status, body = await answer(r)
        assert status == 200 and body["any_room"] is True
        async with site_b.post(
            mark, json={"trainee_id": world.trainee_id, "reason": "借用会场"}
        ) as r:
            status, body = await answer(r)
        assert status == 200 and body["site_id"] == rooms.site_b
        assert await healthy(server.url) < 1.0
