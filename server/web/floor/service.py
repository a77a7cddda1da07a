"""The floor: the store around ``server.core.floor.FloorControl``. No HTTP here.

Every change takes the session's lock, restores the floor from its rows (pending requests, the
open grant), asks the core (raise, lower, grant, revoke, tick: the transition table, "one site
holds the floor", expiry at the deadline) and stores its events, which are announced to the
session and every site's agent. **Expiry**: the granting process sets a timer for the
deadline (``floor.http``); any read of the floor also applies an expiry that is due (lazy), so a
grant expires even when the process that granted it died; ``floor_returned`` is published
either way, once.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import floor as floor_core
from server.core.errors import Conflict
from server.core.qa_views import ViewerRole
from server.core.roles import Principal
from server.store.models import utcnow
from server.store.qa_models import FloorGrantRow, FloorRequestRow
from server.web.db import iso
from server.web.interaction.service import (
    Services,
    agent_site,
    lock,
    log_event,
    not_ended,
    session_status,
    site_ids,
)
from server.web.qa.service import approved_questions, core_question, question_view, see_identity

SYSTEM = "system:floor-timer"
Announced = list[tuple[str, dict[str, Any]]]


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


async def _restore(db: AsyncSession, session_id: int) -> floor_core.FloorControl:
    requests = (
        await db.scalars(
            select(FloorRequestRow)
            .where(FloorRequestRow.session_id == session_id, FloorRequestRow.outcome == "pending")
            .order_by(FloorRequestRow.raised_at, FloorRequestRow.id)
        )
    ).all()
    grant = await db.scalar(
        select(FloorGrantRow)
        .where(FloorGrantRow.session_id == session_id, FloorGrantRow.ended_at.is_(None))
        .order_by(FloorGrantRow.id.desc())
        .limit(1)
    )
    holder = None
    if grant is not None:
        holder = floor_core.FloorHolder(
            str(grant.site_id),
            grant.granted_at.timestamp(),
            None if grant.deadline is None else grant.deadline.timestamp(),
        )
    return floor_core.FloorControl.restore(
        str(session_id),
        [floor_core.FloorRequest(str(r.site_id), r.raised_at.timestamp(), r.id) for r in requests],
        holder,
    )


async def _close_request(
    db: AsyncSession, session_id: int, site_id: int, outcome: str, at: datetime
) -> None:
    await db.execute(
        update(FloorRequestRow)
        .where(
            FloorRequestRow.session_id == session_id,
            FloorRequestRow.site_id == site_id,
            FloorRequestRow.outcome == "pending",
        )
        .values(outcome=outcome, closed_at=at)
    )


async def _store(
    db: AsyncSession, session_id: int, events: Iterable[floor_core.FloorEvent], who: str
) -> Announced:
    """Persist the core's floor events; return (kind, data) to announce."""
    out: Announced = []
    data: dict[str, Any]
    for event in events:
        site_id = int(event.site_id)
        at = _at(event.at)
        if isinstance(event, floor_core.FloorRequested):
            db.add(
                FloorRequestRow(
                    session_id=session_id, site_id=site_id, raised_at=at, outcome="pending"
                )
            )
            kind, data = "floor_requested", {"site_id": site_id, "at": iso(at)}
        elif isinstance(event, floor_core.FloorWithdrawn):
            await _close_request(db, session_id, site_id, "withdrawn", at)
            kind, data = "floor_withdrawn", {"site_id": site_id, "at": iso(at)}
        elif isinstance(event, floor_core.FloorGranted):
            await _close_request(db, session_id, site_id, "granted", at)
            deadline = None if event.deadline is None else _at(event.deadline)
            db.add(
                FloorGrantRow(
                    session_id=session_id,
                    site_id=site_id,
                    granted_at=at,
                    deadline=deadline,
                    granted_by=who,
                )
            )
            kind = "floor_granted"
            data = {
                "site_id": site_id,
                "at": iso(at),
                "deadline": iso(deadline),
                "seconds": None if event.deadline is None else round(event.deadline - event.at, 3),
            }
        else:
            await db.execute(
                update(FloorGrantRow)
                .where(
                    FloorGrantRow.session_id == session_id,
                    FloorGrantRow.site_id == site_id,
                    FloorGrantRow.ended_at.is_(None),
                )
                .values(ended_at=at, end_reason=event.reason.value)
            )
            kind = "floor_returned"
            data = {"site_id": site_id, "at": iso(at), "reason": event.reason.value}
        log_event(db, session_id, kind, who, data, None, at)
        out.append((kind, data))
    await db.flush()
    return out


