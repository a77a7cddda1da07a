"""The small endpoints behind the new pages: the audit reader (filters, names behind labels) and
the phone's own lists (electives with seats and waitlist place, needs surveys, feedback due)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee
from tests.web.http_helpers import expect_ok as _json

CHINA = timezone(timedelta(hours=8))


async def test_audit_reader_filters_by_actor_action_and_day(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    admin = await client_as("admin")
    await _json(await op.patch(f"/api/v1/sites/{world.site_id}", json={"capacity": 61}))
    await _json(await admin.post(f"/api/v1/sessions/{world.session_id}/start"))
    everything = await _json(await op.get("/api/v1/audit"))
    assert everything["total"] >= 2
    newest = everything["items"][0]
    assert newest["action"] == "start" and newest["actor_name"] == "admin"
    assert newest["before"] == {"status": "scheduled"}

    mine = await _json(await op.get("/api/v1/audit", params={"actor": "operator"}))
    assert all("operator" in i["actor"] for i in mine["items"]) and mine["total"] >= 1

    starts = await _json(await op.get("/api/v1/audit", params={"action": "start"}))
    assert [i["entity_id"] for i in starts["items"]] == [str(world.session_id)]

    today = datetime.now(CHINA).date()
    same_day = await _json(
        await op.get("/api/v1/audit", params={"since": str(today), "until": str(today)})
    )
    assert same_day["total"] == everything["total"]
    yesterday = str(today - timedelta(days=1))
    none = await _json(await op.get("/api/v1/audit", params={"until": yesterday}))
    assert none["total"] == 0

    facets = await _json(await op.get("/api/v1/audit/facets"))
    assert "start" in facets["actions"] and "sessions" in facets["entities"]

    bad = await _json(await op.get("/api/v1/audit", params={"since": "yesterday"}), 400)
    assert bad["error"]["code"] == "request.bad_query"
    trainee = await client_as("trainee")
    assert (await trainee.get("/api/v1/audit")).status == 403


async def test_audit_names_a_trainee_and_a_site(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    await _json(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    agent = await client_as("site_agent")
    await _json(
        await agent.post(
            f"/api/v1/sessions/{world.session_id}/attendance/mark",
            json={"trainee_id": world.trainee_id, "reason": "手机没电，现场确认"},
        )
    )
    marks = await _json(await op.get("/api/v1/audit", params={"action": "mark_present"}))
    assert marks["items"][0]["actor_name"] == "海曙分课堂"
    assert marks["items"][0]["reason"] == "手机没电，现场确认"


async def _second_trainee(op: Any, client_as: ClientFactory, world: World) -> Any:
    made = await add_trainee(op, "李娜", "T0002", world.org_unit_id)
    code = (await _json(await op.post(f"/api/v1/trainees/{made['id']}/join-code"), 201))["code"]
    other = await client_as("anonymous")
    joined = await _json(await other.post("/api/v1/auth/join", json={"code": code}))
    other.session.headers["X-CSRF-Token"] = joined["csrf_token"]
    return other


async def test_electives_list_shows_seats_and_my_waitlist_place(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    me = await client_as("trainee")
    assert (await _json(await me.get("/api/v1/trainee/electives")))["items"] == []
    await _json(
        await op.put(
            f"/api/v1/sessions/{world.session_id}/settings",
            json={"capacity": 1, "registration_open": True},
        )
    )
    other = await _second_trainee(op, client_as, world)
    await _json(await other.post(f"/api/v1/sessions/{world.session_id}/registration"))
    await _json(await me.post(f"/api/v1/sessions/{world.session_id}/registration"))
    [item] = (await _json(await me.get("/api/v1/trainee/electives")))["items"]
    assert item["course_title"] == "课程一" and item["lecturer"] == "李老师"
    assert (item["capacity"], item["registered"], item["waitlisted"]) == (1, 1, 1)
    assert (item["seats_left"], item["my_status"], item["my_position"]) == (0, "waitlisted", 1)
    # The first cancels: I move up.
    await _json(await other.delete(f"/api/v1/sessions/{world.session_id}/registration"))
    [item] = (await _json(await me.get("/api/v1/trainee/electives")))["items"]
    assert (item["my_status"], item["my_position"], item["waitlisted"]) == ("registered", None, 0)


async def test_survey_and_feedback_lists(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    me = await client_as("trainee")
    program = world.ids["programs"]
    await _json(
        await op.put(
            f"/api/v1/programs/{program}/needs-survey",
            json={"topics": ["基层治理", "乡村振兴", "数字政府"]},
        )
    )
    [survey] = (await _json(await me.get("/api/v1/trainee/surveys")))["items"]
    assert survey["topics"] == ["基层治理", "乡村振兴", "数字政府"]
    assert survey["answered"] is False and survey["program"] == "周末知行学堂"
    await _json(
        await me.post(
            f"/api/v1/programs/{program}/needs-survey/response",
            json={"ranking": ["数字政府", "基层治理"], "needs_text": "希望多讲案例"},
        )
    )
    [survey] = (await _json(await me.get("/api/v1/trainee/surveys")))["items"]
    assert survey["my_ranking"] == ["数字政府", "基层治理"]
    assert survey["my_needs_text"] == "希望多讲案例"

    # Feedback: only sessions the trainee attended, once they ended.
    assert (await _json(await me.get("/api/v1/trainee/feedback")))["items"] == []
    await _json(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    await _json(
        await op.post(
            f"/api/v1/sessions/{world.session_id}/attendance/mark",
            json={"trainee_id": world.trainee_id, "reason": "补录"},
        )
    )
    # Not while the session is still running: only after it ended.
    assert (await _json(await me.get("/api/v1/trainee/feedback")))["items"] == []
    await _json(await op.post(f"/api/v1/sessions/{world.session_id}/end"))
    [due] = (await _json(await me.get("/api/v1/trainee/feedback")))["items"]
    assert due["given"] is False and due["lecturer"] == "李老师"
    await _json(
        await me.post(
            f"/api/v1/sessions/{world.session_id}/feedback",
            json={"course_rating": 5, "lecturer_ratings": {"李老师": 4}, "comment": "很好"},
        )
    )
    [due] = (await _json(await me.get("/api/v1/trainee/feedback")))["items"]
    assert (due["given"], due["my_rating"], due["my_lecturer_rating"]) == (True, 5, 4)
