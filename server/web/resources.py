"""Catalogue resources (org units, sites, trainees, users, programs, units, courses, sessions)
served by one generic list/create/read/update/delete implementation.

Each resource is declared once: its model, its writable fields (a validation schema), the
references to check, who may read and who may write. Special cases hook in with ``prepare``.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aiohttp import web
from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import InvalidInput, NotFound
from server.core.roles import Actor, Principal
from server.core.trees import check_tree_parent
from server.core.validation import Map
from server.store.models import Base
from server.web.api import MAX_ID, Endpoint, Param, Registry, id_param, read_body
from server.web.db import audit as audit  # re-exported: one home in the service layer
from server.web.db import load as load

Prepare = Callable[[AsyncSession, Any, dict[str, Any], bool], Awaitable[None]]


@dataclass(frozen=True)
class Resource:
    name: str  # URL segment: /api/v1/<name>
    label: str  # what one item is called in messages
    model: type[Base]
    fields: Map  # writable fields; on create, the Map's required fields are required
    read: frozenset[Actor]
    write: frozenset[Actor]
    refs: dict[str, type[Base]] = field(default_factory=dict)  # field -> referenced model
    tree: bool = False  # has parent_id forming a tree
    filters: tuple[str, ...] = ()  # integer columns that can filter the list
    search: tuple[str, ...] = ()  # string columns searched by ?q=
    hidden: frozenset[str] = frozenset()  # columns never shown
    extra: Callable[[Any], dict[str, Any]] | None = None  # extra fields in the JSON view
    prepare: Prepare | None = None  # custom field handling before flush
    before_delete: Callable[[AsyncSession, Any], Awaitable[None]] | None = None  # may refuse
    # after a committed change: (request, id, the fields sent; None when deleted)
    changed: Callable[[web.Request, int, frozenset[str] | None], Awaitable[None]] | None = None


def to_json(resource: Resource, obj: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for column in obj.__table__.columns:
        if column.key in resource.hidden:
            continue
        value = getattr(obj, column.key)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, enum.Enum):
            value = value.value
        out[column.key] = value
    if resource.extra is not None:
        out.update(resource.extra(obj))
    return out


_WHOLE = re.compile(r"[0-9]{1,18}")


def path_id(request: web.Request, label: str) -> int:
    """The ``{id}`` of the URL; ids beyond the store's range simply do not exist."""
    value = int(request.match_info["id"])
    if not 1 <= value <= MAX_ID:
        raise NotFound(
            f"{label.replace(' ', '_')}.not_found", f"There is no {label} with id {value}."
        )
    return value


PAGE_PARAMS = (
    Param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "page size"),
    Param(
        "offset",
        {"type": "integer", "minimum": 0, "maximum": 10000000, "default": 0},
        "items to skip",
    ),
)


def page_params(request: web.Request) -> tuple[int, int]:
    limit, offset = (param.parse(request) for param in PAGE_PARAMS)
    return int(limit), int(offset)


def page_schema(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer"},
            "limit": {"type": "integer"},
            "offset": {"type": "integer"},
        },
    }


async def apply_fields(
    db: AsyncSession, res: Resource, obj: Any, data: dict[str, Any], creating: bool
) -> None:
    for name, model in res.refs.items():
        ref = data.get(name)
        if ref is not None and await db.get(model, ref) is None:
            raise InvalidInput(
                f"{res.name}.unknown_{name.removesuffix('_id')}", f"{name} {ref} does not exist."
            )
    if res.tree and "parent_id" in data:
        rows = (await db.execute(select(res.model.id, res.model.parent_id))).all()  # type: ignore[attr-defined]
        check_tree_parent(
            None if creating else obj.id, data["parent_id"], {r[0]: r[1] for r in rows}
        )
    if res.prepare is not None:
        await res.prepare(db, obj, data, creating)
    for key, value in data.items():
        if hasattr(res.model, key) and key in res.model.__table__.columns:
            setattr(obj, key, value)


