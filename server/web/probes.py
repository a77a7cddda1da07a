"""The process's own endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document."""

from __future__ import annotations

import asyncio

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from server import __version__
from server.store import db as store_db
from server.web import edges, openapi
from server.web.guard import client_address
from server.web.keys import CONFIG, ENGINE, LIVE, METRICS, REGISTRY
from server.web.middleware import DB_UNAVAILABLE, DB_UNAVAILABLE_MESSAGE
from server.web.responses import error_response

READY_TIMEOUT = 3.0  # seconds /readyz waits for the database before saying it is unreachable


async def healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "version": __version__})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the database answers within ``READY_TIMEOUT``; says which part is not."""
    try:
        async with asyncio.timeout(READY_TIMEOUT):
            await store_db.ping(request.app[ENGINE])
    except (OSError, DBAPIError, PoolTimeout, TimeoutError) as exc:
        body = {
            "status": "unavailable",
            "database": "unreachable",
            "detail": str(exc)[:200] or type(exc).__name__,
            "error": {"code": DB_UNAVAILABLE, "message": DB_UNAVAILABLE_MESSAGE},
        }
        return web.json_response(body, status=503, headers={"Retry-After": "5"})
    live = request.app.get(LIVE)
    bus = "ok" if live is None or getattr(live.bus, "online", True) else "reconnecting"
    return web.json_response({"status": "ready", "database": "ok", "bus": bus})


async def metrics_view(request: web.Request) -> web.Response:
    if not request.app[CONFIG].metrics_public and not edges.is_loopback(client_address(request)):
        return error_response(
            403,
            "metrics.forbidden",
            "/metrics is served to this host's scrapers only (setting metrics_public).",
        )
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi_view(request: web.Request) -> web.Response:
    return web.json_response(openapi.document(request.app[REGISTRY], __version__))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics_view)
    app.router.add_get("/api/v1/openapi.json", openapi_view)
