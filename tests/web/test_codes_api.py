"""Personal codes in bulk: a unit with its sub-units, a site with its rooms, everyone; only those
without a code; the old code stops working; a bad scope is refused before anything changes; the
slips as a workbook; one audit entry per batch."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook

from server.core.trees import subtree
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee

BASE = "https://peixun.example.cn"


def test_subtree_takes_every_descendant_and_survives_a_cycle() -> None:
    parents: dict[int, int | None] = {1: None, 2: 1, 3: 2, 4: 1, 5: None, 6: 7, 7: 6}
    assert subtree(1, parents) == {1, 2, 3, 4}
    assert subtree(2, parents) == {2, 3}
    assert subtree(5, parents) == {5}
    assert subtree(6, parents) == {6, 7}


async def _add_trainees(op: Any, world: World) -> dict[str, int]:
    r = await op.post(
        "/api/v1/org-units", json={"name": "海曙区卫健局", "parent_id": world.org_unit_id}
    )
    child = (await r.json())["id"]
    r = await op.post("/api/v1/org-units", json={"name": "江北区"})
    other = (await r.json())["id"]
    ids = {}
    for name, staff_no, unit in (("李娜", "T0002", child), ("王强", "T0003", other)):
        ids[staff_no] = (await add_trainee(op, name, staff_no, unit))["id"]
    return ids


async def test_issue_a_unit_with_sub_units_then_everyone_missing(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    await _add_trainees(op, world)
    r = await op.post(
        "/api/v1/join-codes", json={"org_unit_id": world.org_unit_id, "base_url": BASE + "/"}
    )
    body = await r.json()
    assert r.status == 201, body
    assert [i["staff_no"] for i in body["items"]] == ["T0001", "T0002"]
    first = body["items"][0]
    assert first["name"] == "张伟" and first["org_unit"] == "海曙区"
    assert first["site"] == "海曙分课堂"
    assert first["link"] == f"{BASE}/trainee/#join={first['code']}"

    # The world's old code no longer signs in; the new one does.
    anon = await client_as("anonymous")
    r = await anon.post("/api/v1/auth/join", json={"code": world.trainee_code})
    assert r.status == 401
    r = await anon.post("/api/v1/auth/join", json={"code": first["code"]})
    assert r.status == 200 and (await r.json())["name"] == "张伟"

    # Everyone, only those without a code: just 王强 of 江北区.
    r = await op.post(
        "/api/v1/join-codes", json={"everyone": True, "only_missing": True, "base_url": BASE}
    )
    body = await r.json()
    assert [i["name"] for i in body["items"]] == ["王强"]

    # By site: the rooms of the main classroom include 海曙分课堂.
    r = await op.post("/api/v1/join-codes", json={"site_id": world.site_id, "base_url": BASE})
    assert [i["name"] for i in (await r.json())["items"]] == ["张伟"]

    audit = [e for e in await _audit(op) if e["action"] == "issue_join_codes"]
    assert len(audit) == 3


async def _audit(op: Any) -> list[dict[str, Any]]:
    r = await op.get("/api/v1/audit", params={"limit": 100})
    assert r.status == 200, await r.text()
    return list((await r.json())["items"])


async def test_bad_scope_or_address_changes_nothing(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    for bad, code in (
        ({"base_url": BASE}, "codes.bad_scope"),
        ({"everyone": True, "site_id": world.site_id, "base_url": BASE}, "codes.bad_scope"),
        ({"everyone": True, "base_url": "javascript:alert(1)//"}, "codes.bad_base_url"),
        ({"org_unit_id": 999999, "base_url": BASE}, "org_unit.not_found"),
        ({"everyone": True}, "message.invalid"),
    ):
        r = await op.post("/api/v1/join-codes", json=bad)
        assert r.status in (400, 404), (bad, await r.text())
        assert (await r.json())["error"]["code"] == code, bad
    anon = await client_as("anonymous")
    r = await anon.post("/api/v1/auth/join", json={"code": world.trainee_code})
    assert r.status == 200
    trainee = await client_as("trainee")
    r = await trainee.post("/api/v1/join-codes", json={"everyone": True, "base_url": BASE})
    assert r.status == 403


async def test_slips_as_a_workbook_issue_nothing(client_as: ClientFactory, world: World) -> None:
    op = await client_as("operator")
    r = await op.post("/api/v1/join-codes", json={"everyone": True, "base_url": BASE})
    items = (await r.json())["items"]
    r = await op.post("/api/v1/join-codes/xlsx", json={"items": items})
    assert r.status == 200
    assert r.headers["Content-Type"].startswith("application/vnd.openxmlformats")
    sheet = load_workbook(io.BytesIO(await r.read())).active
    assert sheet is not None
    rows = [[c.value for c in row] for row in sheet.iter_rows()]
    assert rows[0] == ["姓名", "工号", "单位", "课堂", "个人码", "登录链接"]
    assert rows[1][:5] == ["张伟", "T0001", "海曙区", "海曙分课堂", items[0]["code"]]
    # The code issued above still works: the workbook replaced nothing.
    anon = await client_as("anonymous")
    r = await anon.post("/api/v1/auth/join", json={"code": items[0]["code"]})
    assert r.status == 200
