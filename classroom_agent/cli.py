"""``classroom-agent``: the program beside a branch site's projector.

Not built yet: the connection loop, heartbeat, outbox and media arrive with the classroom-agent
issue. Today this command only explains itself.
"""

from __future__ import annotations

import argparse


def build_parser() -> argparse.ArgumentParser:
    return argparse.ArgumentParser(
        prog="classroom-agent",
        description=(
            "Classroom agent for a branch site (NOT IMPLEMENTED YET: this is a placeholder until "
            "the classroom-agent issue; it connects to nothing). It will keep a live connection to "
            "the server's /ws/agent, play the broadcast and report the site's health."
        ),
    )


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    parser.parse_args(argv)
    parser.print_help()
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
