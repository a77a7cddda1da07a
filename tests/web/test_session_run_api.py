"""A session started hours after its schedule: the start warns, attendance follows the run.

Issue 13.4: a 09:00-11:30 session started at 16:00 used to judge everybody absent. Over HTTP
on SQLite, as the console and the phone see it.
"""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from aiohttp.test_utils import TestClient

from server.store.models import utcnow
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import check_in_from_screen, operator_site_trainee
from tests.web.http_helpers import expect_ok as _ok


async def _session(op: TestClient[Any, Any], world: World, hours_ago: float) -> int:
    start = utcnow() - timedelta(hours=hours_ago)
    body = {
        "course_id": world.ids["courses"],
        "starts_at": start.astimezone(UTC).isoformat(),
        "ends_at": (start + timedelta(minutes=150)).astimezone(UTC).isoformat(),
        "teaching_method": "lecture",
        "site_ids": [world.site_id],
    }
    return int((await _ok(await op.post("/api/v1/sessions", json=body), 201))["id"])


async def test_a_session_started_seven_hours_late_credits_who_was_there(
    client_as: ClientFactory, world: World
) -> None:
    op, agent, trainee = await operator_site_trainee(client_as)
    sid = await _session(op, world, hours_ago=7)  # planned 09:00-11:30, now is 16:00

    before = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert before["phase"] == "not_started"
    assert before["totals"]["absent"] == 0 and before["totals"]["pending"] == 1

    started = await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    warning = started["warning"]
    assert warning["code"] == "session.started_off_schedule"
    assert 419 <= warning["minutes_off"] <= 421

    running = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert running["phase"] == "in_progress" and 419 <= running["start_offset_minutes"] <= 421
    assert running["totals"]["absent"] == 0 and running["totals"]["pending"] == 1
    assert running["by_org_unit"][0]["absentees"] == []
    own = await _ok(await trainee.get("/api/v1/trainee/transcript"))
    (mine,) = [r for r in own["results"] if r["session_id"] == sid] or [None]
    assert mine is None  # no record yet: nothing on the phone, certainly not 缺勤

    await check_in_from_screen(agent, trainee, sid, "x")
    await _ok(await trainee.post(f"/api/v1/sessions/{sid}/checkout"))
    own = await _ok(await trainee.get("/api/v1/trainee/transcript"))
    (mine,) = [r for r in own["results"] if r["session_id"] == sid]
    # Checked out while the session still runs: neither absent nor "left early" yet.
    assert mine["absent"] is False and mine["left_early"] is False and mine["final"] is False

    await _ok(await op.post(f"/api/v1/sessions/{sid}/end"))
    report = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert report["phase"] == "ended"
    assert report["totals"]["present"] == 1 and report["totals"]["absent"] == 0
    (person,) = report["trainees"]
    assert person["status"] == "present" and person["left_early"] is False
    # The presence timeline covers the run too, not the planned 09:00-11:30.
    presence = await _ok(await op.get(f"/api/v1/sessions/{sid}/presence"))
    assert presence["from"] == report["started_at"]
    assert presence["to"] >= report["ended_at"]  # (a run this short is taken as one second)


async def test_a_start_on_time_carries_no_warning(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    sid = await _session(op, world, hours_ago=5 / 60)
    started = await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    assert "warning" not in started and started["status"] == "live"


async def test_the_console_start_is_refused_for_tomorrow_and_then_started_anyway(
    client_as: ClientFactory, world: World
) -> None:
    """``only_on_schedule`` (sent by the console first) refuses tomorrow's session with a code
    the page turns into its question; the same start without it (仍然开始) goes ahead."""
    op, _agent, _trainee = await operator_site_trainee(client_as)
    sid = await _session(op, world, hours_ago=-24)
    refused = await op.post(f"/api/v1/sessions/{sid}/start", json={"only_on_schedule": True})
    assert refused.status == 409
    error = (await refused.json())["error"]
    assert error["code"] == "session.start_other_day"
    assert 1439 <= error["details"]["minutes_early"] <= 1440
    assert (await _ok(await op.get(f"/api/v1/sessions/{sid}")))["status"] == "scheduled"
    started = await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    assert started["status"] == "live" and started["warning"]["minutes_off"] < -1400


async def test_a_start_on_time_is_not_refused(client_as: ClientFactory, world: World) -> None:
    op, _agent, _trainee = await operator_site_trainee(client_as)
    sid = await _session(op, world, hours_ago=-5 / 60)  # due in five minutes
    body = {"only_on_schedule": True}
    started = await _ok(await op.post(f"/api/v1/sessions/{sid}/start", json=body))
    assert started["status"] == "live" and "warning" not in started
