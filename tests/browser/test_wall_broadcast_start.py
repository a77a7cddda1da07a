"""The operator wall as a broadcast starts (the morning's false alarms): a room that is just
starting to receive reads 正在接收 / Connecting on its tile, never 降级 / 画面停顿 / 流异常, and
a room whose agent never lost contact never reads 心跳恢复 (heartbeats back)."""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_operator_console import ARTIFACTS, SESSION_ID, AgentThread, Api, login
from tests.browser.test_wall_media import (  # noqa: F401  (module fixtures)
    browser,
    console_and_screen,
    playwright,
    screen_sign_in,
    server,
    wall_tile,
    world,
)
from tests.server_process import ServerProcess

PAGE_SCREEN, AGENT_SITE, API_SCREEN = 4, 8, 9  # a kiosk page, an agent, a screen by the API

# Every state each watched tile shows, recorded in the page (nothing shown for a moment is lost).
RECORD = """(ids) => {
  window.seenOnTiles = {};
  const snap = () => {
    for (const id of ids) {
      const tile = document.querySelector(`.tile[data-site-id="${id}"]`);
      if (!tile) continue;
      const seen = (window.seenOnTiles[id] ||= []);
      const now = `${tile.dataset.state}|${tile.dataset.screen}|${tile.innerText}`;
      if (seen[seen.length - 1] !== now) seen.push(now);
    }
  };
  snap();
  new MutationObserver(snap).observe(document.querySelector(".wall"),
    { subtree: true, childList: true, characterData: true, attributes: true });
}"""

ALARMS = ("降级", "画面停顿", "流异常", "心跳恢复", "degraded|", "|stalled|")


