"""Reports the office files as they are (issue 13.10/13.11, issue 15.10), over HTTP on SQLite.

The XLSX is opened with openpyxl: numbers are numbers, times are real dates in Beijing time,
summaries by unit and by site name the absentees; the interaction log never names the asker
of an anonymous question.
"""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from server.store.models import utcnow
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee, check_in_from_screen, operator_site_trainee
from tests.web.http_helpers import expect_ok as _ok

BEIJING = timezone(timedelta(hours=8))


async def _xlsx(client: TestClient[Any, Any], url: str) -> Any:
    r = await client.get(url)
    assert r.status == 200, await r.text()
    return load_workbook(io.BytesIO(await r.read()))


def _beijing(iso: str) -> datetime:
    return datetime.fromisoformat(iso).astimezone(BEIJING).replace(tzinfo=None)


async def test_session_report_xlsx_is_typed_local_and_summarised(
    client_as: ClientFactory, world: World
) -> None:
    op, agent, trainee = await operator_site_trainee(client_as)
    sid = world.session_id
    absent = await add_trainee(op, "缺席者", "T0999", world.org_unit_id, home_site_id=world.site_id)
    await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    await check_in_from_screen(agent, trainee, sid, "a")
    asked = await _ok(
        await trainee.post(
            f"/api/v1/sessions/{sid}/questions", json={"text": "匿名的问题？", "anonymous": True}
        ),
        201,
    )
    await _ok(await op.post(f"/api/v1/sessions/{sid}/end"))

    report = await _ok(await op.get(f"/api/v1/sessions/{sid}/report"))
    (unit,) = report["by_org_unit"]
    assert [a["name"] for a in unit["absentees"]] == ["缺席者"]
    assert report["by_site"][0]["absentees"][0]["trainee_id"] == absent["id"]
    me = next(p for p in report["trainees"] if p["trainee_id"] == world.trainee_id)

    book = await _xlsx(op, f"/api/v1/sessions/{sid}/report?format=xlsx")
    site = await _ok(await op.get(f"/api/v1/sites/{world.site_id}"))
    assert (
        book.sheetnames
        == [
            "考勤明细",
            "按单位汇总",
            "按课堂汇总",
            "缺勤名单",
            "课次信息",
            "单位-海曙区",  # the detail again, a sheet per unit and per site
            f"课堂-{site['name']}"[:31],
        ]
    )
    names = {r[2] for r in book["单位-海曙区"].iter_rows(min_row=2, values_only=True)}
    assert names == {"张伟", "缺席者"}
    detail = book["考勤明细"]
    header = [c.value for c in detail[1]]
    row = next(r for r in detail.iter_rows(min_row=2) if r[2].value == "张伟")
    cells = dict(zip(header, row, strict=True))
    first_in = cells["首次签到"]
    assert first_in.is_date and isinstance(first_in.value, datetime)
    # Beijing time, not UTC: the cell shows what the wall clock in the room said.
    assert abs((first_in.value - _beijing(me["first_in"])).total_seconds()) < 1
    assert cells["在场分钟"].data_type == "n" and cells["学时"].data_type == "n"
    assert cells["工号"].value == "T0001" and cells["工号"].data_type == "s"
    units = book["按单位汇总"]
    assert [c.value for c in units[1]][:3] == ["单位", "应到", "出勤"]
    unit_row = [c for c in units[2]]
    assert unit_row[0].value == "海曙区" and unit_row[1].value == 2 and unit_row[1].data_type == "n"
    assert unit_row[-1].value == "缺席者"
    assert units.cell(2, 9).value == 0  # 请假
    assert units.cell(2, 10).value == 50.0  # 出勤率(%)
    assert [c.value for c in book["缺勤名单"][2]][2:] == ["缺席者", "T0999"]
    plan = {r[0].value: r[1].value for r in book["课次信息"].iter_rows(min_row=2)}
    assert plan["时区"] == "Asia/Shanghai" and isinstance(plan["实际开始"], datetime)
    assert abs((plan["实际开始"] - _beijing(report["started_at"])).total_seconds()) < 1

    # The CSV carries the same local time as text.
    r = await op.get(f"/api/v1/sessions/{sid}/report?format=csv")
    text = (await r.read()).decode("utf-8-sig")
    assert _beijing(me["first_in"]).strftime("%Y-%m-%d %H:%M:%S") in text

    # Anonymous stays anonymous: in the log JSON, CSV and XLSX.
    log = await _ok(await op.get(f"/api/v1/sessions/{sid}/interaction-log"))
    (submitted,) = [e for e in log["items"] if e["kind"] == "question_submitted"]
    assert submitted["question_id"] == asked["id"] and submitted["actor"] == "anonymous"
    assert f"trainee:{world.trainee_id}" not in str(log)
    book = await _xlsx(op, f"/api/v1/sessions/{sid}/interaction-log?format=xlsx")
    sheet = book.active
    assert sheet is not None
    first = [c for c in sheet[2]]
    assert first[4].value == "匿名学员" and isinstance(first[1].value, datetime)
    assert first[0].data_type == "n"
    assert abs((first[1].value - _beijing(submitted["at"])).total_seconds()) < 1


async def test_unit_report_counts_future_sessions_as_pending_and_has_summaries(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    # The world's session starts in an hour and is not started: nobody is absent from it.
    today = utcnow().astimezone(BEIJING).date()
    until = (today + timedelta(days=1)).isoformat()
    query = f"from={today.isoformat()}&to={until}"
    unit = await _ok(await op.get(f"/api/v1/org-units/{world.org_unit_id}/report?{query}"))
    (person,) = unit["trainees"]
    assert person["absent"] == 0 and person["pending"] == 1
    book = await _xlsx(op, f"/api/v1/org-units/{world.org_unit_id}/report?{query}&format=xlsx")
    assert book.sheetnames == ["单位考勤汇总", "按课次", "按单位汇总", "按课堂汇总"]
    people = book["单位考勤汇总"]
    header = [c.value for c in people[1]]
    cells = dict(zip(header, people[2], strict=True))
    assert cells["缺勤场次"].value == 0 and cells["待签到场次"].value == 1
    assert cells["应到场次"].data_type == "n"
    sessions = book["按课次"]
    planned = sessions.cell(2, 2)
    assert planned.is_date and sessions.cell(2, 4).value == "未开始"
    session = await _ok(await op.get(f"/api/v1/sessions/{world.session_id}"))
    assert abs((planned.value - _beijing(session["starts_at"])).total_seconds()) < 1
    site = await _ok(await op.get(f"/api/v1/sites/{world.site_id}"))
    by_site = book["按课堂汇总"]
    assert by_site.cell(2, 1).value == site["name"] and by_site.cell(2, 6).value == 1  # 待签到
