"""Times people read follow the server's time zone, not the device's (issue 15.10): a kiosk PC
and a phone set to New York still show Beijing time (the demo server's default Asia/Shanghai).
Real server process with the demo data, Debian's chromium via Playwright."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from playwright.sync_api import expect

from server.store.demo_loader import demo_join_code
from tests.browser.session_helpers import Api
from tests.chromium import chromium
from tests.server_process import ServerProcess

BEIJING = timezone(timedelta(hours=8))
NEW_YORK = "America/New_York"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "time-zone"


def _hhmm(moment: datetime) -> str:
    return moment.astimezone(BEIJING).strftime("%H:%M")


def test_screen_clock_and_phone_dates_are_beijing_time_on_a_new_york_device(
    tmp_path: Path,
) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        admin = Api(server.url).login("operator")
        sites = admin.call("GET", "/sites?limit=50")["items"]
        room = next(s for s in sites if s["parent_id"] is not None)
        secret = admin.call("POST", f"/sites/{room['id']}/secret")["secret"]
        # A session at 07:30 Beijing: the evening before in New York (and in UTC).
        day = datetime.now(BEIJING).date() - timedelta(days=1)
        start = datetime(day.year, day.month, day.day, 7, 30, tzinfo=BEIJING)
        trainee = admin.call("GET", f"/trainees?home_site_id={room['id']}&limit=1")["items"][0]
        course = admin.call("GET", "/courses?limit=1")["items"][0]
        session = admin.plan_session(course["id"], "早课", start, 60, [room["id"]], start=True)
        admin.call(
            "POST",
            f"/sessions/{session['id']}/attendance/mark",
            json={"trainee_id": trainee["id"], "reason": "测试"},
        )
        with chromium() as browser:
            kiosk = browser.new_context(
                viewport={"width": 1280, "height": 720}, timezone_id=NEW_YORK
            ).new_page()
            kiosk.goto(server.url + "/screen/")
            kiosk.get_by_label(re.compile("^(课堂密钥|Classroom secret)$")).fill(secret)
            kiosk.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            expect(kiosk.locator("#site-name")).to_have_text(room["name"])
            clock = kiosk.locator("#clock")
            expect(clock).not_to_be_empty()
            now = datetime.now(UTC)
            shown = clock.inner_text().strip()
            assert shown in {_hhmm(now - timedelta(minutes=1)), _hhmm(now)}, shown
            assert kiosk.evaluate("new Date().getTimezoneOffset()") in {240, 300}  # NY
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            kiosk.screenshot(path=str(ARTIFACTS / "screen-clock.png"))

            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, is_mobile=True, timezone_id=NEW_YORK
            ).new_page()
            phone.goto(server.url + "/trainee/")
            phone.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(
                demo_join_code(trainee["staff_no"])
            )
            phone.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            results = phone.locator("#hours-area .results")
            expect(results).to_contain_text("早课")
            # The Beijing date, not New York's (nor UTC's) previous day.
            expect(results.locator("li", has_text="早课")).to_contain_text(day.strftime("%Y/%m/%d"))
            expect(results.locator("li", has_text="早课")).to_contain_text(
                re.compile("进行中|In progress")
            )
            phone.screenshot(path=str(ARTIFACTS / "phone-dates.png"), full_page=True)
            # In English the month is named: "6 Dec 2026", never "06/12/2026" (day or month?).
            phone.get_by_role("button", name="English").click()
            expect(results.locator("li", has_text="早课")).to_contain_text(
                f"{day.day} {day:%b %Y}, 07:30"
            )
            phone.screenshot(path=str(ARTIFACTS / "phone-dates-en.png"), full_page=True)
