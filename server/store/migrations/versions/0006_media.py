"""recordings of the broadcast program

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22 22:05:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.store.models


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('recordings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('started_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('ended_at', server.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('video_frames', sa.Integer(), nullable=False),
    sa.Column('switches', sa.JSON(), nullable=False),
    sa.Column('started_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_recordings_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_recordings'))
    )
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_recordings_session_id'), ['session_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('recordings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_recordings_session_id'))

    op.drop_table('recordings')
