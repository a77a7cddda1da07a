"""The audit trail's endpoints: the filters are declared once and parsed by their ``Param``."""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.web.api import Param, Routes
from server.web.audit import service
from server.web.exports import zone_of
from server.web.keys import SESSIONS
from server.web.resources import PAGE_PARAMS, page_params

routes = Routes()
register = routes.register

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


@routes(
    "GET",
    "/api/v1/audit",
    roles.MANAGERS,
    "Read the audit trail: who, what, when, why (newest first, filtered)",
    "audit",
    query=(*FILTERS, *PAGE_PARAMS),
)
async def list_audit(request: web.Request) -> web.Response:
    actor, action, entity, entity_id, since, until = (p.parse(request) for p in FILTERS)
    wanted = service.AuditFilter(zone_of(request), actor, action, entity, entity_id, since, until)
    limit, offset = page_params(request)
    return web.json_response(await service.read(request.app[SESSIONS], wanted, limit, offset))


@routes(
    "GET",
    "/api/v1/audit/facets",
    roles.MANAGERS,
    "List the actions and entities found in the audit trail",
    "audit",
)
async def audit_facets(request: web.Request) -> web.Response:
    return web.json_response(await service.facets(request.app[SESSIONS]))
