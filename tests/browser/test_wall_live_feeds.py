"""The operator's wall on its own, in a real Chromium against a real server process (demo data)
with a real classroom agent (``--source testpattern``): the room's return feed shows on its tile
once the broadcast starts, though the wall was opened before it (nobody calls viewSite by hand),
and a check-in changes the wall's count at once, not on the next 15 s refresh."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.session_helpers import Api
from tests.browser.test_operator_console import ARTIFACTS, SESSION_ID, login
from tests.chromium import chromium
from tests.journeys.helpers import CHROMIUM_ARGS
from tests.server_process import ServerProcess, stop_process
from tests.site_agent import agent_process

ROOM = 2  # a sub-classroom of demo session 1 with a real agent

# frames the tile's <video> has decoded, and its picture size (0 while it has none)
DECODED = """(id) => { const v = document.querySelector(`.tile[data-site-id="${id}"] video`);
  if (!v || v.hidden || !v.srcObject) return {frames: 0, width: 0, height: 0};
  const q = v.getVideoPlaybackQuality();
  return {frames: q.totalVideoFrames, width: v.videoWidth, height: v.videoHeight}; }"""

# the operator page's one live socket closes under it, as when the network drops
DROP_SOCKET = """async () => { const app = await import("/static/operator/app.js");
  app.liveHub.socket.ws.close(); }"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1", "CLASSROOM_MEDIA_RECORD": "false"}
    with ServerProcess(tmp_path_factory.mktemp("wall-feeds"), None, "--demo", env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
def op(server: ServerProcess) -> Api:
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    return op


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(CHROMIUM_ARGS) as launched:
        yield launched


@pytest.fixture
def agent(server: ServerProcess, op: Api, tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A real classroom agent for ROOM publishing a 160x120 test pattern as its return feed."""
    secret = op.call("POST", f"/sites/{ROOM}/secret")["secret"]
    proc = agent_process(server.url, secret, tmp_path)
    try:
        yield proc
    finally:
        stop_process(proc)


def open_wall(browser: Browser, server: ServerProcess) -> tuple[Any, Page, list[str]]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    login(page, server)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    return context, page, errors


def wait_decoding(page: Page, site: int, more_than: int, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = page.evaluate(DECODED, site)
        if seen["frames"] > more_than:
            return seen
        time.sleep(0.5)
    raise AssertionError(f"the tile of site {site} decoded no new frames: {seen}")


def test_a_rooms_return_feed_plays_on_its_tile_when_the_broadcast_starts_after_the_wall_opened(
    browser: Browser, server: ServerProcess, op: Api, agent: subprocess.Popen[bytes]
) -> None:
    context, page, errors = open_wall(browser, server)
    tile = page.locator(f'.tile[data-site-id="{ROOM}"]')
    try:
        # The wall is open, the room online, no broadcast yet: no feed to show.
        expect(tile).to_have_attribute("data-state", "online", timeout=20_000)
        page.wait_for_timeout(1500)  # heartbeats come and go meanwhile
        assert page.evaluate(DECODED, ROOM)["frames"] == 0
        op.call("POST", f"/sessions/{SESSION_ID}/broadcast/start", json={"source": "main"})
        first = wait_decoding(page, ROOM, 0, timeout=30)
        assert (first["width"], first["height"]) == (160, 120), first
        expect(tile.locator("video")).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        tile.screenshot(path=str(ARTIFACTS / "wall-feed-tile.png"))
        # The broadcast stops and starts again: the tile follows, still by itself.
        op.call("POST", f"/sessions/{SESSION_ID}/broadcast/stop")
        expect(tile.locator("video")).to_be_hidden(timeout=10_000)
        op.call("POST", f"/sessions/{SESSION_ID}/broadcast/start", json={"source": "main"})
        wait_decoding(page, ROOM, 0, timeout=30)
        # The live socket drops (a network blip; the server closes that socket's peers): the
        # feed comes back after the reconnect.
        page.evaluate(DROP_SOCKET)
        expect(page.locator("#conn")).not_to_have_attribute("data-state", "open", timeout=3000)
        expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=15_000)
        page.wait_for_timeout(2000)  # the server has closed the old peer by now
        before = page.evaluate(DECODED, ROOM)["frames"]
        wait_decoding(page, ROOM, before + 5, timeout=30)
        # On a phone, in both languages: the tile scrolled into view plays its feed.
        page.set_viewport_size({"width": 390, "height": 844})
        for language, button in (("zh", "English"), ("en", "中文")):
            # (re)drawn below the fold, its feed closed: in view again, a new feed (new count)
            tile.scroll_into_view_if_needed()
            shown = wait_decoding(page, ROOM, 0, timeout=20)["frames"]
            wait_decoding(page, ROOM, shown + 2, timeout=20)
            page.screenshot(path=str(ARTIFACTS / f"wall-feed-phone-{language}.png"))
            page.get_by_role("button", name=button).click()
    finally:
        op.http.post(op.base + f"/sessions/{SESSION_ID}/broadcast/stop", timeout=10)
        context.close()
    assert not errors, errors


def wall_count(page: Page, site: int) -> str:
    return page.locator(f'.tile[data-site-id="{site}"] .f-headcount').inner_text()


def right_after_a_refresh(page: Page, requests: list[float]) -> None:
    """Wait for the wall's periodic reload of the counts: the next one is 15 s away, so a
    count that changes within 3 s after this was changed by the live event."""
    seen = len(requests)
    deadline = time.monotonic() + 20
    while len(requests) == seen:
        assert time.monotonic() < deadline, "the wall never reloaded its counts"
        page.wait_for_timeout(100)
    page.wait_for_timeout(300)  # its answer is drawn


def test_a_check_in_changes_the_walls_count_at_once(
    browser: Browser, server: ServerProcess, op: Api
) -> None:
    roster = op.call("GET", "/trainees", params={"limit": 500})["items"]
    course_id = op.call("GET", f"/sessions/{SESSION_ID}")["course_id"]
    plan = op.call("GET", f"/courses/{course_id}/batch-plan")["assignments"]
    in_batch = {a["trainee_id"] for a in plan if a["session_id"] == SESSION_ID}
    homed = [t for t in roster if t["id"] in in_batch and t["home_site_id"] == 3][:2]
    trainee = Api(server.url)
    r = trainee.http.post(
        trainee.base + "/auth/join", json={"code": f"DEMO{homed[0]['staff_no']}"}, timeout=10
    )
    r.raise_for_status()
    trainee.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    context, page, errors = open_wall(browser, server)
    reloads: list[float] = []
    page.on(
        "request",
        lambda req: (
            reloads.append(time.monotonic())
            if req.url.split("?")[0].endswith(f"/sessions/{SESSION_ID}/report")
            else None
        ),
    )
    try:
        expect(page.locator('.tile[data-site-id="3"] .f-headcount')).to_have_text(
            re.compile(r"^0 / \d+$")
        )
        expected = wall_count(page, 3).split(" / ")[1]
        # A trainee types the room's code on the phone.
        right_after_a_refresh(page, reloads)
        code = op.call("GET", f"/sessions/{SESSION_ID}/checkin-code", params={"site_id": 3})
        body = {"code": code["code"], "client_id": "wall-count-1"}
        answer = trainee.call("POST", f"/sessions/{SESSION_ID}/checkin", json=body)
        assert answer["record"]["site_id"] == 3, answer
        expect(page.locator('.tile[data-site-id="3"] .f-headcount')).to_have_text(
            f"1 / {expected}", timeout=3000
        )
        # The room's staff mark another trainee present (a site mark).
        right_after_a_refresh(page, reloads)
        mark = {"trainee_id": homed[1]["id"], "reason": "came without a phone", "site_id": 3}
        op.call("POST", f"/sessions/{SESSION_ID}/attendance/mark", json=mark)
        expect(page.locator('.tile[data-site-id="3"] .f-headcount')).to_have_text(
            f"2 / {expected}", timeout=3000
        )
    finally:
        context.close()
    assert not errors, errors
