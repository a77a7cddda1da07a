"""live broadcasts: the owner node's lease and the start request, for takeover

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 13:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.store.models

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('live_broadcasts',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('node_id', sa.String(length=100), nullable=False),
    sa.Column('generation', sa.Integer(), nullable=False),
    sa.Column('lease_until', sa.Float(), nullable=False),
    sa.Column('request', sa.JSON(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('started_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_live_broadcasts_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', name=op.f('pk_live_broadcasts'))
    )


def downgrade() -> None:
    op.drop_table('live_broadcasts')
