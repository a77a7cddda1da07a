"""The trainee phone page in a real browser (Debian chromium via Playwright) against a real
server process with the demo data: two polls open at once are both shown and both answered from
the phone (an open poll used to break the page with "input is not defined"), and the 签退 button
checks the trainee out. Screenshots in zh and en on a phone viewport."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages_helpers import (
    SESSION_ID,
    SITE_ID,
    live_phone,
    open_poll,
    phone_page,
    shot,
    trainee_api,
    trainee_signs_in,
)
from tests.browser.session_helpers import Api, Watch
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

browser = pytest.fixture(scope="module")(chromium_browser)


def test_two_open_polls_answered_from_the_phone_then_check_out(
    browser: Any, tmp_path: Path
) -> None:
    with live_phone(browser, tmp_path) as (_server, op, phone, watch):
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
        shot(phone, "trainee-pages", "polls-two-open-zh.png")

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
        shot(phone, "trainee-pages", "checked-out-zh.png")
        records = op.call("GET", f"/sessions/{SESSION_ID}/attendance")["items"]
        mine = [r for r in records if r["state"] != "in"]
        assert len(mine) == 1, records
        phone.get_by_role("button", name="English").click()
        expect(phone.locator("#checkin-state")).to_contain_text("Checked out")
        shot(phone, "trainee-pages", "checked-out-en.png")
        watch.check()


def test_feedback_elective_waitlist_and_needs_survey_from_the_phone(
    browser: Any, tmp_path: Path
) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        sessions = op.call("GET", "/sessions", params={"limit": 500})["items"]
        elective = next(s for s in sessions if s["status"] == "scheduled" and s["id"] != SESSION_ID)
        op.call(
            "PUT",
            f"/sessions/{elective['id']}/settings",
            json={"capacity": 1, "registration_open": True},
        )
        # Another trainee takes the only seat first.
        other = trainee_api(server, "DEMONB0002")
        other.call("POST", f"/sessions/{elective['id']}/registration")
        program = op.call("GET", "/programs")["items"][0]
        op.call(
            "PUT",
            f"/programs/{program['id']}/needs-survey",
            json={"topics": ["基层治理", "乡村振兴", "数字政府", "应急管理"]},
        )
        course_id = next(s for s in sessions if s["id"] == SESSION_ID)["course_id"]
        op.call("PATCH", f"/courses/{course_id}", json={"lecturer": "王教授"})
        # The trainee was in session 1 (marked present by the operator).
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        me = op.call("GET", "/trainees", params={"q": "NB0001"})["items"][0]
        op.call(
            "POST",
            f"/sessions/{SESSION_ID}/attendance/mark",
            json={"trainee_id": me["id"], "reason": "测试：现场确认"},
        )
        watch = Watch(server.url)
        with phone_page(browser, watch) as phone:
            phone.goto(server.url + "/trainee/")
            # Before sign-in: no live socket, so no connection notice; a neutral example code.
            expect(phone.locator("#join-help")).to_contain_text("ABCDE-23456")
            expect(phone.locator("#join-help")).not_to_contain_text("DEMO")
            phone.wait_for_timeout(500)
            expect(phone.locator("#conn")).to_be_hidden()
            phone.get_by_role("textbox", name="个人码").fill("DEMONB0001")
            phone.get_by_role("button", name="登录").click()
            expect(phone.locator("#conn")).to_have_attribute("data-state", "open")

            # No feedback form while the session is still running; it comes once it ended.
            feedback = phone.locator(f'#feedback form[data-session-id="{SESSION_ID}"]')
            expect(phone.locator("#electives")).to_contain_text("1/1")
            expect(feedback).to_have_count(0)
            op.call("POST", f"/sessions/{SESSION_ID}/end")
            phone.reload()
            expect(feedback).to_be_visible()
            # One date format on the page (shared/time.js, the server's zone): the feedback
            # heading and the class-hours list alike.
            same = re.compile(r"\d{4}/\d{2}/\d{2} \d{2}:\d{2}")
            expect(phone.locator("#feedback .q-meta").first).to_have_text(same)
            expect(phone.locator("#hours-area li .q-meta").first).to_have_text(same)
            for meta in phone.locator("#hours-area li .q-meta").all():
                assert same.search(meta.text_content() or ""), meta.text_content()
            # English plurals: "1 session", "2 sessions".
            plural = phone.evaluate(
                """async () => {
                  const i18n = await import("/static/shared/i18n.js");
                  i18n.setLang("en");
                  const out = [1, 2].map((n) => i18n.t("hours.sessions", { n }));
                  i18n.setLang("zh");
                  return out;
                }"""
            )
            assert plural == ["1 session counted", "2 sessions counted"], plural
            feedback.locator("fieldset").first.get_by_label("4 星").check()
            lecturer = feedback.locator("fieldset").nth(1)
            expect(lecturer).to_contain_text("对 王教授 老师的评价")
            lecturer.get_by_label("5 星").check()
            feedback.get_by_label("意见和建议（可选）").fill("案例很好，希望多些互动")
            # Before sending it, the trainee signs up for an elective: the lists are loaded and
            # drawn again (as after a reconnect), and the stars and comment given so far stay.
            item = phone.locator(f'#electives li[data-session-id="{elective["id"]}"]')
            expect(item).to_contain_text("已报 1/1 人")
            item.get_by_role("button", name="报名").click()
            expect(phone.locator("#notice")).to_contain_text("候补第 1 位")
            expect(item).to_contain_text("候补第 1 位")
            expect(feedback.locator("fieldset").first.get_by_label("4 星")).to_be_checked()
            expect(feedback.get_by_label("意见和建议（可选）")).to_have_value(
                "案例很好，希望多些互动"
            )
            feedback.get_by_role("button", name="提交评价").click()
            expect(phone.locator("#notice")).to_have_text("评价已提交，谢谢。")
            expect(phone.locator("#feedback")).to_contain_text("已评价：★★★★☆")

            survey = phone.locator(f'#surveys [data-program-id="{program["id"]}"]')
            for topic in ("数字政府", "基层治理"):
                survey.get_by_role("button", name=topic).click()
            expect(survey.get_by_role("button", name="第 1 位 数字政府")).to_have_attribute(
                "aria-pressed", "true"
            )
            survey.get_by_label("其他需求或建议（可选）").fill("希望增加案例教学")
            shot(phone, "trainee-pages", "learning-zh.png")
            survey.get_by_role("button", name="提交调研").click()
            expect(survey).to_contain_text("您的排序：数字政府 > 基层治理")
            phone.get_by_role("button", name="English").click()
            expect(phone.locator("#electives")).to_contain_text("Waitlist no. 1")
            shot(phone, "trainee-pages", "learning-en.png")
            watch.check()
        # What the trainee did is what the office reads.
        summary = op.call("GET", f"/sessions/{SESSION_ID}/feedback")
        assert summary["course"]["count"] == 1 and summary["course"]["mean"] == 4
        assert summary["comments"] == ["案例很好，希望多些互动"]
        assert summary["lecturers"]["王教授"]["mean"] == 5
        ranked = op.call("GET", f"/programs/{program['id']}/needs-survey")["ranked"]
        assert ranked[0]["topic"] == "数字政府"
        regs = op.call("GET", f"/sessions/{elective['id']}/registrations")
        assert (regs["registered"], regs["waitlisted"]) == (1, 1)


def test_checking_in_takes_the_live_day_off_my_to_do(browser: Any, tmp_path: Path) -> None:
    """我的待办 says 参加集中授课 for the running session until the trainee checks in; once
    checked in (the page not reloaded) it no longer asks them to attend it. Then, in English, a
    poll opens: its heading reads "Poll: …" (no Chinese colon)."""
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        title = op.call("GET", f"/sessions/{SESSION_ID}")["title"]
        watch = Watch(server.url)
        with phone_page(browser, watch) as phone:
            trainee_signs_in(phone, server.url, "DEMONB0001")
            todo = phone.locator("#todo-area")
            expect(todo).to_contain_text(f"参加集中授课：{title}")
            shown = op.call(
                "GET", f"/sessions/{SESSION_ID}/checkin-code", params={"site_id": SITE_ID}
            )
            phone.get_by_label("课堂屏幕上的签到码（6 位数字）").fill(shown["code"])
            phone.get_by_role("button", name="签到", exact=True).click()
            expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
            expect(todo).not_to_contain_text(title)
            shot(phone, "trainee-pages", "todo-after-checkin-zh.png", full_page=False)
            # In English a poll's heading has no Chinese punctuation ("Poll: …", not "Poll：…").
            phone.get_by_role("button", name="English").click()
            poll = open_poll(op, "Is this session useful?", ["Yes", "No"])
            legend = phone.locator(f'form[data-poll-id="{poll}"] legend')
            expect(legend).to_have_text(re.compile(r"^Poll: Is this session useful\?\s*$"))
            shot(phone, "trainee-pages", "poll-legend-en.png", full_page=False)
        watch.check()