def register(
    registry: Registry,
    res: Resource,
    sessions_key: Any,
    principal_of: Callable[[web.Request], Principal],
) -> None:
    base = f"/api/v1/{res.name}"
    item_schema = {"type": "object"}
    filters = tuple(id_param(f, f"only items with this {f}") for f in res.filters)
    search = (
        (Param("q", {"type": "string", "maxLength": 100}, "search " + ", ".join(res.search)),)
        if res.search
        else ()
    )

    async def list_items(request: web.Request) -> web.Response:
        limit, offset = page_params(request)
        query = select(res.model)
        for param in filters:
            value = param.parse(request)
            if value is not None:
                query = query.where(getattr(res.model, param.name) == value)
        q = search[0].parse(request) if search else None
        if q:
            like = f"%{q.replace('%', '').replace('_', '')}%"
            query = query.where(or_(*(getattr(res.model, c).ilike(like) for c in res.search)))
        async with request.app[sessions_key]() as db:
            total = await db.scalar(select(func.count()).select_from(query.subquery()))
            ordered = query.order_by(res.model.__table__.c.id).limit(limit).offset(offset)
            rows = (await db.scalars(ordered)).all()
            items = [to_json(res, r) for r in rows]
        return web.json_response({"items": items, "total": total, "limit": limit, "offset": offset})

    async def create_item(request: web.Request) -> web.Response:
        data = await read_body(request, res.fields)
        who = principal_of(request)
        async with request.app[sessions_key]() as db, db.begin():
            obj = res.model()
            await apply_fields(db, res, obj, data, creating=True)
            db.add(obj)
            await db.flush()
            view = to_json(res, obj)
            audit(db, who, "create", res.name, obj.id, None, view)  # type: ignore[attr-defined]
        return web.json_response(view, status=201)

    async def get_item(request: web.Request) -> web.Response:
        async with request.app[sessions_key]() as db:
            obj = await load(db, res.model, path_id(request, res.label), res.label)
            return web.json_response(to_json(res, obj))

    async def update_item(request: web.Request) -> web.Response:
        data = await read_body(request, res.fields.partial())
        who = principal_of(request)
        async with request.app[sessions_key]() as db, db.begin():
            obj: Any = await load(db, res.model, path_id(request, res.label), res.label)
            before = to_json(res, obj)
            sent = frozenset(data)
            await apply_fields(db, res, obj, data, creating=False)
            await db.flush()
            view = to_json(res, obj)
            audit(db, who, "update", res.name, obj.id, before, view)
        if res.changed is not None:
            await res.changed(request, view["id"], sent)
        return web.json_response(view)

    async def delete_item(request: web.Request) -> web.Response:
        who = principal_of(request)
        async with request.app[sessions_key]() as db, db.begin():
            obj = await load(db, res.model, path_id(request, res.label), res.label)
            before = to_json(res, obj)
            if res.before_delete is not None:
                await res.before_delete(db, obj)
            await db.delete(obj)
            await db.flush()
            audit(db, who, "delete", res.name, before["id"], before, None)
        if res.changed is not None:
            await res.changed(request, before["id"], None)
        return web.Response(status=204)

    registry.add(
        Endpoint(
            "GET",
            base,
            list_items,
            res.read,
            f"List {res.label}s",
            res.name,
            query=PAGE_PARAMS + filters + search,
            response=page_schema(item_schema),
        )
    )
    registry.add(
        Endpoint(
            "POST",
            base,
            create_item,
            res.write,
            f"Create a {res.label}",
            res.name,
            body=res.fields,
            status=201,
            response=item_schema,
        )
    )
    registry.add(
        Endpoint(
            "GET",
            base + "/{id}",
            get_item,
            res.read,
            f"Read a {res.label}",
            res.name,
            response=item_schema,
        )
    )
    registry.add(
        Endpoint(
            "PATCH",
            base + "/{id}",
            update_item,
            res.write,
            f"Change a {res.label}",
            res.name,
            body=res.fields.partial(),
            response=item_schema,
        )
    )
    registry.add(
        Endpoint(
            "DELETE",
            base + "/{id}",
            delete_item,
            res.write,
            f"Delete a {res.label}",
            res.name,
            status=204,
        )
    )
