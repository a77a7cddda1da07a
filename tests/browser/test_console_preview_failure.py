"""A broadcast preview that does not connect leaves no empty black box in the console's
broadcast panel: the box stays hidden and a line says what happened and what to do (here: the
session is live but nothing broadcasts, so the server refuses the preview). In zh and en, on a
desktop (1366x768) and a phone (390x844); screenshots in test-artifacts/console-preview/."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.pages_helpers import PHONE, shot
from tests.browser.session_helpers import Watch
from tests.browser.test_operator_console import browser, open_dashboard, server, world

__all__ = ["browser", "server", "world"]  # the console tests' module fixtures, shared

DEVICES: dict[str, dict[str, Any]] = {
    "desktop": {"viewport": {"width": 1366, "height": 768}},
    "phone": PHONE,
}
SAID = {
    "zh": "直播预览没有画面：本课次还没有开始直播。请先点击“开始直播”，再打开直播预览。",
    "en": "No broadcast preview: this session is not broadcasting yet. "
    "Click “Start broadcast” first, then open the preview.",
}


@pytest.fixture(params=list(DEVICES))
def page(browser: Browser, server: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    watch = Watch(server.url)
    context = browser.new_context(**DEVICES[request.param])
    try:
        yield watch.attach(context, request.param)
    finally:
        context.close()
    watch.check()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_preview_that_cannot_connect_shows_why_instead_of_a_black_box(
    page: Page, server: Any, world: dict[str, Any], lang: str, request: pytest.FixtureRequest
) -> None:
    op = world["op"]
    assert op.call("GET", "/sessions/1/broadcast")["live"] is False  # live session, no broadcast
    open_dashboard(page, server)
    if lang == "en":
        page.get_by_role("button", name="English").click()
    preview = page.locator("#bc-preview")
    expect(preview).to_have_text(re.compile("^(打开直播预览|Open broadcast preview)$"))
    preview.click()
    said = page.locator("#bc-preview-msg")
    expect(said).to_have_text(SAID[lang])
    expect(page.locator("video.program")).to_be_hidden()
    expect(preview).to_have_text("打开直播预览" if lang == "zh" else "Open broadcast preview")
    expect(preview).to_have_attribute("aria-pressed", "false")
    said.scroll_into_view_if_needed()
    device = request.node.callspec.params["page"]
    shot(page, "console-preview", f"preview-failed-{lang}-{device}.png", full_page=False)


NO_ROUTE = """(() => {
  // This browser's network carries no media: no candidate to reach the server (UDP blocked).
  const Native = window.RTCPeerConnection;
  window.RTCPeerConnection = function (config) {
    return new Native({ ...(config || {}), iceServers: [], iceTransportPolicy: "relay" });
  };
  window.RTCPeerConnection.prototype = Native.prototype;
})();"""


def test_a_preview_whose_connection_never_comes_up_is_given_up_and_said(
    browser: Browser, server: Any, world: dict[str, Any]
) -> None:
    """The server answers (a broadcast is on), but no media path comes up: while it tries, a
    line says it is connecting and no box shows; after its three attempts it says why and what
    to do (the network, UDP), and 打开直播预览 is offered again."""
    op = world["op"]
    op.call("POST", "/sessions/1/broadcast/start", json={"source": "site", "site_id": 2})
    watch = Watch(server.url)
    context = browser.new_context(**DEVICES["desktop"])
    try:
        page = watch.attach(context, "desktop")
        page.add_init_script(NO_ROUTE)
        open_dashboard(page, server)
        page.locator("#bc-preview").click()
        said = page.locator("#bc-preview-msg")
        expect(said).to_have_text("正在连接直播预览…")
        expect(page.locator("#bc-preview")).to_have_text("关闭直播预览")
        expect(page.locator("video.program")).to_be_hidden()
        expect(said).to_have_text(
            "直播预览未能连接：画面连接不通。请检查本机网络（防火墙须放行 UDP），"
            "然后再点击“打开直播预览”。",
            timeout=60_000,
        )
        expect(page.locator("video.program")).to_be_hidden()
        expect(page.locator("#bc-preview")).to_have_text("打开直播预览")
        said.scroll_into_view_if_needed()
        shot(page, "console-preview", "preview-no-route-zh-desktop.png", full_page=False)
    finally:
        op.call("POST", "/sessions/1/broadcast/stop")
        context.close()
    watch.check()
