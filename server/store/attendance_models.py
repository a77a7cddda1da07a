"""Durable tables of staggered batches, in-room check-in, electives and the ledger.

Imported at the end of ``server.store.models`` so that Alembic and ``Base.metadata`` see them.
Ledger corrections are not a table: they are ``audit_log`` entries (entity ``session_result``).
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.expression import false

from server.store.models import (
    Base,
    _enum,
    intpk,
    session_fk,
    str16,
    str64,
    str100,
    str200,
    timestamp,
    trainee_fk,
)


class PlanStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    SUPERSEDED = "superseded"


class RecordKind(enum.StrEnum):
    REGULAR = "regular"
    MAKEUP = "makeup"
    MANUAL = "manual"  # created by staff marking the trainee present, never checked in


class RegistrationStatus(enum.StrEnum):
    REGISTERED = "registered"
    WAITLISTED = "waitlisted"
    CANCELLED = "cancelled"


class BatchPlan(Base):
    """A staggered-batch plan (分批计划) of one course: its sessions are the slots."""

    __tablename__ = "batch_plans"
    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    status: Mapped[PlanStatus] = mapped_column(
        _enum(PlanStatus, "plan_status"), default=PlanStatus.DRAFT
    )
    rules: Mapped[Any]  # on_duty_share, keep_apart, org_unit_ids...
    created_by: Mapped[str100]
    created_at: Mapped[timestamp]
    published_at: Mapped[datetime | None]


class BatchAssignment(Base):
    """One trainee's batch: the session (slot) of the course they attend."""

    __tablename__ = "batch_assignments"
    plan_id: Mapped[int] = mapped_column(
        ForeignKey("batch_plans.id", ondelete="CASCADE"), primary_key=True
    )
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True)
    session_id: Mapped[session_fk]
    __table_args__ = (Index("ix_batch_assignments_session", "session_id", "trainee_id"),)


class KeepApartPair(Base):
    """Two trainees of a course who must not be in the same batch (e.g. two deputies)."""

    __tablename__ = "keep_apart_pairs"
    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"), index=True)
    trainee_a_id: Mapped[trainee_fk]
    trainee_b_id: Mapped[trainee_fk]
    __table_args__ = (
        UniqueConstraint("course_id", "trainee_a_id", "trainee_b_id", name="uq_keep_apart_pair"),
        CheckConstraint("trainee_a_id < trainee_b_id", name="ordered"),
    )


class TraineeUnavailability(Base):
    """A trainee cannot attend a session (a course-wide absence is one row per session)."""

    __tablename__ = "trainee_unavailability"
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True)
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    reason: Mapped[str200] = mapped_column(default="")


class SessionSettings(Base):
    """Per-session settings that ``class_sessions`` does not carry.

    ``version`` is bumped by every registration change: the UPDATE takes the row lock first
    (PostgreSQL row lock, SQLite write lock), so registrations of one session are serialised.
    """

    __tablename__ = "session_settings"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    capacity: Mapped[int | None]  # None: no limit
    registration_open: Mapped[bool] = mapped_column(default=False)
    out_of_batch_rule: Mapped[str16 | None]  # None: server default
    any_room: Mapped[bool] = mapped_column(default=False, server_default=false())
    """Typed codes and site marks accepted at any room of the session, not only the trainee's."""
    version: Mapped[int] = mapped_column(default=0)
    __table_args__ = (CheckConstraint("capacity IS NULL OR capacity >= 0", name="capacity"),)


class ElectiveRegistration(Base):
    """A trainee's voluntary registration (学员点课) for a session."""

    __tablename__ = "elective_registrations"
    id: Mapped[intpk]
    session_id: Mapped[session_fk] = mapped_column(index=True)
    trainee_id: Mapped[trainee_fk] = mapped_column(index=True)
    status: Mapped[RegistrationStatus] = mapped_column(_enum(RegistrationStatus, "reg_status"))
    position: Mapped[int | None]  # waitlist position, 1 = next up
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    __table_args__ = (UniqueConstraint("session_id", "trainee_id", name="uq_registration"),)


class AttendanceRecordRow(Base):
    """ONE attendance record per trainee and session, with the stays in the room.

    ``stays`` is a list of ``{"start", "end", "source"}`` (epoch seconds; end null while in);
    ``manual`` the staff markings ``{"by", "reason", "at", "start", "end"}``.
    """

    __tablename__ = "attendance_records"
    id: Mapped[intpk]
    trainee_id: Mapped[int] = mapped_column(
        ForeignKey("trainees.id", ondelete="RESTRICT"), index=True
    )
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="RESTRICT"), index=True
    )
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    kind: Mapped[RecordKind] = mapped_column(_enum(RecordKind, "record_kind"))
    state: Mapped[str16]  # server.core.checkin.AttendanceState
    first_in: Mapped[datetime | None]
    last_out: Mapped[datetime | None]
    stays: Mapped[Any]
    manual: Mapped[Any]
    manual_reason: Mapped[str] = mapped_column(Text, default="")  # the last staff reason
    manual_by: Mapped[str100] = mapped_column(default="")
    closed: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]
    __table_args__ = (
        UniqueConstraint("trainee_id", "session_id", name="uq_attendance_trainee_session"),
        Index("ix_attendance_open", "session_id", "closed"),
    )


class CheckinRequest(Base):
    """A check-in request keyed by the id the phone made: a re-sent request finds its answer."""

    __tablename__ = "checkin_requests"
    client_id: Mapped[str64] = mapped_column(primary_key=True)
    trainee_id: Mapped[trainee_fk]
    session_id: Mapped[session_fk]
    record_id: Mapped[int] = mapped_column(
        ForeignKey("attendance_records.id", ondelete="CASCADE"), index=True
    )
    response: Mapped[Any]
    created_at: Mapped[timestamp]


__all__ = [
    "AttendanceRecordRow",
    "BatchAssignment",
    "BatchPlan",
    "CheckinRequest",
    "ElectiveRegistration",
    "KeepApartPair",
    "PlanStatus",
    "RecordKind",
    "RegistrationStatus",
    "SessionSettings",
    "TraineeUnavailability",
]
