"""The audit reader's day filters follow the configured time zone (like the reports), not a
fixed UTC+8: a deployment on Pago Pago time (UTC-11) and an entry written at 2026-12-06 05:00 UTC,
which is 5 December there (and 6 December in China)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from server.config import Config
from server.store import db as store_db
from server.store.models import AuditEntry
from tests.conftest import ClientFactory, World

AT = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, time_zone="Pacific/Pago_Pago")


async def _total(client: Any, since: str, until: str) -> int:
    r = await client.get(
        "/api/v1/audit", params={"action": "tz_probe", "since": since, "until": until}
    )
    body = await r.json()
    assert r.status == 200, body
    return int(body["total"])


async def test_audit_days_are_the_configured_zone_days(
    client_as: ClientFactory, world: World, config: Config
) -> None:
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        db.add(
            AuditEntry(
                at=AT,
                actor="user:1:admin",
                action="tz_probe",
                entity="x",
                entity_id="1",
                before={"n": 1},
                after={"n": 2},
            )
        )
    await engine.dispose()
    op = await client_as("operator")
    assert await _total(op, "2026-12-05", "2026-12-05") == 1
    assert await _total(op, "2026-12-06", "2026-12-06") == 0
    assert await _total(op, "2026-12-04", "2026-12-04") == 0