class Kiosk:
    """A site screen reporting by the API every 2 s what a test sets: nothing attached, the
    programme attached with no picture yet, or playing (50 new frames a report)."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.api = Api(base_url)
        r = self.api.http.post(self.api.base + "/auth/screen", json={"secret": secret}, timeout=10)
        r.raise_for_status()
        self.api.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        self.mode = "idle"
        self.frames = 0
        self.states: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.is_set():
            if self.mode == "playing":
                self.frames += 50
            attached = self.mode != "idle"
            body = {"session_id": SESSION_ID, "attached": attached, "frames": self.frames}
            body.update(paused=self.mode != "playing", sound="on" if attached else "none")
            answer = self.api.call("POST", "/site/screen-status", json=body)
            self.states.append(f"{self.mode}:{answer['state']}")
            self.stop.wait(2.0)

    def __enter__(self) -> Kiosk:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(10)


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 390, "height": 844})
    for site in (AGENT_SITE, API_SCREEN, PAGE_SCREEN):
        wall_tile(page, site).scroll_into_view_if_needed()
    page.locator("#p-wall").screenshot(path=str(ARTIFACTS / f"wall-broadcast-start-{name}.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def test_rooms_starting_to_receive_read_connecting_and_no_alarm_on_the_wall(
    browser: Browser,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    world: dict[str, Any],  # noqa: F811
) -> None:
    op = world["op"]
    assert {PAGE_SCREEN, AGENT_SITE, API_SCREEN} <= set(
        op.call("GET", f"/sessions/{SESSION_ID}")["site_ids"]
    )
    secrets = {s: op.call("POST", f"/sites/{s}/secret")["secret"] for s in (AGENT_SITE, API_SCREEN)}
    with console_and_screen(browser, op) as (page, screen, _screen_ctx), ExitStack() as rooms:
        # The wall is open before the rooms come: each one's arrival is a live change.
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        expect(wall_tile(page, AGENT_SITE)).to_have_attribute("data-state", "offline")
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")  # live events
        agent = rooms.enter_context(AgentThread(server.url, secrets[AGENT_SITE], AGENT_SITE))
        agent.stream = {"state": "none"}  # no broadcast yet: nothing to receive
        kiosk = rooms.enter_context(Kiosk(server.url, secrets[API_SCREEN]))
        screen_sign_in(screen, server, world["secrets"][PAGE_SCREEN])  # its screen waits
        for site in (AGENT_SITE, API_SCREEN, PAGE_SCREEN):
            expect(wall_tile(page, site)).to_have_attribute("data-state", "online", timeout=12_000)
        expect(wall_tile(page, PAGE_SCREEN)).to_have_attribute("data-screen", "idle")
        page.evaluate(RECORD, [AGENT_SITE, API_SCREEN, PAGE_SCREEN])

        page.locator("#bc-start").click()  # the console's camera: the broadcast starts
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=15_000)
        # The agent is connecting (no frame yet: a real agent says "bad" after its own 5 s)...
        agent.stream = {"state": "bad", "fps": 0.0, "bitrate_kbps": 0.0, "freezes_1m": 0}
        # ... and the kiosk has attached the programme, no picture decoded yet.
        kiosk.mode = "attached"
        agent_tile, kiosk_tile = wall_tile(page, AGENT_SITE), wall_tile(page, API_SCREEN)
        expect(agent_tile.locator(".f-stream")).to_have_text("正在接收 · 42 ms", timeout=5000)
        expect(kiosk_tile.locator(".f-screen")).to_have_text("正在接收", timeout=5000)
        for tile in (agent_tile, kiosk_tile):
            expect(tile).to_have_attribute("data-state", "online")
            expect(tile.locator(".pill").first).to_have_text("在线")
            expect(tile.locator(".f-since")).to_contain_text("已连接")
        shoot(page, "zh")
        page.get_by_role("button", name="English").click()
        expect(agent_tile.locator(".f-stream")).to_have_text("Connecting · 42 ms")
        expect(kiosk_tile.locator(".f-screen")).to_have_text("Connecting")
        shoot(page, "en")
        page.get_by_role("button", name="中文").click()

        # The pictures arrive: playing, and still no alarm on any tile.
        agent.stream = {"state": "ok", "fps": 25.0, "bitrate_kbps": 900.0, "freezes_1m": 0}
        kiosk.mode = "playing"
        expect(agent_tile.locator(".f-stream")).to_have_text("正常 · 42 ms", timeout=5000)
        expect(kiosk_tile.locator(".f-screen")).to_contain_text("正在播放", timeout=8000)
        page_tile = wall_tile(page, PAGE_SCREEN)
        expect(page_tile).to_have_attribute("data-screen", "playing", timeout=20_000)
        page.wait_for_timeout(1000)  # a presence change on its way would land by now
        for tile in (agent_tile, kiosk_tile, page_tile):
            expect(tile).to_have_attribute("data-state", "online")
        seen = page.evaluate("window.seenOnTiles")
        for site, states in seen.items():
            alarms = [s for s in states if any(word in s for word in ALARMS)]
            assert not alarms, (site, alarms, kiosk.states)

        # A real fault later on (a poor stream, heartbeats on time) and its end: the tile says
        # the stream came good again, not that heartbeats came back (they never stopped).
        agent.stream = {"state": "bad", "fps": 2.0, "bitrate_kbps": 80.0, "freezes_1m": 6}
        expect(agent_tile).to_have_attribute("data-state", "degraded", timeout=5000)
        expect(agent_tile.locator(".f-since")).to_contain_text("流异常")
        agent.stream = {"state": "ok", "fps": 25.0, "bitrate_kbps": 900.0, "freezes_1m": 0}
        expect(agent_tile).to_have_attribute("data-state", "online", timeout=5000)
        expect(agent_tile.locator(".f-since")).to_contain_text("流恢复正常")
        expect(agent_tile.locator(".f-since")).not_to_contain_text("心跳恢复")

        # Opened again (a reload, another operator's PC): the wall reads the session's history
        # and still says why the room last changed, as the live change said it.
        page.reload()
        expect(agent_tile).to_have_attribute("data-state", "online", timeout=10_000)
        expect(agent_tile.locator(".f-since")).to_contain_text("流恢复正常")
