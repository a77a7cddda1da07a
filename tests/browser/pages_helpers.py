"""Shared by the tests of the trainee phone's and the console's pages (test_trainee_pages.py,
test_operator_pages.py): Debian's chromium, screenshots, a trainee's API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from playwright import sync_api as playwright_sync
from playwright.sync_api import Page

from tests.browser.session_helpers import Api
from tests.server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def chromium_browser() -> Iterator[Any]:
    """Headless chromium for a module's tests (wrap it with pytest.fixture)."""
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield b
        b.close()


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
