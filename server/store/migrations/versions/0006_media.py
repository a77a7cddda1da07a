"""recordings of the broadcast program

Created 2026-11-22 22:05.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0006"
down_revision = "0005"

TABLES = (
    t.Table(
        "recordings",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE", index=True),
        t.Col("file_name", sa.String(length=200)),
        t.Col("format", sa.String(length=8)),
        t.Col("status", sa.String(length=16)),
        t.Col("source", sa.String(length=16)),
        t.Col("started_at", t.UTC_TIME),
        t.Col("ended_at", t.UTC_TIME, nullable=True),
        t.Col("bytes", sa.BigInteger()),
        t.Col("duration_s", sa.Float()),
        t.Col("video_frames", sa.Integer()),
        t.Col("switches", sa.JSON()),
        t.Col("started_by", sa.String(length=100)),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
