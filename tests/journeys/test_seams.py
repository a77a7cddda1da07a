"""Seams found by walking the pages as their people do (JOURNEYS.md 2 and 4), each checked on
what the person sees: the operator's dashboard on a phone with a roll call running fits the
screen, and the audit trail and the reference data stay readable there; the wall, opened before
the session starts, never says a room changed state at a time still to come, and the heading
says which day the session is; the trainee's year of class hours is written in 学时, not in an
English "h"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.conftest import AgentStarter
from tests.journeys.helpers import (
    COURSE_ID,
    MAIN_SITE,
    WAIT,
    Journey,
    homed_trainees,
    operator_signs_in,
    session_now,
    site_secret,
    trainee_types_code,
    wait_until,
)

ROOM = 2  # 海曙区分课堂
BEIJING = ZoneInfo("Asia/Shanghai")
NEW_YORK = "America/New_York"


def _fits(page: Any) -> tuple[int, int]:
    """The page's width and the screen's: a page wider than the screen scrolls sideways."""
    width, screen = page.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    return int(width), int(screen)


def test_operator_phone_dashboard_with_a_roll_call_fits_the_screen(
    journey: Journey, admin: Api
) -> None:
    sid = session_now(admin, "手机点名", [MAIN_SITE, ROOM])
    admin.call("POST", f"/sessions/{sid}/roll-calls", json={"seconds": 120})
    for lang in ("zh", "en"):
        op = journey.person(f"operator-{lang}", "trainee", lang)  # a phone-sized window
        operator_signs_in(op, journey.url)
        op.goto(f"{journey.url}/operator/#/sessions/{sid}/live")
        tally = op.locator("#p-roll table")
        expect(tally).to_be_visible()
        width, screen = _fits(op)
        assert width <= screen, f"{lang}: the dashboard is {width} px wide on a {screen} px phone"
        # The tally itself stays readable: it scrolls inside its panel instead.
        box = op.locator("#p-roll").bounding_box()
        assert box is not None and box["x"] + box["width"] <= screen + 1, (lang, box)
    journey.shoot("phone-roll-call")

    # The audit trail on the phone: each entry's changes in a readable column (it scrolls
    # sideways), not one or two characters a line in a column as tall as the screen.
    op.goto(f"{journey.url}/operator/#/audit")
    rows = op.locator("#audit-list table tbody tr")
    expect(rows.first).to_contain_text(re.compile("roll call|点名"))
    widths = [box["width"] for box in _boxes(op.locator("#audit-list .changes"))]
    assert widths and min(widths) > 200, f"the changes are {widths} px wide on a phone"
    # The reference data: the number column stays narrow, the name column is readable.
    op.goto(f"{journey.url}/operator/#/manage/sessions")
    first = op.locator("table.grid tbody tr").first
    expect(first).to_be_visible()
    (number,) = _boxes(first.locator("td.id"))
    (name,) = _boxes(first.locator("th"))
    assert number["width"] < 80 and name["width"] > 120, (number, name)
    journey.shoot("phone-audit-and-data")
    journey.watch.check()


def _boxes(locator: Any) -> list[dict[str, float]]:
    return [box for box in (item.bounding_box() for item in locator.all()) if box is not None]


def test_wall_before_the_start_shows_no_change_still_to_come(
    journey: Journey, admin: Api, agents: AgentStarter
) -> None:
    starts = datetime.now(UTC) + timedelta(minutes=30)
    title = f"开课前的课堂墙 {starts:%H%M%S}"
    sid = int(admin.plan_session(COURSE_ID, title, starts, 90, [MAIN_SITE, ROOM])["id"])
    agents(ROOM, site_secret(admin, ROOM))  # the room's agent is up ten-odd minutes early
    wait_until(lambda: _room_online(admin, sid), "the room's agent is not online", timeout=40)
    op = journey.person("operator", "operator")
    operator_signs_in(op, journey.url)
    with op.expect_response(lambda r: r.url.endswith(f"/sessions/{sid}/presence")):
        op.goto(f"{journey.url}/operator/#/sessions/{sid}/live")  # the wall reads its history
    tile = op.locator(f'.tile[data-site-id="{ROOM}"]')
    expect(tile).to_have_attribute("data-state", "online", timeout=WAIT)
    # The heading names the planned day, not only clock times.
    expect(op.locator("#session-window")).to_contain_text(
        starts.astimezone(BEIJING).strftime("%Y/%m/%d")
    )
    expect(op.locator("#session-window")).to_contain_text(
        starts.astimezone(BEIJING).strftime("%H:%M")
    )
    since = tile.locator("dd.f-since")
    expect(since).not_to_be_empty()
    op.wait_for_timeout(500)  # the history's answer has been drawn
    text = since.inner_text()
    shown = re.search(r"(\d{2}):(\d{2}):(\d{2})", text)
    if shown:  # a time of day in Beijing: not later than now (1 minute of slack)
        now = datetime.now(BEIJING)
        h, m, s = (int(x) for x in shown.groups())
        ahead = (h * 3600 + m * 60 + s) - (now.hour * 3600 + now.minute * 60 + now.second)
        ahead = (ahead + 43200) % 86400 - 43200  # -12 h .. +12 h around now
        assert ahead <= 60, f"the wall says the room changed state at {text}, {ahead} s from now"
    else:
        assert text == "—", text
    journey.shoot("wall-before-start")
    journey.watch.check()


def _room_online(admin: Api, session_id: int) -> bool:
    sites = admin.call("GET", f"/sessions/{session_id}/presence")["sites"]
    (site,) = [s for s in sites if s["site_id"] == ROOM]
    return bool(site["intervals"]) and site["intervals"][-1]["state"] == "online"


def test_trainee_year_of_hours_is_written_in_class_hours(journey: Journey, admin: Api) -> None:
    trainee = homed_trainees(admin, ROOM)[0]
    for lang, unit in (("zh", "学时"), ("en", "h")):
        phone = journey.person(f"trainee-{lang}", "trainee", lang)
        trainee_types_code(phone, journey.url, trainee["code"])
        rows = phone.locator("#hours-area li")
        expect(rows.first).to_be_visible()
        for text in rows.all_inner_texts():
            assert re.search(rf"\d(\.\d)? {unit}(\s|$)", text), f"{lang}: {text!r}"
            if lang == "zh":
                assert not re.search(r"\d h\b", text), f"English unit on a zh page: {text!r}"
        summary = phone.locator("#hours-area > p").nth(1).inner_text()
        assert "。 ·" not in summary and ". ·" not in summary, summary
    journey.shoot("hours")
    journey.watch.check()


def test_console_times_are_typed_in_beijing_time_on_a_new_york_pc(
    journey: Journey, admin: Api
) -> None:
    """The console shows every time in the deployment's zone (Asia/Shanghai); its forms take
    times in that zone too, on an office PC whose clock is set to New York."""
    context = journey.browser.new_context(
        viewport={"width": 1280, "height": 800}, timezone_id=NEW_YORK
    )
    journey.contexts.append(context)
    op = journey.watch.attach(context, "operator")
    op.set_default_timeout(WAIT)
    journey.pages["operator"] = op
    operator_signs_in(op, journey.url)
    op.goto(f"{journey.url}/operator/#/selfstudy")
    form = op.locator("#ss-form")
    opens = form.locator('input[name="opens_at"]')
    expect(opens).not_to_have_value("")
    shown = datetime.fromisoformat(opens.input_value()).replace(tzinfo=BEIJING)
    assert abs((shown - datetime.now(UTC)).total_seconds()) < 180, opens.input_value()
    # A course opened for 09:00 Beijing time on 4 January: 01:00 UTC.
    form.get_by_label("课程名称").fill("北京时间的自学课程")
    opens.fill("2027-01-04T09:00")
    form.locator('input[name="closes_at"]').fill("2027-02-04T18:00")
    expect(form.locator("select").last).not_to_have_value("")  # the demo's recording
    form.get_by_role("button", name="创建课程").click()
    expect(op.locator("#ss-courses")).to_contain_text("北京时间的自学课程")
    (course,) = [
        c
        for c in admin.call("GET", "/selfstudy/courses")["items"]
        if c["title"] == "北京时间的自学课程"
    ]
    assert datetime.fromisoformat(course["opens_at"]) == datetime(2027, 1, 4, 1, 0, tzinfo=UTC)
    assert datetime.fromisoformat(course["closes_at"]) == datetime(2027, 2, 4, 10, 0, tzinfo=UTC)
    # The reference data's session form: the start as the console shows it, Beijing time.
    session = admin.call("GET", "/sessions/1")
    op.goto(f"{journey.url}/operator/#/manage/sessions")
    op.locator('tr[data-id="1"]').get_by_role("button", name=re.compile("^编辑")).click()
    starts = datetime.fromisoformat(session["starts_at"]).astimezone(BEIJING)
    expect(op.locator('input[name="starts_at"]')).to_have_value(starts.strftime("%Y-%m-%dT%H:%M"))
    journey.shoot("new-york-pc")
    journey.watch.check()


def test_session_report_headline_counts_the_absent_and_those_on_leave(
    journey: Journey, admin: Api
) -> None:
    """The office reads present / absent / on leave / late / left early in the report's first
    line (JOURNEYS.md 6), in Chinese and in English, the numbers the report's own API gives."""
    sessions = admin.call("GET", "/sessions", params={"limit": 100})["items"]
    last = max((s for s in sessions if s["status"] == "ended"), key=lambda s: s["starts_at"])
    totals = admin.call("GET", f"/sessions/{last['id']}/report")["totals"]
    assert totals["absent"] > 0, totals  # the demo's last session has absentees
    words = {
        "zh": ("缺勤 {absent}", "请假 {leave}", "迟到 {late}", "早退 {left_early}"),
        "en": ("absent {absent}", "on leave {leave}", "late {late}", "left early {left_early}"),
    }
    for lang, expected in words.items():
        op = journey.person(f"operator-{lang}", "operator", lang)
        operator_signs_in(op, journey.url)
        op.goto(f"{journey.url}/operator/#/sessions/{last['id']}/report")
        line = op.locator("#report-totals")
        expect(line).to_contain_text(str(totals["present"]))
        for text in expected:
            expect(line).to_contain_text(text.format(**totals))
    journey.shoot("report-headline")
    journey.watch.check()


