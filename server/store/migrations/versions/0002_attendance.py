"""attendance

Created 2026-11-22 19:11.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0002"
down_revision = "0001"

TABLES = (
    t.Table(
        "batch_plans",
        t.ID,
        t.Ref("course_id", "courses", "CASCADE", index=True),
        t.Col(
            "status",
            sa.Enum(
                "draft", "published", "superseded", name="plan_status", native_enum=False, length=16
            ),
        ),
        t.Col("rules", sa.JSON()),
        t.Col("created_by", sa.String(length=100)),
        t.CREATED_AT,
        t.Col("published_at", t.UTC_TIME, nullable=True),
    ),
    t.Table(
        "keep_apart_pairs",
        t.ID,
        t.Ref("course_id", "courses", "CASCADE", index=True),
        t.Ref("trainee_a_id", "trainees", "CASCADE"),
        t.Ref("trainee_b_id", "trainees", "CASCADE"),
        t.Check("ordered", "trainee_a_id < trainee_b_id"),
        t.Unique("uq_keep_apart_pair", "course_id", "trainee_a_id", "trainee_b_id"),
    ),
    t.Table(
        "attendance_records",
        t.ID,
        t.Ref("trainee_id", "trainees", "RESTRICT", index=True),
        t.Ref("session_id", "class_sessions", "RESTRICT", index=True),
        t.Ref("site_id", "sites", "RESTRICT"),
        t.Col(
            "kind",
            sa.Enum(
                "regular", "makeup", "manual", name="record_kind", native_enum=False, length=16
            ),
        ),
        t.Col("state", sa.String(length=16)),
        t.Col("first_in", t.UTC_TIME, nullable=True),
        t.Col("last_out", t.UTC_TIME, nullable=True),
        t.Col("stays", sa.JSON()),
        t.Col("manual", sa.JSON()),
        t.Col("manual_reason", sa.Text()),
        t.Col("manual_by", sa.String(length=100)),
        t.Col("closed", sa.Boolean()),
        t.CREATED_AT,
        t.UPDATED_AT,
        t.Unique("uq_attendance_trainee_session", "trainee_id", "session_id"),
        t.Index("ix_attendance_open", "session_id", "closed"),
    ),
    t.Table(
        "batch_assignments",
        t.Ref("plan_id", "batch_plans", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True),
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Index("ix_batch_assignments_session", "session_id", "trainee_id"),
    ),
    t.Table(
        "elective_registrations",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE", index=True),
        t.Ref("trainee_id", "trainees", "CASCADE", index=True),
        t.Col(
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
        t.Col("position", sa.Integer(), nullable=True),
        t.CREATED_AT,
        t.UPDATED_AT,
        t.Unique("uq_registration", "session_id", "trainee_id"),
    ),
    t.Table(
        "session_settings",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("capacity", sa.Integer(), nullable=True),
        t.Col("registration_open", sa.Boolean()),
        t.Col("out_of_batch_rule", sa.String(length=16), nullable=True),
        t.Col("version", sa.Integer()),
        t.Check("capacity", "capacity IS NULL OR capacity >= 0"),
    ),
    t.Table(
        "trainee_unavailability",
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True),
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("reason", sa.String(length=200)),
    ),
    t.Table(
        "checkin_requests",
        t.Col("client_id", sa.String(length=64), primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE"),
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("record_id", "attendance_records", "CASCADE", index=True),
        t.Col("response", sa.JSON()),
        t.CREATED_AT,
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
