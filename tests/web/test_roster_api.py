"""Roster import and export through the API, both file formats, all-or-nothing."""

from __future__ import annotations

from typing import Any

from aiohttp import FormData

from server import roster_files
from tests.conftest import ClientFactory, World

HEADER_ZH = ["姓名", "工号", "单位", "职务", "是否领导", "所属课堂"]


def _form(data: bytes, filename: str) -> FormData:
    form = FormData()
    form.add_field("file", data, filename=filename)
    return form


async def _trainees(client: Any) -> dict[str, dict[str, Any]]:
    page = await (await client.get("/api/v1/trainees?limit=500")).json()
    return {t["staff_no"]: t for t in page["items"]}


async def test_good_xlsx_imports_in_one_go_and_updates_by_staff_number(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    rows = [
        ["张 伟", "T0001", "海曙区", "副科长", "否", "海曙分课堂"],  # existing: updated
        ["王强", "T0002", "HS", "科员", "否", "HS1"],  # by code
        ["赵敏", "T0003", "海曙区", "区委书记", "是", "海曙分课堂"],
    ]
    data = roster_files.write_xlsx(HEADER_ZH, rows)
    r = await op.post("/api/v1/trainees/import", data=_form(data, "名单.xlsx"))
    body = await r.json()
    assert r.status == 200, body
    assert (body["created"], body["updated"]) == (2, 1)
    trainees = await _trainees(op)
    assert trainees["T0001"]["name"] == "张伟" and trainees["T0001"]["position"] == "副科长"
    assert trainees["T0003"]["is_leader"] is True
    assert trainees["T0002"]["home_site_id"] == world.site_id


async def test_a_staff_number_of_someone_else_is_a_row_error_unless_updating(
    client_as: ClientFactory, world: World
) -> None:
    """Issue 13.12: T0001 is 张伟; a row 李娜/T0001 must not rename and move him silently."""
    op = await client_as("operator")
    rows = [
        ["王强", "T0002", "HS", "科员", "否", "HS1"],
        ["李娜", "T0001", "海曙区", "副科长", "否", "主课堂"],
    ]
    data = roster_files.write_csv(HEADER_ZH, rows)
    r = await op.post("/api/v1/trainees/import", data=_form(data, "名单.csv"))
    body = await r.json()
    assert r.status == 400 and body["error"]["code"] == "roster.invalid", body
    (problem,) = body["error"]["details"]["errors"]
    assert problem["row"] == 3 and problem["code"] == "roster.staff_no_taken"
    assert "张伟" in problem["message_zh"] and "李娜" in problem["message_zh"]
    trainees = await _trainees(op)
    assert (
        trainees["T0001"]["name"] == "张伟" and trainees["T0001"]["home_site_id"] == world.site_id
    )
    assert "T0002" not in trainees  # all or nothing
    r = await op.post("/api/v1/trainees/import?update_existing=maybe", data=_form(data, "名单.csv"))
    assert r.status == 400 and (await r.json())["error"]["code"] == "request.bad_query"

    r = await op.post("/api/v1/trainees/import?update_existing=true", data=_form(data, "名单.csv"))
    body = await r.json()
    assert r.status == 200, body
    assert (body["created"], body["updated"]) == (1, 1)
    assert body["renamed"] == [
        {"row": 3, "staff_no": "T0001", "old_name": "张伟", "new_name": "李娜"}
    ]
    trainees = await _trainees(op)
    assert (
        trainees["T0001"]["name"] == "李娜" and trainees["T0001"]["home_site_id"] != world.site_id
    )


async def test_one_bad_row_imports_nothing_and_lists_every_error(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    before = await _trainees(op)
    text = "\n".join(
        [
            ",".join(HEADER_ZH),
            "王强,T0100,海曙区,科员,否,海曙分课堂",
            "陈静,T0101,不存在的单位,科员,否,海曙分课堂",
            ",T0102,海曙区,科员,也许,海曙分课堂",
        ]
    )
    r = await op.post("/api/v1/trainees/import", data=_form(text.encode("gb18030"), "roster.csv"))
    body = await r.json()
    assert r.status == 400
    assert body["error"]["code"] == "roster.invalid"
    errors = {(e["row"], e["code"]) for e in body["error"]["details"]["errors"]}
    assert (3, "roster.unknown_org_unit") in errors
    assert (4, "roster.empty_field") in errors and (4, "roster.bad_leader_flag") in errors
    assert await _trainees(op) == before


async def test_export_round_trips_through_import(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    for fmt in ("csv", "xlsx"):
        r = await op.get(f"/api/v1/trainees/export?format={fmt}")
        assert r.status == 200
        assert "attachment" in r.headers["Content-Disposition"]
        data = await r.read()
        header, rows = roster_files.read_table(data, f"roster.{fmt}")
        assert header[:2] == ["姓名", "工号"]
        assert rows[0][:2] == ["张伟", "T0001"]
        again = await op.post("/api/v1/trainees/import", data=_form(data, f"roster.{fmt}"))
        assert (await again.json())["updated"] == 1


async def test_upload_without_a_file_field_is_explained(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    form = FormData()
    form.add_field("other", b"x", filename="x.csv")
    r = await op.post("/api/v1/trainees/import", data=form)
    assert (await r.json())["error"]["code"] == "roster.upload_required"
    r = await op.post("/api/v1/trainees/import", json={"file": "x"})
    assert (await r.json())["error"]["code"] == "roster.upload_required"
    r = await op.get("/api/v1/trainees/export?format=pdf")
    assert (await r.json())["error"]["code"] == "request.bad_query"
