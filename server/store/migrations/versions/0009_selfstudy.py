"""self-study courses, progress and presence checks

Created 2026-12-06 12:42.
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
    Ref,
    Table,
    Unique,
    create_tables,
    drop_tables,
)

revision = "0009"
down_revision = "0008"

TABLES = (
    Table(
        "selfstudy_courses",
        ID,
        Col("title", sa.String(length=200)),
        Ref("unit_id", "program_units", "RESTRICT", index=True),
        Col("class_hours", sa.Float()),
        Col("opens_at", UTC_TIME),
        Col("closes_at", UTC_TIME),
        Col("presence_check", sa.Boolean()),
        Col("check_min_s", sa.Float()),
        Col("check_max_s", sa.Float()),
        Col("check_answer_s", sa.Float()),
        Ref("recording_id", "recordings", "SET NULL", nullable=True, index=True),
        Col("file_name", sa.String(length=200), nullable=True),
        Col("format", sa.String(length=8)),
        Col("bytes", sa.BigInteger()),
        Col("duration_s", sa.Float()),
        Col("org_unit_ids", sa.JSON()),
        Col("created_by", sa.String(length=100)),
        CREATED_AT,
        Check("hours_non_negative", "class_hours >= 0"),
        Check("window_positive", "closes_at > opens_at"),
        Check("duration_positive", "duration_s > 0"),
    ),
    Table(
        "selfstudy_checks",
        ID,
        Ref("course_id", "selfstudy_courses", "CASCADE", index=True),
        Ref("trainee_id", "trainees", "CASCADE"),
        Col("seq", sa.Integer()),
        Col("issued_at", UTC_TIME),
        Col("deadline", UTC_TIME),
        Col("resolved_at", UTC_TIME, nullable=True),
        Col("result", sa.String(length=16)),
        Col("discarded_s", sa.Float()),
        Unique("one_per_seq", "course_id", "trainee_id", "seq"),
    ),
    Table(
        "selfstudy_progress",
        Ref("course_id", "selfstudy_courses", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True, index=True),
        Col("state", sa.JSON()),
        Col("position_s", sa.Float()),
        Col("watched_s", sa.Float()),
        Col("started_at", UTC_TIME),
        UPDATED_AT,
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
