"""What a new trainee meets on the phone during a live session and after it, in a real browser
(Debian chromium) against a real server with the demo data, phone viewport, zh and en:
a confirmation goes away by itself; once the session ended the cards only a live session fills
are gone (not headings over nothing); a running session's class hours say they come when it
ends (not "0 学时"); an answered poll shows what the trainee chose, also after a reload."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages_helpers import (
    SESSION_ID,
    live_phone,
    open_poll,
    shot,
)
from tests.chromium import chromium_browser

browser = pytest.fixture(scope="module")(chromium_browser)
GONE = 9_000  # ms: a confirmation is gone by then (it lives a few seconds)
SHOTS = "trainee-live-edges"


def test_a_confirmation_goes_away_by_itself(browser: Any, tmp_path: Path) -> None:
    """ "问题已提交。" and "已提交答案。" are read, then leave: by the roll call that follows, the
    notice line no longer says them."""
    with live_phone(browser, tmp_path) as (_server, op, phone, watch):
        notice = phone.locator("#notice")
        phone.get_by_label("我的问题").fill("案例能否再讲一遍？")
        phone.get_by_role("button", name="提交问题").click()
        expect(notice).to_contain_text("问题已提交")
        expect(notice).to_have_text("", timeout=GONE)

        poll = open_poll(op, "本课内容是否实用？", ["很实用", "一般"])
        form = phone.locator(f'form[data-poll-id="{poll}"]')
        form.get_by_label("很实用").check()
        form.get_by_role("button", name="提交答案").click()
        expect(notice).to_have_text("已提交答案。")
        op.call("POST", f"/sessions/{SESSION_ID}/roll-calls", json={"seconds": 60})
        expect(phone.locator("#rollcall-answer")).to_be_visible()
        expect(notice).to_have_text("", timeout=GONE)
        notice.scroll_into_view_if_needed()
        shot(phone, SHOTS, "notice-gone-at-roll-call-zh.png", full_page=False)

        phone.get_by_role("button", name="English").click()
        phone.get_by_label("My question").fill("Could you repeat the case?")
        phone.get_by_role("button", name="Submit question").click()
        expect(notice).to_contain_text("Question submitted")
        notice.scroll_into_view_if_needed()
        shot(phone, SHOTS, "notice-shown-en.png", full_page=False)
        expect(notice).to_have_text("", timeout=GONE)
        notice.scroll_into_view_if_needed()
        shot(phone, SHOTS, "notice-gone-en.png", full_page=False)
        watch.check()


def test_after_the_session_the_live_cards_are_gone(browser: Any, tmp_path: Path) -> None:
    """While the session runs, 正在讨论的问题, 提问 and 问题墙 are on the phone; once it ended
    (live, and after a reload) they are gone, and the session card says none is live."""
    with live_phone(browser, tmp_path) as (_server, op, phone, watch):
        cards = [phone.locator(c) for c in ("#onair-card", "#ask-card", "#questions-card")]
        for card in cards:
            expect(card).to_be_visible()
        expect(phone.locator("#onair-text")).to_have_text("暂无正在讨论的问题。")

        op.call("POST", f"/sessions/{SESSION_ID}/end")
        expect(phone.locator("#no-session")).to_be_visible()
        for card in cards:
            expect(card).to_be_hidden()
        phone.reload()
        expect(phone.locator("#no-session")).to_have_text(re.compile("当前没有进行中的课程"))
        expect(phone.locator("#hours-summary")).to_be_visible()
        for card in cards:
            expect(card).to_be_hidden()
        expect(phone.get_by_role("heading", name="问题墙")).to_have_count(0)
        shot(phone, SHOTS, "after-session-zh.png")
        phone.get_by_role("button", name="English").click()
        expect(phone.locator("#no-session")).to_have_text(re.compile("No session is live"))
        expect(phone.get_by_role("heading", name="Questions")).to_have_count(0)
        shot(phone, SHOTS, "after-session-en.png")
        watch.check()


def test_a_running_session_says_its_hours_come_when_it_ends(browser: Any, tmp_path: Path) -> None:
    """The year's list shows the running session as 进行中 with 结课后计入学时, never "0 学时"."""
    with live_phone(browser, tmp_path) as (_server, op, phone, watch):
        title = op.call("GET", f"/sessions/{SESSION_ID}")["title"]
        hours_area = phone.locator("#hours-area")
        running = hours_area.locator("li", has_text=title)
        expect(running).to_contain_text("进行中")
        expect(running).to_contain_text("结课后计入学时")
        expect(running).not_to_contain_text(re.compile(r"(^|\D)0 学时"))
        hours_area.scroll_into_view_if_needed()  # the list itself is drawn again on loads
        shot(phone, SHOTS, "hours-running-zh.png", full_page=False)
        phone.get_by_role("button", name="English").click()
        expect(running).to_contain_text("In progress")
        expect(running).to_contain_text("hours credited at the end")
        expect(running).not_to_contain_text(re.compile(r"(^|\D)0 h\b"))
        hours_area.scroll_into_view_if_needed()  # the list itself is drawn again on loads
        shot(phone, SHOTS, "hours-running-en.png", full_page=False)
        watch.check()


def test_an_answered_poll_shows_my_choice_also_after_a_reload(browser: Any, tmp_path: Path) -> None:
    """After answering, the poll shows the option chosen marked 您的选择 (the others not); a
    reload shows it again (the server tells the trainee their own answer)."""
    with live_phone(browser, tmp_path) as (_server, op, phone, watch):
        poll = open_poll(op, "本课内容是否实用？", ["很实用", "一般", "不实用"])
        phone.locator(f'form[data-poll-id="{poll}"]').get_by_label("一般").check()
        phone.get_by_role("button", name="提交答案").click()
        polls_area = phone.locator("#polls-area")
        answered = polls_area.locator(f'.poll.answered[data-poll-id="{poll}"]')
        for when in ("answered", "reloaded"):
            expect(answered.locator("li.chosen")).to_have_text(["一般 您的选择"])
            expect(answered.locator("li", has_text="很实用")).not_to_contain_text("您的选择")
            expect(answered).to_contain_text("已提交答案。")
            expect(phone.locator(f'form[data-poll-id="{poll}"]')).to_have_count(0)
            polls_area.scroll_into_view_if_needed()  # the card is drawn again on loads
            shot(phone, SHOTS, f"poll-my-choice-{when}-zh.png", full_page=False)
            phone.reload()
        phone.get_by_role("button", name="English").click()
        expect(answered.locator("li.chosen")).to_have_text(["一般 Your answer"])
        expect(answered).to_contain_text("Answer submitted.")
        polls_area.scroll_into_view_if_needed()
        shot(phone, SHOTS, "poll-my-choice-en.png", full_page=False)
        watch.check()
