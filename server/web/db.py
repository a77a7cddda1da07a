"""The service layer's way into the database: one transaction, loading by id, the audit row,
a stored time as JSON (:func:`iso`), a row's plain columns as JSON (:func:`fields`).

Every feature service opens its unit of work here instead of writing
``async with sessions() as db, db.begin(): x = await db.get(...); if x is None: raise ...``
by hand. No aiohttp here: services take the session factory (``app[SESSIONS]``), not a request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.errors import NotFound
from server.core.roles import Principal
from server.store.models import AuditEntry, Base

Sessions = async_sessionmaker[Any]
"""The application's session factory (``app[SESSIONS]``)."""

Row = TypeVar("Row", bound=Base)

CHUNK = 500
"""Ids per ``IN (...)`` list, below every database's parameter limit."""


def iso(value: datetime | None) -> str | None:
    """A stored time in an answer: ISO 8601 with its offset, or None."""
    return None if value is None else value.isoformat()


def fields(obj: object, *names: str) -> dict[str, Any]:
    """These attributes of ``obj`` by name: the columns a row's JSON view answers as they are
    stored (the view adds those it converts)."""
    return {name: getattr(obj, name) for name in names}


@asynccontextmanager
async def transaction(sessions: Sessions, *, write: bool = False) -> AsyncIterator[AsyncSession]:
    """A database session; with ``write`` in one transaction committed on leaving (rolled
    back on an exception). Reads run without ``begin`` as they always have."""
    async with sessions() as db:
        if write:
            async with db.begin():
                yield db
        else:
            yield db


async def load(db: AsyncSession, model: type[Row], item_id: int, label: str) -> Row:
    """The row with this id, or ``<label>.not_found`` (spaces in the label become ``_``)."""
    obj = await db.get(model, item_id)
    if obj is None:
        raise NotFound(
            f"{label.replace(' ', '_')}.not_found", f"There is no {label} with id {item_id}."
        )
    return obj


async def get_or_add(db: AsyncSession, model: type[Row], key: dict[str, Any], /, **new: Any) -> Row:
    """The row with this primary key (``key``: its columns' values by name), or a new one made
    of ``key`` and ``new`` and added to the session (for rows kept one per key: settings, a
    survey, a trainee's answer to it)."""
    row = await db.get(model, key)
    if row is None:
        row = model(**key, **new)
        db.add(row)
    return row


async def find(db: AsyncSession, model: type[Row], **columns: Any) -> Row | None:
    """The row of ``model`` whose columns have these values (e.g. ``session_id=..,
    trainee_id=..`` of a unique pair), or None."""
    found: Row | None = await db.scalar(select(model).filter_by(**columns))
    return found


async def load_many(db: AsyncSession, model: type[Row], ids: Iterable[int]) -> dict[int, Row]:
    """The rows with these ids (the missing ones left out), by id, ``CHUNK`` ids a query."""
    wanted: Sequence[int] = sorted(set(ids))
    column = model.id  # type: ignore[attr-defined]
    found: dict[int, Row] = {}
    for i in range(0, len(wanted), CHUNK):
        for row in (await db.scalars(select(model).where(column.in_(wanted[i : i + CHUNK])))).all():
            found[row.id] = row  # type: ignore[attr-defined]
    return found


async def rows_by(db: AsyncSession, model: type[Row], key: str, *where: Any) -> dict[Any, Row]:
    """The rows of ``model`` that match ``where``, by their column ``key`` (e.g. a trainee's
    attendance records by session: one row per key)."""
    rows = (await db.scalars(select(model).where(*where))).all()
    return {getattr(row, key): row for row in rows}


def audit(
    db: AsyncSession,
    who: Principal,
    action: str,
    entity: str,
    entity_id: Any,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    reason: str = "",
) -> None:
    """Add an audit-log row to the open transaction."""
    db.add(
        AuditEntry(
            actor=who.label,
            action=action,
            entity=entity,
            entity_id=str(entity_id),
            before=before,
            after=after,
            reason=reason,
        )
    )
