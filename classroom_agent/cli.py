"""``classroom-agent``: the program beside a branch site's projector.

Exit codes: 0 stopped by SIGTERM/SIGINT, 2 configuration error, 3 the server closed with
4002 (agent too old: upgrade it) or 4004 (site id and secret do not match: fix the config).
Under systemd, ``RestartPreventExitStatus=2 3`` keeps such an agent from restarting in a loop.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from typing import Any

from classroom_agent import __version__
from classroom_agent.agent import EXIT_CONFIG, Agent
from classroom_agent.config import SETTINGS, ConfigError, load_config
from classroom_agent.logs import configure_logging, secret_variants

log = logging.getLogger("classroom_agent")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classroom-agent",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        description=(
            "Classroom agent for a branch site: keeps a live connection to the server's\n"
            "/ws/agent, follows the site's live sessions, sends a heartbeat with the site's\n"
            "health every 5 s and queues check-ins, roll-call answers and its own outages on\n"
            "disk until the server has them. Reconnects by itself, with back-off.\n\n"
            "Settings: defaults < TOML file (--config) < environment (CLASSROOM_AGENT_*) <\n"
            "command line. Each option below names its environment variable; in the TOML\n"
            'file use the setting name (e.g. site_secret = "..."), at the top level or\n'
            "in an [agent] table."
        ),
        epilog=(
            "exit codes: 0 stopped (SIGTERM/SIGINT), 2 configuration error, 3 the server\n"
            "closed with 4002 (upgrade the agent) or 4004 (site id and secret do not match)."
        ),
    )
    parser.add_argument("--version", action="version", version=f"classroom-agent {__version__}")
    parser.add_argument("--config", metavar="FILE", help="TOML settings file")
    for setting in SETTINGS:
        kwargs: dict[str, Any] = {
            "dest": setting.name,
            "default": None,
            "metavar": setting.name.upper(),
            "help": f"{setting.help} [env {setting.env}; default {setting.default!r}]",
        }
        if setting.kind in (int, float):
            kwargs["type"] = setting.kind
        if setting.name == "display":
            kwargs["choices"] = ["none", "window"]
            kwargs["metavar"] = None
        parser.add_argument(setting.flag, **kwargs)
    return parser


async def _run(agent: Agent) -> int:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):  # Windows
            loop.add_signal_handler(sig, agent.stop)
    return await agent.run()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {s.name: getattr(args, s.name) for s in SETTINGS}
    try:
        config = load_config(args.config, os.environ, overrides).with_directories(os.environ)
        config = config.checked()
    except ConfigError as exc:
        print(f"classroom-agent: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        configure_logging(config.log_level, config.log_file, secret_variants(config.site_secret))
    except OSError as exc:
        print(f"classroom-agent: cannot open the log file: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    log.info(
        "classroom-agent %s starting for site %d, server %s, state in %s",
        __version__,
        config.site_id,
        config.url,
        config.state_dir,
    )
    try:
        agent = Agent(config)
    except OSError as exc:
        log.error("cannot open the state directory %s: %s", config.state_dir, exc)
        return EXIT_CONFIG
    code = asyncio.run(_run(agent))
    log.info("classroom-agent stopped (exit code %d)", code)
    return code


if __name__ == "__main__":
    raise SystemExit(main())
