"""``display = window``: the program full screen, through pygame (SDL2), an optional import.

Install it on the site PC with ``pip install pygame``. The picture is shown by :class:`Window`,
the program's sound played by :class:`Speaker` (SDL's default audio output).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from typing import Any

RAISE_HAND_KEY = "h"
"""The key that raises (and lowers) the room's hand for the floor, in the program window."""

HEADLESS_DRIVERS = ("offscreen", "dummy")


def available() -> str | None:
    """``None`` when a window can be shown, else what is missing.

    SDL falls back to its "offscreen" driver when there is no display (no DISPLAY or
    WAYLAND_DISPLAY, as under a system service): the agent would then play the program to
    nobody. That is refused here, unless SDL_VIDEODRIVER names such a driver on purpose (tests).
    """
    try:
        pygame: Any = importlib.import_module("pygame")
    except ImportError:
        return "display = window needs pygame: pip install pygame"
    chosen = os.environ.get("SDL_VIDEODRIVER", "")
    try:
        pygame.display.init()
        driver = str(pygame.display.get_driver())
    except pygame.error as exc:
        driver, error = "", str(exc)
    else:
        error = ""
    finally:
        pygame.display.quit()
    if driver and (driver not in HEADLESS_DRIVERS or driver == chosen):
        return None
    seen = ", ".join(
        f"{name}={os.environ[name]!r}"
        for name in ("DISPLAY", "WAYLAND_DISPLAY")
        if name in os.environ
    )
    return (
        "display = window, but no display can be opened"
        + (f" ({error})" if error else f" (SDL found only its {driver!r} driver)")
        + f"; {seen or 'DISPLAY and WAYLAND_DISPLAY are unset'}. Run the agent in the room"
        " screen's graphical session (deploy/classroom-agent-display.service) or set"
        " display = none (deploy/classroom-agent.service)"
    )


class Window:
    def __init__(self) -> None:
        # SIGTERM/SIGINT stay the agent's (systemd stops it with SIGTERM), not SDL's
        os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
        pygame: Any = importlib.import_module("pygame")
        self._pg = pygame
        pygame.display.init()
        info = pygame.display.Info()
        self._size = (int(info.current_w) or 1280, int(info.current_h) or 720)
        self._screen = pygame.display.set_mode(self._size, pygame.FULLSCREEN)
        pygame.display.set_caption("classroom broadcast")
        self.state = "ok"
        self.on_key: Callable[[str], None] | None = None  # called from the decoding thread
        self.hand_up = False  # a yellow disc in the corner while the room's hand is up

    def show(self, frame: Any) -> None:
        pg = self._pg
        try:
            width, height = self._size
            rgb = frame.reformat(width=width, height=height, format="rgb24")
            plane = rgb.planes[0]
            data = bytes(plane)
            if plane.line_size != width * 3:
                data = b"".join(
                    data[y * plane.line_size : y * plane.line_size + width * 3]
                    for y in range(height)
                )
            self._screen.blit(pg.image.frombuffer(data, (width, height), "RGB"), (0, 0))
            if self.hand_up:
                radius = max(12, height // 24)
                pg.draw.circle(
                    self._screen, (242, 204, 96), (width - 2 * radius, 2 * radius), radius
                )
            pg.display.flip()
            for event in pg.event.get():
                if event.type == pg.KEYDOWN and self.on_key is not None:
                    self.on_key(str(pg.key.name(event.key)))
            self.state = "ok"
        except Exception:
            self.state = "error"
            raise

    def close(self) -> None:
        self._pg.display.quit()
        self.state = "off"


class Speaker:
    """Plays the program's sound: decoded audio frames, resampled to 48 kHz 16-bit stereo, are
    gathered into chunks of ``chunk`` seconds and queued on one mixer channel (the one playing
    plus one waiting: about two chunks of delay; a chunk that finds both taken is dropped, so
    the sound never lags behind the picture)."""

    RATE = 48_000

    def __init__(self, chunk: float = 0.1) -> None:
        os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
        pygame: Any = importlib.import_module("pygame")
        av: Any = importlib.import_module("av")
        self._pg = pygame
        pygame.mixer.init(frequency=self.RATE, size=-16, channels=2)
        self._channel = pygame.mixer.Channel(0)
        self._resampler = av.AudioResampler(format="s16", layout="stereo", rate=self.RATE)
        self._chunk_bytes = int(self.RATE * chunk) * 4
        self._pending = bytearray()
        self.chunks_played = 0
        self.chunks_dropped = 0

    def play(self, frame: Any) -> None:
        for out in self._resampler.resample(frame):
            self._pending += bytes(out.planes[0])[: out.samples * 4]
        while len(self._pending) >= self._chunk_bytes:
            data = bytes(self._pending[: self._chunk_bytes])
            del self._pending[: self._chunk_bytes]
            sound = self._pg.mixer.Sound(buffer=data)
            if not self._channel.get_busy():
                self._channel.play(sound)
            elif self._channel.get_queue() is None:
                self._channel.queue(sound)
            else:
                self.chunks_dropped += 1
                continue
            self.chunks_played += 1

    def close(self) -> None:
        self._pg.mixer.quit()
