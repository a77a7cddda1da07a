"""``classroom-server backup FILE`` / ``restore FILE``.

SQLite: the online backup API (a consistent copy while the server keeps writing; WAL included).
PostgreSQL: ``pg_dump --format=custom`` and ``pg_restore --clean --if-exists`` (Debian package
postgresql-client, the same major version as the server or newer). The password, if the URL has
one, goes to the tools through PGPASSWORD, never on their command line (``ps`` shows that).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from server.core.errors import InvalidInput
from server.ops.progress import ProgressBar


@dataclass(frozen=True)
class Target:
    kind: str  # "sqlite" or "postgresql"
    url: URL

    @property
    def sqlite_path(self) -> Path:
        return Path(self.url.database or "")


def target(database_url: str) -> Target:
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        if not url.database or url.database == ":memory:":
            raise InvalidInput("backup.no_database", "An in-memory database cannot be backed up.")
        return Target("sqlite", url)
    if backend == "postgresql":
        return Target("postgresql", url)
    raise InvalidInput("backup.unsupported", f"Cannot back up a {backend} database.")


def _pg_args(url: URL) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    args = ["--host", url.host or "127.0.0.1", "--port", str(url.port or 5432)]
    if url.username:
        args += ["--username", url.username]
    return [*args, "--dbname", url.database or "postgres"], env


def _tool(name: str) -> str:
    found = shutil.which(name) or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))[-1:]), None
    )
    if found is None:
        raise InvalidInput(
            "backup.tool_missing",
            f"{name} is not installed (Debian: apt-get install postgresql-client).",
        )
    return found


def _sqlite_copy(source: Path, dest: Path, label: str) -> None:
    with (
        sqlite3.connect(source) as src,
        sqlite3.connect(dest) as dst,
        ProgressBar(label) as bar,
    ):
        src.backup(dst, pages=256, progress=lambda _status, left, total: bar(total - left, total))
    src.close()
    dst.close()


def _check_sqlite_backup(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        conn.close()
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            "backup.not_a_backup", f"{path} is not a SQLite database: {exc}"
        ) from None
    if "alembic_version" not in tables or "users" not in tables:
        raise InvalidInput("backup.not_a_backup", f"{path} is not a backup of this server.")


def backup(database_url: str, dest: Path) -> str:
    where = target(database_url)
    if dest.exists():
        raise InvalidInput("backup.exists", f"{dest} exists; choose a new file name.")
    dest.parent.mkdir(parents=True, exist_ok=True)
    if where.kind == "sqlite":
        if not where.sqlite_path.exists():
            raise InvalidInput("backup.no_database", f"{where.sqlite_path} does not exist.")
        _sqlite_copy(where.sqlite_path, dest, "backup")
    else:
        args, env = _pg_args(where.url)
        cmd = [_tool("pg_dump"), "--format=custom", "--no-owner", "--file", str(dest), *args]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            dest.unlink(missing_ok=True)
            raise InvalidInput("backup.failed", f"pg_dump failed: {done.stderr.strip()[-500:]}")
    dest.chmod(0o600)  # it holds password hashes and personal data
    return f"{where.kind} backup written to {dest} ({dest.stat().st_size} bytes)"


def restore(database_url: str, source: Path) -> str:
    where = target(database_url)
    if not source.is_file():
        raise InvalidInput("restore.missing", f"{source} does not exist.")
    if where.kind == "sqlite":
        _check_sqlite_backup(source)
        where.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, where.sqlite_path, "restore")
    else:
        args, env = _pg_args(where.url)
        cmd = [
            _tool("pg_restore"),
            "--clean",
            "--if-exists",
            "--no-owner",
            "--single-transaction",
            "--exit-on-error",
            *args,
            str(source),
        ]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise InvalidInput("restore.failed", f"pg_restore failed: {done.stderr.strip()[-500:]}")
    return f"{where.kind} database restored from {source}"
