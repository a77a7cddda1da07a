"""The site screen shows the rotating check-in QR and code without hiding the lecturer: on a
1920x1080 and a 1280x720 projector and on a 390x844 phone, in Chinese and in English, the
programme video's box and the check-in panel's box do not overlap, and the title bar does not lie
over the video either (screenshots in test-artifacts/screen-layout/)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages_helpers import shot
from tests.browser.session_helpers import Api
from tests.chromium import chromium_browser
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
                finally:
                    context.close()
