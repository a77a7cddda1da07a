"""The audit trail, read: who did what to what, when, and why, newest first, with filters by
actor, action, entity and date (days of the configured ``time_zone``, like the reports), and
the names behind ``trainee:5`` / ``site:2`` and behind the ids the entries hold
(``server.core.audit_refs``).

The trail itself is written by every change (server/web/resources.audit); nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.sql import Select

from server.core import audit_refs
from server.store.models import AuditEntry, Site, Trainee
from server.web.audit.names import names_of


@dataclass(frozen=True)
class AuditFilter:
    zone: tzinfo  # a day is the deployment's calendar day
    actor: str | None = None  # part of the actor label
    action: str | None = None
    entity: str | None = None
    entity_id: str | None = None
    since: date | None = None  # first day
    until: date | None = None  # last day, inclusive

    def apply(self, query: Select[Any]) -> Select[Any]:
        if self.actor:
            query = query.where(AuditEntry.actor.contains(self.actor, autoescape=True))
        for value, column in (
            (self.action, AuditEntry.action),
            (self.entity, AuditEntry.entity),
            (self.entity_id, AuditEntry.entity_id),
        ):
            if value:
                query = query.where(column == value)
        if self.since is not None:
            query = query.where(AuditEntry.at >= datetime.combine(self.since, time(), self.zone))
        if self.until is not None:  # the whole day named
            query = query.where(
                AuditEntry.at < datetime.combine(self.until + timedelta(days=1), time(), self.zone)
            )
        return query


def _ids(labels: set[str], prefix: str) -> set[int]:
    out = set()
    for label in labels:
        kind, _, rest = label.partition(":")
        number = rest.split(":", 1)[0]
        if kind == prefix and number.isdigit() and len(number) < 10:
            out.add(int(number))
    return out


async def _names(db: AsyncSession, labels: set[str]) -> dict[str, str]:
    """A readable name for each actor label: the user's, the trainee's, the site's."""
    trainees = dict(
        (
            await db.execute(
                select(Trainee.id, Trainee.name).where(Trainee.id.in_(_ids(labels, "trainee")))
            )
        ).all()
    )
    sites = dict(
        (
            await db.execute(select(Site.id, Site.name).where(Site.id.in_(_ids(labels, "site"))))
        ).all()
    )
    out = {}
    for label in labels:
        kind, _, rest = label.partition(":")
        number, _, name = rest.partition(":")
        if kind == "user":
            out[label] = name or label
        elif kind == "trainee" and number.isdigit():
            out[label] = trainees.get(int(number), label)
        elif kind == "site" and number.isdigit():
            out[label] = sites.get(int(number), label)
        else:
            out[label] = label
    return out


async def read(
    sessions: async_sessionmaker[Any], wanted: AuditFilter, limit: int, offset: int
) -> dict[str, Any]:
    """One page of the trail, newest first, with the total and each actor's name."""
    async with sessions() as db:
        query = wanted.apply(select(AuditEntry))
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await db.scalars(
                query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        names = await _names(db, {r.actor for r in rows})
        entries = [
            audit_refs.Entry(
                r.entity,
                r.entity_id,
                r.before if isinstance(r.before, dict) else None,
                r.after if isinstance(r.after, dict) else None,
            )
            for r in rows
        ]
        known = await names_of(db, audit_refs.wanted(entries))
    items = [
        {
            "id": r.id,
            "at": r.at.isoformat(),
            "actor": r.actor,
            "actor_name": names.get(r.actor, r.actor),
            "action": r.action,
            "entity": r.entity,
            "entity_id": r.entity_id,
            # the names people know: of the object, and of the ids in what changed
            "entity_name": audit_refs.entity_name(entry, known),
            "named": audit_refs.field_names(entry, known),
            "moves": audit_refs.plan_moves(entry, known),  # a batch plan's move or swap
            "before": r.before,
            "after": r.after,
            "reason": r.reason,
        }
        for r, entry in zip(rows, entries, strict=True)
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


async def facets(sessions: async_sessionmaker[Any]) -> dict[str, list[str]]:
    """The actions and entities that occur in the trail (for the reader's filter lists)."""
    async with sessions() as db:
        actions = (
            await db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
        ).all()
        entities = (
            await db.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity))
        ).all()
    return {"actions": list(actions), "entities": list(entities)}
