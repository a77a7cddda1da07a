"""live presence and agent outbox

Created 2026-11-22 19:18.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import (
    CREATED_AT,
    ID,
    UTC_TIME,
    Col,
    Index,
    Ref,
    Table,
    Unique,
    create_tables,
    drop_tables,
)

revision = "0003"
down_revision = "0002"

TABLES = (
    Table(
        "agent_outbox_items",
        ID,
        Ref("site_id", "sites", "CASCADE"),
        Col("client_id", sa.String(length=64)),
        Col("kind", sa.String(length=32)),
        CREATED_AT,
        Col("received_at", UTC_TIME),
        Col("body", sa.JSON()),
        Col("result", sa.String(length=64)),
        Unique("uq_agent_outbox_site_client", "site_id", "client_id"),
    ),
    Table(
        "presence_events",
        ID,
        Ref("site_id", "sites", "CASCADE"),
        Col("state", sa.String(length=16)),
        Col("previous", sa.String(length=16)),
        Col("reason", sa.String(length=32)),
        Col("at", UTC_TIME),
        Col("node_id", sa.String(length=64)),
        Index("ix_presence_events_site_at", "site_id", "at"),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
