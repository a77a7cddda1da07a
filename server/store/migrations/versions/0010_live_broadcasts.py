"""live broadcasts: the owner node's lease and the start request, for takeover

Created 2026-12-06 13:00.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0010"
down_revision = "0009"

TABLES = (
    t.Table(
        "live_broadcasts",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("node_id", sa.String(length=100)),
        t.Col("generation", sa.Integer()),
        t.Col("lease_until", sa.Float()),
        t.Col("request", sa.JSON()),
        t.Col("recording_id", sa.Integer(), nullable=True),
        t.Col("started_at", t.UTC_TIME),
        t.Col("started_by", sa.String(length=100)),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
