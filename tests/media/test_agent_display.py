"""``display = window``: the agent decodes the program and shows it (pygame, SDL's dummy video
driver here: no screen on the test machine)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import av
import pytest

from classroom_agent.agent import Agent
from server.config import Config
from tests.conftest import ClientFactory, World
from tests.media.test_broadcast_e2e import agent_config, grows, live_session, received


@pytest.fixture(autouse=True)
def _dummy_video(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")


@pytest.fixture
def config(config: Config) -> Config:
    """The shared test configuration (tests/conftest.py) with media on loopback, not recorded."""
    return replace(config, media_bind_addresses=["127.0.0.1"], media_record=False)


def test_window_shows_a_frame_scaled_to_the_screen() -> None:
    from classroom_agent.media_window import Window

    window = Window()
    frame = av.VideoFrame(320, 240, "yuv420p")
    luma = bytes([235]) * frame.planes[0].buffer_size  # white
    frame.planes[0].update(luma)
    for plane in frame.planes[1:]:
        plane.update(bytes([128]) * plane.buffer_size)
    window.show(frame)
    assert window.state == "ok"
    w, h = window._size
    assert tuple(window._screen.get_at((w // 2, h // 2)))[:3] >= (250, 250, 250)
    window.close()
    assert window.state == "off"


def test_speaker_plays_sound_and_never_lags_behind() -> None:
    from classroom_agent.media_window import Speaker

    speaker = Speaker(chunk=0.1)
    with av.open("sine=frequency=1000:sample_rate=48000:duration=1", format="lavfi") as tone:
        for frame in tone.decode(audio=0):
            speaker.play(frame)
    # one second arrived at once: one chunk plays, one waits, the rest would only add delay
    assert (speaker.chunks_played, speaker.chunks_dropped) == (2, 8)
    speaker.close()


@contextlib.asynccontextmanager
async def _broadcast_to_a_window(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> AsyncIterator[tuple[Any, int, dict[str, Any], Agent]]:
    """A live session whose main room's agent sends its test pattern and whose site A's agent
    shows the program in a window, the broadcast started: (operator client, session id, sites,
    site A's agent). Both agents are stopped and awaited on leaving."""
    op, url, sid, sites = await live_session(client_as, world, config, ["A"])
    main = Agent(agent_config(url, sites["main"], tmp_path / "main", "testpattern"))
    site = Agent(replace(agent_config(url, sites["A"], tmp_path / "A", "none"), display="window"))
    assert site.health().display_state == "ok"  # the window is up before any connection
    runs = [asyncio.create_task(main.run()), asyncio.create_task(site.run())]
    try:
        r = await op.post(f"/api/v1/sessions/{sid}/broadcast/start", json={"source": "main"})
        assert r.status == 200, await r.text()
        yield op, sid, sites, site
    finally:
        for agent in (main, site):
            agent.stop()
        await asyncio.wait_for(asyncio.gather(*runs), 15)


async def test_agent_with_a_window_decodes_and_shows_the_program(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    async with _broadcast_to_a_window(client_as, world, config, tmp_path) as (_, sid, _, site):
        await grows(lambda: received(site, sid), 30, timeout=20)
        await asyncio.sleep(1.2)
        health = site.health()
        assert health.display_state == "ok" and health.stream.state == "ok"
        assert (health.stream.fps or 0) >= 8
        # the test pattern's clock digits are white: the decoded picture on screen has them
        screen = site.media.window._screen
        w, h = site.media.window._size
        brightest = max(
            screen.get_at((x, y)).r for x in range(0, w, 4) for y in range(0, h // 4, 4)
        )
        assert brightest > 200
        # the test pattern's tone is played: chunks went to the speaker at the pace they came
        speaker = site.media.speaker
        assert speaker.chunks_played >= 5 and speaker.chunks_dropped <= speaker.chunks_played // 4


async def test_the_h_key_in_the_window_raises_the_rooms_hand_and_lowers_it(
    client_as: ClientFactory, world: World, config: Config, tmp_path: Path
) -> None:
    import pygame

    async with _broadcast_to_a_window(client_as, world, config, tmp_path) as (op, sid, sites, site):
        await grows(lambda: received(site, sid), 10, timeout=20)
        window = site.media.window

        async def floor_requests() -> list[int]:
            floor = await (await op.get(f"/api/v1/sessions/{sid}/floor")).json()
            return [q["site_id"] for q in floor["requests"]]

        async def press(key: int) -> None:
            pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=key))
            for _ in range(100):  # bounded: read with the next frames shown
                await asyncio.sleep(0.05)
                if not pygame.event.peek(pygame.KEYDOWN):
                    break

        await press(pygame.K_x)  # another key: nothing
        await asyncio.sleep(0.3)
        assert await floor_requests() == [] and site.hand.results == []
        await press(pygame.K_h)
        await wait_until(lambda: window.hand_up)
        assert await floor_requests() == [sites["A"][0]]
        assert site.hand.results == [(sid, "raise", 200)]
        await grows(lambda: received(site, sid), 5, timeout=10)  # shown on the next frames
        w, h = window._size
        radius = max(12, h // 24)
        assert tuple(window._screen.get_at((w - 2 * radius, 2 * radius)))[:3] == (242, 204, 96)
        await press(pygame.K_h)  # again: the hand goes down
        await wait_until(lambda: not window.hand_up)
        assert await floor_requests() == []


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.05)
