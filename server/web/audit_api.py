"""The audit trail, read: who did what to what, when, and why, newest first, with filters by
actor, action, entity and date (days of the configured ``time_zone``, like the reports), and
the names behind ``trainee:5`` / ``site:2``.

The trail itself is written by every change (server/web/resources.audit); nothing here writes.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.sql import Select

from server.core import roles
from server.store.models import AuditEntry, Site, Trainee
from server.web.api import Endpoint, Param, Registry
from server.web.exports import zone_of
from server.web.keys import SESSIONS
from server.web.resources import PAGE_PARAMS, page_params

FILTERS = (
    Param(
        "actor", {"type": "string", "maxLength": 100}, "part of the actor (user name, trainee:5)"
    ),
    Param("action", {"type": "string", "maxLength": 50}, "exact action, e.g. correct"),
    Param("entity", {"type": "string", "maxLength": 50}, "exact entity, e.g. session_result"),
    Param("entity_id", {"type": "string", "maxLength": 50}, "exact entity id"),
    Param("since", {"type": "string", "format": "date"}, "first day (configured time zone)"),
    Param(
        "until", {"type": "string", "format": "date"}, "last day, inclusive (configured time zone)"
    ),
)
ACTOR, ACTION, ENTITY, ENTITY_ID, SINCE, UNTIL = FILTERS


def _filtered(request: web.Request, query: Select[Any]) -> Select[Any]:
    actor = ACTOR.parse(request)
    if actor:
        query = query.where(AuditEntry.actor.contains(actor, autoescape=True))
    for param, column in (
        (ACTION, AuditEntry.action),
        (ENTITY, AuditEntry.entity),
        (ENTITY_ID, AuditEntry.entity_id),
    ):
        value = param.parse(request)
        if value:
            query = query.where(column == value)
    since, until = SINCE.parse(request), UNTIL.parse(request)
    zone = zone_of(request)  # a day is the deployment's calendar day
    if since is not None:
        query = query.where(AuditEntry.at >= datetime.combine(since, time(), zone))
    if until is not None:  # the whole day named
        query = query.where(
            AuditEntry.at < datetime.combine(until + timedelta(days=1), time(), zone)
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


async def _names(db: Any, labels: set[str]) -> dict[str, str]:
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


def _iso(value: datetime) -> str:
    return value.isoformat()


async def list_audit(request: web.Request) -> web.Response:
    limit, offset = page_params(request)
    async with request.app[SESSIONS]() as db:
        query = _filtered(request, select(AuditEntry))
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        rows = (
            await db.scalars(
                query.order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
                .offset(offset)
            )
        ).all()
        names = await _names(db, {r.actor for r in rows})
    items = [
        {
            "id": r.id,
            "at": _iso(r.at),
            "actor": r.actor,
            "actor_name": names.get(r.actor, r.actor),
            "action": r.action,
            "entity": r.entity,
            "entity_id": r.entity_id,
            "before": r.before,
            "after": r.after,
            "reason": r.reason,
        }
        for r in rows
    ]
    return web.json_response({"items": items, "total": total, "limit": limit, "offset": offset})


async def audit_facets(request: web.Request) -> web.Response:
    """The actions and entities that occur in the trail (for the reader's filter lists)."""
    async with request.app[SESSIONS]() as db:
        actions = (
            await db.scalars(select(AuditEntry.action).distinct().order_by(AuditEntry.action))
        ).all()
        entities = (
            await db.scalars(select(AuditEntry.entity).distinct().order_by(AuditEntry.entity))
        ).all()
    return web.json_response({"actions": list(actions), "entities": list(entities)})


def register(registry: Registry) -> None:
    registry.add(
        Endpoint(
            "GET",
            "/api/v1/audit",
            list_audit,
            roles.MANAGERS,
            "Read the audit trail: who, what, when, why (newest first, filtered)",
            "audit",
            query=(*FILTERS, *PAGE_PARAMS),
        )
    )
    registry.add(
        Endpoint(
            "GET",
            "/api/v1/audit/facets",
            audit_facets,
            roles.MANAGERS,
            "List the actions and entities found in the audit trail",
            "audit",
        )
    )
