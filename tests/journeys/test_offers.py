"""What the pages offer a person matches what the server allows (walker seams): the console
offers 开始直播 only in a live session and says why not before the start and after the end."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    MAIN_SITE,
    Journey,
    operator_signs_in,
    session_now,
)

ROOM = 2  # 海曙区分课堂


def test_console_offers_a_broadcast_in_a_live_session_only(journey: Journey, admin: Api) -> None:
    sid = session_now(admin, "直播按钮", [MAIN_SITE, ROOM], start=False)
    for lang in ("zh", "en"):
        op = journey.person(f"operator-{lang}", "operator", lang)
        operator_signs_in(op, journey.url)
        op.goto(f"{journey.url}/operator/#/sessions/{sid}/live")
        expect(op.locator("#session-status")).to_have_text(re.compile("未开始|Scheduled"))
        # Before the start: no 开始直播, the way there instead.
        expect(op.locator("#bc-start")).to_be_hidden()
        expect(op.locator("#bc-stop")).to_be_hidden()  # nothing broadcasts yet
        expect(op.locator("#bc-why")).to_have_text(
            "课次尚未开始：请先点击上方的“开始课次”，再开始直播。"
            if lang == "zh"
            else re.compile("has not started: click “Start session” above first")
        )
    journey.shoot("scheduled")
    op = journey.pages["operator-zh"]
    op.get_by_role("button", name="开始课次").click()
    expect(op.locator("#session-status")).to_have_text("进行中")
    expect(op.locator("#bc-start")).to_be_visible()
    expect(op.locator("#bc-why")).to_be_hidden()
    journey.shoot("live", "operator-zh")
    admin.call("POST", f"/sessions/{sid}/end")
    for lang in ("zh", "en"):
        op = journey.pages[f"operator-{lang}"]
        op.reload()
        expect(op.locator("#session-status")).to_have_text(re.compile("已结束|Ended"))
        expect(op.locator("#bc-why")).to_have_text(
            "课次已结束，不能再直播。"
            if lang == "zh"
            else "The session has ended; it can no longer broadcast."
        )
        expect(op.get_by_role("button", name=re.compile("开始直播|Start broadcast"))).to_have_count(
            0
        )
        expect(op.locator("#bc-start")).to_be_hidden()
    journey.shoot("ended")
    journey.watch.check()
