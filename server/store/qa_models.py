"""Durable tables of interview-style Q&A: questions, votes, on air, the floor, polls, feedback.

Imported at the end of ``server.store.models`` so that Alembic and ``Base.metadata`` see them.

SQL is the truth (several server processes share one database):

* ``qa_state`` has one row per session; every change of a session's questions, on-air slot or
  floor first UPDATEs it (a PostgreSQL row lock, the SQLite write lock), so those changes are
  serialised per session across processes. It holds the question on air: at most one.
* Votes are rows with the primary key (question, trainee): one vote per trainee per question.
  ``qa_questions.vote_count`` is changed by the same transaction that inserts or deletes a
  vote row (``vote_count = vote_count ± 1``), so counts are exact under concurrency.
* ``qa_events`` is the session's interaction log: every submission, edit, vote, state change,
  floor change and poll answer, in order.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import (
    Base,
    intpk,
    program_fk,
    session_fk,
    site_fk,
    str16,
    str32,
    str64,
    str100,
    timestamp,
    trainee_fk,
)


class QaSettings(Base):
    """A session's Q&A settings; absent row: the defaults below."""

    __tablename__ = "qa_settings"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    moderators_see_identity: Mapped[bool] = mapped_column(default=False)
    auto_approve: Mapped[bool] = mapped_column(default=True)
    rate_limit: Mapped[int] = mapped_column(default=3)
    rate_window: Mapped[int] = mapped_column(default=60)  # seconds
    sensitive_words: Mapped[Any]  # added to the global list
    __table_args__ = (
        CheckConstraint("rate_limit >= 1 AND rate_window >= 1", name="rate_positive"),
    )


class QaWordList(Base):
    """A named word list; ``global`` is the sensitive-word list of every session."""

    __tablename__ = "qa_word_lists"
    key: Mapped[str32] = mapped_column(primary_key=True)
    words: Mapped[Any]
    updated_at: Mapped[timestamp]


class QaState(Base):
    """The per-session lock row and the on-air slot."""

    __tablename__ = "qa_state"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(default=0)
    on_air_question_id: Mapped[int | None]


class QuestionRow(Base):
    __tablename__ = "qa_questions"
    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    asker_trainee_id: Mapped[int | None] = mapped_column(
        ForeignKey("trainees.id", ondelete="SET NULL")
    )
    submitter: Mapped[str32]  # trainee:<id> or site:<id>
    client_id: Mapped[str64 | None]
    addressed_to: Mapped[str100 | None]
    anonymous: Mapped[bool] = mapped_column(default=False)
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str] = mapped_column(Text)
    state: Mapped[str16]  # server.core.qa.QuestionState
    flags: Mapped[Any]
    pinned: Mapped[bool] = mapped_column(default=False)
    vote_count: Mapped[int] = mapped_column(default=0)
    merged_into_id: Mapped[int | None]
    also_asked_by: Mapped[Any]  # trainee ids of merged duplicates
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    __table_args__ = (
        UniqueConstraint("session_id", "submitter", "client_id", name="uq_qa_question_client"),
        Index("ix_qa_questions_session_state", "session_id", "state"),
        Index("ix_qa_questions_asker_time", "asker_trainee_id", "created_at"),
        CheckConstraint("vote_count >= 0", name="votes_non_negative"),
    )


class QuestionVote(Base):
    __tablename__ = "qa_votes"
    question_id: Mapped[int] = mapped_column(
        ForeignKey("qa_questions.id", ondelete="CASCADE"), primary_key=True
    )
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True)
    created_at: Mapped[timestamp]


class QaEvent(Base):
    """One entry of a session's interaction log."""

    __tablename__ = "qa_events"
    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    question_id: Mapped[int | None]
    kind: Mapped[str32]
    actor: Mapped[str100]
    at: Mapped[timestamp]
    data: Mapped[Any]
    __table_args__ = (Index("ix_qa_events_session", "session_id", "id"),)


