"""roll calls

Created 2026-11-22 19:54.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import (
    ID,
    UTC_TIME,
    Col,
    Ref,
    Table,
    Unique,
    create_tables,
    drop_tables,
)

revision = "0005"
down_revision = "0004"

TABLES = (
    Table(
        "roll_calls",
        ID,
        Ref("session_id", "class_sessions", "RESTRICT", index=True),
        Col("site_ids", sa.JSON()),
        Col("started_at", UTC_TIME),
        Col("deadline", UTC_TIME),
        Col("started_by", sa.String(length=100)),
        Col("closed", sa.Boolean()),
    ),
    Table(
        "roll_call_entries",
        ID,
        Ref("roll_call_id", "roll_calls", "CASCADE", index=True),
        Ref("trainee_id", "trainees", "RESTRICT"),
        Ref("site_id", "sites", "RESTRICT"),
        Col("status", sa.String(length=16)),
        Col("answered_at", UTC_TIME, nullable=True),
        Col("via", sa.String(length=16)),
        Unique("uq_roll_call_entry", "roll_call_id", "trainee_id"),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
