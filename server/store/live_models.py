"""Durable traces of the live side: site presence changes (for the timeline in reports) and the
items site agents delivered from their on-disk outboxes (recorded exactly once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Index, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.store.models import Base, intpk, site_fk, str16, str32, str64, timestamp


class PresenceEvent(Base):
    """A reported change of a site's presence: online, degraded or offline, with why."""

    __tablename__ = "presence_events"
    id: Mapped[intpk]
    site_id: Mapped[site_fk]
    state: Mapped[str16]
    previous: Mapped[str16]
    reason: Mapped[str32]
    at: Mapped[datetime]
    node_id: Mapped[str64] = mapped_column(default="")
    __table_args__ = (Index("ix_presence_events_site_at", "site_id", "at"),)


class OutboxItem(Base):
    """An event a site agent must not lose; (site_id, client_id) makes a re-send harmless."""

    __tablename__ = "agent_outbox_items"
    id: Mapped[intpk]
    site_id: Mapped[site_fk]
    client_id: Mapped[str64]
    kind: Mapped[str32]
    created_at: Mapped[datetime]  # the agent's clock
    received_at: Mapped[timestamp]
    body: Mapped[Any]
    result: Mapped[str64] = mapped_column(default="recorded")
    __table_args__ = (UniqueConstraint("site_id", "client_id", name="uq_agent_outbox_site_client"),)
