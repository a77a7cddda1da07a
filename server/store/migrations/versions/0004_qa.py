"""qa

Created 2026-11-22 19:50.
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

revision = "0004"
down_revision = "0003"

TABLES = (
    Table(
        "qa_word_lists",
        Col("key", sa.String(length=32), primary=True),
        Col("words", sa.JSON()),
        UPDATED_AT,
    ),
    Table(
        "qa_needs_surveys",
        Ref("program_id", "programs", "CASCADE", primary=True),
        Col("topics", sa.JSON()),
        Col("created_by", sa.String(length=100)),
        CREATED_AT,
    ),
    Table(
        "qa_needs_responses",
        Ref("program_id", "qa_needs_surveys.program_id", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True),
        Ref("org_unit_id", "org_units", "RESTRICT"),
        Col("ranking", sa.JSON()),
        Col("needs_text", sa.Text()),
        Col("submitted_at", UTC_TIME),
    ),
    Table(
        "qa_events",
        ID,
        Ref("session_id", "class_sessions", "CASCADE"),
        Col("question_id", sa.Integer(), nullable=True),
        Col("kind", sa.String(length=32)),
        Col("actor", sa.String(length=100)),
        Col("at", UTC_TIME),
        Col("data", sa.JSON()),
        Index("ix_qa_events_session", "session_id", "id"),
    ),
    Table(
        "qa_feedback",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True),
        Col("course_rating", sa.Integer()),
        Col("lecturer_ratings", sa.JSON()),
        Col("comment", sa.Text()),
        Col("submitted_at", UTC_TIME),
        Check("rating_range", "course_rating BETWEEN 1 AND 5"),
    ),
    Table(
        "qa_floor_grants",
        ID,
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("site_id", "sites", "CASCADE"),
        Col("granted_at", UTC_TIME),
        Col("deadline", UTC_TIME, nullable=True),
        Col("ended_at", UTC_TIME, nullable=True),
        Col("end_reason", sa.String(length=16), nullable=True),
        Col("granted_by", sa.String(length=100)),
        Index("ix_qa_floor_grants_open", "ended_at", "deadline"),
    ),
    Table(
        "qa_floor_requests",
        ID,
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("site_id", "sites", "CASCADE"),
        Col("raised_at", UTC_TIME),
        Col("closed_at", UTC_TIME, nullable=True),
        Col("outcome", sa.String(length=16)),
        Index("ix_qa_floor_requests_session", "session_id", "outcome"),
    ),
    Table(
        "qa_polls",
        ID,
        Ref("session_id", "class_sessions", "CASCADE", index=True),
        Col("prompt", sa.String(length=500)),
        Col("options", sa.JSON()),
        Col("mode", sa.String(length=16)),
        Col("correct", sa.JSON(), nullable=True),
        Col("state", sa.String(length=16)),
        Col("time_limit", sa.Float(), nullable=True),
        Col("opened_at", UTC_TIME, nullable=True),
        Col("deadline", UTC_TIME, nullable=True),
        Col("closed_at", UTC_TIME, nullable=True),
        Col("created_by", sa.String(length=100)),
        CREATED_AT,
    ),
    Table(
        "qa_questions",
        ID,
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("site_id", "sites", "RESTRICT"),
        Ref("asker_trainee_id", "trainees", "SET NULL", nullable=True),
        Col("submitter", sa.String(length=32)),
        Col("client_id", sa.String(length=64), nullable=True),
        Col("addressed_to", sa.String(length=100), nullable=True),
        Col("anonymous", sa.Boolean()),
        Col("text", sa.Text()),
        Col("original_text", sa.Text()),
        Col("state", sa.String(length=16)),
        Col("flags", sa.JSON()),
        Col("pinned", sa.Boolean()),
        Col("vote_count", sa.Integer()),
        Col("merged_into_id", sa.Integer(), nullable=True),
        Col("also_asked_by", sa.JSON()),
        CREATED_AT,
        UPDATED_AT,
        Check("votes_non_negative", "vote_count >= 0"),
        Unique("uq_qa_question_client", "session_id", "submitter", "client_id"),
        Index("ix_qa_questions_asker_time", "asker_trainee_id", "created_at"),
        Index("ix_qa_questions_session_state", "session_id", "state"),
    ),
    Table(
        "qa_settings",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("moderators_see_identity", sa.Boolean()),
        Col("auto_approve", sa.Boolean()),
        Col("rate_limit", sa.Integer()),
        Col("rate_window", sa.Integer()),
        Col("sensitive_words", sa.JSON()),
        Check("rate_positive", "rate_limit >= 1 AND rate_window >= 1"),
    ),
    Table(
        "qa_state",
        Ref("session_id", "class_sessions", "CASCADE", primary=True),
        Col("version", sa.Integer()),
        Col("on_air_question_id", sa.Integer(), nullable=True),
    ),
    Table(
        "qa_on_air",
        ID,
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("question_id", "qa_questions", "CASCADE"),
        Col("started_at", UTC_TIME),
        Col("ended_at", UTC_TIME, nullable=True),
        Col("started_by", sa.String(length=100)),
        Index("ix_qa_on_air_session", "session_id", "started_at"),
    ),
    Table(
        "qa_poll_answers",
        Ref("poll_id", "qa_polls", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True, index=True),
        Ref("session_id", "class_sessions", "CASCADE"),
        Ref("site_id", "sites", "RESTRICT"),
        Col("choices", sa.JSON()),
        Col("score", sa.Integer(), nullable=True),
        Col("at", UTC_TIME),
    ),
    Table(
        "qa_votes",
        Ref("question_id", "qa_questions", "CASCADE", primary=True),
        Ref("trainee_id", "trainees", "CASCADE", primary=True),
        CREATED_AT,
    ),
)


def upgrade() -> None:
    create_tables(TABLES)


def downgrade() -> None:
    drop_tables(TABLES)
