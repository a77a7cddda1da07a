"""Shared by the tests of the trainee phone's and the console's pages (test_trainee_pages.py,
test_operator_pages.py): Debian's chromium, screenshots, a trainee's API client."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from tests.browser.session_helpers import Api, Watch
from tests.server_process import ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
SESSION_ID = 1  # demo session 1: every site takes part
SITE_ID = 2  # 海曙区分课堂, the home site of the demo trainee DEMONB0001


def shot(page: Page, folder: str, name: str, full_page: bool = True) -> None:
    (ARTIFACTS / folder).mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / folder / name), full_page=full_page)


def trainee_api(server: ServerProcess, code: str) -> Api:
    """An API client signed in as the trainee with this personal code."""
    trainee = Api(server.url)
    joined = trainee.http.post(trainee.base + "/auth/join", json={"code": code}, timeout=10)
    joined.raise_for_status()
    trainee.http.headers["X-CSRF-Token"] = joined.json()["csrf_token"]
    return trainee


@contextmanager
def phone_page(browser: Any, watch: Watch) -> Iterator[Page]:
    """A phone-sized page watched for errors, its browser context closed afterwards."""
    context = browser.new_context(**PHONE)
    try:
        yield watch.attach(context, "phone")
    finally:
        context.close()


def trainee_signs_in(page: Page, url: str, code: str) -> None:
    """Types the personal code on the trainee page: signed in, not yet checked in."""
    page.goto(url + "/trainee/")
    page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(code)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#checkin-state")).to_have_attribute("data-checked-in", "no")


def join_and_check_in(page: Page, server: ServerProcess, op: Api, code: str) -> None:
    """Signs in with the personal code and checks in to demo session 1 with its room's code."""
    trainee_signs_in(page, server.url, code)
    shown = op.call("GET", f"/sessions/{SESSION_ID}/checkin-code", params={"site_id": SITE_ID})
    page.get_by_label(re.compile("签到码|Check-in code")).fill(shown["code"])
    page.get_by_role("button", name=re.compile("^(签到|Check in)$")).click()
    expect(page.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")


@contextmanager
def live_phone(
    browser: Any, tmp_path: Path, code: str = "DEMONB0001"
) -> Iterator[tuple[ServerProcess, Api, Page, Watch]]:
    """A demo server with session 1 started by the operator, and a trainee's phone signed in
    and checked in: (server, the operator's API, the phone, its error watch)."""
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op = Api(server.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        watch = Watch(server.url)
        with phone_page(browser, watch) as phone:
            join_and_check_in(phone, server, op, code)
            yield server, op, phone, watch


def open_poll(op: Api, prompt: str, options: list[str], **extra: Any) -> int:
    """Set-up: the operator creates and launches a poll in demo session 1; its id."""
    poll = op.call(
        "POST",
        f"/sessions/{SESSION_ID}/polls",
        json={"prompt": prompt, "options": options, **extra},
    )
    op.call("POST", f"/polls/{poll['id']}/launch", json={})
    return int(poll["id"])
