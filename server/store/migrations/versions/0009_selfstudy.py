"""self-study courses, progress and presence checks

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 12:42:54.861295
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from server.store.models import UTCDateTime


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('selfstudy_courses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('class_hours', sa.Float(), nullable=False),
    sa.Column('opens_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('closes_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('presence_check', sa.Boolean(), nullable=False),
    sa.Column('check_min_s', sa.Float(), nullable=False),
    sa.Column('check_max_s', sa.Float(), nullable=False),
    sa.Column('check_answer_s', sa.Float(), nullable=False),
    sa.Column('recording_id', sa.Integer(), nullable=True),
    sa.Column('file_name', sa.String(length=200), nullable=True),
    sa.Column('format', sa.String(length=8), nullable=False),
    sa.Column('bytes', sa.BigInteger(), nullable=False),
    sa.Column('duration_s', sa.Float(), nullable=False),
    sa.Column('org_unit_ids', sa.JSON(), nullable=False),
    sa.Column('created_by', sa.String(length=100), nullable=False),
    sa.Column('created_at', UTCDateTime(timezone=True), nullable=False),
    sa.CheckConstraint('class_hours >= 0', name=op.f('ck_selfstudy_courses_hours_non_negative')),
    sa.CheckConstraint('closes_at > opens_at', name=op.f('ck_selfstudy_courses_window_positive')),
    sa.CheckConstraint('duration_s > 0', name=op.f('ck_selfstudy_courses_duration_positive')),
    sa.ForeignKeyConstraint(['recording_id'], ['recordings.id'], name=op.f('fk_selfstudy_courses_recording_id_recordings'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['unit_id'], ['program_units.id'], name=op.f('fk_selfstudy_courses_unit_id_program_units'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_selfstudy_courses'))
    )
    with op.batch_alter_table('selfstudy_courses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_selfstudy_courses_recording_id'), ['recording_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_selfstudy_courses_unit_id'), ['unit_id'], unique=False)

    op.create_table('selfstudy_checks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('issued_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('deadline', UTCDateTime(timezone=True), nullable=False),
    sa.Column('resolved_at', UTCDateTime(timezone=True), nullable=True),
    sa.Column('result', sa.String(length=16), nullable=False),
    sa.Column('discarded_s', sa.Float(), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['selfstudy_courses.id'], name=op.f('fk_selfstudy_checks_course_id_selfstudy_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_selfstudy_checks_trainee_id_trainees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_selfstudy_checks')),
    sa.UniqueConstraint('course_id', 'trainee_id', 'seq', name='one_per_seq')
    )
    with op.batch_alter_table('selfstudy_checks', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_selfstudy_checks_course_id'), ['course_id'], unique=False)

    op.create_table('selfstudy_progress',
    sa.Column('course_id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.Column('position_s', sa.Float(), nullable=False),
    sa.Column('watched_s', sa.Float(), nullable=False),
    sa.Column('started_at', UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['course_id'], ['selfstudy_courses.id'], name=op.f('fk_selfstudy_progress_course_id_selfstudy_courses'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_selfstudy_progress_trainee_id_trainees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('course_id', 'trainee_id', name=op.f('pk_selfstudy_progress'))
    )
    with op.batch_alter_table('selfstudy_progress', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_selfstudy_progress_trainee_id'), ['trainee_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('selfstudy_progress', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_selfstudy_progress_trainee_id'))

    op.drop_table('selfstudy_progress')
    with op.batch_alter_table('selfstudy_checks', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_selfstudy_checks_course_id'))

    op.drop_table('selfstudy_checks')
    with op.batch_alter_table('selfstudy_courses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_selfstudy_courses_unit_id'))
        batch_op.drop_index(batch_op.f('ix_selfstudy_courses_recording_id'))

    op.drop_table('selfstudy_courses')
