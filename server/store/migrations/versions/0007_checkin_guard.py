"""check-in guard: wrong-code back-off rows and the session's any_room setting

Created 2026-12-06 09:40.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.migrations import tables as t

revision = "0007"
down_revision = "0006"

TABLES = (
    t.Table(
        "checkin_attempts",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("trainee_id", sa.Integer(), primary=True),
        t.Col("failures", sa.Integer()),
        t.Col("total", sa.Integer()),
        t.Col("window_start", sa.Float()),
        t.Col("last_failure", sa.Float()),
        t.Col("blocked_until", sa.Float()),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)
    with op.batch_alter_table("session_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("any_room", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("session_settings", schema=None) as batch_op:
        batch_op.drop_column("any_room")
    t.drop_tables(TABLES)
