"""``classroom-server``: migrate the database, optionally load demo data, serve."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import sys
import uuid
from dataclasses import replace

from aiohttp import web

from server import __version__
from server.config import Config, load_config, settings_help
from server.core.errors import DomainError
from server.logs import configure_logging
from server.ops.cli import add_commands, run_command
from server.ops.db_guard import hold_while_serving
from server.private_files import private_dir
from server.store import db as store_db

log = logging.getLogger("server")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="classroom-server",
        description=(
            "Live-session and hybrid-classroom orchestration server. With no arguments it serves "
            "the embedded default: a SQLite database under ./var/ (created and migrated on first "
            "start) and an in-memory bus, on http://127.0.0.1:8080/."
        ),
        epilog=settings_help()
        + "\n\nPrecedence: command line > environment > --config file > defaults.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config", metavar="FILE", help="TOML file with a [server] table of settings"
    )
    parser.add_argument("--host", help="address to listen on (setting: host)")
    parser.add_argument("--port", type=int, help="port to listen on (setting: port)")
    parser.add_argument("--data-dir", help="data directory (setting: data_dir)")
    parser.add_argument("--database-url", help="database URL (setting: database_url)")
    parser.add_argument("--redis-url", help="Redis URL (setting: redis_url)")
    parser.add_argument(
        "--demo",
        action="store_true",
        default=None,
        help="load demo data into an empty database (setting: demo)",
    )
    parser.add_argument("--migrate-only", action="store_true", help="migrate the database and exit")
    add_commands(parser)
    return parser


def config_from_args(args: argparse.Namespace) -> Config:
    return load_config(
        args.config,
        overrides={
            "host": args.host,
            "port": args.port,
            "data_dir": args.data_dir,
            "database_url": args.database_url,
            "redis_url": args.redis_url,
            "demo": args.demo,
        },
    )


async def prepare(config: Config) -> list[str]:
    """Migrate, and load the demo data when asked and the database is empty.

    Returns lines worth printing (the demo logins) or an empty list.
    """
    await store_db.migrate(config.effective_database_url)
    if not config.demo:
        return []
    from server.store.demo_loader import load_demo

    engine = store_db.create_engine(config.effective_database_url)
    try:
        return await load_demo(
            store_db.session_factory(engine), recordings_dir=config.data_path / "recordings"
        )
    finally:
        await engine.dispose()


# Connections the kernel queues before the server accepts them (capped by net.core.somaxconn).
# aiohttp's default of 128 drops the SYNs of a connect storm (thousands of phones at 9:00, or
# every browser of a lost node): each dropped one waits 1 s, then 3 s, to try again.
LISTEN_BACKLOG = 4096


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = config_from_args(args)
    except DomainError as exc:
        print(f"classroom-server: {exc.message}", file=sys.stderr)
        return 2
    os.umask(0o077)  # every data file (database, logs, recordings, backups) for this user only
    if args.command:
        return run_command(args, config)
    private_dir(config.data_path)
    config = config.ensure_secret_key()
    if not config.node_id:
        config = replace(config, node_id=uuid.uuid4().hex[:8])
    configure_logging(config.log_level, config.log_file)
    try:  # kept open while the process lives: `restore` refuses meanwhile (server/ops/db_guard)
        serving = hold_while_serving(config.effective_database_url)
    except DomainError as exc:
        print(f"classroom-server: {exc.message} ({exc.code})", file=sys.stderr)
        return 1
    try:
        notes = asyncio.run(prepare(config))
    except Exception as exc:  # the operator must see why start-up failed, then we exit
        log.exception("start-up failed")
        print(f"classroom-server: cannot prepare the database: {exc}", file=sys.stderr)
        return 1
    if args.migrate_only:
        print("database is up to date")
        return 0
    from server.web.app import create_app

    app = create_app(config)
    base = f"http://{config.host}:{config.port}"
    banner = [
        f"classroom-server {__version__} listening on {base}/",
        f"  home page:        {base}/",
        f"  API docs:         {base}/api/v1/docs",
        f"  live sockets:     ws://{config.host}:{config.port}/ws/client, /ws/agent",
        f"  database:         {config.effective_database_url.split('@')[-1]}",
        *notes,
    ]
    print("\n".join(banner), flush=True)
    # Everything built so far (modules, registry, metadata) lives as long as the process: move
    # it out of the collector's reach, so full collections scan only what sockets and requests
    # allocate (they took 280-430 ms with 4,000 sockets before; docs/benchmarks.md).
    gc.collect()
    gc.freeze()
    web.run_app(
        app,
        host=config.host,
        port=config.port,
        print=None,
        shutdown_timeout=10,
        backlog=LISTEN_BACKLOG,
        # Our middleware logs requests (server/logs.py silences aiohttp.access); aiohttp's
        # access logger would still parse its format for every connection (~5% of a socket's
        # CPU in a connect storm).
        access_log=None,
    )
    if serving is not None:
        serving.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
