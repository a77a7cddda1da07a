"""qa

Created 2026-11-22 19:50.
"""

from __future__ import annotations

import sqlalchemy as sa

from server.store.migrations import tables as t

revision = "0004"
down_revision = "0003"

TABLES = (
    t.Table(
        "qa_word_lists",
        t.Col("key", sa.String(length=32), primary=True),
        t.Col("words", sa.JSON()),
        t.UPDATED_AT,
    ),
    t.Table(
        "qa_needs_surveys",
        t.Ref("program_id", "programs", "CASCADE", primary=True),
        t.Col("topics", sa.JSON()),
        t.Col("created_by", sa.String(length=100)),
        t.CREATED_AT,
    ),
    t.Table(
        "qa_needs_responses",
        t.Ref("program_id", "qa_needs_surveys.program_id", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True),
        t.Ref("org_unit_id", "org_units", "RESTRICT"),
        t.Col("ranking", sa.JSON()),
        t.Col("needs_text", sa.Text()),
        t.Col("submitted_at", t.UTC_TIME),
    ),
    t.Table(
        "qa_events",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Col("question_id", sa.Integer(), nullable=True),
        t.Col("kind", sa.String(length=32)),
        t.Col("actor", sa.String(length=100)),
        t.Col("at", t.UTC_TIME),
        t.Col("data", sa.JSON()),
        t.Index("ix_qa_events_session", "session_id", "id"),
    ),
    t.Table(
        "qa_feedback",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True),
        t.Col("course_rating", sa.Integer()),
        t.Col("lecturer_ratings", sa.JSON()),
        t.Col("comment", sa.Text()),
        t.Col("submitted_at", t.UTC_TIME),
        t.Check("rating_range", "course_rating BETWEEN 1 AND 5"),
    ),
    t.Table(
        "qa_floor_grants",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("site_id", "sites", "CASCADE"),
        t.Col("granted_at", t.UTC_TIME),
        t.Col("deadline", t.UTC_TIME, nullable=True),
        t.Col("ended_at", t.UTC_TIME, nullable=True),
        t.Col("end_reason", sa.String(length=16), nullable=True),
        t.Col("granted_by", sa.String(length=100)),
        t.Index("ix_qa_floor_grants_open", "ended_at", "deadline"),
    ),
    t.Table(
        "qa_floor_requests",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("site_id", "sites", "CASCADE"),
        t.Col("raised_at", t.UTC_TIME),
        t.Col("closed_at", t.UTC_TIME, nullable=True),
        t.Col("outcome", sa.String(length=16)),
        t.Index("ix_qa_floor_requests_session", "session_id", "outcome"),
    ),
    t.Table(
        "qa_polls",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE", index=True),
        t.Col("prompt", sa.String(length=500)),
        t.Col("options", sa.JSON()),
        t.Col("mode", sa.String(length=16)),
        t.Col("correct", sa.JSON(), nullable=True),
        t.Col("state", sa.String(length=16)),
        t.Col("time_limit", sa.Float(), nullable=True),
        t.Col("opened_at", t.UTC_TIME, nullable=True),
        t.Col("deadline", t.UTC_TIME, nullable=True),
        t.Col("closed_at", t.UTC_TIME, nullable=True),
        t.Col("created_by", sa.String(length=100)),
        t.CREATED_AT,
    ),
    t.Table(
        "qa_questions",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("site_id", "sites", "RESTRICT"),
        t.Ref("asker_trainee_id", "trainees", "SET NULL", nullable=True),
        t.Col("submitter", sa.String(length=32)),
        t.Col("client_id", sa.String(length=64), nullable=True),
        t.Col("addressed_to", sa.String(length=100), nullable=True),
        t.Col("anonymous", sa.Boolean()),
        t.Col("text", sa.Text()),
        t.Col("original_text", sa.Text()),
        t.Col("state", sa.String(length=16)),
        t.Col("flags", sa.JSON()),
        t.Col("pinned", sa.Boolean()),
        t.Col("vote_count", sa.Integer()),
        t.Col("merged_into_id", sa.Integer(), nullable=True),
        t.Col("also_asked_by", sa.JSON()),
        t.CREATED_AT,
        t.UPDATED_AT,
        t.Check("votes_non_negative", "vote_count >= 0"),
        t.Unique("uq_qa_question_client", "session_id", "submitter", "client_id"),
        t.Index("ix_qa_questions_asker_time", "asker_trainee_id", "created_at"),
        t.Index("ix_qa_questions_session_state", "session_id", "state"),
    ),
    t.Table(
        "qa_settings",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("moderators_see_identity", sa.Boolean()),
        t.Col("auto_approve", sa.Boolean()),
        t.Col("rate_limit", sa.Integer()),
        t.Col("rate_window", sa.Integer()),
        t.Col("sensitive_words", sa.JSON()),
        t.Check("rate_positive", "rate_limit >= 1 AND rate_window >= 1"),
    ),
    t.Table(
        "qa_state",
        t.Ref("session_id", "class_sessions", "CASCADE", primary=True),
        t.Col("version", sa.Integer()),
        t.Col("on_air_question_id", sa.Integer(), nullable=True),
    ),
    t.Table(
        "qa_on_air",
        t.ID,
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("question_id", "qa_questions", "CASCADE"),
        t.Col("started_at", t.UTC_TIME),
        t.Col("ended_at", t.UTC_TIME, nullable=True),
        t.Col("started_by", sa.String(length=100)),
        t.Index("ix_qa_on_air_session", "session_id", "started_at"),
    ),
    t.Table(
        "qa_poll_answers",
        t.Ref("poll_id", "qa_polls", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True, index=True),
        t.Ref("session_id", "class_sessions", "CASCADE"),
        t.Ref("site_id", "sites", "RESTRICT"),
        t.Col("choices", sa.JSON()),
        t.Col("score", sa.Integer(), nullable=True),
        t.Col("at", t.UTC_TIME),
    ),
    t.Table(
        "qa_votes",
        t.Ref("question_id", "qa_questions", "CASCADE", primary=True),
        t.Ref("trainee_id", "trainees", "CASCADE", primary=True),
        t.CREATED_AT,
    ),
)


def upgrade() -> None:
    t.create_tables(TABLES)


def downgrade() -> None:
    t.drop_tables(TABLES)
