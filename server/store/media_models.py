"""Recordings of a session's program (files written by ``server.media.recorder``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, intpk, session_fk, str16, str100, str200, timestamp


class Recording(Base):
    __tablename__ = "recordings"
    id: Mapped[intpk]
    session_id: Mapped[session_fk] = mapped_column(index=True)
    file_name: Mapped[str200]  # inside <data_dir>/recordings
    format: Mapped[str] = mapped_column(String(8))  # webm, mp4
    status: Mapped[str16] = mapped_column(default="recording")  # done, failed
    source: Mapped[str16]  # what the broadcast came from
    started_at: Mapped[timestamp]
    ended_at: Mapped[datetime | None]
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    duration_s: Mapped[float] = mapped_column(default=0.0)
    video_frames: Mapped[int] = mapped_column(default=0)
    switches: Mapped[Any] = mapped_column(default=list)  # [{at_s, program}]
    started_by: Mapped[str100]


class LiveBroadcast(Base):
    """A broadcast running now: which node owns its relay (under a short lease, see
    ``server.core.broadcast_lease``) and the start request another node needs to take it over
    when the owner dies. Deleted when the broadcast stops."""

    __tablename__ = "live_broadcasts"
    session_id: Mapped[session_fk] = mapped_column(primary_key=True)
    node_id: Mapped[str100]
    generation: Mapped[int] = mapped_column(default=1)
    lease_until: Mapped[float]  # seconds since the epoch
    request: Mapped[Any] = mapped_column(
        JSON
    )  # the start body: source, site_id, recording_id, record
    recording_id: Mapped[int | None]
    started_at: Mapped[timestamp]
    started_by: Mapped[str100]
