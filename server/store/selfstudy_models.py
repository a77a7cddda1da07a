"""Self-study courses (自学课程): the course, each trainee's progress, and the 在吗？ checks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, UTCDateTime, utcnow


class SelfStudyCourse(Base):
    """A video trainees watch on their own inside a window, worth ``class_hours`` (学时)."""

    __tablename__ = "selfstudy_courses"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    unit_id: Mapped[int] = mapped_column(
        ForeignKey("program_units.id", ondelete="RESTRICT"), index=True
    )
    class_hours: Mapped[float] = mapped_column(Float)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime)
    presence_check: Mapped[bool] = mapped_column(Boolean, default=False)
    check_min_s: Mapped[float] = mapped_column(Float, default=300.0)
    check_max_s: Mapped[float] = mapped_column(Float, default=900.0)
    check_answer_s: Mapped[float] = mapped_column(Float, default=60.0)
    # the video: a recording (its file stays where the recorder wrote it) or an upload
    recording_id: Mapped[int | None] = mapped_column(
        ForeignKey("recordings.id", ondelete="SET NULL"), index=True
    )
    file_name: Mapped[str | None] = mapped_column(String(200))  # in <data_dir>/selfstudy
    format: Mapped[str] = mapped_column(String(8))  # webm, mp4
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float)
    org_unit_ids: Mapped[Any] = mapped_column(JSON, default=list)  # who may watch; [] = everyone
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
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
    trainee_id: Mapped[int] = mapped_column(
        ForeignKey("trainees.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    state: Mapped[Any] = mapped_column(JSON)  # server.core.selfstudy.progress_to_json
    position_s: Mapped[float] = mapped_column(Float, default=0.0)
    watched_s: Mapped[float] = mapped_column(Float, default=0.0)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SelfStudyCheck(Base):
    """One 在吗？ check: when it opened, its deadline, and whether it was answered in time."""

    __tablename__ = "selfstudy_checks"
    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(
        ForeignKey("selfstudy_courses.id", ondelete="CASCADE"), index=True
    )
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str] = mapped_column(String(16), default="open")  # answered, missed
    discarded_s: Mapped[float] = mapped_column(Float, default=0.0)
    __table_args__ = (UniqueConstraint("course_id", "trainee_id", "seq", name="one_per_seq"),)
