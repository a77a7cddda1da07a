"""initial schema

Created 2026-11-22 18:49.
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
    create_tables,
    drop_tables,
)

revision = "0001"
down_revision = None

TABLES = (
    Table(
        "audit_log",
        ID,
        Col("at", UTC_TIME, index=True),
        Col("actor", sa.String(length=100)),
        Col("action", sa.String(length=50)),
        Col("entity", sa.String(length=50)),
        Col("entity_id", sa.String(length=50)),
        Col("before", sa.JSON(), nullable=True),
        Col("after", sa.JSON(), nullable=True),
        Col("reason", sa.Text()),
        Index("ix_audit_entity", "entity", "entity_id"),
    ),
    Table(
        "org_units",
        ID,
        Col("name", sa.String(length=100), unique=True),
        Col("code", sa.String(length=32), nullable=True, unique=True),
        Ref("parent_id", "org_units", "RESTRICT", nullable=True),
        CREATED_AT,
    ),
    Table(
        "programs",
        ID,
        Col("name", sa.String(length=200), unique=True),
        Col("year", sa.Integer()),
        Col("description", sa.Text()),
        CREATED_AT,
    ),
    Table(
        "users",
        ID,
        Col("username", sa.String(length=64), unique=True),
        Col("display_name", sa.String(length=100)),
        Col("password_hash", sa.String(length=255)),
        Col(
            "role",
            sa.Enum(
                "admin", "operator", "moderator", name="user_role", native_enum=False, length=16
            ),
        ),
        Col("active", sa.Boolean()),
        CREATED_AT,
    ),
    Table(
        "program_units",
        ID,
        Ref("program_id", "programs", "RESTRICT", index=True),
        Col("title", sa.String(length=200)),
        Col("seq", sa.Integer()),
        CREATED_AT,
    ),
    Table(
        "sites",
        ID,
        Col("name", sa.String(length=100), unique=True),
        Col("code", sa.String(length=32), nullable=True, unique=True),
        Col("kind", sa.Enum("main", "sub", name="site_kind", native_enum=False, length=16)),
        Ref("parent_id", "sites", "RESTRICT", nullable=True),
        Ref("org_unit_id", "org_units", "SET NULL", nullable=True),
        Col("capacity", sa.Integer()),
        Col("secret_hash", sa.String(length=128), nullable=True),
        Col("secret_issued_at", UTC_TIME, nullable=True),
        CREATED_AT,
        Check("capacity_non_negative", "capacity >= 0"),
    ),
    Table(
        "courses",
        ID,
        Ref("unit_id", "program_units", "RESTRICT", index=True),
        Col("title", sa.String(length=200)),
        Col("lecturer", sa.String(length=100)),
        Col("credits", sa.Float()),
        CREATED_AT,
    ),
    Table(
        "trainees",
        ID,
        Col("name", sa.String(length=64)),
        Col("staff_no", sa.String(length=32), unique=True),
        Ref("org_unit_id", "org_units", "RESTRICT", index=True),
        Col("position", sa.String(length=64)),
        Col("is_leader", sa.Boolean()),
        Ref("home_site_id", "sites", "SET NULL", nullable=True, index=True),
        Col("phone", sa.String(length=32), nullable=True),
        Col("gender", sa.String(length=8), nullable=True),
        Col("join_code_hash", sa.String(length=64), nullable=True, unique=True),
        Col("active", sa.Boolean()),
        CREATED_AT,
    ),
    Table(
        "class_sessions",
        ID,
        Ref("course_id", "courses", "RESTRICT", index=True),
        Col("title", sa.String(length=200)),
        Col("starts_at", UTC_TIME, index=True),
        Col("ends_at", UTC_TIME),
        Col(
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
        Col(
            "status",
            sa.Enum(
                "scheduled", "live", "ended", name="session_status", native_enum=False, length=16
            ),
        ),
        Col("started_at", UTC_TIME, nullable=True),
        Col("ended_at", UTC_TIME, nullable=True),
        CREATED_AT,
        Check("window_positive", "ends_at > starts_at"),
    ),
    Table(
        "login_sessions",
        Col("token_hash", sa.String(length=64), primary=True),
        Ref("user_id", "users", "CASCADE", nullable=True, index=True),
        Ref("trainee_id", "trainees", "CASCADE", nullable=True, index=True),
        Col("csrf_token", sa.String(length=64)),
        CREATED_AT,
        Col("expires_at", UTC_TIME),
        Check("one_principal", "(user_id IS NULL) <> (trainee_id IS NULL)"),
    ),
    Table(
        "session_sites",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Ref("site_id", "sites", "RESTRICT", primary=True),
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
