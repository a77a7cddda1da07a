"""Roll calls and who was expected to answer, who did and who missed it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, UTCDateTime, utcnow


class RollCall(Base):
    __tablename__ = "roll_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="RESTRICT"), index=True
    )
    site_ids: Mapped[Any] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deadline: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by: Mapped[str] = mapped_column(String(100))
    closed: Mapped[bool] = mapped_column(Boolean, default=False)


class RollCallEntry(Base):
    """One trainee in one roll call: pending, answered (when, how) or missed."""

    __tablename__ = "roll_call_entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    roll_call_id: Mapped[int] = mapped_column(
        ForeignKey("roll_calls.id", ondelete="CASCADE"), index=True
    )
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    status: Mapped[str] = mapped_column(String(16))
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    via: Mapped[str] = mapped_column(String(16), default="")  # phone or site
    __table_args__ = (UniqueConstraint("roll_call_id", "trainee_id", name="uq_roll_call_entry"),)
