"""Batches, check-in, electives, ledger and reports over HTTP, on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from server.config import Config
from server.core.checkin_guard import qr_token
from server.core.zone import CHINA_TZ as CHINA
from server.store import db as store_db
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import AuditEntry, ClassSession, utcnow
from server.web.checkin.records import close_open_records
from server.web.checkin.service import checkin_secret
from tests.checkins import screen_code
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee, operator_site_trainee, trainee_browser
from tests.web.http_helpers import expect_error as _error
from tests.web.http_helpers import expect_ok as _ok

SECRET = checkin_secret("test-secret")
_code = partial(screen_code, SECRET)  # (site, session[, back_windows]): the code on the screen


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return replace(config, database_url=database_url)


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()


async def _main_site(op: TestClient[Any, Any], world: World) -> int:
    site = await _ok(await op.get(f"/api/v1/sites/{world.site_id}"))
    return int(site["parent_id"])


async def _new_session(
    op: TestClient[Any, Any],
    course_id: int,
    site_ids: list[int],
    *,
    start: datetime | None = None,
    hours: float = 2,
    live: bool = True,
) -> int:
    start = start or utcnow() - timedelta(hours=1)
    body = {
        "course_id": course_id,
        "starts_at": _iso(start),
        "ends_at": _iso(start + timedelta(hours=hours)),
        "teaching_method": "lecture",
        "site_ids": site_ids,
    }
    session = await _ok(await op.post("/api/v1/sessions", json=body), 201)
    if live:
        await _ok(await op.post(f"/api/v1/sessions/{session['id']}/start"))
    return int(session["id"])


async def _started_at(config: Config, session_id: int, when: datetime) -> None:
    """Move a session's recorded start (the API can only start a session now)."""
    engine = store_db.create_engine(config.effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            session = await db.get(ClassSession, session_id)
            assert session is not None
            session.started_at = when
    finally:
        await engine.dispose()


async def _checkin(client: TestClient[Any, Any], session_id: int, **body: Any) -> Any:
    return await client.post(f"/api/v1/sessions/{session_id}/checkin", json=body)


# --- check-in ---------------------------------------------------------------------------------


async def test_checkin_with_the_screen_code_and_a_resend_keep_one_record(
    client_as: ClientFactory, world: World
) -> None:
    op, agent, trainee = await operator_site_trainee(client_as)
    await _ok(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    shown = await _ok(await agent.get(f"/api/v1/sessions/{world.session_id}/checkin-code"))
    assert shown["site_id"] == world.site_id and len(shown["code"]) == 6
    assert shown["qr"].startswith(f"cr2:{world.site_id}:{world.session_id}:")
    assert 0 <= shown["seconds_to_rotation"] <= 30
    first = await _ok(
        await _checkin(trainee, world.session_id, code=shown["code"], client_id="c-1")
    )
    assert first["kind"] == "regular" and first["replayed"] is False
    assert first["record"]["checked_in"] is True and first["record"]["site_id"] == world.site_id
    again = await _ok(await _checkin(trainee, world.session_id, code="000000", client_id="c-1"))
    assert again["replayed"] is True and again["record"]["id"] == first["record"]["id"]
    by_qr = await _ok(await _checkin(trainee, world.session_id, qr=shown["qr"], client_id="c-2"))
    assert by_qr["record"]["id"] == first["record"]["id"]
    listed = await _ok(await op.get(f"/api/v1/sessions/{world.session_id}/attendance"))
    assert listed["total"] == 1 and len(listed["items"][0]["stays"]) == 1
    out = await _ok(await trainee.post(f"/api/v1/sessions/{world.session_id}/checkout"))
    assert out["state"] == "out" and out["last_out"] is not None
    r = await trainee.post(f"/api/v1/sessions/{world.session_id}/checkout")
    await _error(r, 409, "checkin.not_checked_in")


async def test_every_checkin_refusal_has_its_own_code(
    client_as: ClientFactory, world: World
) -> None:
    op, trainee = await client_as("operator"), await client_as("trainee")
    sid, site = world.session_id, world.site_id
    r = await _checkin(trainee, sid, code=_code(site, sid), client_id="a1")
    await _error(r, 409, "checkin.session_not_live")
    await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    await _error(await _checkin(trainee, sid, client_id="a2"), 400, "checkin.code_required")
    await _error(
        await _checkin(trainee, sid, code="12 34", client_id="a3"), 400, "checkin.code_invalid"
    )
    wrong = f"{(int(_code(site, sid)) + 1) % 1_000_000:06d}"
    if wrong != _code(site, sid, 1):
        r = await _checkin(trainee, sid, code=wrong, client_id="a4", site_id=site)
        await _error(r, 400, "checkin.code_invalid")
    r = await _checkin(trainee, sid, code=_code(site, sid, back_windows=5), client_id="a5")
    await _error(r, 400, "checkin.code_expired")
    other = await _ok(await op.post("/api/v1/sites", json={"name": "外区分课堂"}), 201)
    qr = qr_token(SECRET, str(other["id"]), str(sid), utcnow().timestamp())
    await _error(await _checkin(trainee, sid, qr=qr, client_id="a6"), 409, "checkin.wrong_site")
    qr = qr_token(SECRET, str(site), str(sid + 1000), utcnow().timestamp())
    await _error(await _checkin(trainee, sid, qr=qr, client_id="a7"), 400, "checkin.qr_invalid")
    main = await _main_site(op, world)
    only_main = await _new_session(op, world.ids["courses"], [main])
    r = await _checkin(trainee, only_main, code=_code(main, only_main), client_id="a8")
    await _error(r, 409, "checkin.not_on_roster")
    await _ok(await _checkin(trainee, sid, code=_code(site, sid), client_id="a9"))
    r = await _checkin(trainee, only_main, code=_code(main, only_main), client_id="a9")
    await _error(r, 409, "checkin.client_id_reused")
    r = await op.get(f"/api/v1/sessions/{sid}/checkin-code")
    await _error(r, 400, "request.bad_query")
    r = await op.get(f"/api/v1/sessions/{sid}/checkin-code?site_id={other['id']}")
    await _error(r, 409, "checkin.wrong_site")


async def test_out_of_batch_checkin_is_makeup_by_default_or_refused_by_setting(
    client_as: ClientFactory, world: World
) -> None:
    op, trainee = await client_as("operator"), await client_as("trainee")
    course = world.ids["courses"]
    later = utcnow() + timedelta(days=7)
    other = await _new_session(op, course, [world.site_id], start=later, live=False)
    plan = await _ok(
        await op.post(
            f"/api/v1/courses/{course}/batch-plan", json={"org_unit_ids": [world.org_unit_id]}
        ),
        201,
    )
    r = await op.post(
        f"/api/v1/courses/{course}/batch-plan/move",
        json={"trainee_id": world.trainee_id, "session_id": other},
    )
    plan = await _ok(r)
    assert {"trainee_id": world.trainee_id, "session_id": other} in plan["assignments"]
    published = await _ok(await op.post(f"/api/v1/courses/{course}/batch-plan/publish"))
    assert published["status"] == "published"
    sid = world.session_id
    await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    settings = await _ok(
        await op.put(f"/api/v1/sessions/{sid}/settings", json={"out_of_batch_rule": "refuse"})
    )
    assert settings["effective_out_of_batch_rule"] == "refuse"
    r = await _checkin(trainee, sid, code=_code(world.site_id, sid), client_id="b1")
    error = await _error(r, 409, "checkin.out_of_batch")
    assert error["details"]["planned_session_id"] == str(other)
    settings = await _ok(
        await op.put(f"/api/v1/sessions/{sid}/settings", json={"out_of_batch_rule": None})
    )
    assert settings["effective_out_of_batch_rule"] == "makeup"
    done = await _ok(await _checkin(trainee, sid, code=_code(world.site_id, sid), client_id="b2"))
    assert done["kind"] == "makeup" and done["record"]["kind"] == "makeup"
    report = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert report["totals"]["expected"] == 0  # planned into the other batch
    assert [(p["kind"], p["expected"]) for p in report["trainees"]] == [("makeup", False)]


async def test_staff_mark_present_with_a_reason_and_session_end_closes_records(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    op, agent, trainee = await operator_site_trainee(client_as)
    sid = world.session_id
    body = {"trainee_id": world.trainee_id, "reason": "手机没电"}
    await _error(
        await agent.post(f"/api/v1/sessions/{sid}/attendance/mark", json=body),
        409,
        "checkin.session_not_live",
    )
    await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    marked = await _ok(await agent.post(f"/api/v1/sessions/{sid}/attendance/mark", json=body))
    assert marked["kind"] == "manual" and marked["checked_in"] is True
    assert marked["manual"][0]["reason"] == "手机没电"
    assert marked["manual"][0]["by"].startswith("site:")
    r = await op.post(f"/api/v1/sessions/{sid}/attendance/mark", json={**body, "reason": ""})
    await _error(r, 400, "message.invalid")
    other = await _ok(await op.post("/api/v1/sites", json={"name": "别处"}), 201)
    r = await op.post(
        f"/api/v1/sessions/{sid}/attendance/mark", json={**body, "site_id": other["id"]}
    )
    await _error(r, 409, "checkin.wrong_site")
    engine = store_db.create_engine(config.effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            ended = utcnow()
            assert await close_open_records(db, sid, ended) == 1
            assert await close_open_records(db, sid, ended) == 0
        async with store_db.session_factory(engine)() as db:
            row = (await db.execute(AttendanceRecordRow.__table__.select())).one()
            assert row.closed is True and row.state == "closed"
            audits = (
                await db.execute(
                    AuditEntry.__table__.select().where(AuditEntry.action == "mark_present")
                )
            ).all()
            assert len(audits) == 1 and audits[0].reason == "手机没电"
    finally:
        await engine.dispose()
    r = await trainee.post(f"/api/v1/sessions/{sid}/checkout")
    await _error(r, 409, "checkin.record_closed")


# --- batches ----------------------------------------------------------------------------------


async def _unit_with_trainees(
    op: TestClient[Any, Any], name: str, leaders: int, others: int, site_id: int
) -> tuple[int, list[int]]:
    unit = await _ok(await op.post("/api/v1/org-units", json={"name": name}), 201)
    ids = []
    for i in range(leaders + others):
        t = await add_trainee(
            op,
            f"{name}{i}",
            f"{unit['id']}-{i}",
            unit["id"],
            is_leader=i < leaders,
            home_site_id=site_id,
        )
        ids.append(t["id"])
    return unit["id"], ids


async def _two_session_course(op: TestClient[Any, Any], world: World) -> tuple[int, list[int]]:
    course = await _ok(
        await op.post("/api/v1/courses", json={"unit_id": world.ids["units"], "title": "分批课"}),
        201,
    )
    base = utcnow() + timedelta(days=3)
    sessions = [
        await _new_session(
            op, course["id"], [world.site_id], start=base + timedelta(hours=4 * i), live=False
        )
        for i in range(2)
    ]
    return course["id"], sessions


async def test_planner_refusal_names_the_rule_and_the_unit(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    course, _ = await _two_session_course(op, world)
    unit, _ = await _unit_with_trainees(op, "北仑区", leaders=3, others=3, site_id=world.site_id)
    r = await op.post(f"/api/v1/courses/{course}/batch-plan", json={"org_unit_ids": [unit]})
    error = await _error(r, 409, "batch.infeasible")
    assert error["details"]["rule"] == "leaders_apart"
    assert error["details"]["unit_id"] == str(unit)
    # no plan yet is no error (the plan page opens on it): the course's sessions, nobody placed
    none = await _ok(await op.get(f"/api/v1/courses/{course}/batch-plan"))
    assert none["status"] == "none" and none["plan_id"] is None
    assert none["assignments"] == [] and len(none["sessions"]) == 2
    r = await op.post(f"/api/v1/courses/{course}/batch-plan/publish")
    await _error(r, 409, "batch.no_draft")
    r = await op.post(
        f"/api/v1/courses/{course}/batch-plan/move",
        json={"trainee_id": 1, "session_id": none["sessions"][0]["id"]},
    )
    await _error(r, 404, "batch.no_plan")
    r = await op.post(f"/api/v1/courses/{course}/batch-plan", json={"on_duty_share": 2})
    await _error(r, 400, "message.invalid")


async def test_plan_table_moves_swaps_and_publish(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    course, sessions = await _two_session_course(op, world)
    unit, ids = await _unit_with_trainees(op, "镇海区", leaders=2, others=2, site_id=world.site_id)
    plan = await _ok(
        await op.post(
            f"/api/v1/courses/{course}/batch-plan",
            json={"org_unit_ids": [unit], "keep_apart": [[ids[2], ids[3]]]},
        ),
        201,
    )
    assert plan["status"] == "draft" and plan["violations"] == []
    (row,) = plan["units"]
    assert row["unit_id"] == unit and row["size"] == 4
    assert [b["size"] for b in row["batches"]] == [2, 2]
    assert all(len(b["leaders"]) == 1 and b["on_duty_share"] == 0.5 for b in row["batches"])
    where = {a["trainee_id"]: a["session_id"] for a in plan["assignments"]}
    assert where[ids[2]] != where[ids[3]] and where[ids[0]] != where[ids[1]]
    other = next(s for s in sessions if s != where[ids[2]])
    r = await op.post(
        f"/api/v1/courses/{course}/batch-plan/move",
        json={"trainee_id": ids[2], "session_id": other},
    )
    error = await _error(r, 409, "batch.move_refused")
    assert error["details"]["rule"] == "balanced_sizes"
    leader_here = next(t for t in ids[:2] if where[t] == where[ids[2]])
    follower_there = next(t for t in ids[2:] if where[t] != where[ids[2]])
    r = await op.post(
        f"/api/v1/courses/{course}/batch-plan/swap",
        json={"trainee_a": leader_here, "trainee_b": follower_there},
    )
    assert (await _error(r, 409, "batch.move_refused"))["details"]["rule"] == "leaders_apart"
    r = await op.post(
        f"/api/v1/courses/{course}/batch-plan/swap",
        json={"trainee_a": ids[2], "trainee_b": ids[3]},
    )
    swapped = await _ok(r)
    after = {a["trainee_id"]: a["session_id"] for a in swapped["assignments"]}
    assert after[ids[2]] == where[ids[3]] and after[ids[3]] == where[ids[2]]
    published = await _ok(await op.post(f"/api/v1/courses/{course}/batch-plan/publish"))
    assert published["status"] == "published" and published["published_at"]
    await _error(
        await op.post(f"/api/v1/courses/{course}/batch-plan/publish"), 409, "batch.no_draft"
    )


# --- electives --------------------------------------------------------------------------------


@asynccontextmanager
async def _trainee_sessions(
    op: TestClient[Any, Any], count: int
) -> AsyncIterator[list[tuple[aiohttp.ClientSession, dict[str, str]]]]:
    """``count`` new trainees (学员0, 学员1, ...) of a new unit, each signed in on its own
    browser session (with its headers); the sessions are closed at the end."""
    unit = await _ok(await op.post("/api/v1/org-units", json={"name": f"选课单位{count}"}), 201)
    out: list[tuple[aiohttp.ClientSession, dict[str, str]]] = []
    try:
        for i in range(count):
            t = await add_trainee(op, f"学员{i}", f"E{count}-{i}", unit["id"])
            out.append(await trainee_browser(op, t["id"]))
        yield out
    finally:
        for session, _ in out:
            await session.close()


async def test_electives_fill_to_capacity_then_waitlist_and_move_up(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    sid = world.session_id
    url = op.make_url(f"/api/v1/sessions/{sid}/registration")
    async with _trainee_sessions(op, 3) as people:
        (s0, h0), (s1, h1), (s2, h2) = people
        r = await s0.post(url, headers=h0)
        await _error(r, 409, "registration.not_open")
        await _ok(
            await op.put(
                f"/api/v1/sessions/{sid}/settings", json={"capacity": 1, "registration_open": True}
            )
        )
        assert (await _ok(await s0.post(url, headers=h0)))["status"] == "registered"
        assert (await _ok(await s0.post(url, headers=h0)))["status"] == "registered"
        second = await _ok(await s1.post(url, headers=h1))
        third = await _ok(await s2.post(url, headers=h2))
        assert (second["status"], second["position"]) == ("waitlisted", 1)
        assert (third["status"], third["position"]) == ("waitlisted", 2)
        cancelled = await _ok(await s0.delete(url, headers=h0))
        assert cancelled["status"] == "cancelled" and cancelled["registered"] == 1
        await _error(await s0.delete(url, headers=h0), 404, "registration.not_found")
        listed = await _ok(await op.get(f"/api/v1/sessions/{sid}/registrations"))
        status = {i["name"]: (i["status"], i["position"]) for i in listed["items"]}
        assert status == {
            "学员0": ("cancelled", None),
            "学员1": ("registered", None),
            "学员2": ("waitlisted", 1),
        }


async def test_concurrent_registrations_register_exactly_capacity(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    sid, capacity, crowd = world.session_id, 5, 24
    await _ok(
        await op.put(
            f"/api/v1/sessions/{sid}/settings",
            json={"capacity": capacity, "registration_open": True},
        )
    )
    url = op.make_url(f"/api/v1/sessions/{sid}/registration")

    async def register(session: aiohttp.ClientSession, headers: dict[str, str]) -> dict[str, Any]:
        async with session.post(url, headers=headers) as r:
            assert r.status == 200, await r.text()
            body: dict[str, Any] = await r.json()
            return body

    async with _trainee_sessions(op, crowd) as people:
        answers = await asyncio.wait_for(
            asyncio.gather(*(register(s, h) for s, h in people)), timeout=60
        )
        listed = await _ok(await op.get(f"/api/v1/sessions/{sid}/registrations"))
        assert listed["registered"] == capacity
        assert sum(a["status"] == "registered" for a in answers) == capacity
        positions = sorted(i["position"] for i in listed["items"] if i["status"] == "waitlisted")
        assert positions == list(range(1, crowd - capacity + 1))
        # cancellations racing each other: every freed seat is taken from the waitlist once
        leaving = [
            (s, h) for (s, h), a in zip(people, answers, strict=True) if a["status"] == "registered"
        ][:3]
        await asyncio.wait_for(
            asyncio.gather(*(s.delete(url, headers=h) for s, h in leaving)), timeout=60
        )
        listed = await _ok(await op.get(f"/api/v1/sessions/{sid}/registrations"))
        assert listed["registered"] == capacity
        positions = sorted(i["position"] for i in listed["items"] if i["status"] == "waitlisted")
        assert positions == list(range(1, crowd - capacity - 3 + 1))


# --- ledger and reports -----------------------------------------------------------------------


async def test_a_trainee_added_after_a_session_ended_is_not_expected_at_it(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    ended = await _new_session(op, world.ids["courses"], [world.site_id])
    await _ok(await op.post(f"/api/v1/sessions/{ended}/end"))
    running = await _new_session(op, world.ids["courses"], [world.site_id])
    newcomer = await add_trainee(
        op, "新同志", "T0900", world.org_unit_id, home_site_id=world.site_id
    )
    past = await _ok(await op.get(f"/api/v1/sessions/{ended}/report"))
    assert past["totals"]["expected"] == 1  # the world's trainee, not the newcomer
    assert newcomer["id"] not in {p["trainee_id"] for p in past["trainees"]}
    now = await _ok(await op.get(f"/api/v1/sessions/{running}/report"))
    assert now["totals"]["expected"] == 2  # a running session expects them both


async def test_a_mark_after_the_session_ended_credits_the_session_as_it_ran(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    op = await client_as("operator")
    start = utcnow() - timedelta(hours=3)
    sid = await _new_session(op, world.ids["courses"], [world.site_id], start=start, hours=2)
    await _started_at(config, sid, start)
    await _ok(await op.post(f"/api/v1/sessions/{sid}/end"))
    body = {"trainee_id": world.trainee_id, "reason": "手机没电，班主任确认全程在场"}
    await _ok(await op.post(f"/api/v1/sessions/{sid}/attendance/mark", json=body))
    report = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert report["totals"]["present"] == 1 and report["totals"]["absent"] == 0, report["totals"]


async def test_transcript_correction_honour_list_and_reports(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    op, trainee = await client_as("operator"), await client_as("trainee")
    start = utcnow() - timedelta(hours=2)
    sid = await _new_session(op, world.ids["courses"], [world.site_id], start=start, hours=3)
    await _started_at(config, sid, start)  # it really started on time, two hours ago
    year = start.astimezone(CHINA).year
    body = {"trainee_id": world.trainee_id, "reason": "签到设备故障", "start": _iso(start)}
    await _ok(await op.post(f"/api/v1/sessions/{sid}/attendance/mark", json=body))
    own = await _ok(await trainee.get(f"/api/v1/trainee/transcript?year={year}"))
    (result,) = own["results"]
    assert result["session_id"] == sid and result["class_hours"] == 2.5
    assert result["absent"] is False and result["late"] is False
    assert own["progress"]["required_hours"] == 32 and own["progress"]["class_hours"] == 2.5
    url = f"/api/v1/sessions/{sid}/attendance/correct"
    r = await op.post(url, json={"trainee_id": world.trainee_id, "changes": {"class_hours": 3}})
    await _error(r, 400, "message.invalid")
    r = await op.post(url, json={"trainee_id": world.trainee_id, "changes": {}, "reason": "无变化"})
    await _error(r, 400, "ledger.correction_empty")
    fixed = await _ok(
        await op.post(
            url,
            json={"trainee_id": world.trainee_id, "changes": {"class_hours": 3}, "reason": "补录"},
        )
    )
    assert fixed["class_hours"] == 3 and fixed["corrected"] is True
    seen = await _ok(await op.get(f"/api/v1/trainees/{world.trainee_id}/transcript?year={year}"))
    assert seen["results"][0]["class_hours"] == 3 and seen["results"][0]["corrected"] is True
    assert seen["progress"]["percent"] == round(3 / 32 * 100, 1)
    honour = await _ok(await op.get(f"/api/v1/reports/honour-list?year={year}"))
    assert honour["items"][0] == {
        "rank": 1,
        "trainee_id": world.trainee_id,
        "name": "张伟",
        "staff_no": "T0001",
        "org_unit_id": world.org_unit_id,
        "class_hours": 3,
    }
    engine = store_db.create_engine(config.effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db:
            trail = (
                await db.execute(
                    AuditEntry.__table__.select().where(AuditEntry.entity == "session_result")
                )
            ).all()
    finally:
        await engine.dispose()
    assert len(trail) == 1 and trail[0].before == {"class_hours": 2.5}
    assert trail[0].after == {"class_hours": 3.0} and trail[0].reason == "补录"

    report = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    assert report["totals"]["expected"] == 1 and report["totals"]["present"] == 1
    assert report["by_org_unit"][0]["name"] == "海曙区"
    assert report["by_site"][0]["site_id"] == world.site_id
    assert report["roll_calls"] == [] and report["site_outages"] == []
    csv = await op.get(f"/api/v1/sessions/{sid}/report?format=csv")
    assert csv.status == 200 and csv.headers["Content-Type"].startswith("text/csv")
    text = (await csv.read()).decode("utf-8-sig")
    assert text.startswith("单位,课堂,姓名,工号,应到,出勤情况") and "张伟" in text
    xlsx = await op.get(f"/api/v1/sessions/{sid}/report?format=xlsx")
    assert xlsx.status == 200 and (await xlsx.read()).startswith(b"PK")
    today = utcnow().astimezone(CHINA).date()
    since = (today - timedelta(days=2)).isoformat()
    unit = await _ok(
        await op.get(f"/api/v1/org-units/{world.org_unit_id}/report?from={since}&to={today}")
    )
    (person,) = unit["trainees"]
    assert person["present"] == 1 and person["class_hours"] == 3
    r = await op.get(f"/api/v1/org-units/{world.org_unit_id}/report?from=2026-13-01")
    await _error(r, 400, "request.bad_query")
    csv = await op.get(f"/api/v1/org-units/{world.org_unit_id}/report?format=csv&from={since}")
    assert (await csv.read()).decode("utf-8-sig").startswith("单位,姓名,工号,应到场次")
