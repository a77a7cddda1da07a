"""self-study courses, progress and presence checks

Created 2026-12-06 12:42.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0009"
down_revision = "0008"

TABLES = (
    t.Table(
        "selfstudy_courses",
        t.ID,
        t.Col("title", sa.String(length=200)),
        t.Ref("unit_id", "program_units", "RESTRICT", index=True),
        t.Col("class_hours", sa.Float()),
        t.Col("opens_at", t.UTC_TIME),
        t.Col("closes_at", t.UTC_TIME),
        t.Col("presence_check", sa.Boolean()),
        t.Col("check_min_s", sa.Float()),
        t.Col("check_max_s", sa.Float()),
        t.Col("check_answer_s", sa.Float()),
        t.Ref("recording_id", "recordings", "SET NULL", nullable=True, index=True),
        t.Col("file_name", sa.String(length=200), nullable=True),
        t.Col("format", sa.String(length=8)),
        t.Col("bytes", sa.BigInteger()),
        t.Col("duration_s", sa.Float()),
        t.Col("org_unit_ids", sa.JSON()),
        t.Col("created_by", sa.String(length=100)),
        t.CREATED_AT,
        t.Check("hours_non_negative", "class_hours >= 0"),
        t.Check("window_positive", "closes_at > opens_at"),
        t.Check("duration_positive", "duration_s > 0"),
    ),
    t.Table(
        "selfstudy_checks",
        t.ID,
        t.Ref("course_id", "selfstudy_courses", "CASCADE", index=True),
        t.Ref("trainee_id", "trainees", "CASCADE"),
        t.Col("seq", sa.Integer()),
        t.Col("issued_at", t.UTC_TIME),
        t.Col("deadline", t.UTC_TIME),
        t.Col("resolved_at", t.UTC_TIME, nullable=True),
        t.Col("result", sa.String(length=16)),
        t.Col("discarded_s", sa.Float()),
        t.Unique("one_per_seq", "course_id", "trainee_id", "seq"),
    ),
    t.Table(
        "selfstudy_progress",
        t.Ref("course_id", "selfstudy_courses", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True, index=True),
        t.Col("state", sa.JSON()),
        t.Col("position_s", sa.Float()),
        t.Col("watched_s", sa.Float()),
        t.Col("started_at", t.UTC_TIME),
        t.UPDATED_AT,
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
