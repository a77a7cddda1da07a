"""initial schema

Created 2026-11-22 18:49.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0001"
down_revision = None

TABLES = (
    t.Table(
        "audit_log",
        t.ID,
        t.Col("at", t.UTC_TIME, index=True),
        t.Col("actor", sa.String(length=100)),
        t.Col("action", sa.String(length=50)),
        t.Col("entity", sa.String(length=50)),
        t.Col("entity_id", sa.String(length=50)),
        t.Col("before", sa.JSON(), nullable=True),
        t.Col("after", sa.JSON(), nullable=True),
        t.Col("reason", sa.Text()),
        t.Index("ix_audit_entity", "entity", "entity_id"),
    ),
    t.Table(
        "org_units",
        t.ID,
        t.Col("name", sa.String(length=100), unique=True),
        t.Col("code", sa.String(length=32), nullable=True, unique=True),
        t.Ref("parent_id", "org_units", "RESTRICT", nullable=True),
        t.CREATED_AT,
    ),
    t.Table(
        "programs",
        t.ID,
        t.Col("name", sa.String(length=200), unique=True),
        t.Col("year", sa.Integer()),
        t.Col("description", sa.Text()),
        t.CREATED_AT,
    ),
    t.Table(
        "users",
        t.ID,
        t.Col("username", sa.String(length=64), unique=True),
        t.Col("display_name", sa.String(length=100)),
        t.Col("password_hash", sa.String(length=255)),
        t.Col(
            "role",
            sa.Enum(
                "admin", "operator", "moderator", name="user_role", native_enum=False, length=16
            ),
        ),
        t.Col("active", sa.Boolean()),
        t.CREATED_AT,
    ),
    t.Table(
        "program_units",
        t.ID,
        t.Ref("program_id", "programs", "RESTRICT", index=True),
        t.Col("title", sa.String(length=200)),
        t.Col("seq", sa.Integer()),
        t.CREATED_AT,
    ),
    t.Table(
        "sites",
        t.ID,
        t.Col("name", sa.String(length=100), unique=True),
        t.Col("code", sa.String(length=32), nullable=True, unique=True),
        t.Col("kind", sa.Enum("main", "sub", name="site_kind", native_enum=False, length=16)),
        t.Ref("parent_id", "sites", "RESTRICT", nullable=True),
        t.Ref("org_unit_id", "org_units", "SET NULL", nullable=True),
        t.Col("capacity", sa.Integer()),
        t.Col("secret_hash", sa.String(length=128), nullable=True),
        t.Col("secret_issued_at", t.UTC_TIME, nullable=True),
        t.CREATED_AT,
        t.Check("capacity_non_negative", "capacity >= 0"),
    ),
    t.Table(
        "courses",
        t.ID,
        t.Ref("unit_id", "program_units", "RESTRICT", index=True),
        t.Col("title", sa.String(length=200)),
        t.Col("lecturer", sa.String(length=100)),
        t.Col("credits", sa.Float()),
        t.CREATED_AT,
    ),
    t.Table(
        "trainees",
        t.ID,
        t.Col("name", sa.String(length=64)),
        t.Col("staff_no", sa.String(length=32), unique=True),
        t.Ref("org_unit_id", "org_units", "RESTRICT", index=True),
        t.Col("position", sa.String(length=64)),
        t.Col("is_leader", sa.Boolean()),
        t.Ref("home_site_id", "sites", "SET NULL", nullable=True, index=True),
        t.Col("phone", sa.String(length=32), nullable=True),
        t.Col("gender", sa.String(length=8), nullable=True),
        t.Col("join_code_hash", sa.String(length=64), nullable=True, unique=True),
        t.Col("active", sa.Boolean()),
        t.CREATED_AT,
    ),
    t.Table(
        "class_sessions",
        t.ID,
        t.Ref("course_id", "courses", "RESTRICT", index=True),
        t.Col("title", sa.String(length=200)),
        t.Col("starts_at", t.UTC_TIME, index=True),
        t.Col("ends_at", t.UTC_TIME),
        t.Col(
            "teaching_method",
            sa.Enum(
                "lecture",
                "case",
                "interview",
                "seminar",
                "forum",
                name="teaching_method",
                native_enum=False,
                length=16,
            ),
        ),
        t.Col(
            "status",
            sa.Enum(
                "scheduled", "live", "ended", name="session_status", native_enum=False, length=16
            ),
        ),
        t.Col("started_at", t.UTC_TIME, nullable=True),
        t.Col("ended_at", t.UTC_TIME, nullable=True),
        t.CREATED_AT,
        t.Check("window_positive", "ends_at > starts_at"),
    ),
    t.Table(
        "login_sessions",
        t.Col("token_hash", sa.String(length=64), primary=True),
        t.Ref("user_id", "users", "CASCADE", nullable=True, index=True),
        t.Ref("trainee_id", "trainees", "CASCADE", nullable=True, index=True),
        t.Col("csrf_token", sa.String(length=64)),
        t.CREATED_AT,
        t.Col("expires_at", t.UTC_TIME),
        t.Check("one_principal", "(user_id IS NULL) <> (trainee_id IS NULL)"),
    ),
    t.Table(
        "session_sites",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Ref("site_id", "sites", "RESTRICT", primary=True),
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
