"""The catalogue API end to end, on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace

import pytest

from server.config import Config
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee
from tests.web.http_helpers import expect_ok as _ok


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return replace(config, database_url=database_url)


async def test_org_unit_tree_refuses_a_cycle(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    city = await _ok(await op.post("/api/v1/org-units", json={"name": "宁波市", "code": "NB"}), 201)
    district = await _ok(
        await op.post("/api/v1/org-units", json={"name": "江北区", "parent_id": city["id"]}), 201
    )
    r = await op.patch(f"/api/v1/org-units/{city['id']}", json={"parent_id": district["id"]})
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "tree.cycle"
    r = await op.patch(f"/api/v1/org-units/{city['id']}", json={"parent_id": city["id"]})
    assert (await r.json())["error"]["code"] == "tree.cycle"


async def test_create_read_change_delete_a_site(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    created = await _ok(
        await op.post(
            "/api/v1/sites",
            json={
                "name": "白沙街道分教点",
                "code": "BS",
                "parent_id": world.site_id,
                "capacity": 40,
            },
        ),
        201,
    )
    assert created["kind"] == "sub" and created["has_secret"] is False
    assert "secret_hash" not in created
    changed = await _ok(await op.patch(f"/api/v1/sites/{created['id']}", json={"capacity": 45}))
    assert changed["capacity"] == 45 and changed["name"] == "白沙街道分教点"
    await _ok(await op.delete(f"/api/v1/sites/{created['id']}"), 204)
    r = await op.get(f"/api/v1/sites/{created['id']}")
    assert r.status == 404
    assert (await r.json())["error"]["code"] == "site.not_found"


async def test_bad_bodies_get_field_named_errors(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    cases = [
        ({"name": ""}, "body.name"),
        ({"name": "x", "capacity": -1}, "body.capacity"),
        ({"name": "x", "capacity": True}, "body.capacity"),
        ({"name": "x", "colour": "red"}, "body.colour"),
        ({"name": "x", "kind": "castle"}, "body.kind"),
        ([1, 2], "body"),
    ]
    for body, path in cases:
        r = await op.post("/api/v1/sites", json=body)
        error = (await r.json())["error"]
        assert r.status == 400, body
        assert error["code"] == "message.invalid"
        assert path in error["message"], (body, error)
    r = await op.post(
        "/api/v1/sites", data=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert (await r.json())["error"]["code"] == "request.bad_json"


async def test_unknown_reference_is_refused(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    r = await op.post("/api/v1/sites", json={"name": "x", "parent_id": 424242})
    assert r.status == 400
    assert (await r.json())["error"]["code"] == "sites.unknown_parent"


async def test_duplicate_name_is_a_conflict_not_a_crash(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    r = await op.post("/api/v1/org-units", json={"name": "海曙区"})
    assert r.status == 409
    assert (await r.json())["error"]["code"] == "store.conflict"


async def test_an_org_unit_still_in_use_cannot_be_deleted(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    r = await op.delete(f"/api/v1/org-units/{world.org_unit_id}")
    assert r.status == 409


async def test_session_lifecycle_and_window(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    body = {
        "course_id": world.ids["courses"],
        "starts_at": "2026-12-05T09:00:00+08:00",
        "ends_at": "2026-12-05T11:30:00+08:00",
        "teaching_method": "interview",
        "site_ids": [world.site_id],
    }
    session = await _ok(await op.post("/api/v1/sessions", json=body), 201)
    assert session["starts_at"] == "2026-12-05T01:00:00+00:00"
    assert session["site_ids"] == [world.site_id] and session["status"] == "scheduled"
    bad = {**body, "ends_at": "2026-12-05T08:00:00+08:00"}
    r = await op.post("/api/v1/sessions", json=bad)
    assert (await r.json())["error"]["code"] == "session.bad_window"
    r = await op.post("/api/v1/sessions", json={**body, "starts_at": "2026-12-05T09:00:00"})
    assert "UTC offset" in (await r.json())["error"]["message"]
    r = await op.post(f"/api/v1/sessions/{session['id']}/end")
    assert r.status == 409 and (await r.json())["error"]["code"] == "session.cannot_end"
    live = await _ok(await op.post(f"/api/v1/sessions/{session['id']}/start"))
    assert live["status"] == "live" and live["started_at"]
    ended = await _ok(await op.post(f"/api/v1/sessions/{session['id']}/end"))
    assert ended["status"] == "ended"
    r = await op.post(f"/api/v1/sessions/{session['id']}/start")
    assert (await r.json())["error"]["code"] == "session.cannot_start"


async def test_lists_paginate_filter_and_search(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    for i in range(7):
        await add_trainee(op, f"学员{i}", f"P{i:03d}", world.org_unit_id)
    page = await _ok(await op.get("/api/v1/trainees?limit=3&offset=2"))
    assert page["total"] == 8 and page["limit"] == 3 and len(page["items"]) == 3
    assert [t["staff_no"] for t in page["items"]] == ["P001", "P002", "P003"]
    found = await _ok(await op.get("/api/v1/trainees?q=P00"))
    assert found["total"] == 7
    r = await op.get("/api/v1/trainees?limit=0")
    assert (await r.json())["error"]["code"] == "request.bad_query"


async def test_changes_are_audited(client_as: ClientFactory, world: World, config: Config) -> None:
    from sqlalchemy import select

    from server.store import db as store_db
    from server.store.models import AuditEntry

    op = await client_as("operator")
    await _ok(await op.patch(f"/api/v1/trainees/{world.trainee_id}", json={"position": "副科长"}))
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db:
        entry = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "update"))).one()
    await engine.dispose()
    assert entry.actor.startswith("user:") and entry.actor.endswith(":operator")
    assert entry.before["position"] == "科员" and entry.after["position"] == "副科长"
