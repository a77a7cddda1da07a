"""The site screen shows the rotating check-in QR and code without hiding the lecturer: on a
1920x1080 and a 1280x720 projector and on a 390x844 phone, in Chinese and in English, the
programme video's box and the check-in panel's box do not overlap, the title bar does not lie
over the video either, nor the raised hand's button and note over the panel; with a roll call,
the floor, two polls and a question on air all up at once, most of the picture stays in view
(screenshots in test-artifacts/screen-layout/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages_helpers import shot, trainee_api
from tests.browser.session_helpers import Api
from tests.chromium import chromium_browser
from tests.journeys.helpers import homed_trainees, open_poll
from tests.server_process import ServerProcess

SESSION_ID = 1
SITE_ID = 2
SIZES = [
    ("projector-1080", {"viewport": {"width": 1920, "height": 1080}}),
    ("projector-720", {"viewport": {"width": 1280, "height": 720}}),
    ("phone", {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    yield from chromium_browser()


def _overlap(a: dict[str, float], b: dict[str, float]) -> bool:
    return (
        a["x"] < b["x"] + b["width"] - 0.5
        and b["x"] < a["x"] + a["width"] - 0.5
        and a["y"] < b["y"] + b["height"] - 0.5
        and b["y"] < a["y"] + a["height"] - 0.5
    )


def test_checkin_panel_never_covers_the_programme_video(browser: Any, tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        secret = op.call("POST", f"/sites/{SITE_ID}/secret")["secret"]
        for name, kw in SIZES:
            for lang in ("zh", "en"):
                context = browser.new_context(**kw)
                try:
                    page = context.new_page()
                    page.set_default_timeout(15_000)
                    if lang == "en":
                        page.add_init_script("localStorage.setItem('lang', 'en')")
                    page.goto(f"{server.url}/screen/#secret={secret}")
                    expect(page.locator("#checkin-code")).to_have_text(re.compile(r"^\d{6}$"))
                    panel = page.locator("#checkin-panel")
                    expect(panel).to_be_visible()
                    page.wait_for_timeout(300)  # the QR canvas drawn, fonts settled
                    shot(page, "screen-layout", f"{name}-{lang}.png", full_page=False)
                    video = page.locator("#program").bounding_box()
                    box = panel.bounding_box()
                    bar = page.locator(".screen-top").bounding_box()
                    assert video and box and bar
                    size = kw["viewport"]
                    assert not _overlap(video, box), (name, lang, video, box)
                    assert not _overlap(video, bar), (name, lang, video, bar)
                    # The panel is whole on screen and the video keeps a usable size.
                    assert box["x"] >= 0 and box["x"] + box["width"] <= size["width"] + 0.5
                    assert box["y"] + box["height"] <= size["height"] + 0.5, (name, lang, box)
                    assert video["width"] >= size["width"] * 0.6, (name, lang, video)
                    # The room raises its hand: the button and its note stay clear of the panel.
                    page.locator("#raise-hand").click()
                    expect(page.locator("#hand-note")).not_to_be_empty()
                    shot(page, "screen-layout", f"{name}-{lang}-hand.png", full_page=False)
                    hand = page.locator(".hand-box").bounding_box()
                    assert hand and not _overlap(hand, box), (name, lang, hand, box)
                    page.locator("#raise-hand").click()  # lowered again for the next size
                    expect(page.locator("#hand-note")).to_be_empty()
                finally:
                    context.close()


# The share of the programme video's box that the on-screen notices may cover, all up at once.
COVERED_AT_MOST = 0.4

COVERED = """() => {
  const video = document.querySelector('#program').getBoundingClientRect();
  const boxes = [...document.querySelectorAll('#prompts .prompt'), document.querySelector('#onair')]
    .filter((e) => e && !e.hidden).map((e) => e.getBoundingClientRect());
  let hit = 0, all = 0;
  for (let i = 0; i < 60; i++) for (let j = 0; j < 60; j++) {
    const x = video.left + ((i + 0.5) * video.width) / 60;
    const y = video.top + ((j + 0.5) * video.height) / 60;
    all++;
    if (boxes.some((b) => x >= b.left && x <= b.right && y >= b.top && y <= b.bottom)) hit++;
  }
  return hit / all;
}"""


def test_notices_all_up_at_once_leave_the_lecturer_in_view(browser: Any, tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        admin = Api(server.url).login("admin")
        admin.call("POST", f"/sessions/{SESSION_ID}/start")
        secret = admin.call("POST", f"/sites/{SITE_ID}/secret")["secret"]
        context = browser.new_context(**dict(SIZES)["projector-720"])
        try:
            page = context.new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{server.url}/screen/#secret={secret}")
            code = page.locator("#checkin-code")
            expect(code).to_have_text(re.compile(r"^\d{6}$"))
            # A trainee of the room checks in and asks; the operator puts the question on air,
            # opens two polls, calls the roll and gives this room the floor.
            phone = trainee_api(server, homed_trainees(admin, SITE_ID)[0]["code"])
            phone.call(
                "POST",
                f"/sessions/{SESSION_ID}/checkin",
                json={"code": code.inner_text(), "client_id": "layout"},
            )
            asked = phone.call(
                "POST",
                f"/sessions/{SESSION_ID}/questions",
                json={"text": "请问老师，社区网格员的考核怎样更科学？", "anonymous": True},
            )
            admin.call("POST", f"/questions/{asked['id']}/on-air")
            open_poll(admin, SESSION_ID, "本课程内容是否贴近工作实际？", ["贴近", "不贴近"])
            open_poll(admin, SESSION_ID, "您希望下次课程采用哪种形式？", ["讲座", "研讨"])
            admin.call("POST", f"/sessions/{SESSION_ID}/roll-calls", json={"seconds": 120})
            admin.call(
                "POST",
                f"/sessions/{SESSION_ID}/floor/grant",
                json={"site_id": SITE_ID, "time_limit": 120},
            )
            expect(page.locator("#prompts .prompt")).to_have_count(4)
            expect(page.locator("#onair")).to_be_visible()
            for lang in ("zh", "en"):
                if lang == "en":
                    page.locator("#lang-slot button").click()
                    expect(page.locator("#onair")).to_contain_text("On air")
                page.wait_for_timeout(300)
                shot(page, "screen-layout", f"all-notices-{lang}.png", full_page=False)
                covered = page.evaluate(COVERED)
                assert covered <= COVERED_AT_MOST, (lang, covered)
                panel = page.locator("#checkin-panel").bounding_box()
                for notice in page.locator("#prompts .prompt").all():
                    box = notice.bounding_box()
                    assert box and panel and not _overlap(box, panel), (lang, box, panel)
        finally:
            context.close()
