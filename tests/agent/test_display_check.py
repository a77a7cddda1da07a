"""An agent asked for a window where no display can be opened says so and exits 2 (a
configuration error: systemd does not restart it, deploy/classroom-agent*.service), instead of
playing the program to SDL's invisible "offscreen" driver."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from classroom_agent.media_window import available


def _agent(tmp_path: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    args = ["--server", "ws://127.0.0.1:9", "--site-secret", "site3.not-a-real-secret"]
    args += ["--display", "window", "--state-dir", str(tmp_path / "state"), "--log-file", "-"]
    return subprocess.run(
        [sys.executable, "-m", "classroom_agent.cli", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_window_without_a_display_is_an_error_with_exit_code_2(tmp_path: Path) -> None:
    hidden = ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER")
    env = {k: v for k, v in os.environ.items() if k not in hidden}
    done = _agent(tmp_path, env)
    assert done.returncode == 2
    assert "display = window, but no display can be opened" in done.stderr
    assert "display = none" in done.stderr  # and what to do about it


def test_a_headless_driver_chosen_on_purpose_is_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    assert available() is None
    monkeypatch.delenv("SDL_VIDEODRIVER")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    problem = available()
    assert problem is not None and "DISPLAY and WAYLAND_DISPLAY are unset" in problem
