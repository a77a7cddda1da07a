"""A trainee's phone through a live session (JOURNEYS.md 4): opens the link of the printed
slip and lands signed in, scans the QR on the room's screen to check in, asks a question
anonymously and votes on another, answers two polls open at the same time and a roll call,
checks out, and after the session sees the class hours credited. The room's screen is a real
page; the operator and the other trainees act through the API (set-up)."""

from __future__ import annotations

import io
import re
from typing import Any

import openpyxl
from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    MAIN_SITE,
    WAIT,
    Journey,
    open_poll,
    screen_signs_in,
    session_now,
    site_secret,
    time_passes,
    trainee_api,
    wait_until,
)

ROOM = 3
ROOM_NAME = "鼓楼街道分课堂"


def test_trainee(journey: Journey, admin: Api) -> None:
    url = journey.url
    sid = session_now(admin, "学员旅程", [MAIN_SITE, ROOM])
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    # The training office issued the room's personal codes in bulk and printed the slips.
    slips = admin.call("POST", "/join-codes", json={"site_id": ROOM, "base_url": url})["items"]
    me, other = slips[0], slips[1]
    link = _link_on_printed_slip(admin, slips, me["name"])
    screen = journey.person("screen", "screen")
    screen_signs_in(screen, url, site_secret(admin, ROOM), ROOM_NAME)
    phone = journey.person("trainee", "trainee")

    # 1. Scans the slip's QR: the phone page opens signed in, with the live session.
    phone = journey.scan("trainee", link)
    expect(phone.locator("#hello")).to_contain_text(me["name"])
    expect(phone.locator("#session-area")).to_contain_text(title)
    expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "no")
    hours_before, required = _year_hours(phone)
    journey.shoot("joined")

    # 2. Scans the room's check-in QR on the screen (the link it encodes): checked in, no typing.
    qr = screen.locator("#qr")
    expect(screen.locator("#checkin-code")).to_have_text(re.compile(r"^\d{6}$"))
    inked = qr.evaluate(
        """(c) => { const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                    let dark = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) dark++;
                    return dark / (d.length / 4); }"""
    )
    assert 0.2 < inked < 0.7, f"the QR on the screen is not drawn: {inked:.2f} dark"
    scanned = qr.get_attribute("data-url") or ""
    assert scanned.startswith(url + "/trainee/#checkin="), scanned
    phone = journey.scan("trainee", scanned)
    expect(phone.locator("#checkin-state")).to_have_attribute(
        "data-checked-in", "yes", timeout=WAIT
    )
    expect(phone.locator("#checkin-state")).to_contain_text("已签到")
    # While the session runs the phone never says absent or left early.
    running = phone.locator("#hours-area li", has_text=title)
    expect(running).to_contain_text("进行中")
    expect(running).not_to_contain_text(re.compile("缺勤|早退"))
    journey.shoot("checked-in")

    # 3. Asks anonymously; votes on another trainee's question.
    neighbour = trainee_api(url, other["code"])  # sits next to them, typed the screen's code
    typed = {"code": screen.locator("#checkin-code").inner_text(), "client_id": "neighbour"}
    neighbour.call("POST", f"/sessions/{sid}/checkin", json=typed)
    theirs = neighbour.call(
        "POST",
        f"/sessions/{sid}/questions",
        json={"text": "如何减轻基层填表负担？", "anonymous": False},
    )
    mine = "请问老师，社区网格员的考核怎样更科学？"
    phone.get_by_label("我的问题").fill(mine)
    phone.get_by_role("button", name="提交问题").click()
    expect(phone.locator("#questions li.question", has_text=mine)).to_have_count(1)
    vote = phone.locator(f'button.vote[data-question-id="{theirs["id"]}"]')
    expect(vote).to_have_text("▲ 0", timeout=WAIT)
    vote.click()
    expect(vote).to_have_attribute("aria-pressed", "true")
    expect(vote).to_have_text("▲ 1")
    journey.shoot("asked-and-voted")

    # 4. Two polls open at the same time: both on the phone, both answered.
    open_poll(admin, sid, "本课程内容是否贴近工作实际？", ["非常贴近", "比较贴近", "不太贴近"])
    open_poll(admin, sid, "您希望下次课程采用哪种形式？", ["讲座", "研讨", "案例教学"])
    polls = phone.locator("#polls-area form.poll")
    expect(polls).to_have_count(2, timeout=WAIT)
    expect(phone.locator("#notice")).not_to_contain_text("失败")
    journey.shoot("two-polls")
    for answer in ("比较贴近", "案例教学"):
        form = phone.locator("#polls-area form.poll", has_text=answer)
        form.get_by_label(answer).check()
        form.get_by_role("button", name="提交答案").click()
    expect(phone.locator("#polls-area .poll", has_text="已提交答案")).to_have_count(2)
    expect(phone.locator("#polls-area form.poll")).to_have_count(0)

    # 5. A roll call: answered on the phone.
    admin.call("POST", f"/sessions/{sid}/roll-calls", json={"seconds": 120})
    answer = phone.locator("#rollcall-answer")
    expect(answer).to_be_visible(timeout=WAIT)
    expect(screen.locator(".prompt.rollcall")).to_be_visible(timeout=WAIT)  # the room sees it too
    journey.shoot("roll-call")
    answer.click()
    expect(phone.locator("#rollcall-done")).to_be_visible()

    # 6. Fifty minutes of the lecture later, checks out on the phone.
    time_passes(journey.server, sid, 50)
    phone.get_by_role("button", name="签退").click()
    phone.get_by_role("button", name="确认签退").click()
    expect(phone.locator("#session-area")).to_contain_text("已签退", timeout=WAIT)
    journey.shoot("checked-out")

    # 7. The operator ends the session; the trainee's year now has the lecture's class hours.
    admin.call("POST", f"/sessions/{sid}/end")
    phone.reload()
    result = phone.locator("#hours-area li", has_text=title)
    expect(result).to_contain_text("已计学时", timeout=WAIT)
    expect(result).to_contain_text("1 学时")
    expect(result).not_to_contain_text(re.compile("缺勤|早退|迟到"))
    wait_until(lambda: _year_hours(phone)[0] == hours_before + 1, "the year's hours do not grow")
    expect(phone.locator("#hours-area")).to_contain_text(
        f"还差 {required - hours_before - 1:g} 学时"
    )
    journey.shoot("hours-credited")
    journey.watch.check()


def _year_hours(phone: Any) -> tuple[float, float]:
    """The year's class hours and the requirement the phone shows: "已获 N 学时，要求 M 学时"."""
    summary = phone.locator("#hours-summary")
    expect(summary).to_be_visible(timeout=WAIT)
    found = re.search(r"已获 ([0-9.]+) 学时，要求 ([0-9.]+) 学时", summary.inner_text())
    assert found, summary.inner_text()
    return float(found.group(1)), float(found.group(2))


def _link_on_printed_slip(admin: Api, slips: list[dict[str, Any]], name: str) -> str:
    """The sign-in link printed on a trainee's slip (the slips workbook the console prints)."""
    r = admin.http.post(admin.base + "/join-codes/xlsx", json={"items": slips}, timeout=10)
    assert r.status_code == 200, r.text
    book = openpyxl.load_workbook(io.BytesIO(r.content))
    for sheet in book.worksheets:
        for row in sheet.iter_rows(values_only=True):
            cells = [str(c) for c in row if c is not None]
            if name in cells:
                links = [c for c in cells if "/trainee/#join=" in c]
                assert links, f"no link on {name}'s slip: {cells}"
                return links[0]
    raise AssertionError(f"no slip for {name}")