class OnAirInterval(Base):
    """A question's time on air; ``ended_at`` null while it is on air."""

    __tablename__ = "qa_on_air"
    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    question_id: Mapped[int] = mapped_column(ForeignKey("qa_questions.id", ondelete="CASCADE"))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    started_by: Mapped[str100]
    __table_args__ = (Index("ix_qa_on_air_session", "session_id", "started_at"),)


class FloorRequestRow(Base):
    """A site's raised hand: pending until withdrawn or granted."""

    __tablename__ = "qa_floor_requests"
    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    site_id: Mapped[site_fk]
    raised_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str16]  # pending, withdrawn, granted
    __table_args__ = (Index("ix_qa_floor_requests_session", "session_id", "outcome"),)


class FloorGrantRow(Base):
    """A grant of the floor; open (``ended_at`` null) while the site holds it."""

    __tablename__ = "qa_floor_grants"
    id: Mapped[intpk]
    session_id: Mapped[session_fk]
    site_id: Mapped[site_fk]
    granted_at: Mapped[datetime]
    deadline: Mapped[datetime | None]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str16 | None]  # revoked, expired
    granted_by: Mapped[str100]
    __table_args__ = (Index("ix_qa_floor_grants_open", "ended_at", "deadline"),)


class PollRow(Base):
    """A poll or quiz question (a quiz when ``correct`` is set)."""

    __tablename__ = "qa_polls"
    id: Mapped[intpk]
    session_id: Mapped[session_fk] = mapped_column(index=True)
    prompt: Mapped[str] = mapped_column(String(500))
    options: Mapped[Any]
    mode: Mapped[str16]  # single, multiple
    correct: Mapped[Any] = mapped_column(nullable=True)
    state: Mapped[str16]  # draft, open, closed (deadline: see below)
    time_limit: Mapped[float | None]
    opened_at: Mapped[datetime | None]
    deadline: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    created_by: Mapped[str100]
    created_at: Mapped[timestamp]


class PollAnswerRow(Base):
    """One trainee's answer; ``score`` (0/1) is the quiz score kept in the trainee's record."""

    __tablename__ = "qa_poll_answers"
    poll_id: Mapped[int] = mapped_column(
        ForeignKey("qa_polls.id", ondelete="CASCADE"), primary_key=True
    )
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True, index=True)
    session_id: Mapped[session_fk]
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    choices: Mapped[Any]
    score: Mapped[int | None]
    at: Mapped[timestamp]


class FeedbackRow(Base):
    """A trainee's feedback on a session (a second one replaces the first)."""

    __tablename__ = "qa_feedback"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True)
    course_rating: Mapped[int]
    lecturer_ratings: Mapped[Any]
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[timestamp]
    __table_args__ = (CheckConstraint("course_rating BETWEEN 1 AND 5", name="rating_range"),)


class NeedsSurveyRow(Base):
    """The needs survey (需求调研) of a program: the topics to rank."""

    __tablename__ = "qa_needs_surveys"
    program_id: Mapped[program_fk] = mapped_column(primary_key=True)
    topics: Mapped[Any]
    created_by: Mapped[str100]
    created_at: Mapped[timestamp]


class NeedsResponseRow(Base):
    __tablename__ = "qa_needs_responses"
    program_id: Mapped[int] = mapped_column(
        ForeignKey("qa_needs_surveys.program_id", ondelete="CASCADE"), primary_key=True
    )
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True)
    org_unit_id: Mapped[int] = mapped_column(ForeignKey("org_units.id", ondelete="RESTRICT"))
    ranking: Mapped[Any]
    needs_text: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[timestamp]


__all__ = [
    "FeedbackRow",
    "FloorGrantRow",
    "FloorRequestRow",
    "NeedsResponseRow",
    "NeedsSurveyRow",
    "OnAirInterval",
    "PollAnswerRow",
    "PollRow",
    "QaEvent",
    "QaSettings",
    "QaState",
    "QaWordList",
    "QuestionRow",
    "QuestionVote",
]