def test_trainee_to_do_drops_a_live_day_the_operator_has_ended(
    journey: Journey, admin: Api
) -> None:
    """我的待办 names the live day while it runs; once the operator ends it (before its planned
    end) the phone stops asking the trainee to attend it."""
    sid = session_now(admin, "提前结束的课", [MAIN_SITE, ROOM])
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    trainee = homed_trainees(admin, ROOM)[0]
    phone = journey.person("trainee", "trainee")
    trainee_types_code(phone, journey.url, trainee["code"])
    todo = phone.locator("#todo-area")
    expect(todo).to_contain_text(title)
    journey.shoot("to-do-while-it-runs")
    admin.call("POST", f"/sessions/{sid}/end")
    expect(phone.locator("#session-area")).not_to_contain_text(title, timeout=WAIT)
    expect(todo).not_to_contain_text(title, timeout=WAIT)
    phone.reload()
    expect(phone.locator("#todo-card h2")).to_have_text("我的待办")
    expect(todo).not_to_contain_text(title)
    journey.shoot("to-do-after-the-end")
    journey.watch.check()


def test_audit_of_a_make_up_check_in_reads_in_chinese(journey: Journey, admin: Api) -> None:
    """The office reads yesterday's corrections in the audit trail (JOURNEYS.md 6): a make-up
    check-in (补签) lists its changes in words, no field names of the database, no JSON."""
    sid = session_now(admin, "补签审计", [MAIN_SITE, ROOM])
    trainee = homed_trainees(admin, ROOM)[0]
    admin.call(
        "POST",
        f"/sessions/{sid}/attendance/mark",
        json={"trainee_id": trainee["id"], "reason": "手机没电，经课堂管理员确认", "site_id": ROOM},
    )
    op = journey.person("operator", "operator")
    operator_signs_in(op, journey.url, "admin")
    op.goto(f"{journey.url}/operator/#/audit")
    entry = op.locator("#audit-list tbody tr", has_text="手机没电")
    expect(entry).to_contain_text("补签")
    changes = entry.locator(".changes").inner_text()
    assert "在场时段" in changes and "人工补签" in changes, changes
    raw = re.findall(r"[A-Za-z_]{3,}", changes.replace("admin", ""))
    assert not raw, f"raw words in the audit entry: {raw}: {changes}"
    assert "{" not in changes, changes
    journey.shoot("audit-make-up")
    journey.watch.check()
