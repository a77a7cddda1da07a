"""Self-study courses (自学课程): the course, each trainee's progress, and the 在吗？ checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.core.selfstudy import CHECK_ANSWER_S, CHECK_MAX_S, CHECK_MIN_S
from server.store.models import Base, intpk, str16, str100, str200, timestamp, trainee_fk


class SelfStudyCourse(Base):
    """A video trainees watch on their own inside a window, worth ``class_hours`` (学时)."""

    __tablename__ = "selfstudy_courses"
    id: Mapped[intpk]
    title: Mapped[str200]
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("program_units.id", ondelete="RESTRICT"), index=True
    )
    class_hours: Mapped[float]
    opens_at: Mapped[datetime]
    closes_at: Mapped[datetime]
    presence_check: Mapped[bool] = mapped_column(default=False)
    check_min_s: Mapped[float] = mapped_column(default=CHECK_MIN_S)
    check_max_s: Mapped[float] = mapped_column(default=CHECK_MAX_S)
    check_answer_s: Mapped[float] = mapped_column(default=CHECK_ANSWER_S)
    # the video: a recording (its file stays where the recorder wrote it) or an upload
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL"), index=True
    )
    file_name: Mapped[str200 | None]  # in <data_dir>/selfstudy
    format: Mapped[str] = mapped_column(String(8))  # webm, mp4
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float]
    org_unit_ids: Mapped[Any] = mapped_column(default=list)  # who may watch; [] = everyone
    created_by: Mapped[str100]
    created_at: Mapped[timestamp]
    __table_args__ = (
        CheckConstraint("closes_at > opens_at", name="window_positive"),
        CheckConstraint("class_hours >= 0", name="hours_non_negative"),
        CheckConstraint("duration_s > 0", name="duration_positive"),
    )


class SelfStudyProgress(Base):
    """A trainee's state in a course: the core's progress (``state``) and what lists need."""

    __tablename__ = "selfstudy_progress"
    course_id: Mapped[int] = mapped_column(
        ForeignKey("selfstudy_courses.id", ondelete="CASCADE"), primary_key=True
    )
    trainee_id: Mapped[trainee_fk] = mapped_column(primary_key=True, index=True)
    state: Mapped[Any]  # server.core.selfstudy.progress_to_json
    position_s: Mapped[float] = mapped_column(default=0.0)
    watched_s: Mapped[float] = mapped_column(default=0.0)
    started_at: Mapped[timestamp]
    updated_at: Mapped[timestamp]


class SelfStudyCheck(Base):
    """One 在吗？ check: when it opened, its deadline, and whether it was answered in time."""

    __tablename__ = "selfstudy_checks"
    id: Mapped[intpk]
    course_id: Mapped[int] = mapped_column(
        ForeignKey("selfstudy_courses.id", ondelete="CASCADE"), index=True
    )
    trainee_id: Mapped[trainee_fk]
    seq: Mapped[int]
    issued_at: Mapped[datetime]
    deadline: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    result: Mapped[str16] = mapped_column(default="open")  # answered, missed
    discarded_s: Mapped[float] = mapped_column(default=0.0)
    __table_args__ = (UniqueConstraint("course_id", "trainee_id", "seq", name="one_per_seq"),)
