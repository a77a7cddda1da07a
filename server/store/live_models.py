"""Durable traces of the live side: site presence changes (for the timeline in reports) and the
items site agents delivered from their on-disk outboxes (recorded exactly once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, UTCDateTime, utcnow


class PresenceEvent(Base):
    """A reported change of a site's presence: online, degraded or offline, with why."""

    __tablename__ = "presence_events"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    state: Mapped[str] = mapped_column(String(16))
    previous: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    node_id: Mapped[str] = mapped_column(String(64), default="")
    __table_args__ = (Index("ix_presence_events_site_at", "site_id", "at"),)


class OutboxItem(Base):
    """An event a site agent must not lose; (site_id, client_id) makes a re-send harmless."""

    __tablename__ = "agent_outbox_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id", ondelete="CASCADE"))
    client_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the agent's clock
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    body: Mapped[Any] = mapped_column(JSON)
    result: Mapped[str] = mapped_column(String(64), default="recorded")
    __table_args__ = (UniqueConstraint("site_id", "client_id", name="uq_agent_outbox_site_client"),)
