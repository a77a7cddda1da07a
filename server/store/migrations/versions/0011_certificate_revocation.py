"""certificate revocation: when, by whom and why a certificate was revoked (撤销)

Created 2026-12-06 19:30.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.migrations import tables as t

revision = "0011"
down_revision = "0010"


def upgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revoked_at", t.UTC_TIME, nullable=True))
        batch_op.add_column(sa.Column("revoked_by", sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column("revoke_reason", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("certificates", schema=None) as batch_op:
        batch_op.drop_column("revoke_reason")
        batch_op.drop_column("revoked_by")
        batch_op.drop_column("revoked_at")
