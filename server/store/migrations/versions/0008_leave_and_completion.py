"""leave (请假), unit contacts, set reading, write-ups, completion settings, certificates

Created 2026-12-06 12:42.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0008"
down_revision = "0007"

TABLES = (
    t.Table(
        "program_settings",
        t.Ref("program_id", "programs", "CASCADE", primary=True),
        t.Col("leave_limit_num", sa.Integer()),
        t.Col("leave_limit_den", sa.Integer()),
        t.Col("min_hours", sa.Float(), nullable=True),
        t.Col("count_self_study", sa.Boolean()),
        t.Col("min_attendance_share", sa.Float(), nullable=True),
        t.Col("quiz_pass_mark", sa.Float(), nullable=True),
        t.Col("writeup_required", sa.Boolean()),
        t.Check("leave_limit", "leave_limit_num > 0 AND leave_limit_den >= leave_limit_num"),
    ),
    t.Table(
        "unit_contacts",
        t.Ref("user_id", "users", "CASCADE", primary=True),
        t.Ref("org_unit_id", "org_units", "CASCADE", primary=True),
    ),
    t.Table(
        "readings",
        t.ID,
        t.Ref("program_id", "programs", "CASCADE", index=True),
        t.Ref("unit_id", "program_units", "CASCADE", nullable=True),
        t.Col("title", sa.String(length=200)),
        t.Col("author", sa.String(length=100)),
        t.Col("link", sa.String(length=500)),
        t.Col("file_name", sa.String(length=200)),
        t.Col("file_type", sa.String(length=100)),
        t.Col("file_key", sa.String(length=64)),
        t.CREATED_AT,
    ),
    t.Table(
        "certificates",
        t.ID,
        t.Col("code", sa.String(length=32), unique=True),
        t.Ref("trainee_id", "trainees", "CASCADE", index=True),
        t.Ref("program_id", "programs", "CASCADE", index=True),
        t.Col("trainee_name", sa.String(length=64)),
        t.Col("program_name", sa.String(length=200)),
        t.Col("hours", sa.Float()),
        t.Col("issued_at", t.UTC_TIME),
        t.Col("issued_by", sa.String(length=100)),
        t.Unique("uq_certificate", "trainee_id", "program_id"),
    ),
    t.Table(
        "leave_requests",
        t.ID,
        t.Ref("trainee_id", "trainees", "CASCADE", index=True),
        t.Ref("program_id", "programs", "CASCADE", index=True),
        t.Col("reason", sa.Text()),
        t.Col("state", sa.String(length=16), index=True),
        t.Col("first_start", t.UTC_TIME),
        t.CREATED_AT,
        t.Col("decided_at", t.UTC_TIME, nullable=True),
        t.Col("decided_by", sa.String(length=100)),
        t.Col("note", sa.Text()),
    ),
    t.Table(
        "writeups",
        t.ID,
        t.Ref("trainee_id", "trainees", "CASCADE", index=True),
        t.Ref("program_id", "programs", "CASCADE", index=True),
        t.Col("text", sa.Text()),
        t.Col("file_name", sa.String(length=200)),
        t.Col("file_type", sa.String(length=100)),
        t.Col("file_size", sa.Integer()),
        t.Col("file_key", sa.String(length=64)),
        t.Col("state", sa.String(length=16)),
        t.Col("comment", sa.Text()),
        t.Col("submitted_at", t.UTC_TIME),
        t.Col("marked_at", t.UTC_TIME, nullable=True),
        t.Col("marked_by", sa.String(length=100)),
        t.Unique("uq_writeup", "trainee_id", "program_id"),
    ),
    t.Table(
        "leave_request_sessions",
        t.Ref("request_id", "leave_requests", "CASCADE", primary=True),
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Index("ix_leave_request_sessions_session", "session_id"),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
