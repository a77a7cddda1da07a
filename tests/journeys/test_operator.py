"""The operator runs the live day through the console (JOURNEYS.md 2 and 6): signs in, creates
today's session for now, starts it, broadcasts from the browser camera (Chromium's fake device),
sees every room online on the wall, moderates a question and puts it on air, gives the floor to
the room that raised its hand from its screen, runs a roll call and a poll, ends the session,
reads the report (absentees by unit) and downloads the XLSX, whose cells are numbers and local
times. The rooms are real classroom agents; the trainees act through the API (their own phone
journey is test_trainee.py)."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import openpyxl
from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    COURSE_ID,
    MAIN_SITE,
    WAIT,
    Journey,
    homed_trainees,
    media_plays,
    operator_signs_in,
    screen_signs_in,
    site_secret,
    trainee_api,
    wait_until,
)

ROOMS = {2: "海曙区分课堂", 6: "江北区分课堂"}  # two districts' rooms, each with an agent
SCREEN_ROOM = 2  # this room also has its screen page open on the projector
BEIJING = timedelta(hours=8)


def test_operator(journey: Journey, admin: Api, agents: Any) -> None:
    url = journey.url
    # Set-up: every room's secret is on its agent (the main classroom's too); agents run.
    secrets = {site: site_secret(admin, site) for site in (MAIN_SITE, *ROOMS)}
    agents(MAIN_SITE, secrets[MAIN_SITE], "none")  # the main room: presence, no camera
    for site in ROOMS:
        agents(site, secrets[site])
    people = {site: homed_trainees(admin, site)[:3] for site in ROOMS}
    op = journey.person("operator", "operator")

    # 1. Signs in and creates today's session for now, in Beijing time, for three rooms.
    operator_signs_in(op, url)
    op.goto(url + "/operator/#/manage/sessions")
    op.locator("#manage-new").click()
    title = f"操作员旅程 {datetime.now(UTC):%H%M%S}"
    beijing_now = datetime.now(UTC) + BEIJING
    op.locator("#mf-course_id").select_option(str(COURSE_ID))
    op.locator("#mf-title").fill(title)
    op.locator("#mf-starts_at").fill(f"{beijing_now - timedelta(minutes=2):%Y-%m-%dT%H:%M}")
    op.locator("#mf-ends_at").fill(f"{beijing_now + timedelta(minutes=58):%Y-%m-%dT%H:%M}")
    op.locator("#mf-site_ids").select_option([str(MAIN_SITE), *map(str, ROOMS)])
    journey.shoot("session-form")
    op.locator("#resource-save").click()
    row = op.locator("#resource-table tr", has_text=title)
    expect(row).to_have_count(1)
    row.get_by_role("link", name=re.compile("^(直播调度|Live dashboard)$")).click()
    expect(op.locator(".wall .tile")).to_have_count(3)
    sid = int(re.findall(r"#/sessions/(\d+)/live", op.url)[0])

    # 2. The wall shows every room online from the moment the page loads.
    summary = op.locator(".wall-summary")
    expect(summary).to_contain_text("在线 3 · 降级 0 · 离线 0", timeout=WAIT)
    for site in (MAIN_SITE, *ROOMS):
        expect(op.locator(f'.tile[data-site-id="{site}"] .tile-state')).to_contain_text("在线")
    journey.shoot("wall-at-load")

    # 3. Starts the session; questions are screened by hand.
    op.get_by_role("button", name="开始课次").click()
    expect(op.locator("#session-status")).to_have_text("进行中", timeout=WAIT)
    op.locator("#p-qa .qa-settings summary").click()
    op.locator("#qa-auto").set_checked(False)
    op.locator("#qa-settings-save").click()
    expect(op.locator("#flash")).to_contain_text("已保存")

    # The room with a screen: its kiosk signs in (the site screen journey covers it in full).
    screen = journey.person("screen", "screen")
    screen_signs_in(screen, url, secrets[SCREEN_ROOM], ROOMS[SCREEN_ROOM])

    # Trainees of both rooms check in with their room's code and ask (their phones: set-up).
    phones = {
        t["code"]: (site, trainee_api(url, t["code"])) for site in ROOMS for t in people[site][:2]
    }
    for who, (site, phone) in phones.items():
        shown = admin.call("GET", f"/sessions/{sid}/checkin-code", params={"site_id": site})
        phone.call(
            "POST", f"/sessions/{sid}/checkin", json={"code": shown["code"], "client_id": who}
        )
    asker = next(iter(phones.values()))[1]
    question = "基层减负的具体措施有哪些？"
    qid = asker.call(
        "POST", f"/sessions/{sid}/questions", json={"text": question, "anonymous": True}
    )["id"]

    # 4. Broadcasts from the browser camera: the preview plays, the rooms receive it.
    op.locator("#bc-source").select_option("main")
    expect(op.locator("#bc-use-camera")).to_be_checked()
    for device in ("#bc-camera", "#bc-mic"):  # the first real device after 系统默认
        expect(op.locator(f"{device} option").nth(1)).to_be_attached()
        op.locator(device).select_option(index=1)
    op.locator("#bc-start").click()
    expect(op.locator("#bc-state")).to_have_attribute("data-live", "true", timeout=WAIT)
    expect(op.locator("#bc-state")).to_contain_text("直播中")
    media_plays(op.locator("#bc-local"), "the console's camera preview", sound=False)
    wait_until(
        lambda: float(op.locator("#bc-level").get_attribute("data-peak") or 0) > 0.02,
        "the microphone's level does not move",
    )
    media_plays(screen.locator("#program"), "room screen program", sound=False)
    # A stream judged bad (freezes in the last minute) may take up to a minute to clear on a
    # machine this busy; on a quiet one it reads 正常 within seconds.
    for site in ROOMS:
        stream = op.locator(f'.tile[data-site-id="{site}"] .f-stream')
        expect(stream).to_contain_text("正常", timeout=60_000)
    expect(summary).to_contain_text("在线 3 · 降级 0 · 离线 0", timeout=WAIT)
    # The room's screen tells the wall it really plays, with sound.
    screen_fact = op.locator(f'.tile[data-site-id="{SCREEN_ROOM}"] dl')
    expect(screen_fact).to_contain_text(re.compile("正在播放.*有声音"), timeout=WAIT)
    journey.shoot("broadcasting")

    # 5. Moderates the question (approve) and puts it on air: the room's screen shows it.
    item = op.locator(f'.q-item[data-question-id="{qid}"][data-state]')
    expect(item).to_have_attribute("data-state", "submitted", timeout=WAIT)
    expect(item.locator(".q-text")).to_have_text(question)
    item.locator('button[data-action="approve"]').click()
    expect(item).to_have_attribute("data-state", "approved")
    item.locator('button[data-action="on-air"]').click()
    expect(item).to_have_attribute("data-state", "on_air")
    expect(screen.locator("#onair-text")).to_have_text(question, timeout=WAIT)
    # The wall counts the trainees checked in (its head count refreshes every 15 s).
    expect(summary).to_contain_text("签到 4/", timeout=20_000)
    journey.shoot("question-on-air")

    # 6. The room raises its hand from its screen; the operator sees it and gives it the floor.
    screen.get_by_role("button", name=re.compile("举手")).click()
    hand = op.locator(f'#p-queue .hand-item[data-site-id="{SCREEN_ROOM}"]')
    expect(hand).to_be_visible(timeout=WAIT)
    expect(op.locator(f'.tile[data-site-id="{SCREEN_ROOM}"] .tile-state')).to_contain_text("举手")
    journey.shoot("hand-raised")
    hand.get_by_role("button", name="授予发言").click()
    expect(op.locator("#floor-holder")).to_have_attribute("data-site-id", str(SCREEN_ROOM))
    expect(screen.locator(".prompt.floor")).to_contain_text(
        re.compile(f"本课堂正在发言|{ROOMS[SCREEN_ROOM]}"), timeout=WAIT
    )
    journey.shoot("floor-given")
    op.locator("#floor-revoke").click()
    expect(op.locator("#floor-holder")).to_have_text(re.compile("主课堂"))

    # 7. A roll call: three of the four answer on their phones.
    op.locator("#roll-seconds").fill("120")
    op.locator("#roll-start").click()
    call = op.locator(".rollcall").first
    expect(call).to_be_visible()
    call_id = int(call.get_attribute("data-roll-call-id") or 0)
    for phone in list(phones.values())[:3]:
        phone[1].call("POST", f"/roll-calls/{call_id}/answer")
    expect(call).to_contain_text("应答 3/", timeout=WAIT)
    journey.shoot("roll-call")

    # 8. A poll: created, published, answered by two, the console shows the tally.
    op.locator("#p-poll summary").click()
    op.locator("#poll-prompt").fill("本次课程对您的工作帮助大吗？")
    op.locator("#poll-options").fill("很大\n一般\n不大")
    op.locator("#poll-create").click()
    poll = op.locator(".poll", has_text="本次课程对您的工作帮助大吗")
    expect(poll).to_have_attribute("data-state", "draft")
    poll.get_by_role("button", name="发布").click()
    expect(poll).to_have_attribute("data-state", "open", timeout=WAIT)
    poll_id = int(poll.get_attribute("data-poll-id") or 0)
    for choice, phone in zip((0, 1), list(phones.values())[:2], strict=True):
        phone[1].call("POST", f"/polls/{poll_id}/answers", json={"choices": [choice]})
    expect(poll).to_contain_text("2 人作答", timeout=WAIT)
    journey.shoot("poll")

    # 9. Ends the session (and says yes when the page asks).
    op.get_by_role("button", name="结束课次").click()
    ask = op.get_by_role("alertdialog")  # asked on the page, not in a browser dialog
    expect(ask).to_contain_text("确定结束本课次吗？")
    ask.get_by_role("button", name="结束课次").click()
    expect(op.locator("#session-status")).to_have_text("已结束", timeout=WAIT)
    expect(screen.locator("#waiting-text")).to_have_text("当前没有进行中的课程", timeout=WAIT)
    journey.shoot("ended")

    # 10. The report: totals, absentees by unit with their names.
    op.locator(f'a[href="#/sessions/{sid}/report"]').first.click()
    expected = sum(len(homed_trainees(admin, s)) for s in (MAIN_SITE, *ROOMS))
    totals = op.locator("#report-totals")
    expect(totals).to_contain_text(f"出勤 4/{expected}", timeout=WAIT)
    present = {t["name"] for site in ROOMS for t in people[site][:2]}
    absent = {
        site: [t for t in homed_trainees(admin, site) if t["name"] not in present] for site in ROOMS
    }
    for site in ROOMS:
        unit = admin.call("GET", f"/sites/{site}")["org_unit_id"]
        unit_name = admin.call("GET", f"/org-units/{unit}")["name"]
        named = op.locator("section, details", has_text=re.compile("缺勤"))
        named = named.filter(has_text=unit_name).filter(has_text=absent[site][0]["name"])
        expect(named.first).to_be_visible(timeout=WAIT)
    journey.shoot("report")

    # 11. The XLSX download: counts are numbers, the check-in times Beijing times.
    with op.expect_download() as info:
        op.locator("#dl-xlsx").first.click()
    assert info.value.suggested_filename.endswith(".xlsx"), info.value.suggested_filename
    info.value.save_as(journey.dir / "report.xlsx")  # kept with the screenshots
    _check_xlsx((journey.dir / "report.xlsx").read_bytes(), present, expected)
    journey.watch.check()


def _check_xlsx(content: bytes, present: set[str], expected: int) -> None:
    """What the training office reads in Excel: per trainee the first check-in as a Beijing
    date-time and the minutes and hours as numbers; per unit the counts as numbers adding up to
    the report's; nowhere a number or an ISO time written as text."""
    book = openpyxl.load_workbook(io.BytesIO(content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            for cell in row:
                if isinstance(cell, str):
                    assert not re.fullmatch(r"-?\d+(\.\d+)?%?", cell), f"number as text: {cell!r}"
                    assert not re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d", cell), f"ISO time: {cell!r}"
    detail = _table(book, "姓名", "首次签到")
    beijing = (datetime.now(UTC) + BEIJING).replace(tzinfo=None)
    came = [r for r in detail if r["姓名"] in present]
    assert {r["姓名"] for r in came} == present, [r["姓名"] for r in came]
    for r in came:
        assert isinstance(r["首次签到"], datetime), r
        assert abs(r["首次签到"] - beijing) < timedelta(minutes=5), (r["首次签到"], beijing)
        assert all(isinstance(r[k], int | float) for k in ("在场分钟", "学时")), r
    units = _table(book, "单位", "应到", "出勤")
    assert all(isinstance(r[k], int) for r in units for k in ("应到", "出勤", "缺勤")), units
    assert sum(r["应到"] for r in units) == expected, units
    assert sum(r["出勤"] for r in units) == len(present), units


def _table(book: Any, *headers: str) -> list[dict[str, Any]]:
    """The rows of the first sheet whose first row has these headers, as dicts."""
    for sheet in book.worksheets:
        rows = list(sheet.iter_rows(values_only=True))
        if rows and set(headers) <= set(rows[0]):
            return [dict(zip(rows[0], row, strict=False)) for row in rows[1:] if any(row)]
    raise AssertionError(f"no sheet with the columns {headers}: {book.sheetnames}")
