"""leave (请假), unit contacts, set reading, write-ups, completion settings, certificates

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 12:42:15.987570
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import server.store.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('program_settings',
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('leave_limit_num', sa.Integer(), nullable=False),
    sa.Column('leave_limit_den', sa.Integer(), nullable=False),
    sa.Column('min_hours', sa.Float(), nullable=True),
    sa.Column('count_self_study', sa.Boolean(), nullable=False),
    sa.Column('min_attendance_share', sa.Float(), nullable=True),
    sa.Column('quiz_pass_mark', sa.Float(), nullable=True),
    sa.Column('writeup_required', sa.Boolean(), nullable=False),
    sa.CheckConstraint('leave_limit_num > 0 AND leave_limit_den >= leave_limit_num', name=op.f('ck_program_settings_leave_limit')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_settings_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', name=op.f('pk_program_settings'))
    )
    op.create_table('unit_contacts',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('org_unit_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['org_unit_id'], ['org_units.id'], name=op.f('fk_unit_contacts_org_unit_id_org_units'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_unit_contacts_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'org_unit_id', name=op.f('pk_unit_contacts'))
    )
    op.create_table('readings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('author', sa.String(length=100), nullable=False),
    sa.Column('link', sa.String(length=500), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_type', sa.String(length=100), nullable=False),
    sa.Column('file_key', sa.String(length=64), nullable=False),
    sa.Column('created_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_readings_program_id_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['unit_id'], ['program_units.id'], name=op.f('fk_readings_unit_id_program_units'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_readings'))
    )
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_readings_program_id'), ['program_id'], unique=False)

    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('trainee_name', sa.String(length=64), nullable=False),
    sa.Column('program_name', sa.String(length=200), nullable=False),
    sa.Column('hours', sa.Float(), nullable=False),
    sa.Column('issued_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('issued_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_certificates_program_id_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_certificates_trainee_id_trainees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_certificates_code')),
    sa.UniqueConstraint('trainee_id', 'program_id', name='uq_certificate')
    )
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_certificates_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_certificates_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('leave_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('first_start', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('decided_at', server.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('decided_by', sa.String(length=100), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_leave_requests_program_id_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_leave_requests_trainee_id_trainees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_leave_requests'))
    )
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_leave_requests_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_leave_requests_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_leave_requests_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('writeups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('trainee_id', sa.Integer(), nullable=False),
    sa.Column('program_id', sa.Integer(), nullable=False),
    sa.Column('text', sa.Text(), nullable=False),
    sa.Column('file_name', sa.String(length=200), nullable=False),
    sa.Column('file_type', sa.String(length=100), nullable=False),
    sa.Column('file_size', sa.Integer(), nullable=False),
    sa.Column('file_key', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('submitted_at', server.store.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('marked_at', server.store.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('marked_by', sa.String(length=100), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_writeups_program_id_programs'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['trainee_id'], ['trainees.id'], name=op.f('fk_writeups_trainee_id_trainees'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_writeups')),
    sa.UniqueConstraint('trainee_id', 'program_id', name='uq_writeup')
    )
    with op.batch_alter_table('writeups', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_writeups_program_id'), ['program_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_writeups_trainee_id'), ['trainee_id'], unique=False)

    op.create_table('leave_request_sessions',
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('session_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['leave_requests.id'], name=op.f('fk_leave_request_sessions_request_id_leave_requests'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['session_id'], ['class_sessions.id'], name=op.f('fk_leave_request_sessions_session_id_class_sessions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('request_id', 'session_id', name=op.f('pk_leave_request_sessions'))
    )
    with op.batch_alter_table('leave_request_sessions', schema=None) as batch_op:
        batch_op.create_index('ix_leave_request_sessions_session', ['session_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('leave_request_sessions', schema=None) as batch_op:
        batch_op.drop_index('ix_leave_request_sessions_session')

    op.drop_table('leave_request_sessions')
    with op.batch_alter_table('writeups', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_writeups_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_writeups_program_id'))

    op.drop_table('writeups')
    with op.batch_alter_table('leave_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_leave_requests_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_leave_requests_state'))
        batch_op.drop_index(batch_op.f('ix_leave_requests_program_id'))

    op.drop_table('leave_requests')
    with op.batch_alter_table('certificates', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_certificates_trainee_id'))
        batch_op.drop_index(batch_op.f('ix_certificates_program_id'))

    op.drop_table('certificates')
    with op.batch_alter_table('readings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_readings_program_id'))

    op.drop_table('readings')
    op.drop_table('unit_contacts')
    op.drop_table('program_settings')
