"""``display = window``: the program full screen, through pygame (SDL2), an optional import.

Install it on the site PC with ``pip install pygame``. Video only: the program's audio is not
played by this window yet.
"""

from __future__ import annotations

import importlib
import os
from typing import Any


def available() -> str | None:
    """``None`` when a window can be shown, else what is missing."""
    try:
        importlib.import_module("pygame")
    except ImportError:
        return "display = window needs pygame: pip install pygame"
    return None


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
            pg.display.flip()
            pg.event.pump()
            self.state = "ok"
        except Exception:
            self.state = "error"
            raise

    def close(self) -> None:
        self._pg.display.quit()
        self.state = "off"
