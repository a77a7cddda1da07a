"""Every page names its icon and the server answers it: no page (signed in or not) logs a 404
(the browser asks /favicon.ico on its own when a page names none)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.session_helpers import Api
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SITE_ID = 2

browser = pytest.fixture(scope="module")(chromium_browser)


def test_every_page_loads_its_icon_and_nothing_answers_404(browser: Any, tmp_path: Path) -> None:
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        icon = requests.get(server.url + "/favicon.ico", timeout=10)
        assert icon.status_code == 200 and icon.headers["Content-Type"] == "image/svg+xml"
        assert icon.text.startswith("<svg")
        secret = Api(server.url).login("operator").call("POST", f"/sites/{SITE_ID}/secret")
        context = browser.new_context(**PHONE)
        failed: list[str] = []
        context.on(
            "response", lambda r: failed.append(f"{r.status} {r.url}") if r.status >= 400 else None
        )
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.on(
            "console", lambda m: failed.append(f"console: {m.text}") if m.type == "error" else None
        )
        try:
            page.goto(server.url + "/operator/")
            page.get_by_label(re.compile("用户名|Username")).fill("operator")
            page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORDS["operator"])
            page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            expect(page.locator(".session-list table")).to_be_visible()
            pages = ["/", "/api/v1/docs", "/operator/", "/trainee/", "/screen/"]
            for path in pages:
                suffix = f"#secret={secret['secret']}" if path == "/screen/" else ""
                page.goto(server.url + path + suffix)
                page.wait_for_load_state("networkidle")
                href = page.eval_on_selector("link[rel=icon]", "l => l.href")
                assert href == server.url + "/favicon.ico", path
                status = page.evaluate("u => fetch(u).then(r => r.status)", href)
                assert status == 200, path
            page.goto(server.url + "/trainee/")
            page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(
                "DEMONB0001"
            )
            page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            expect(page.get_by_role("button", name=re.compile("^(登录|Sign in)$"))).to_have_count(0)
            page.wait_for_load_state("networkidle")
        finally:
            context.close()
        assert failed == [], failed
