"""What a database's schema is, as plain data: every table's columns (type, nullable, server
default), primary key, foreign keys (with ON DELETE), unique constraints, indexes and checks.

Used by ``test_migrations.py`` to pin what migrations 0001-0011 build. Regenerate the pinned
file only when that is really meant (the old migrations must keep building the same schema):

    .venv/bin/python -m tests.store.schema_dump
"""

from __future__ import annotations

import asyncio
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from server.store import db as store_db
from tests.conftest import create_pg_database

PINNED = Path(__file__).with_name("schema_0011.json")
PINNED_REVISION = "0011"


def _sql(text: object) -> str:
    return re.sub(r"\s+", " ", str(text)).strip()


def _columns(names: list[str]) -> str:
    return "(" + ", ".join(names) + ")"


def _table(conn: Connection, name: str) -> dict[str, list[str]]:
    """One line per column and per constraint or index, e.g.
    ``site_id INTEGER NOT NULL`` or ``fk_x (site_id) -> sites(id) ON DELETE CASCADE``."""
    found = inspect(conn)
    columns = []
    for column in found.get_columns(name):
        line = f"{column['name']} {column['type'].compile(dialect=conn.dialect)}"
        line += "" if column["nullable"] else " NOT NULL"
        if column.get("default") is not None:
            line += f" DEFAULT {_sql(column['default'])}"
        columns.append(line)
    primary = found.get_pk_constraint(name)
    keys = [f"{primary.get('name')} PRIMARY KEY {_columns(primary['constrained_columns'])}"]
    for fk in found.get_foreign_keys(name):
        ondelete = (fk.get("options") or {}).get("ondelete")
        keys.append(
            f"{fk.get('name')} {_columns(fk['constrained_columns'])} -> "
            f"{fk['referred_table']}{_columns(fk['referred_columns'])}"
            + (f" ON DELETE {ondelete}" if ondelete else "")
        )
    for uq in found.get_unique_constraints(name):
        keys.append(f"{uq.get('name')} UNIQUE {_columns(uq['column_names'])}")
    for ck in found.get_check_constraints(name):
        keys.append(f"{ck.get('name')} CHECK ({_sql(ck['sqltext'])})")
    indexes = [
        f"{ix.get('name')}{' UNIQUE' if ix['unique'] else ''} {_columns(ix['column_names'])}"
        for ix in found.get_indexes(name)
    ]
    return {"columns": columns, "constraints": sorted(keys), "indexes": sorted(indexes)}


def schema_of(conn: Connection) -> dict[str, Any]:
    """Every table but ``alembic_version``, by name."""
    names = sorted(set(inspect(conn).get_table_names()) - {"alembic_version"})
    return {name: _table(conn, name) for name in names}


async def migrated_schema(url: str, revision: str) -> dict[str, Any]:
    """Migrate the empty database at ``url`` up to ``revision`` and return its schema."""
    await asyncio.to_thread(command.upgrade, store_db.alembic_config(url), revision)
    engine = store_db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(schema_of)
    finally:
        await engine.dispose()


async def _pin() -> None:
    pinned: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{Path(tmp) / 'store.db'}"
        pinned["sqlite"] = await migrated_schema(url, PINNED_REVISION)
    url, drop = await create_pg_database()
    try:
        pinned["postgresql"] = await migrated_schema(url, PINNED_REVISION)
    finally:
        await drop()
    PINNED.write_text(json.dumps(pinned, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {PINNED}")


if __name__ == "__main__":
    asyncio.run(_pin())
