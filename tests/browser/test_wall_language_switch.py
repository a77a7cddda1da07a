"""The operator wall across the language switch and a reload: the tiles keep what they know.
Switching "English" / "中文" mid-session redraws the texts from the facts the page holds (no
moment of — for a known headcount, of 离线 / Offline for the main classroom this console
broadcasts from, of a wall without its rooms); a reload shows no wrong fact either (— only while
a count is really unknown, before the first answer)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect

from tests.browser.test_operator_console import ARTIFACTS, SESSION_ID, AgentThread, login
from tests.browser.test_wall_media import (  # noqa: F401  (module fixtures)
    browser,
    console_and_screen,
    playwright,
    server,
    wall_tile,
    world,
)
from tests.server_process import ServerProcess

MAIN, AGENT_SITE, QUIET_SITE = 1, 2, 5  # the main classroom, a room with an agent, one without
WATCHED = (MAIN, AGENT_SITE, QUIET_SITE)
COUNT = re.compile(r"^\d+ / \d+$")

# Every state each watched tile shows, recorded in the page from the document down (the wall
# itself may be replaced): "state|headcount|pills|heartbeat", or "absent" while the tile is not
# there.
RECORD = """(ids) => {
  window.seenOnTiles = {};
  const snap = () => {
    for (const id of ids) {
      const tile = document.querySelector(`.tile[data-site-id="${id}"]`);
      const count = tile && tile.querySelector(".f-headcount");
      const pills = tile && tile.querySelector(".tile-state");
      const beat = tile && tile.querySelector(".f-beat");
      const now = tile
        ? `${tile.dataset.state}|${count.textContent}|${pills.textContent}|${beat.textContent}`
        : "absent";
      const seen = (window.seenOnTiles[id] ||= []);
      if (seen[seen.length - 1] !== now) seen.push(now);
    }
  };
  const start = () => {
    snap();
    new MutationObserver(snap).observe(document,
      { subtree: true, childList: true, characterData: true, attributes: true });
  };
  start();
}"""


def seen_on_tiles(page: Page) -> dict[int, list[str]]:
    return {int(k): v for k, v in page.evaluate("window.seenOnTiles").items()}


def wrong_facts(site: int, states: list[str], main_live: bool = True) -> list[str]:
    """What a tile showed that was not so: no tile, — for a known count, the main classroom
    not live (while the console broadcasts from it), the agent's room not online or its
    heartbeat "never"."""
    wrong = []
    for shown in states:
        if shown == "absent":
            wrong.append(shown)
            continue
        state, count, pills, beat = shown.split("|")
        main_off = state != "publishing" or "离线" in pills or "Offline" in pills
        if (
            not COUNT.match(count)
            or (site == MAIN and main_live and main_off)
            or (site == AGENT_SITE and (state != "online" or beat in ("从未", "never")))
        ):
            wrong.append(shown)
    return wrong


def shoot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_viewport_size({"width": 1366, "height": 768})
    page.locator("#p-wall").scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"wall-language-{name}-desktop.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    wall_tile(page, MAIN).scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / f"wall-language-{name}-phone.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})


def switch(page: Page, to: str, live: str) -> None:
    """Click the language button and check every watched tile showed only what was so."""
    page.evaluate(RECORD, list(WATCHED))
    page.get_by_role("button", name=to).click()
    expect(wall_tile(page, MAIN).locator(".pill").first).to_have_text(live)
    # the new view's reloads (120 ms after it opens) land within this second
    page.wait_for_timeout(1000)
    for site, states in seen_on_tiles(page).items():
        assert not wrong_facts(site, states), (to, site, states)


def test_the_language_switch_and_a_reload_never_show_a_wrong_fact_on_the_wall(
    browser: Browser,  # noqa: F811
    server: ServerProcess,  # noqa: F811
    world: dict[str, Any],  # noqa: F811
) -> None:
    op = world["op"]
    with (
        console_and_screen(browser, op) as (page, _screen, _screen_ctx),
        AgentThread(server.url, world["secrets"][AGENT_SITE], AGENT_SITE),
    ):
        login(page, server)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        expect(page.locator("#conn")).to_have_attribute("data-state", "open")
        page.locator("#bc-start").click()  # the console's camera is the main classroom's
        expect(page.locator("#bc-state .pill")).to_have_text("直播中", timeout=15_000)
        main = wall_tile(page, MAIN)
        expect(main).to_have_attribute("data-state", "publishing", timeout=10_000)
        expect(main.locator(".pill").first).to_have_text("直播中（控制台推流）")
        expect(wall_tile(page, AGENT_SITE)).to_have_attribute("data-state", "online")
        for site in WATCHED:
            expect(wall_tile(page, site).locator(".f-headcount")).to_have_text(COUNT)

        switch(page, "English", "Live (console camera)")
        expect(page.locator("#p-wall h2")).to_have_text("Site wall")
        expect(wall_tile(page, QUIET_SITE).locator(".pill").first).to_have_text("Offline")
        shoot(page, "en")
        switch(page, "中文", "直播中（控制台推流）")
        expect(wall_tile(page, QUIET_SITE).locator(".pill").first).to_have_text("离线")
        shoot(page, "zh")

        # A reload: recorded from the page's first moment. Before the first answers a tile may
        # say it does not know yet (— for a count); once known, never a wrong fact again. (The
        # reload ends this page's camera publication: the main classroom really goes off air.)
        page.add_init_script(
            "document.addEventListener('DOMContentLoaded', () => ("
            + RECORD
            + f")({list(WATCHED)}))"
        )
        page.reload()
        expect(wall_tile(page, AGENT_SITE)).to_have_attribute("data-state", "online")
        for site in WATCHED:
            expect(wall_tile(page, site).locator(".f-headcount")).to_have_text(COUNT)
        page.wait_for_timeout(1000)
        for site, states in seen_on_tiles(page).items():
            shown = [s for s in states if s != "absent"]
            assert states[-len(shown) :] == shown, (site, states)  # no tile went away once shown
            while shown and not COUNT.match(shown[0].split("|")[1]):
                state, _count, _pills, beat = shown.pop(0).split("|")
                assert site != AGENT_SITE or state in ("unknown", "online"), (site, states)
                assert site != AGENT_SITE or beat != "从未", (site, states)  # — before it is known
            assert not wrong_facts(site, shown, main_live=False), (site, states)
