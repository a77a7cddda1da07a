"""The operator console's camera publication when its first connections never come up (issue
18): a real Chromium (fake camera and microphone) publishes to a real server process started
with ``CLASSROOM_TEST_DROP_PUBLISH_PEERS=2``, which answers the first two publications and drops
their peers at once (signalling gets through, media does not). The console must say what is
happening, offer again by itself with a pause, and be live on the third attempt; the phone-size
panel is photographed in Chinese and English while it retries. With every attempt dropped
(a second server, ``CLASSROOM_TEST_DROP_PUBLISH_PEERS=5``) the console stops after its five
attempts, says so, and 重新推流 then goes live."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser, Page, expect

from server.web.media_api import DROP_PUBLISH_ENV
from tests.browser.session_helpers import Api
from tests.browser.test_operator_console import ARTIFACTS, SESSION_ID, login
from tests.chromium import FAKE_MEDIA, HEADLESS, QUIET, chromium
from tests.server_process import ServerProcess

DROPS = 2
PHONE = {"width": 390, "height": 844}


def dropping_server(tmp_path_factory: pytest.TempPathFactory, drops: int) -> ServerProcess:
    env = {"CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1", DROP_PUBLISH_ENV: str(drops)}
    return ServerProcess(tmp_path_factory.mktemp("publish-retry"), None, "--demo", env=env)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with dropping_server(tmp_path_factory, DROPS) as proc:
        yield proc


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium([*HEADLESS, *FAKE_MEDIA, "--disable-sync", *QUIET]) as b:
        yield b


@contextmanager
def console_on_a_phone(
    browser: Browser, server: ServerProcess
) -> Iterator[tuple[Api, Page, list[str]]]:
    """The operator's console on a phone, demo session 1 started and open; the page's errors
    collected. Afterwards the broadcast is stopped and the page closed."""
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        yield op, page, errors
    finally:
        op.http.post(op.base + f"/sessions/{SESSION_ID}/broadcast/stop", timeout=10)
        context.close()


def drops_logged(server: ServerProcess) -> int:
    return server.log.read_text(errors="replace").count(
        f"{DROP_PUBLISH_ENV}: camera publication dropped"
    )


def test_a_camera_publication_that_never_connects_is_offered_again_and_goes_live(
    browser: Browser, server: ServerProcess
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with console_on_a_phone(browser, server) as (op, page, errors):
        pill = page.locator("#bc-state #bc-no-publisher")
        started = time.monotonic()
        page.locator("#bc-start").click()  # the local camera (ticked by default)
        # The first publication is answered, then its peer is gone: no media ever flows.
        expect(pill).to_have_text("正在连接摄像头画面…")
        assert drops_logged(server) == 1
        # Not forever: after the connect timeout the console says it retries, and does.
        expect(pill).to_have_text("摄像头画面未连通，正在重试（第 2/5 次）…", timeout=20_000)
        expect(page.locator("#bc-state")).to_contain_text("正在自动重新连接，无需操作")
        retry_seen = time.monotonic() - started
        page.locator("#p-broadcast").screenshot(
            path=str(ARTIFACTS / "console-publish-retry-phone-zh.png")
        )
        # The second attempt is dropped too; the English view of the same state.
        page.get_by_role("button", name="English").click()
        expect(pill).to_have_text(
            re.compile(r"^Camera not through yet, retrying \(attempt [23] of 5\)…$")
        )
        expect(page.locator("#bc-state")).to_contain_text("reconnecting by itself")
        page.locator("#p-broadcast").screenshot(
            path=str(ARTIFACTS / "console-publish-retry-phone-en.png")
        )
        # The third attempt connects: on air, and the server really gets frames from it.
        expect(page.locator("#bc-state .pill")).to_have_text("On air", timeout=45_000)
        live_after = time.monotonic() - started
        expect(page.locator("#bc-state")).to_contain_text("from this computer's camera")
        page.locator("#p-broadcast").screenshot(
            path=str(ARTIFACTS / "console-publish-retry-live-phone-en.png")
        )
        view = op.call("GET", f"/sessions/{SESSION_ID}/broadcast")
        assert view["origin_publishing"] is True, view
        assert view["relay"]["publishers"][view["origin"]]["frames_in"]["video"] > 0, view
        assert drops_logged(server) == DROPS  # the first two really were dropped, not skipped
        print(f"retry shown after {retry_seen:.1f} s, live after {live_after:.1f} s")
    assert not errors, errors


ATTEMPTS = 5  # PUBLISH_ATTEMPTS in web_client/operator/dashboard/broadcast.js


def test_a_camera_publication_that_never_connects_stops_after_its_attempts_and_can_be_redone(
    browser: Browser, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with dropping_server(tmp_path_factory, ATTEMPTS) as server:
        with console_on_a_phone(browser, server) as (_, page, errors):
            pill = page.locator("#bc-state #bc-no-publisher")
            started = time.monotonic()
            page.locator("#bc-start").click()
            expect(pill).to_have_text("摄像头画面未连通，正在重试（第 5/5 次）…", timeout=70_000)
            # five attempts of 10 s with 1, 2, 4, 8 s between them, then it stops and says so
            expect(pill).to_have_text("摄像头画面连接失败", timeout=30_000)
            gave_up = time.monotonic() - started
            expect(page.locator("#bc-state")).to_contain_text("已自动尝试连接 5 次")
            page.locator("#p-broadcast").screenshot(
                path=str(ARTIFACTS / "console-publish-failed-phone-zh.png")
            )
            page.get_by_role("button", name="English").click()
            expect(pill).to_have_text("Camera could not connect")
            expect(page.locator("#bc-state")).to_contain_text("Tried 5 times")
            page.locator("#p-broadcast").screenshot(
                path=str(ARTIFACTS / "console-publish-failed-phone-en.png")
            )
            assert drops_logged(server) == ATTEMPTS  # stopped: no sixth offer by itself
            time.sleep(2)
            assert drops_logged(server) == ATTEMPTS
            # the way out it names: 重新推流 (Publish again) -- the server drops no more now
            page.get_by_role("button", name="Publish again").click()
            expect(page.locator("#bc-state .pill")).to_have_text("On air", timeout=30_000)
            print(f"gave up after {gave_up:.1f} s")
        assert not errors, errors
