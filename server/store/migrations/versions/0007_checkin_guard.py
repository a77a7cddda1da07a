"""check-in guard: wrong-code back-off rows and the session's any_room setting

Created 2026-12-06 09:40.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.migrations.tables import Col, Ref, Table, create_tables, drop_tables

revision = "0007"
down_revision = "0006"

TABLES = (
    Table(
        "checkin_attempts",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("trainee_id", sa.Integer(), primary=True),
        Col("failures", sa.Integer()),
        Col("total", sa.Integer()),
        Col("window_start", sa.Float()),
        Col("last_failure", sa.Float()),
        Col("blocked_until", sa.Float()),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)
    with op.batch_alter_table("session_settings", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("any_room", sa.Boolean(), server_default=sa.false(), nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("session_settings", schema=None) as batch_op:
        batch_op.drop_column("any_room")
    drop_tables(TABLES)
