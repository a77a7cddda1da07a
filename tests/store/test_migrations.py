"""The migrations against the models, on a fresh SQLite file and a fresh PostgreSQL database.

* After ``upgrade head`` Alembic's autogenerate comparison finds nothing to change: the models'
  metadata and the schema the migrations build are the same (types, nullability, server
  defaults, keys, indexes, unique constraints).
* Migrations 0001-0011 build exactly the schema pinned in ``schema_0011.json`` (see
  ``schema_dump.py``): rewriting an old migration must not change what it builds.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from server.store import db as store_db
from server.store.models import Base
from tests.conftest import create_pg_database
from tests.store.schema_dump import PINNED, PINNED_REVISION, migrated_schema


@pytest.fixture(params=["sqlite", "postgresql"])
async def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """An empty database of each backend (no migration run yet)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        return
    url, drop = await create_pg_database()
    try:
        yield url
    finally:
        await drop()


def _differences(conn: Connection) -> list[Any]:
    context = MigrationContext.configure(
        conn, opts={"compare_type": True, "compare_server_default": True}
    )
    return list(compare_metadata(context, Base.metadata))


async def test_migrations_build_the_models_schema(empty_url: str) -> None:
    await store_db.migrate(empty_url)
    engine = store_db.create_engine(empty_url)
    try:
        async with engine.connect() as conn:
            differences = await conn.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == [], "\n".join(map(str, differences))


async def test_old_migrations_build_the_pinned_schema(empty_url: str) -> None:
    pinned = json.loads(PINNED.read_text(encoding="utf-8"))
    built = await migrated_schema(empty_url, PINNED_REVISION)
    dialect = "sqlite" if empty_url.startswith("sqlite") else "postgresql"
    assert len(built) == len(pinned[dialect]) == 50
    for table, expected in pinned[dialect].items():
        assert built[table] == expected, table
