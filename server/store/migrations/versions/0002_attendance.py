"""attendance

Created 2026-11-22 19:11.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations.tables import (
    CREATED_AT,
    ID,
    UPDATED_AT,
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

revision = "0002"
down_revision = "0001"

TABLES = (
    Table(
        "batch_plans",
        ID,
        Ref("course_id", "courses", "CASCADE", index=True),
        Col(
            "status",
            sa.Enum(
                "draft", "published", "superseded", name="plan_status", native_enum=False, length=16
            ),
        ),
        Col("rules", sa.JSON()),
        Col("created_by", sa.String(length=100)),
        CREATED_AT,
        Col("published_at", UTC_TIME, nullable=True),
    ),
    Table(
        "keep_apart_pairs",
        ID,
        Ref("course_id", "courses", "CASCADE", index=True),
        Ref("trainee_a_id", "trainees", "CASCADE"),
        Ref("trainee_b_id", "trainees", "CASCADE"),
        Check("ordered", "trainee_a_id < trainee_b_id"),
        Unique("uq_keep_apart_pair", "course_id", "trainee_a_id", "trainee_b_id"),
    ),
    Table(
        "attendance_records",
        ID,
        Ref("trainee_id", "trainees", "RESTRICT", index=True),
        Ref("session_id", "class_sessions", "RESTRICT", index=True),
        Ref("site_id", "sites", "RESTRICT"),
        Col(
            "kind",
            sa.Enum(
                "regular", "makeup", "manual", name="record_kind", native_enum=False, length=16
            ),
        ),
        Col("state", sa.String(length=16)),
        Col("first_in", UTC_TIME, nullable=True),
        Col("last_out", UTC_TIME, nullable=True),
        Col("stays", sa.JSON()),
        Col("manual", sa.JSON()),
        Col("manual_reason", sa.Text()),
        Col("manual_by", sa.String(length=100)),
        Col("closed", sa.Boolean()),
        CREATED_AT,
        UPDATED_AT,
        Unique("uq_attendance_trainee_session", "trainee_id", "session_id"),
        Index("ix_attendance_open", "session_id", "closed"),
    ),
    Table(
        "batch_assignments",
        Ref("plan_id", "batch_plans", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True),
        Ref("session_id", "class_sessions", "CASCADE"),
        Index("ix_batch_assignments_session", "session_id", "trainee_id"),
    ),
    Table(
        "elective_registrations",
        ID,
        Ref("session_id", "class_sessions", "CASCADE", index=True),
        Ref("trainee_id", "trainees", "CASCADE", index=True),
        Col(
            "status",
            sa.Enum(
                "registered",
                "waitlisted",
                "cancelled",
                name="reg_status",
                native_enum=False,
                length=16,
            ),
        ),
        Col("position", sa.Integer(), nullable=True),
        CREATED_AT,
        UPDATED_AT,
        Unique("uq_registration", "session_id", "trainee_id"),
    ),
    Table(
        "session_settings",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("capacity", sa.Integer(), nullable=True),
        Col("registration_open", sa.Boolean()),
        Col("out_of_batch_rule", sa.String(length=16), nullable=True),
        Col("version", sa.Integer()),
        Check("capacity", "capacity IS NULL OR capacity >= 0"),
    ),
    Table(
        "trainee_unavailability",
        Ref("trainee_id", "trainees", "CASCADE", primary=True),
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("reason", sa.String(length=200)),
    ),
    Table(
        "checkin_requests",
        Col("client_id", sa.String(length=64), primary=True),
        Ref("trainee_id", "trainees", "CASCADE"),
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("record_id", "attendance_records", "CASCADE", index=True),
        Col("response", sa.JSON()),
        CREATED_AT,
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
