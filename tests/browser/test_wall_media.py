"""The seams of a real day on the operator wall and the site screen (issue 13), in a real
Chromium against a real server process with the demo data: the wall shows who is online the
moment it loads, the screen page's playback reports reach the wall's tiles."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.browser.test_operator_console import (
    ARTIFACTS,
    SESSION_ID,
    AgentThread,
    Api,
    login,
)
from tests.browser.test_pages_trainee_screen import PLAYED, _join, _wait_frames
from tests.chromium import CHROMIUM, FAKE_MEDIA, HEADLESS, KIOSK_SOUND, QUIET
from tests.server_process import ServerProcess

AGENT_SITES = (2, 3)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    env = {"CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1"}
    with ServerProcess(tmp_path_factory.mktemp("wall-media"), None, "--demo", env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> dict[str, Any]:
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    secrets = {s: op.call("POST", f"/sites/{s}/secret")["secret"] for s in (*AGENT_SITES, 4)}
    return {"op": op, "secrets": secrets}


@pytest.fixture(scope="module")
def playwright() -> Iterator[Any]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="module")
def browser(playwright: Any) -> Iterator[Browser]:
    b = playwright.chromium.launch(
        executable_path=CHROMIUM,
        args=[*HEADLESS, *FAKE_MEDIA, KIOSK_SOUND, "--disable-sync", *QUIET],
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


@contextmanager
def console_and_screen(
    browser: Browser, op: Api, screen_size: tuple[int, int] = (1280, 720)
) -> Iterator[tuple[Page, Page, Any]]:
    """An operator's page and a site screen's page (its context too); the floor goes back to
    the main classroom and the broadcast stops afterwards, and neither page may have thrown."""
    context, page = new_page(browser)
    screen_ctx, screen = new_page(browser, *screen_size)
    try:
        yield page, screen, screen_ctx
    finally:
        op.http.post(op.base + f"/sessions/{SESSION_ID}/floor/revoke", timeout=10)
        op.http.post(op.base + f"/sessions/{SESSION_ID}/broadcast/stop", timeout=10)
        errors = [*context.errors, *screen_ctx.errors]  # type: ignore[attr-defined]
        context.close()
        screen_ctx.close()
    assert not errors, errors


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


def summary_matches_tiles(page: Page) -> None:
    """The summary counts what the tiles show (other rooms may change meanwhile)."""
    page.wait_for_function(
        """() => {
          const m = /在线 (\\d+)/.exec(document.querySelector('.wall-summary').textContent);
          const tiles = document.querySelectorAll('.tile[data-state=online]').length;
          return m && Number(m[1]) === tiles; }""",
        timeout=5000,
    )


def test_a_site_with_only_a_screen_page_is_online_on_the_wall_until_the_page_closes(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    """No agent, only the kiosk screen page: its reports make the room present (issue 13)."""
    secret = world["op"].call("POST", "/sites/5/secret")["secret"]
    context, page = new_page(browser)
    login(page, server)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    tile = wall_tile(page, 5)
    expect(tile).to_have_attribute("data-state", "offline")
    screen_ctx, screen = new_page(browser, 1280, 720)
    screen_sign_in(screen, server, secret)
    started = time.monotonic()
    expect(tile).to_have_attribute("data-state", "online", timeout=12_000)  # first report: 5 s
    expect(tile.locator(".pill")).to_have_text("在线")
    expect(tile.locator(".f-beat")).to_have_text(re.compile(r"^\d+ 秒前$"))
    expect(page.locator(".wall-summary")).to_contain_text(re.compile(r"在线 [1-9]"))
    shoot(page, "screen-only-online-zh")
    summary_matches_tiles(page)
    # a wall that loads now has it in its snapshot
    page.reload()
    expect(tile).to_have_attribute("data-state", "online", timeout=3000)
    screen_ctx.close()  # the page is closed: 3 missed reports later the room is offline
    closed = time.monotonic()
    expect(tile).to_have_attribute("data-state", "offline", timeout=25_000)
    expect(tile.locator(".pill")).to_have_text("离线")
    gone = time.monotonic() - closed
    assert 5 < gone < 22, gone
    summary_matches_tiles(page)
    assert time.monotonic() - started < 60
    assert not context.errors, context.errors  # type: ignore[attr-defined]
    assert not screen_ctx.errors, screen_ctx.errors  # type: ignore[attr-defined]
    context.close()


def test_an_agent_that_dies_beside_a_playing_screen_shows_on_its_tile(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    """The room's screen page keeps the room present, but its agent dies: the tile says the
    agent is silent instead of its last stream report, and shows the stream again once the
    agent is back (JOURNEYS.md 2: a site's agent dies and comes back; the wall shows it)."""
    secret = world["op"].call("POST", "/sites/7/secret")["secret"]
    context, page = new_page(browser)
    screen_ctx, screen = new_page(browser, 1280, 720)
    try:
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        tile = wall_tile(page, 7)
        stream = tile.locator(".f-stream")
        screen_sign_in(screen, server, secret)
        with AgentThread(server.url, secret, 7):
            expect(stream).to_contain_text("42 ms", timeout=10_000)
        expect(stream).to_have_text("课堂终端无心跳", timeout=25_000)
        expect(tile).to_have_attribute("data-state", "online")  # the screen still reports
        shoot(page, "agent-silent-beside-screen-zh")
        with AgentThread(server.url, secret, 7):
            expect(stream).to_contain_text("42 ms", timeout=10_000)
            page.get_by_role("button", name="English").click()
            expect(stream).to_contain_text("OK · 42 ms")
        expect(stream).to_have_text("room agent silent", timeout=25_000)
        assert not context.errors, context.errors  # type: ignore[attr-defined]
    finally:
        context.close()
        screen_ctx.close()


SOUND = """() => { const v = document.getElementById('program');
  const a = v.srcObject ? v.srcObject.getAudioTracks() : [];
  return {muted: v.muted, paused: v.paused,
          audio: a.map((t) => t.readyState + ':' + t.enabled)}; }"""


BLOCK_SOUND = """(() => { const play = HTMLMediaElement.prototype.play;
  let tapped = false;
  addEventListener("pointerdown", () => { tapped = true; }, true);
  HTMLMediaElement.prototype.play = function () {
    if (!this.muted && !tapped)
      return Promise.reject(new DOMException("play() needs a user gesture", "NotAllowedError"));
    return play.call(this);
  }; })();"""


def screen_sign_in(page: Page, server: ServerProcess, secret: str) -> None:
    page.goto(f"{server.url}/screen/#secret={secret}")
    expect(page.locator("#site-name")).not_to_be_empty()


def test_the_console_publishes_the_browser_camera_and_a_site_screen_plays_it_with_sound(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    op = world["op"]
    with console_and_screen(browser, op) as (page, screen, _screen_ctx):
        screen_sign_in(screen, server, world["secrets"][4])
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        expect(page.locator("#bc-source")).to_have_value("main")
        # Device choice, local preview and the audio level (Chromium's fake devices).
        toggle = page.locator("#bc-camera-test")
        expect(toggle).to_have_text("打开预览")
        toggle.click()
        expect(page.locator("#bc-local")).to_be_visible()
        expect(toggle).to_have_text("关闭预览")
        expect(toggle).to_have_attribute("aria-pressed", "true")
        expect(page.locator("#bc-camera option")).not_to_have_count(1)
        expect(page.locator("#bc-mic option")).not_to_have_count(1)
        expect(page.locator("#bc-camera-msg")).to_contain_text("摄像头：")
        deadline = time.monotonic() + 10
        while float(page.locator("#bc-level").get_attribute("data-peak") or 0) <= 0:
            assert time.monotonic() < deadline, "the level meter never moved"
            time.sleep(0.2)
        # Started without the local camera (an agent was meant to publish, none does): the
        # console says so plainly instead of "live".
        page.locator("#bc-use-camera").uncheck()
        page.locator("#bc-start").click()
        expect(page.locator("#bc-no-publisher")).to_have_text("无画面来源")
        expect(page.locator("#bc-state")).to_contain_text("各分课堂收不到画面")
        shoot(page, "console-no-publisher-zh")
        page.locator("#bc-publish").click()
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=15_000)
        expect(page.locator("#bc-state")).to_contain_text("本机摄像头推流中")
        shoot(page, "console-camera-live-zh")
        # A site screen really receives it, picture and sound.
        _wait_frames(screen, 30, timeout=30)
        # Closing the preview while the camera is on air only hides it: the rooms keep it.
        toggle.click()
        expect(page.locator("#bc-local")).to_be_hidden()
        expect(toggle).to_have_text("打开预览")
        played = int(screen.evaluate(PLAYED))
        _wait_frames(screen, played + 30, timeout=15)
        expect(page.locator("#bc-state")).to_contain_text("本机摄像头推流中")
        toggle.click()
        expect(page.locator("#bc-local")).to_be_visible()
        expect(toggle).to_have_text("关闭预览")
        # The programme's preview: one button that says what it does now.
        program = page.locator("#bc-preview")
        expect(program).to_have_text("打开直播预览")
        program.click()
        expect(program).to_have_text("关闭直播预览")
        expect(program).to_have_attribute("aria-pressed", "true")
        expect(page.locator("video.program")).to_be_visible()
        program.click()
        expect(program).to_have_text("打开直播预览")
        expect(page.locator("video.program")).to_be_hidden()
        sound = screen.evaluate(SOUND)
        assert sound["muted"] is False and sound["paused"] is False, sound
        assert sound["audio"] == ["live:true"], sound
        expect(screen.locator("#unmute")).to_be_hidden()
        expect(screen.locator("#waiting")).to_be_hidden()
        # ... and tells the wall it does.
        tile = wall_tile(page, 4)
        expect(tile).to_have_attribute("data-screen", "playing", timeout=15_000)
        expect(tile.locator(".f-screen")).to_contain_text("有声音")
        shoot(screen, "screen-playing-zh")
        page.get_by_role("button", name="English").click()
        expect(page.locator("#bc-state .pill")).to_have_text("On air")
        expect(toggle).to_have_text("Close preview")
        expect(program).to_have_text("Open broadcast preview")
        expect(tile.locator(".f-screen")).to_contain_text("sound on")
        shoot(page, "console-camera-live-en")
        page.set_viewport_size({"width": 390, "height": 844})
        page.locator("#p-broadcast").screenshot(
            path=str(ARTIFACTS / "wall-media-console-camera-phone-en.png")
        )
        page.get_by_role("button", name="中文").click()
        page.locator("#p-wall").screenshot(path=str(ARTIFACTS / "wall-media-wall-phone-zh.png"))
        stats = op.call("GET", f"/sessions/{SESSION_ID}/broadcast")
        assert stats["origin_publishing"] is True
        assert stats["relay"]["publishers"][stats["origin"]]["frames_in"]["audio"] > 0


def test_the_camera_preview_button_opens_and_closes_the_preview(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    """打开预览 turns into 关闭预览 once the preview shows; closing it (not on air) lets the
    camera go (its light off), and the button says 打开预览 again; in English too."""
    context, page = new_page(browser)
    login(page, server)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    toggle, preview, note = (
        page.locator("#bc-camera-test"),
        page.locator("#bc-local"),
        page.locator("#bc-camera-msg"),
    )
    expect(toggle).to_have_text("打开预览")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(preview).to_be_visible()
    expect(toggle).to_have_text("关闭预览")
    expect(note).to_contain_text("摄像头：")
    page.locator("#bc-camera-box").screenshot(
        path=str(ARTIFACTS / "wall-media-preview-open-zh.png")
    )
    toggle.click()
    expect(preview).to_be_hidden()
    expect(toggle).to_have_text("打开预览")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    expect(note).to_have_text("")  # released: no camera named any more
    page.get_by_role("button", name="English").click()
    expect(toggle).to_have_text("Open preview")
    toggle.click()
    expect(toggle).to_have_text("Close preview")
    page.locator("#bc-camera-box").screenshot(
        path=str(ARTIFACTS / "wall-media-preview-open-en.png")
    )
    page.set_viewport_size({"width": 390, "height": 844})
    page.locator("#p-broadcast").screenshot(
        path=str(ARTIFACTS / "wall-media-preview-open-phone-en.png")
    )
    page.get_by_role("button", name="中文").click()
    expect(toggle).to_have_text("关闭预览")  # the camera outlives the view: still open
    page.locator("#p-broadcast").screenshot(
        path=str(ARTIFACTS / "wall-media-preview-open-phone-zh.png")
    )
    toggle.click()
    expect(toggle).to_have_text("打开预览")
    assert not context.errors, context.errors  # type: ignore[attr-defined]
    context.close()


def test_a_screen_whose_browser_blocks_sound_offers_one_tap_and_the_room_raises_its_hand(
    server: ServerProcess, world: dict[str, Any], browser: Browser
) -> None:
    op = world["op"]
    names = {s["id"]: s["name"] for s in op.call("GET", "/sites", params={"limit": 100})["items"]}
    with console_and_screen(browser, op, (390, 844)) as (page, screen, screen_ctx):
        # The usual browser rule (headless Chromium here lets every page play sound, even with
        # --autoplay-policy=document-user-activation-required): no sound before a tap.
        screen_ctx.add_init_script(BLOCK_SOUND)
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        page.locator("#bc-start").click()  # the local camera (ticked by default)
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=15_000)
        screen_sign_in(screen, server, world["secrets"][4])
        # (page.evaluate counts as a user gesture: look before evaluating anything)
        expect(screen.locator("#unmute")).to_be_visible(timeout=30_000)
        expect(wall_tile(page, 4)).to_have_attribute("data-screen", "playing", timeout=15_000)
        _wait_frames(screen, 20, timeout=30)  # the picture plays, muted
        assert screen.evaluate(SOUND)["muted"] is True
        expect(wall_tile(page, 4).locator(".f-screen")).to_contain_text("已静音", timeout=15_000)
        shoot(screen, "screen-sound-blocked-phone-zh")
        screen.locator("#unmute").click()
        expect(screen.locator("#unmute")).to_be_hidden()
        assert screen.evaluate(SOUND)["muted"] is False
        expect(wall_tile(page, 4).locator(".f-screen")).to_contain_text("有声音", timeout=15_000)
        # The room raises its hand from the screen; the console sees it and grants it.
        hand = screen.locator("#raise-hand")
        expect(hand).to_have_text("举手发言")
        hand.click()
        expect(hand).to_have_attribute("aria-pressed", "true")
        expect(screen.locator("#hand-note")).to_contain_text("已举手")
        expect(wall_tile(page, 4)).to_have_class(re.compile("hand-up"))
        page.locator('#queue-list .hand-item[data-site-id="4"]').get_by_role("button").click()
        expect(screen.locator(".prompt.floor")).to_contain_text("本课堂正在发言")
        expect(hand).to_be_hidden()
        expect(page.locator("#floor-holder")).to_contain_text(names[4])
        shoot(screen, "screen-has-floor-phone-zh")
        # Another room speaks: the screen names it.
        op.call("POST", f"/sessions/{SESSION_ID}/floor/revoke")
        op.call("POST", f"/sessions/{SESSION_ID}/floor/grant", json={"site_id": 3})
        # site 3 has no agent publishing: the console says the rooms get nothing
        expect(page.locator("#bc-floor-silent")).to_be_visible(timeout=10_000)
        expect(page.locator("#bc-state")).to_contain_text("没有推流")
        expect(screen.locator(".prompt.floor")).to_contain_text(f"{names[3]} 正在发言")
        # ... and so does a trainee's phone.
        phone_ctx, phone = new_page(browser, 390, 844)
        _join(phone, server, "DEMONB0005")
        expect(phone.locator("#floor-text")).to_contain_text(f"{names[3]} 正在发言")
        shoot(phone, "trainee-floor-named-phone-zh")
        assert not phone_ctx.errors, phone_ctx.errors  # type: ignore[attr-defined]
        phone_ctx.close()
        screen.get_by_role("button", name="English").click()
        expect(screen.locator(".prompt.floor")).to_contain_text(f"{names[3]} has the floor")
        expect(hand).to_have_text("Raise hand to speak")
        shoot(screen, "screen-other-floor-phone-en")


def test_a_later_batch_is_shown_an_earlier_sessions_recording_from_its_first_frame(
    browser: Browser, server: ServerProcess, world: dict[str, Any]
) -> None:
    op = world["op"]
    from datetime import UTC, datetime, timedelta

    course_id = op.call("GET", f"/sessions/{SESSION_ID}")["course_id"]
    begins = datetime.now(UTC) - timedelta(minutes=30)
    earlier = op.plan_session(course_id, "第1批 上午 录像源", begins, 60, [1, 4], start=True)["id"]
    with console_and_screen(browser, op) as (page, screen, _screen_ctx):
        login(page, server)
        # The earlier batch: the broadcast (and its recording) starts, the camera comes late.
        page.goto(server.url + f"/operator/#/sessions/{earlier}/live")
        page.locator("#bc-use-camera").uncheck()
        page.locator("#bc-start").click()
        expect(page.locator("#bc-no-publisher")).to_be_visible()
        page.wait_for_timeout(6000)
        page.locator("#bc-publish").click()
        published = time.monotonic()
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=15_000)
        page.wait_for_timeout(3000)
        page.locator("#bc-stop").click()
        expect(page.locator("#bc-state .pill")).to_have_text("未在直播")
        camera_on = time.monotonic() - published
        recordings = op.call("GET", f"/sessions/{earlier}/recordings")["recordings"]
        assert recordings and recordings[-1]["status"] == "done", recordings
        rec = recordings[-1]
        assert rec["duration_s"] < camera_on, (rec, camera_on)  # it starts at the first picture
        op.call("POST", f"/sessions/{earlier}/end")

        # The later batch (session 1): its console offers the earlier session's recording.
        screen_sign_in(screen, server, world["secrets"][4])
        page.goto(server.url + f"/operator/#/sessions/{SESSION_ID}/live")
        page.locator("#bc-source").select_option("recording")
        option = page.locator(f'#bc-rec option[value="{rec["id"]}"]')
        expect(option).to_contain_text("第1批 上午 录像源")
        page.locator("#bc-rec").select_option(str(rec["id"]))
        shoot(page, "console-replay-earlier-session-zh")
        page.locator("#bc-start").click()
        started = time.monotonic()
        _wait_frames(screen, 0, timeout=10)
        first_frame = time.monotonic() - started
        assert first_frame < 4.0, f"first replayed frame after {first_frame:.1f} s"
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=10_000)
        expect(wall_tile(page, 4)).to_have_attribute("data-screen", "playing", timeout=15_000)
        page.get_by_role("button", name="English").click()
        page.locator("#bc-source").select_option("recording")
        expect(option).to_contain_text("第1批 上午 录像源")
        shoot(page, "console-replay-earlier-session-en")
