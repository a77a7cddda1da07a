"""Refuse ``restore`` while a server is using the database (docs/deploy.md, "Operations").

SQLite: every serving process holds a shared ``flock`` on ``<database>.lock`` (its pid written
in it, for the message) for as long as it lives; ``restore`` takes the exclusive lock without
waiting and refuses when it cannot. The kernel drops a lock when its process dies, so a lock
file left by a killed server (its pid gone) never blocks a restore, and a server refuses to
start while a restore holds the lock.

PostgreSQL: the nodes may run on other hosts, so no file can tell; ``restore`` refuses while
``pg_stat_activity`` shows any other session on the target database (a running node keeps its
pool's connections open). A node that connects after that check and before ``pg_restore``
finishes is not caught: stop the nodes first, as the help says.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO

from sqlalchemy import text

from server.core.errors import InvalidInput
from server.ops.backup import target
from server.private_files import private_file
from server.store import db as store_db


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database, None for PostgreSQL or an in-memory database."""
    try:
        where = target(database_url)
    except InvalidInput:
        return None
    if where.kind != "sqlite":
        return None
    return where.sqlite_path.with_name(where.sqlite_path.name + ".lock")


def _open(path: Path) -> IO[str]:
    private_file(path)
    return path.open("r+", encoding="utf-8")


def _lock(
    database_url: str, mode: int, refusal: Callable[[Path, IO[str]], InvalidInput]
) -> IO[str] | None:
    """Take ``mode`` on the lock file without waiting; ``refusal`` says why when it is held."""
    path = lock_path(database_url)
    if path is None:
        return None
    handle = _open(path)
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        error = refusal(path, handle)
        handle.close()
        raise error from None
    return handle


def _restore_running(path: Path, _handle: IO[str]) -> InvalidInput:
    return InvalidInput(
        "serve.restore_running", f"A restore is replacing {path.with_suffix('')}; try again."
    )


def _server_running(path: Path, handle: IO[str]) -> InvalidInput:
    pid = handle.read().strip() or "?"
    return InvalidInput(
        "restore.server_running",
        f"A server is running on {path.with_suffix('')} (pid {pid}): stop every node first.",
    )


def hold_while_serving(database_url: str) -> IO[str] | None:
    """Called by the serving process; keep the returned file open until the process ends."""
    handle = _lock(database_url, fcntl.LOCK_SH, _restore_running)
    if handle is None:
        return None
    handle.truncate(0)
    handle.write(f"{os.getpid()}\n")
    handle.flush()
    return handle


def hold_for_restore(database_url: str) -> IO[str] | None:
    """The exclusive lock for ``restore`` (SQLite); refuses while a server holds its lock."""
    return _lock(database_url, fcntl.LOCK_EX, _server_running)


async def refuse_other_sessions(database_url: str) -> None:
    """PostgreSQL: refuse while other sessions use the target database."""
    where = target(database_url)
    if where.kind != "postgresql":
        return
    engine = store_db.create_engine(database_url, pool_size=1)
    try:
        async with engine.connect() as conn:
            found = await conn.execute(
                text(
                    "SELECT client_addr::text FROM pg_stat_activity"
                    " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            )
            others = [row[0] for row in found]
    finally:
        await engine.dispose()
    if others:
        who = sorted({addr or "local socket" for addr in others})
        raise InvalidInput(
            "restore.server_running",
            f"{len(others)} other connection(s) to database {where.url.database}"
            f" (from {', '.join(who)}): stop every node first.",
        )
