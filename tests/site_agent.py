"""The real classroom agent as the tests run it beside a real server (one home for its set-up)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from classroom_agent.agent import Agent
from classroom_agent.config import AgentConfig

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
