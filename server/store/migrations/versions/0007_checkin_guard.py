"""check-in guard: wrong-code back-off rows and the session's any_room setting

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 09:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('checkin_attempts',
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('total', sa.Integer(), nullable=False),
    sa.Column('window_start', sa.Float(), nullable=False),
    sa.Column('last_failure', sa.Float(), nullable=False),
    sa.Column('blocked_until', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_checkin_attempts_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('session_id', 'trainee_id', name=op.f('pk_checkin_attempts'))
    )
    with op.batch_alter_table('session_settings', schema=None) as batch_op:
        batch_op.add_column(sa.Column('any_room', sa.Boolean(), server_default=sa.false(), nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('session_settings', schema=None) as batch_op:
        batch_op.drop_column('any_room')
    op.drop_table('checkin_attempts')
