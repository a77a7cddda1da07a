"""A session started 20 minutes after its schedule credits the trainees who were there
(issue 13 item 4, JOURNEYS.md 2): the operator starts it late from the console and is told so,
three trainees check in with the code on their room's screen (one phone in English), nobody
is shown late, absent or leaving early while it runs, and after the end the report counts the
three present and their phones show the class hours credited."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    MAIN_SITE,
    WAIT,
    Journey,
    homed_trainees,
    operator_signs_in,
    screen_signs_in,
    session_now,
    site_secret,
    time_passes,
    trainee_api,
    trainee_types_code,
)

ROOM = 4
ROOM_NAME = "石碶街道分课堂"


def test_late_start(journey: Journey, admin: Api) -> None:
    url = journey.url
    sid = session_now(admin, "晚开课", [MAIN_SITE, ROOM], late_by=20, start=False)
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    trainees = homed_trainees(admin, ROOM)[:3]
    expected = sum(len(homed_trainees(admin, s)) for s in (MAIN_SITE, ROOM))
    op = journey.person("operator", "operator")
    screen = journey.person("screen", "screen")
    phones = {
        t["code"]: journey.person(f"trainee-{i}", "trainee", "en" if i == 1 else "zh")
        for i, t in enumerate(trainees[:2])
    }

    # 1. The operator opens the session twenty minutes after its planned start and starts it:
    #    the console says it starts late and that attendance follows the real start.
    operator_signs_in(op, url)
    op.locator(f'a[data-session="{sid}"]').click()
    expect(op.locator("#session-status")).to_have_text("未开始")
    op.get_by_role("button", name="开始课次").click()
    expect(op.locator("#session-status")).to_have_text("进行中", timeout=WAIT)
    expect(op.locator("body")).to_contain_text(
        re.compile(r"(晚|推迟|迟)\D{0,12}20\s*分钟|20\s*分钟\D{0,12}(晚|推迟|迟)")
    )
    journey.shoot("started-late", "operator")

    # 2. The room's screen shows the code; two trainees type it on their phones, a third
    #    (no phone page in this journey) too.
    screen_signs_in(screen, url, site_secret(admin, ROOM), ROOM_NAME)
    code = screen.locator("#checkin-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"), timeout=WAIT)
    for i, (personal, phone) in enumerate(phones.items()):
        trainee_types_code(phone, url, personal)
        phone.get_by_label(re.compile("签到码|Check-in code")).fill(code.inner_text())
        phone.get_by_role("button", name=re.compile("^(签到|Check in)$")).click()
        expect(phone.locator("#checkin-state")).to_have_attribute(
            "data-checked-in", "yes", timeout=WAIT
        )
        expect(phone.locator("#checkin-state")).to_contain_text(
            "已签到" if i == 0 else "Checked in"
        )
    third = trainee_api(url, trainees[2]["code"])
    third.call(
        "POST", f"/sessions/{sid}/checkin", json={"code": code.inner_text(), "client_id": "t3"}
    )
    # While it runs nobody is late (they came at the real start), absent or leaving early.
    for i, phone in enumerate(phones.values()):
        running = phone.locator("#hours-area li", has_text=title)
        expect(running).to_contain_text("进行中" if i == 0 else "In progress", timeout=WAIT)
        # (only this session's line: the demo's past sessions have real late arrivals)
        expect(running).not_to_contain_text(re.compile("缺勤|早退|迟到|Absent|Left early|Late"))
    journey.shoot("checked-in")

    # 3. Fifty minutes later the operator ends the session.
    time_passes(journey.server, sid, 50)
    op.get_by_role("button", name="结束课次").click()
    ask = op.get_by_role("alertdialog")  # asked on the page, not in a browser dialog
    expect(ask).to_contain_text("确定结束本课次吗？")
    ask.get_by_role("button", name="结束课次").click()
    expect(op.locator("#session-status")).to_have_text("已结束", timeout=WAIT)

    # 4. The report counts the three present, none late, none left early.
    op.locator(f'a[href="#/sessions/{sid}/report"]').first.click()
    totals = op.locator("#report-totals")
    expect(totals).to_contain_text(f"出勤 3/{expected}", timeout=WAIT)
    expect(totals).to_contain_text("迟到 0")
    expect(totals).to_contain_text("早退 0")
    expect(op.locator("main")).not_to_contain_text(re.compile(r"\bnull\b|undefined|NaN"))
    journey.shoot("report", "operator")

    # 5. Their phones show the lecture's class hours credited (Chinese and English).
    for i, phone in enumerate(phones.values()):
        phone.reload()
        result = phone.locator("#hours-area li", has_text=title)
        expect(result).to_contain_text("已计学时" if i == 0 else "Credited", timeout=WAIT)
        expect(result).to_contain_text("1 学时" if i == 0 else "1 h")
        expect(result).not_to_contain_text(re.compile("缺勤|迟到|早退|Absent|Late|Left early"))
    journey.shoot("hours-credited")
    journey.watch.check()
