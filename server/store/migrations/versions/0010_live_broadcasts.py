"""live broadcasts: the owner node's lease and the start request, for takeover

Created 2026-12-06 13:00.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import UTC_TIME, Col, Ref, Table, create_tables, drop_tables

revision = "0010"
down_revision = "0009"

TABLES = (
    Table(
        "live_broadcasts",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("node_id", sa.String(length=100)),
        Col("generation", sa.Integer()),
        Col("lease_until", sa.Float()),
        Col("request", sa.JSON()),
        Col("recording_id", sa.Integer(), nullable=True),
        Col("started_at", UTC_TIME),
        Col("started_by", sa.String(length=100)),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
