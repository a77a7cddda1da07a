"""Recordings of a session's program (files written by ``server.media.recorder``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, UTCDateTime, utcnow


class Recording(Base):
    __tablename__ = "recordings"
    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), index=True
    )
    file_name: Mapped[str] = mapped_column(String(200))  # inside <data_dir>/recordings
    format: Mapped[str] = mapped_column(String(8))  # webm, mp4
    status: Mapped[str] = mapped_column(String(16), default="recording")  # done, failed
    source: Mapped[str] = mapped_column(String(16))  # what the broadcast came from
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(Float, default=0.0)
    video_frames: Mapped[int] = mapped_column(Integer, default=0)
    switches: Mapped[Any] = mapped_column(JSON, default=list)  # [{at_s, program}]
    started_by: Mapped[str] = mapped_column(String(100))


class LiveBroadcast(Base):
    """A broadcast running now: which node owns its relay (under a short lease, see
    ``server.core.broadcast_lease``) and the start request another node needs to take it over
    when the owner dies. Deleted when the broadcast stops."""

    __tablename__ = "live_broadcasts"
    session_id: Mapped[int] = mapped_column(
        ForeignKey("class_sessions.id", ondelete="CASCADE"), primary_key=True
    )
    node_id: Mapped[str] = mapped_column(String(100))
    generation: Mapped[int] = mapped_column(Integer, default=1)
    lease_until: Mapped[float] = mapped_column(Float)  # seconds since the epoch
    request: Mapped[Any] = mapped_column(
        JSON
    )  # the start body: source, site_id, recording_id, record
    recording_id: Mapped[int | None] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_by: Mapped[str] = mapped_column(String(100))
