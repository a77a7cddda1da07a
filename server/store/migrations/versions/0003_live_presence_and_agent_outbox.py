"""live presence and agent outbox

Created 2026-11-22 19:18.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0003"
down_revision = "0002"

TABLES = (
    t.Table(
        "agent_outbox_items",
        t.ID,
        t.Ref("site_id", "sites", "CASCADE"),
        t.Col("client_id", sa.String(length=64)),
        t.Col("kind", sa.String(length=32)),
        t.CREATED_AT,
        t.Col("received_at", t.UTC_TIME),
        t.Col("body", sa.JSON()),
        t.Col("result", sa.String(length=64)),
        t.Unique("uq_agent_outbox_site_client", "site_id", "client_id"),
    ),
    t.Table(
        "presence_events",
        t.ID,
        t.Ref("site_id", "sites", "CASCADE"),
        t.Col("state", sa.String(length=16)),
        t.Col("previous", sa.String(length=16)),
        t.Col("reason", sa.String(length=32)),
        t.Col("at", t.UTC_TIME),
        t.Col("node_id", sa.String(length=64)),
        t.Index("ix_presence_events_site_at", "site_id", "at"),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
