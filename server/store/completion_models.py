"""Durable tables of leave, set reading, write-ups, completion settings and certificates.

Imported at the end of ``server.store.models`` so that Alembic and ``Base.metadata`` see them.
The rules live in ``server.core.leave``, ``server.core.writeup`` and ``server.core.completion``.
"""

from __future__ import annotations

from datetime import datetime

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
    str16,
    str32,
    str64,
    str100,
    str200,
    timestamp,
    trainee_fk,
)


class UnitContact(Base):
    """A user who is the contact (联络员) of an org unit: decides its trainees' leave."""

    __tablename__ = "unit_contacts"
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    org_unit_id: Mapped[int] = mapped_column(
        ForeignKey("org_units.id", ondelete="CASCADE"), primary_key=True
    )


class ProgramSettings(Base):
    """A program's completion requirements and its leave limit (default 1/7)."""

    __tablename__ = "program_settings"
    program_id: Mapped[program_fk] = mapped_column(primary_key=True)
    leave_limit_num: Mapped[int] = mapped_column(default=1)
    leave_limit_den: Mapped[int] = mapped_column(default=7)
    min_hours: Mapped[float | None]
    count_self_study: Mapped[bool] = mapped_column(default=False)
    min_attendance_share: Mapped[float | None]
    quiz_pass_mark: Mapped[float | None]
    writeup_required: Mapped[bool] = mapped_column(default=False)
    __table_args__ = (
        CheckConstraint(
            "leave_limit_num > 0 AND leave_limit_den >= leave_limit_num", name="leave_limit"
        ),
    )


class LeaveRequestRow(Base):
    """A trainee's leave request (请假) from sessions of one program."""

    __tablename__ = "leave_requests"
    id: Mapped[intpk]
    trainee_id: Mapped[trainee_fk] = mapped_column(index=True)
    program_id: Mapped[program_fk] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text)
    state: Mapped[str16] = mapped_column(index=True)  # server.core.leave.LeaveState
    first_start: Mapped[datetime]
    created_at: Mapped[timestamp]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str100] = mapped_column(default="")
    note: Mapped[str] = mapped_column(Text, default="")


class LeaveSessionRow(Base):
    """A session a leave request covers."""

    __tablename__ = "leave_request_sessions"
    request_id: Mapped[int] = mapped_column(
        ForeignKey("leave_requests.id", ondelete="CASCADE"), primary_key=True
    )
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    __table_args__ = (Index("ix_leave_request_sessions_session", "session_id"),)


class StoredFile:
    """An uploaded file kept under ``<data_dir>/files``: the name it was sent with, its media
    type and its key there (empty: no file yet)."""

    file_name: Mapped[str200] = mapped_column(default="")
    file_type: Mapped[str100] = mapped_column(default="")
    file_key: Mapped[str64] = mapped_column(default="")


class ReadingRow(StoredFile, Base):
    """A book or material (研读书目) of a program or one of its units."""

    __tablename__ = "readings"
    id: Mapped[intpk]
    program_id: Mapped[program_fk] = mapped_column(index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("program_units.id", ondelete="CASCADE"))
    title: Mapped[str200]
    author: Mapped[str100] = mapped_column(default="")
    link: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[timestamp]


class WriteupRow(StoredFile, Base):
    """A trainee's write-up (学用成果总结) of a program, and the office's mark."""

    __tablename__ = "writeups"
    id: Mapped[intpk]
    trainee_id: Mapped[trainee_fk] = mapped_column(index=True)
    program_id: Mapped[program_fk] = mapped_column(index=True)
    text: Mapped[str] = mapped_column(Text)
    file_size: Mapped[int] = mapped_column(default=0)
    state: Mapped[str16]  # server.core.writeup.WriteupState
    comment: Mapped[str] = mapped_column(Text, default="")
    submitted_at: Mapped[timestamp]
    marked_at: Mapped[datetime | None]
    marked_by: Mapped[str100] = mapped_column(default="")
    __table_args__ = (UniqueConstraint("trainee_id", "program_id", name="uq_writeup"),)


class CertificateRow(Base):
    """A completion certificate; ``code`` is what its QR link and the public page check."""

    __tablename__ = "certificates"
    id: Mapped[intpk]
    code: Mapped[str32] = mapped_column(unique=True)
    trainee_id: Mapped[trainee_fk] = mapped_column(index=True)
    program_id: Mapped[program_fk] = mapped_column(index=True)
    trainee_name: Mapped[str64]
    program_name: Mapped[str200]
    hours: Mapped[float]
    issued_at: Mapped[timestamp]
    issued_by: Mapped[str100] = mapped_column(default="")
    revoked_at: Mapped[datetime | None]
    """When staff revoked it (撤销); None: valid."""
    revoked_by: Mapped[str | None] = mapped_column(String(100))
    revoke_reason: Mapped[str | None] = mapped_column(Text)
    __table_args__ = (UniqueConstraint("trainee_id", "program_id", name="uq_certificate"),)


__all__ = [
    "CertificateRow",
    "LeaveRequestRow",
    "LeaveSessionRow",
    "ProgramSettings",
    "ReadingRow",
    "UnitContact",
    "WriteupRow",
]
