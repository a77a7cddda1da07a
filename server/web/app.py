"""The application factory: it only assembles. Settings and store, middlewares, routes, then one
``cleanup_ctx`` per component, each started and stopped here:

database -> bus and live side -> live-socket admission -> media -> check-in writer -> timers
-> metrics probe

They start in that order and stop in the reverse one, so whatever stops last (the database, the
bus) is still there while the others finish (the writer commits its queued check-ins and
publishes their alerts). Open WebSockets are closed at shutdown, before the server waits for its
handlers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine

from server.aio import cancel_and_wait
from server.bus.port import Bus
from server.config import Config
from server.store import db as store_db
from server.web import (
    domain_metrics,
    edges,
    media_api,
    pages,
    probes,
    revoke,
    routes,
    ws_agent,
    ws_client,
)
from server.web.checkin import http as checkin_http
from server.web.checkin.events import CheckinEvents
from server.web.guard import SignInGuard, trusted_proxies
from server.web.keys import (
    ADMISSION,
    CHECKIN_EVENTS,
    CHECKIN_WRITER,
    CONFIG,
    ENGINE,
    GUARD,
    LIVE,
    METRICS,
    REGISTRY,
    ROUTES,
    SESSIONS,
    SOCKETS,
    TIMERS,
    TRUSTED_PROXIES,
)
from server.web.live import create_live
from server.web.metrics import Metrics
from server.web.middleware import edge_middleware, security_headers
from server.web.timers import Timers


def create_app(
    config: Config, engine: AsyncEngine | None = None, bus: Bus | None = None
) -> web.Application:
    """Build the application. The caller has migrated the database (see ``server.cli``)."""
    app = web.Application(
        middlewares=[edges.request_seen, security_headers, edge_middleware],
        client_max_size=config.max_body_kib * 1024,
        handler_args={"keepalive_timeout": edges.KEEPALIVE},
    )
    edges.install(app, config.header_timeout, config.max_pending_per_client)
    app[SOCKETS] = edges.SocketCap(config.max_sockets_per_client)
    engine = engine or store_db.create_engine(config.effective_database_url, config.db_pool_size)
    app[CONFIG] = config
    app[ENGINE] = engine
    app[SESSIONS] = store_db.session_factory(engine)
    app[METRICS] = Metrics.create(engine)
    app[GUARD] = SignInGuard()
    app[TRUSTED_PROXIES] = trusted_proxies(config.trusted_proxies)
    app[TIMERS] = Timers()

    registry = routes.build_registry()
    app[REGISTRY] = registry
    app[ROUTES] = registry.install(app)
    probes.add_routes(app)
    pages.add_pages(app)

    app[LIVE] = live = create_live(app, bus)
    app[CHECKIN_EVENTS] = CheckinEvents(live.bus)
    ws_agent.setup(app)
    ws_client.setup(app)
    revoke.setup(app)
    media = media_api.setup(app)
    app[CHECKIN_WRITER] = checkin_http.make_checkin_writer(app)
    probe = domain_metrics.setup(app)

    app.cleanup_ctx.extend(
        [
            database,
            bus_and_live,
            admission,
            media,
            checkin_writer,
            timers,
            metrics_probe(probe),
        ]
    )
    app.on_shutdown.append(close_sockets)
    return app


async def database(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[ENGINE].dispose()


async def bus_and_live(app: web.Application) -> AsyncIterator[None]:
    live = app[LIVE]
    await live.start()
    yield
    app[CHECKIN_EVENTS].close()
    await live.stop()


async def close_sockets(app: web.Application) -> None:
    """At shutdown, before the server waits for its handlers: every open WebSocket ends."""
    await app[LIVE].hub.shutdown()


async def admission(app: web.Application) -> AsyncIterator[None]:
    """The live sockets' batched reads (``server.web.admission``): stopped before the bus and
    the database they read from."""
    yield
    await app[ADMISSION].close()


async def checkin_writer(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[CHECKIN_WRITER].close()


async def timers(app: web.Application) -> AsyncIterator[None]:
    yield
    await app[TIMERS].close()


def metrics_probe(
    probe: Callable[[], Coroutine[Any, Any, None]],
) -> Callable[[web.Application], AsyncIterator[None]]:
    async def run(app: web.Application) -> AsyncIterator[None]:
        task = asyncio.create_task(probe(), name="metrics-probe")
        yield
        await cancel_and_wait(task)

    return run
