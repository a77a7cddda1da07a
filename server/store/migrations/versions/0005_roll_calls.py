"""roll calls

Created 2026-11-22 19:54.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0005"
down_revision = "0004"

TABLES = (
    t.Table(
        "roll_calls",
        t.ID,
        t.Ref("session_id", "class_sessions", "RESTRICT", index=True),
        t.Col("site_ids", sa.JSON()),
        t.Col("started_at", t.UTC_TIME),
        t.Col("deadline", t.UTC_TIME),
        t.Col("started_by", sa.String(length=100)),
        t.Col("closed", sa.Boolean()),
    ),
    t.Table(
        "roll_call_entries",
        t.ID,
        t.Ref("roll_call_id", "roll_calls", "CASCADE", index=True),
        t.Ref("trainee_id", "trainees", "RESTRICT"),
        t.Ref("site_id", "sites", "RESTRICT"),
        t.Col("status", sa.String(length=16)),
        t.Col("answered_at", t.UTC_TIME, nullable=True),
        t.Col("via", sa.String(length=16)),
        t.Unique("uq_roll_call_entry", "roll_call_id", "trainee_id"),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
