"""The room asks for the floor from the agent's program window: the H key raises the site's
hand (``POST /api/v1/sessions/{id}/floor/raise`` with the site secret) for the session being
broadcast to it, and lowers it again; the window shows a yellow disc while the hand is up."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp

from classroom_agent.media_window import RAISE_HAND_KEY
from classroom_agent.protocol import http_base
from server.media.tasks import Background

log = logging.getLogger("classroom_agent.hand")

TIMEOUT = 10.0


class RaiseHand:
    def __init__(self, server: str, secret: str, media: Any) -> None:
        self.base = http_base(server)
        self.secret = secret
        self.media = media  # classroom_agent.media.MediaClient: its window and live sessions
        self.results: list[tuple[int, str, int]] = []  # (session, raise|lower, HTTP status)
        self._background = Background(log, "raise hand")

    def attach(self) -> None:
        """Listen to the window's keys (they arrive on the decoding thread)."""
        window = self.media.window
        if window is None:
            return
        loop = asyncio.get_running_loop()
        window.on_key = lambda name: loop.call_soon_threadsafe(self.pressed, name)

    def pressed(self, name: str) -> None:
        if name != RAISE_HAND_KEY:
            return
        sessions = sorted(self.media.sessions)
        if not sessions:
            log.info("the raise-hand key was pressed, but no session is broadcast here")
            return
        up = not self.media.window.hand_up
        for session_id in sessions:
            self._background.spawn(self.send(session_id, up))

    async def send(self, session_id: int, up: bool) -> None:
        action = "raise" if up else "lower"
        url = f"{self.base}/api/v1/sessions/{session_id}/floor/{action}"
        headers = {"Authorization": f"Bearer {self.secret}"}
        try:
            async with (
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=TIMEOUT)) as http,
                http.post(url, headers=headers) as r,
            ):
                status, text = r.status, await r.text()
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("could not %s the hand for session %d: %s", action, session_id, exc)
            return
        self.results.append((session_id, action, status))
        if status < 300:
            self.media.window.hand_up = up
            log.info("hand %s for session %d", "raised" if up else "lowered", session_id)
        else:
            log.warning("the server refused to %s the hand: %d %s", action, status, text[:300])

    def cancel(self) -> None:
        self._background.cancel()
