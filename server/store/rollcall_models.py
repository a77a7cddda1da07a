"""Roll calls and who was expected to answer, who did and who missed it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, intpk, str16, str100, timestamp


class RollCall(Base):
    __tablename__ = "roll_calls"
    id: Mapped[intpk]
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="RESTRICT"), index=True
    )
    site_ids: Mapped[Any]
    started_at: Mapped[timestamp]
    deadline: Mapped[datetime]
    started_by: Mapped[str100]
    closed: Mapped[bool] = mapped_column(default=False)


class RollCallEntry(Base):
    """One trainee in one roll call: pending, answered (when, how) or missed."""

    __tablename__ = "roll_call_entries"
    id: Mapped[intpk]
    roll_call_id: Mapped[int] = mapped_column(
        ForeignKey("roll_calls.id", ondelete="CASCADE"), index=True
    )
    trainee_id: Mapped[int] = mapped_column(ForeignKey("trainees.id", ondelete="RESTRICT"))
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="RESTRICT"))
    status: Mapped[str16]
    answered_at: Mapped[datetime | None]
    via: Mapped[str16] = mapped_column(default="")  # phone or site
    __table_args__ = (UniqueConstraint("roll_call_id", "trainee_id", name="uq_roll_call_entry"),)
