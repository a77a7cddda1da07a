"""leave (请假), unit contacts, set reading, write-ups, completion settings, certificates

Created 2026-12-06 12:42.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import (
    CREATED_AT,
    ID,
    UTC_TIME,
    Check,
    Col,
    Index,
    Ref,
    Table,
    Unique,
    create_tables,
    drop_tables,
)

revision = "0008"
down_revision = "0007"

TABLES = (
    Table(
        "program_settings",
        Ref("program_id", "programs", "CASCADE", primary=True),
        Col("leave_limit_num", sa.Integer()),
        Col("leave_limit_den", sa.Integer()),
        Col("min_hours", sa.Float(), nullable=True),
        Col("count_self_study", sa.Boolean()),
        Col("min_attendance_share", sa.Float(), nullable=True),
        Col("quiz_pass_mark", sa.Float(), nullable=True),
        Col("writeup_required", sa.Boolean()),
        Check("leave_limit", "leave_limit_num > 0 AND leave_limit_den >= leave_limit_num"),
    ),
    Table(
        "unit_contacts",
        Ref("user_id", "users", "CASCADE", primary=True),
        Ref("org_unit_id", "org_units", "CASCADE", primary=True),
    ),
    Table(
        "readings",
        ID,
        Ref("program_id", "programs", "CASCADE", index=True),
        Ref("unit_id", "program_units", "CASCADE", nullable=True),
        Col("title", sa.String(length=200)),
        Col("author", sa.String(length=100)),
        Col("link", sa.String(length=500)),
        Col("file_name", sa.String(length=200)),
        Col("file_type", sa.String(length=100)),
        Col("file_key", sa.String(length=64)),
        CREATED_AT,
    ),
    Table(
        "certificates",
        ID,
        Col("code", sa.String(length=32), unique=True),
        Ref("trainee_id", "trainees", "CASCADE", index=True),
        Ref("program_id", "programs", "CASCADE", index=True),
        Col("trainee_name", sa.String(length=64)),
        Col("program_name", sa.String(length=200)),
        Col("hours", sa.Float()),
        Col("issued_at", UTC_TIME),
        Col("issued_by", sa.String(length=100)),
        Unique("uq_certificate", "trainee_id", "program_id"),
    ),
    Table(
        "leave_requests",
        ID,
        Ref("trainee_id", "trainees", "CASCADE", index=True),
        Ref("program_id", "programs", "CASCADE", index=True),
        Col("reason", sa.Text()),
        Col("state", sa.String(length=16), index=True),
        Col("first_start", UTC_TIME),
        CREATED_AT,
        Col("decided_at", UTC_TIME, nullable=True),
        Col("decided_by", sa.String(length=100)),
        Col("note", sa.Text()),
    ),
    Table(
        "writeups",
        ID,
        Ref("trainee_id", "trainees", "CASCADE", index=True),
        Ref("program_id", "programs", "CASCADE", index=True),
        Col("text", sa.Text()),
        Col("file_name", sa.String(length=200)),
        Col("file_type", sa.String(length=100)),
        Col("file_size", sa.Integer()),
        Col("file_key", sa.String(length=64)),
        Col("state", sa.String(length=16)),
        Col("comment", sa.Text()),
        Col("submitted_at", UTC_TIME),
        Col("marked_at", UTC_TIME, nullable=True),
        Col("marked_by", sa.String(length=100)),
        Unique("uq_writeup", "trainee_id", "program_id"),
    ),
    Table(
        "leave_request_sessions",
        Ref("request_id", "leave_requests", "CASCADE", primary=True),
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Index("ix_leave_request_sessions_session", "session_id"),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
