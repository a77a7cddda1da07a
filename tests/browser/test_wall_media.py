"""The seams of a real day on the operator wall and the site screen (issue 13), in a real
Chromium against a real server process with the demo data: the wall shows who is online the
moment it loads, the screen page's playback reports reach the wall's tiles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.test_operator_console import (
    ARTIFACTS,
    CHROMIUM,
    SESSION_ID,
    AgentThread,
    Api,
    login,
)
from tests.server_process import ServerProcess

AGENT_SITES = (2, 3)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("wall-media"), None, "--demo") as proc:
        yield proc


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> dict[str, Any]:
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    secrets = {s: op.call("POST", f"/sites/{s}/secret")["secret"] for s in (*AGENT_SITES, 4)}
    return {"op": op, "secrets": secrets}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless=new",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                "--autoplay-policy=no-user-gesture-required",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield b
        b.close()


def new_page(browser: Browser, width: int = 1400, height: int = 1000) -> tuple[Any, Page]:
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    context.errors = errors  # type: ignore[attr-defined]
    return context, page


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"wall-media-{name}.png"), full_page=True)


def wall_tile(page: Page, site_id: int) -> Any:
    return page.locator(f'.tile[data-site-id="{site_id}"]')


def test_the_wall_shows_the_sites_online_at_load_and_after_a_reload(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    context, page = new_page(browser)
    with ExitStack() as agents:
        for site in AGENT_SITES:
            agents.enter_context(AgentThread(server.url, world["secrets"][site], site))
        login(page, server)
        # The agents are online BEFORE the page loads: no transition will come to fix a tile,
        # only the presence snapshot can say they are online.
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        for site in AGENT_SITES:
            expect(wall_tile(page, site)).to_have_attribute("data-state", "online", timeout=3000)
            expect(wall_tile(page, site).locator(".pill.ps-online")).to_have_text("在线")
            expect(wall_tile(page, site).locator(".f-beat")).to_have_text(re.compile(r"^\d+ 秒前$"))
        expect(page.locator(".wall-summary")).to_contain_text("在线 2 · 降级 0 · 离线 13")
        shoot(page, "wall-at-load-zh")
        page.reload()
        for site in AGENT_SITES:
            expect(wall_tile(page, site)).to_have_attribute("data-state", "online", timeout=3000)
        expect(page.locator(".wall-summary")).to_contain_text("在线 2")
        # Away to the session list and back: a fresh subscription, a fresh snapshot.
        page.goto(server.url + "/operator/#/sessions")
        expect(page.locator(".session-list table")).to_be_visible()
        page.goto(server.url + f"/operator/#/sessions/{SESSION_ID}/live")
        expect(page.locator(".wall-summary")).to_contain_text("在线 2", timeout=3000)
    # Agents gone (clean close): the wall follows at once.
    expect(page.locator(".wall-summary")).to_contain_text("在线 0", timeout=10_000)
    assert not context.errors, context.errors  # type: ignore[attr-defined]
    context.close()


def test_a_screen_pages_playback_report_shows_on_the_wall(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    """The screen's reports (API here; the screen page's own reports are tested with it)."""
    screen = Api(server.url)
    r = screen.http.post(screen.base + "/auth/screen", json={"secret": world["secrets"][4]})
    r.raise_for_status()
    screen.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    body = {"session_id": SESSION_ID, "attached": True, "paused": False, "sound": "on"}
    first = screen.call("POST", "/site/screen-status", json={**body, "frames": 100})
    assert first["state"] == "playing"
    context, page = new_page(browser)
    login(page, server)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    tile = wall_tile(page, 4)
    # the snapshot carries the screen's last report
    expect(tile).to_have_attribute("data-screen", "playing")
    expect(tile.locator(".f-screen")).to_contain_text("正在播放")
    expect(tile.locator(".f-screen")).to_contain_text("有声音")
    # a frozen picture: the same frame count a moment later
    page.wait_for_timeout(1100)
    frozen = screen.call("POST", "/site/screen-status", json={**body, "frames": 100})
    assert frozen["state"] == "stalled"
    expect(tile).to_have_attribute("data-screen", "stalled")
    expect(tile.locator(".f-screen")).to_have_text("画面停顿")
    bad = screen.http.post(
        screen.base + "/site/screen-status", json={**body, "frames": -1}, timeout=10
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "message.invalid"
    assert not context.errors, context.errors  # type: ignore[attr-defined]
    context.close()
