"""Wrong check-in codes per trainee and session (the back-off of ``server.core.checkin_guard``).

One row per (session, trainee) that entered a wrong code, and one per session with
``trainee_id`` 0 for the whole session's minute. Kept in the store so that every server
process applies the same back-off and the operator's console lists the same trainees.
"""

from __future__ import annotations

from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, session_fk

SESSION_ROW = 0
"""``trainee_id`` of the row that counts the whole session's wrong codes."""


class CheckinAttemptRow(Base):
    __tablename__ = "checkin_attempts"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    trainee_id: Mapped[int] = mapped_column(primary_key=True)  # 0: the session
    failures: Mapped[int] = mapped_column(default=0)
    total: Mapped[int] = mapped_column(default=0)
    window_start: Mapped[float] = mapped_column(default=0.0)
    last_failure: Mapped[float] = mapped_column(default=0.0)
    blocked_until: Mapped[float] = mapped_column(default=0.0)
