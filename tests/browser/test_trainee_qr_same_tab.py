"""A phone that already has the trainee page open scans the room's QR: the camera app opens the
link in the same tab, so only the #… part of the address changes. The page must check in then
(it used to read the link only when it loaded: nothing happened, and a later reload sent the
stale token and got an error)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.pages_helpers import phone_page, shot, trainee_signs_in
from tests.browser.session_helpers import Api, Watch
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

SESSION_ID = 1  # demo session 1: every site takes part
SITE_ID = 2  # the home site of the demo trainee DEMONB0001

browser = pytest.fixture(scope="module")(chromium_browser)


def test_a_qr_opened_in_the_same_tab_checks_in(browser: Any, tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        watch = Watch(server.url)
        with phone_page(browser, watch) as phone:
            trainee_signs_in(phone, server.url, "DEMONB0001")

            shown = op.call(
                "GET", f"/sessions/{SESSION_ID}/checkin-code", params={"site_id": SITE_ID}
            )
            phone.evaluate("qr => { window.location.hash = 'checkin=' + qr; }", shown["qr"])
            expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
            expect(phone.locator("#notice")).to_have_text("签到成功。")
            # The link is consumed: a reload does not send the token again.
            assert "checkin=" not in phone.url
            phone.reload()
            expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
            expect(phone.locator("#notice [role=alert]")).to_have_count(0)
            shot(phone, "trainee-pages", "qr-same-tab-zh.png")
            assert watch.errors == [], watch.errors
