"""The trainee phone page in a real browser (Debian chromium via Playwright) against a real
server process with the demo data: two polls open at once are both shown and both answered from
the phone (an open poll used to break the page with "input is not defined"), and the 签退 button
checks the trainee out. Screenshots in zh and en on a phone viewport."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright import sync_api as playwright_sync
from playwright.sync_api import Page, expect

from tests.browser.session_helpers import Api, Watch
from tests.server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "trainee-pages"
SESSION_ID = 1  # demo session 1: every site takes part
SITE_ID = 2  # 海曙区分课堂, the home site of the demo trainee DEMONB0001
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield b
        b.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def join_and_check_in(page: Page, server: ServerProcess, op: Api, code: str) -> None:
    page.goto(server.url + "/trainee/")
    page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(code)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#checkin-state")).to_have_attribute("data-checked-in", "no")
    shown = op.call("GET", f"/sessions/{SESSION_ID}/checkin-code", params={"site_id": SITE_ID})
    page.get_by_label(re.compile("签到码|Check-in code")).fill(shown["code"])
    page.get_by_role("button", name=re.compile("^(签到|Check in)$")).click()
    expect(page.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")


def open_poll(op: Api, prompt: str, options: list[str], **extra: Any) -> int:
    poll = op.call(
        "POST",
        f"/sessions/{SESSION_ID}/polls",
        json={"prompt": prompt, "options": options, **extra},
    )
    op.call("POST", f"/polls/{poll['id']}/launch", json={})
    return int(poll["id"])


def test_two_open_polls_answered_from_the_phone_then_check_out(
    browser: Any, tmp_path: Path
) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        watch = Watch(server.url)
        context = browser.new_context(**PHONE)
        try:
            phone = watch.attach(context, "phone")
            join_and_check_in(phone, server, op, "DEMONB0001")
            first = open_poll(op, "本课内容是否实用？", ["很实用", "一般", "不实用"])
            # The first poll is on the phone before the second opens: the second's arrival
            # redraws the card and must keep what the trainee already ticked.
            expect(phone.locator(f'form[data-poll-id="{first}"]')).to_be_visible()
            phone.get_by_label("一般").check()
            second = open_poll(
                op,
                "下列哪些属于“三会一课”？",
                ["支部党员大会", "支部委员会", "党小组会", "茶话会"],
                mode="multiple",
                correct=[0, 1, 2],
            )
            polls = phone.locator("#polls-area form.poll")
            expect(polls).to_have_count(2)
            expect(phone.get_by_label("一般")).to_be_checked()
            expect(phone.locator("#notice")).not_to_contain_text("not defined")
            shot(phone, "polls-two-open-zh.png")

            phone.locator(f'form[data-poll-id="{first}"]').get_by_role(
                "button", name="提交答案"
            ).click()
            expect(phone.locator("#notice")).to_have_text("已提交答案。")
            second_form = phone.locator(f'form[data-poll-id="{second}"]')
            for option in ("支部党员大会", "党小组会"):
                second_form.get_by_label(option).check()
            second_form.get_by_role("button", name="提交答案").click()
            expect(phone.locator("#polls-area .poll .message.ok")).to_have_count(2)
            expect(phone.locator("#polls-area form.poll")).to_have_count(0)

            # The server counted both answers.
            tally1 = op.call("GET", f"/polls/{first}")["tally"]
            tally2 = op.call("GET", f"/polls/{second}")["tally"]
            assert tally1["per_option"] == [0, 1, 0], tally1
            assert tally2["per_option"] == [1, 0, 1, 0], tally2

            # Check out from the phone.
            phone.get_by_role("button", name="签退", exact=True).click()
            phone.get_by_role("button", name="确认签退").click()
            expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "out")
            expect(phone.locator("#notice")).to_contain_text("已签退")
            shot(phone, "checked-out-zh.png")
            records = op.call("GET", f"/sessions/{SESSION_ID}/attendance")["items"]
            mine = [r for r in records if r["state"] != "in"]
            assert len(mine) == 1, records
            phone.get_by_role("button", name="English").click()
            expect(phone.locator("#checkin-state")).to_contain_text("Checked out")
            shot(phone, "checked-out-en.png")
            watch.check()
        finally:
            context.close()
