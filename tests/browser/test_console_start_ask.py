"""Starting a session at an unusual time is asked on the page first (the console's 开始课次):
tomorrow's session today, or today's more than ten minutes before its scheduled start
(server.core.session_run.start_check, given to the page as the start's refusal). Cancel leaves
it scheduled; 仍然开始 starts it. A session due in five minutes starts with no question.
Screenshots of the question in zh and en, desktop 1366x768 and phone 390x844, in
test-artifacts/console-start/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.pages_helpers import PHONE, shot
from tests.browser.session_helpers import Api, Watch
from tests.browser.test_operator_console import browser, login, server

__all__ = ["browser", "server"]  # the console tests' module fixtures, shared, not copied

ZONE = ZoneInfo("Asia/Shanghai")  # the demo server's time_zone
DESKTOP = {"viewport": {"width": 1366, "height": 768}}
FOLDER = "console-start"


@pytest.fixture(scope="module")
def op(server: Any) -> Api:
    return Api(server.url).login("operator")


def plan(op: Api, title: str, starts: datetime) -> int:
    course = op.call("GET", "/courses")["items"][0]["id"]
    return int(op.plan_session(course, title, starts, 60, [2])["id"])


def sign_in(page: Page, server: Any, lang: str) -> None:
    login(page, server)
    if lang == "en":
        page.get_by_role("button", name="English").click()
        expect(page.locator("#lang-slot button")).to_have_text("中文")


def open_session(page: Page, server: Any, session_id: int) -> None:
    page.goto(f"{server.url}/operator/#/sessions/{session_id}/live")
    expect(page.locator("#session-status")).to_have_text(re.compile("^(未开始|Scheduled)$"))


@pytest.fixture
def pages(browser: Browser, server: Any) -> Iterator[dict[str, Page]]:
    """A desktop and a phone page, both watched for page errors and browser dialogs."""
    watch = Watch(server.url)
    contexts = {"desktop": browser.new_context(**DESKTOP), "phone": browser.new_context(**PHONE)}
    try:
        yield {name: watch.attach(c, name) for name, c in contexts.items()}
    finally:
        for c in contexts.values():
            c.close()
    watch.check()


def start_button(page: Page) -> Any:
    return page.get_by_role("button", name=re.compile("^(开始课次|Start session)$"))


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_starting_tomorrows_session_today_is_asked_first(
    pages: dict[str, Page], server: Any, op: Api, lang: str
) -> None:
    tomorrow = datetime.now(ZONE).date() + timedelta(days=1)
    starts = datetime.combine(tomorrow, time(9, 0), ZONE)
    when = f"{tomorrow.month}月{tomorrow.day}日 09:00" if lang == "zh" else None
    for device, page in pages.items():
        sid = plan(op, f"明天的课 {lang} {device}", starts)
        sign_in(page, server, lang)
        open_session(page, server, sid)
        start_button(page).click()
        question = page.locator("#start-ask-q")
        if lang == "zh":
            expect(question).to_contain_text(f"此课次安排在 {when}，不是今天。现在开始？")
        else:
            day = f"{tomorrow.day} {starts.strftime('%b')}"
            expect(question).to_contain_text(
                f"scheduled for {day}, 09:00, not today. Start it now?"
            )
        shot(page, FOLDER, f"tomorrow-{lang}-{device}.png", full_page=False)
        page.locator("#start-ask-q-no").click()  # cancel: still scheduled, nothing started
        expect(question).to_have_count(0)
        expect(page.locator("#session-status")).to_have_text(re.compile("^(未开始|Scheduled)$"))
        assert op.call("GET", f"/sessions/{sid}")["status"] == "scheduled"
        start_button(page).click()
        page.locator("#start-ask-q-yes").click()  # 仍然开始: started after all
        expect(page.locator("#session-status")).to_have_text(re.compile("^(进行中|Live)$"))
        expect(question).to_have_count(0)
        assert op.call("GET", f"/sessions/{sid}")["status"] == "live"


def test_starting_thirteen_minutes_early_is_asked_five_minutes_is_not(
    pages: dict[str, Page], server: Any, op: Api
) -> None:
    page = pages["desktop"]
    early = plan(op, "提前13分钟", datetime.now(ZONE) + timedelta(minutes=13, seconds=30))
    sign_in(page, server, "zh")
    open_session(page, server, early)
    start_button(page).click()
    # (run in the last minutes before midnight in Beijing, the session is tomorrow's)
    expect(page.locator("#start-ask-q")).to_contain_text(
        re.compile(
            r"^此课次安排在 \d+月\d+日 \d\d:\d\d，"
            r"(还有 1[34] 分钟才到开始时间|不是今天)。现在开始？"
        )
    )
    expect(page.locator("#start-ask-q-yes")).to_have_text("仍然开始")
    shot(page, FOLDER, "early-zh-desktop.png", full_page=False)
    assert op.call("GET", f"/sessions/{early}")["status"] == "scheduled"

    soon = plan(op, "五分钟后", datetime.now(ZONE) + timedelta(minutes=5))
    open_session(page, server, soon)
    start_button(page).click()
    expect(page.locator("#session-status")).to_have_text("进行中")
    expect(page.locator("#start-ask-q")).to_have_count(0)
