"""A real headless Chromium as the operator (web_client/shared/media.js publishCamera, fake
camera) and as a site's screen (viewProgram), through the real server's forwarding relay:
frames are decoded in the pages (getStats framesDecoded growing). The operator's wall tile of a
site (viewSite) shows that site's return feed, sent by a real classroom agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from classroom_agent.agent import Agent
from server.config import Config
from server.media import forward
from server.web.app import create_app
from server.web.keys import MEDIA
from tests.chromium import CHROMIUM, QUIET, ROOM
from tests.conftest import World
from tests.media.test_broadcast_e2e import agent_config
from tests.web.live_helpers import wait_for

HERE = Path(__file__).resolve().parent
ARGS = [*ROOM, *QUIET, "--disable-sync"]


@pytest.fixture
def config(config: Config) -> Config:
    """The shared test configuration (tests/conftest.py) with media on loopback, not recorded."""
    return replace(config, media_bind_addresses=["127.0.0.1"], media_record=False)


@pytest.fixture
async def server(aiohttp_server: Any, config: Config, world: World) -> AsyncIterator[Any]:
    app = create_app(config)
    app.router.add_static("/test-media/", HERE / "browser")
    yield await aiohttp_server(app)
    forward.set_host_addresses(None)


async def frames(page: Any, name: str) -> int:
    stats = await page.evaluate(f"window.mediaTest.stats({name!r})")
    return int((stats or {}).get("framesDecoded") or 0)


async def grows(page: Any, name: str, by: int, timeout: float) -> int:
    start = await frames(page, name)
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        now = await frames(page, name)
        if now >= start + by:
            return now
        await asyncio.sleep(0.2)
    stats = await page.evaluate(f"window.mediaTest.stats({name!r})")
    raise AssertionError(f"{name}: frames decoded did not grow by {by} in {timeout} s: {stats}")


async def media_page(context: Any, base: str) -> Any:
    """A page of ``context`` on the media test page, once its live socket is open."""
    page = await context.new_page()
    await page.goto(base + "/test-media/page.html")
    await page.wait_for_function(
        "() => window.mediaTest && window.mediaTest.socketState() === 'open'"
    )
    return page


async def test_chromium_publishes_and_views_through_the_relay(
    server: Any, world: World, tmp_path: Path
) -> None:
    from playwright.async_api import async_playwright

    base = f"http://{server.host}:{server.port}"
    sid = world.session_id
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            operator = await browser.new_context()
            login = await operator.request.post(
                base + "/api/v1/auth/login",
                data={"username": "operator", "password": world.passwords["operator"]},
            )
            assert login.ok, await login.text()
            csrf = {"X-CSRF-Token": (await login.json())["csrf_token"]}
            started = await operator.request.post(
                base + f"/api/v1/sessions/{sid}/start", headers=csrf
            )
            assert started.ok, await started.text()
            on_air = await operator.request.post(
                base + f"/api/v1/sessions/{sid}/broadcast/start",
                data={"source": "main"},
                headers=csrf,
            )
            assert on_air.ok, await on_air.text()

            op_page = await media_page(operator, base)
            assert await op_page.evaluate(f"window.mediaTest.publish({sid})")

            screen = await browser.new_context()
            signed = await screen.request.post(
                base + "/api/v1/auth/screen", data={"secret": world.site_secret}
            )
            assert signed.ok, await signed.text()
            screen_page = await media_page(screen, base)
            assert await screen_page.evaluate(f"window.mediaTest.view({sid})")
            # the site's screen decodes the operator's camera, continuously
            await grows(screen_page, "view", 30, timeout=20)
            await grows(screen_page, "view", 20, timeout=3)
            stats = await screen_page.evaluate("window.mediaTest.stats('view')")
            # the fake camera's 640x480 (Chromium may scale it down when its CPU is short)
            width, height = stats["frameWidth"], stats["frameHeight"]
            assert width * 3 == height * 4 and 320 <= width <= 640, (width, height)
            relay = server.app[MEDIA].live[sid].relay.stats()
            assert relay["publishers"]["main"]["frames_in"]["video"] > 30
            # through the fast path (server.media.fastpath), and what came was decodable: the
            # decoder kept up with what was received (a corrupt frame is not decoded)
            screens = [
                sub["video"]["fast"]
                for sub in relay["subscribers"].values()
                if "video" in sub and "fast" in sub["video"]
            ]
            assert screens and all(f["frames_sent"] > 30 for f in screens), relay
            # ... in the main classroom's fan-out: one call per frame for every steady viewer
            assert all(
                sub["video"]["in_fan_out"]
                for sub in relay["subscribers"].values()
                if "video" in sub and "fast" in sub["video"]
            ), relay
            assert relay["publishers"]["main"]["fan_out"].get("video", 0) >= len(screens)
            assert stats["framesDecoded"] >= 0.95 * stats["framesReceived"] - 2, stats

            # the operator's wall: a tile with the site's return feed, from its real agent
            agent = Agent(
                agent_config(
                    base,
                    (world.site_id, world.site_secret),
                    tmp_path / "site",
                    "testpattern",
                )
            )
            run = asyncio.create_task(agent.run())
            peer = f"site:{world.site_id}"
            await wait_for(
                lambda: server.app[MEDIA].live[sid].relay.has_publisher(peer), timeout=15
            )
            assert await op_page.evaluate(f"window.mediaTest.tile({sid}, {world.site_id})")
            await grows(op_page, "tile", 20, timeout=20)
            tile = await op_page.evaluate("window.mediaTest.stats('tile')")
            assert (tile["frameWidth"], tile["frameHeight"]) == (160, 120)
            # closing the tile ends its subscriber on the server: it costs nothing any more
            subscribers = server.app[MEDIA].live[sid].relay.stats()["subscribers"]
            tiles = [p for p in subscribers if p.startswith("web:") and "site" in p]
            assert len(tiles) == 1
            await op_page.evaluate("window.mediaTest.close('tile')")
            await wait_for(
                lambda: (
                    not any(
                        p.startswith("web:") and "site" in p
                        for p in server.app[MEDIA].live[sid].relay.stats()["subscribers"]
                    )
                ),
                timeout=5,
            )
            agent.stop()
            await asyncio.wait_for(run, 15)
        finally:
            await browser.close()
