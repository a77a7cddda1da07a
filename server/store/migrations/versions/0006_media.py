"""recordings of the broadcast program

Created 2026-11-22 22:05.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import ID, UTC_TIME, Col, Ref, Table, create_tables, drop_tables

revision = "0006"
down_revision = "0005"

TABLES = (
    Table(
        "recordings",
        ID,
        Ref("session_id", "class_sessions", "CASCADE", index=True),
        Col("file_name", sa.String(length=200)),
        Col("format", sa.String(length=8)),
        Col("status", sa.String(length=16)),
        Col("source", sa.String(length=16)),
        Col("started_at", UTC_TIME),
        Col("ended_at", UTC_TIME, nullable=True),
        Col("bytes", sa.BigInteger()),
        Col("duration_s", sa.Float()),
        Col("video_frames", sa.Integer()),
        Col("switches", sa.JSON()),
        Col("started_by", sa.String(length=100)),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
