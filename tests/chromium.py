"""Debian's Chromium as the browser tests launch it: its path and its flags, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from playwright import sync_api as playwright_sync

CHROMIUM = "/usr/bin/chromium"
HEADLESS = ["--no-sandbox", "--headless=new"]
FAKE_MEDIA = ["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
"""Chromium's fake camera and microphone (a test pattern and a beep), granted without a prompt."""
KIOSK_SOUND = "--autoplay-policy=no-user-gesture-required"
"""The kiosk flag a room's screen runs with (README): sound plays without a tap."""
LOCAL_ICE = "--disable-features=WebRtcHideLocalIpsWithMdns"
"""WebRTC offers its 127.0.0.1 candidates as they are, not as mDNS names."""
QUIET = ["--disable-background-networking", "--disable-component-update", "--no-first-run"]
"""No traffic of Chromium's own."""
ROOM = [*HEADLESS, *FAKE_MEDIA, KIOSK_SOUND, LOCAL_ICE]
"""A room's browsers: screens that play sound, consoles that broadcast the fake camera."""


@contextmanager
def chromium(args: list[str] = HEADLESS) -> Iterator[Any]:
    """Chromium launched with these flags, closed afterwards."""
    with playwright_sync.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        try:
            yield browser
        finally:
            browser.close()


def chromium_browser() -> Iterator[Any]:
    """Headless Chromium for a module's tests (wrap it with pytest.fixture)."""
    with chromium() as browser:
        yield browser
