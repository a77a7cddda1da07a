"""The real classroom agent as the tests run it beside a real server (one home for its set-up)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig

ROOT = Path(__file__).resolve().parents[1]

QUICK: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "backoff_base": 0.05,
    "backoff_cap": 0.3,
    "outbox_resend": 0.5,
}
"""Timings that keep a test short: heartbeats, reconnects and outbox resends within a second."""


def site_agent(url: str, secret: str, site_id: int, state_dir: Path, **settings: Any) -> Agent:
    """An agent for site ``site_id`` with the QUICK timings; ``settings`` override any setting."""
    return Agent(
        AgentConfig(
            server=url,
            site_secret=secret,
            site_id=site_id,
            state_dir=str(state_dir),
            **{**QUICK, **settings},
        )
    )


def agent_process(
    url: str, secret: str, state_dir: Path, source: str = "testpattern"
) -> subprocess.Popen[bytes]:
    """The agent's command line (``classroom_agent.cli``) run as a process of its own for the
    site of ``secret``: ``source`` as its camera, a 160x120 return feed at 5 fps, media on
    loopback, heartbeats and reconnects within a second; its log in ``state_dir/agent.log``,
    its output discarded. The caller stops it."""
    env = {**os.environ, "CLASSROOM_AGENT_SITE_SECRET": secret, "PYTHONPATH": str(ROOT)}
    # fmt: off
    command = [
        sys.executable, "-m", "classroom_agent.cli",
        "--server", url, "--state-dir", str(state_dir),
        "--log-file", str(state_dir / "agent.log"),
        "--source", source, "--return-size", "160x120", "--return-fps", "5",
        "--media-bind", "127.0.0.1", "--heartbeat-interval", "1", "--backoff-cap", "1",
    ]
    # fmt: on
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