def floor_view(session_id: int, control: floor_core.FloorControl, now: float) -> dict[str, Any]:
    holder = control.holder
    return {
        "session_id": session_id,
        "holder": None
        if holder is None
        else {
            "site_id": int(holder.site_id),
            "granted_at": iso(_at(holder.granted_at)),
            "deadline": None if holder.deadline is None else iso(_at(holder.deadline)),
            "remaining_seconds": None
            if holder.remaining(now) is None
            else round(holder.remaining(now) or 0.0, 3),
        },
        "requests": [
            {"site_id": int(r.site_id), "raised_at": iso(_at(r.raised_at))}
            for r in control.requests()
        ],
    }


async def change(
    svc: Services, who: Principal | None, session_id: int, how: str, data: dict[str, Any]
) -> tuple[dict[str, Any], Announced]:
    """One floor change in a locked transaction (``how``: raise, lower, grant, revoke, tick);
    announces its events; returns the floor's view and the events announced."""
    now = utcnow().timestamp()
    label = who.label if who is not None else SYSTEM
    async with svc.sessions() as db, db.begin():
        if how != "tick":
            not_ended(session_id, await session_status(db, session_id))
        await lock(db, session_id)
        control = await _restore(db, session_id)
        if how == "raise":
            events = control.raise_hand(str(data["site_id"]), now=now)
        elif how == "lower":
            events = control.lower_hand(str(data["site_id"]), now=now)
        elif how == "grant":
            events = control.grant(
                str(data["site_id"]), now=now, time_limit=data.get("time_limit"), by=label
            )
        elif how == "revoke":
            events = control.revoke(now=now)
        else:
            events = control.tick(now)
        announced = await _store(db, session_id, events, label)
        view = floor_view(session_id, control, now)
    for kind, payload in announced:
        await svc.announce(session_id, kind, payload)
    return view, announced


async def hand(
    svc: Services, who: Principal, session_id: int, how: str
) -> tuple[dict[str, Any], Announced]:
    """A site (its agent) raises or lowers its hand for its room."""
    async with svc.sessions() as db:
        await session_status(db, session_id)
        site_id = await agent_site(db, session_id, who)
    return await change(svc, who, session_id, how, {"site_id": site_id})


async def grant(
    svc: Services, who: Principal, session_id: int, data: dict[str, Any]
) -> tuple[dict[str, Any], Announced]:
    """The operator gives one participating site the floor, optionally for a time limit."""
    async with svc.sessions() as db:
        await session_status(db, session_id)
        if data["site_id"] not in await site_ids(db, session_id):
            raise Conflict(
                "floor.site_not_in_session",
                "This site is not taking part in the session; choose a participating site.",
                {"site_id": data["site_id"]},
            )
    return await change(svc, who, session_id, "grant", data)


async def expire_if_due(svc: Services, session_id: int) -> Announced:
    """Lazy expiry on read: only when an open grant's deadline has passed."""
    async with svc.sessions() as db:
        await session_status(db, session_id)
        due = await db.scalar(
            select(func.count()).where(
                FloorGrantRow.session_id == session_id,
                FloorGrantRow.ended_at.is_(None),
                FloorGrantRow.deadline <= utcnow(),
            )
        )
    if not due:
        return []
    _view, announced = await change(svc, None, session_id, "tick", {})
    return announced


async def show(svc: Services, session_id: int) -> dict[str, Any]:
    async with svc.sessions() as db:
        control = await _restore(db, session_id)
    return floor_view(session_id, control, utcnow().timestamp())


async def moderator_queue(svc: Services, session_id: int) -> dict[str, Any]:
    """ONE queue: pending floor requests and approved questions, in the order raised."""
    async with svc.sessions() as db:
        control = await _restore(db, session_id)
        rows = await approved_questions(db, session_id)
        see = await see_identity(db, session_id)
    by_id = {str(r.id): r for r in rows}
    queue = floor_core.merge_queue(control.requests(), [core_question(r) for r in rows])
    items = []
    for item in queue:
        entry: dict[str, Any] = {
            "kind": item.kind.value,
            "site_id": int(item.site_id),
            "raised_at": iso(_at(item.raised_at)),
        }
        if item.kind is floor_core.QueueItemKind.QUESTION:
            entry["question"] = question_view(by_id[item.ref], ViewerRole.MODERATOR, see)
        items.append(entry)
    return {"session_id": session_id, "items": items}
