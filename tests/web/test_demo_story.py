"""The demo tells a story on first start (issue 13.14): reports and charts are not empty.

Loads the demo into a fresh SQLite database with the fixed test credentials, then reads it
back through the API as the operator and the moderator would.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import av
import pytest
from aiohttp.test_utils import TestClient

from server.config import Config
from server.store import db as store_db
from server.store.demo_loader import DEMO_PASSWORDS, TEST_CREDENTIALS_ENV, load_demo
from server.web import auth
from server.web.app import create_app
from tests.web.http_helpers import expect_ok as _ok


async def _login(client: TestClient[Any, Any], user: str) -> None:
    r = await client.post(
        "/api/v1/auth/login", json={"username": user, "password": DEMO_PASSWORDS[user]}
    )
    assert r.status == 200, await r.text()
    client.session.headers[auth.CSRF_HEADER] = (await r.json())["csrf_token"]


async def test_first_start_has_a_past_session_with_everything_and_one_around_now(
    tmp_path: Path, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TEST_CREDENTIALS_ENV, "1")
    config = Config(data_dir=str(tmp_path / "var"), secret_key="test-secret")
    await store_db.migrate(config.effective_database_url)
    engine = store_db.create_engine(config.effective_database_url)
    started = dt.datetime.now(dt.UTC)
    try:
        lines = await load_demo(
            store_db.session_factory(engine), recordings_dir=config.data_path / "recordings"
        )
    finally:
        await engine.dispose()
    printed = "\n".join(lines)
    assert "moderator / demo-moderator-2026" in printed
    assert "市委党校主课堂: " in printed  # the main classroom has an agent secret too

    op = await aiohttp_client(create_app(config))
    await _login(op, "operator")
    sessions = (await _ok(await op.get("/api/v1/sessions?limit=500")))["items"]
    ended = [s for s in sessions if s["status"] == "ended"]
    before_today = [s for s in sessions if dt.datetime.fromisoformat(s["ends_at"]) < started]
    assert len(ended) > 1 and ended == before_today  # no past session left "not started"
    assert all(s["started_at"] and s["ended_at"] for s in ended)
    past = max(ended, key=lambda s: s["starts_at"])  # the last one has the whole story
    for other in ended:  # every one ran: its absentees are real absences, not "pending"
        totals = (await _ok(await op.get(f"/api/v1/sessions/{other['id']}/report")))["totals"]
        assert 0 < totals["present"] < totals["expected"], other["title"]
    assert past["started_at"] is not None and past["ended_at"] is not None
    soon = [
        s
        for s in sessions
        if abs(dt.datetime.fromisoformat(s["starts_at"]) - started) < dt.timedelta(minutes=16)
    ]
    assert len(soon) == 1 and soon[0]["status"] == "scheduled"

    report = await _ok(await op.get(f"/api/v1/sessions/{past['id']}/report"))
    totals = report["totals"]
    # the batch the published plan puts in it: half of the 200 (the others came the next day)
    assert totals["expected"] == 100 and 80 <= totals["present"] < 100
    assert totals["absent"] == 100 - totals["present"] - totals["makeup"]
    assert totals["late"] > 0 and totals["left_early"] > 0
    assert all(u["absentees"] for u in report["by_org_unit"] if u["absent"])

    recordings = (await _ok(await op.get(f"/api/v1/sessions/{past['id']}/recordings")))[
        "recordings"
    ]
    (recording,) = recordings
    assert recording["status"] == "done"
    r = await op.get(recording["file"])
    assert r.status == 200
    path = tmp_path / "demo.webm"
    path.write_bytes(await r.read())
    with av.open(str(path)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames == 75

    mod = await aiohttp_client(create_app(config))
    await _login(mod, "moderator")
    questions = (await _ok(await mod.get(f"/api/v1/sessions/{past['id']}/questions")))["items"]
    assert len(questions) == 4 and any(q["anonymous"] for q in questions)
    assert all(q["asker_trainee_id"] is None for q in questions if q["anonymous"])
    assert max(q["vote_count"] for q in questions) >= 20
    polls = await _ok(await op.get(f"/api/v1/sessions/{past['id']}/polls"))
    (poll,) = polls["items"] if "items" in polls else polls["polls"]
    assert poll["state"] == "closed"
    log = await _ok(await op.get(f"/api/v1/sessions/{past['id']}/interaction-log"))
    anonymous = [e for e in log["items"] if e["actor"] == "anonymous"]
    assert len(anonymous) == sum(1 for q in questions if q["anonymous"])
    # The demo program says what completing it needs (结业要求): the yearly 32 class hours
    # (self-study counts) and 80% attendance, so nobody is 已结业 by default.
    (program,) = (await _ok(await op.get("/api/v1/programs")))["items"]
    done = await _ok(await op.get(f"/api/v1/programs/{program['id']}/completion"))
    assert done["requirements_set"] is True
    rules = done["rules"]
    assert (rules["min_hours"], rules["min_attendance_share"], rules["count_self_study"]) == (
        32.0,
        0.8,
        True,
    )
    assert done["total"] > 0 and done["completed"] < done["total"]
