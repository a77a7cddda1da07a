"""Every key the web layer stores on the application or on a request, in one place.

Modules import their keys from here, never from the module that fills them, so no module of
``server.web`` has to import the one that builds the app (``app.py``) and the package has no
import cycle (``tests/test_imports.py`` checks it). This module imports nothing from
``server.web`` at run time: the value types named by the keys are imported for the type checker
only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from server.config import Config
from server.core.proxies import Network
from server.core.roles import ANONYMOUS, Principal
from server.core.throttle import FailureThrottle

if TYPE_CHECKING:
    from server.media.broadcasts import Broadcasts
    from server.web.admission import Admission
    from server.web.api import Endpoint, Registry
    from server.web.checkin.events import CheckinEvents
    from server.web.checkin.writer import CheckinWriter
    from server.web.edges import ConnectionGuard, SocketCap
    from server.web.guard import SignInGuard
    from server.web.live import Live
    from server.web.media_cluster import MediaCluster
    from server.web.metrics import Metrics
    from server.web.timers import Timers

# the process: settings, store, metrics, endpoints
CONFIG = web.AppKey("config", Config)
ENGINE = web.AppKey("engine", AsyncEngine)
SESSIONS = web.AppKey("sessions", async_sessionmaker[Any])
METRICS: web.AppKey[Metrics] = web.AppKey("metrics")
REGISTRY: web.AppKey[Registry] = web.AppKey("registry")
ROUTES: web.AppKey[dict[Any, Endpoint]] = web.AppKey("routes")

# the edges: sockets, pending connections, sign-in attempts, proxies
CONNECTIONS: web.AppKey[ConnectionGuard] = web.AppKey("connection_guard")
SOCKETS: web.AppKey[SocketCap] = web.AppKey("socket_cap")
GUARD: web.AppKey[SignInGuard] = web.AppKey("sign_in_guard")
TRUSTED_PROXIES = web.AppKey("trusted_proxies", tuple[Network, ...])
VERIFY_THROTTLE = web.AppKey("certificate_verify_throttle", FailureThrottle)  # public checks

# the live side: bus, hub, presence; check-ins (group writer, events); media
LIVE: web.AppKey[Live] = web.AppKey("live")
ADMISSION: web.AppKey[Admission] = web.AppKey("admission")  # who may open a live socket
CHECKIN_EVENTS: web.AppKey[CheckinEvents] = web.AppKey("checkin_events")
CHECKIN_WRITER: web.AppKey[CheckinWriter] = web.AppKey("checkin_writer")
MEDIA: web.AppKey[Broadcasts] = web.AppKey("media")
CLUSTER: web.AppKey[MediaCluster] = web.AppKey("media_cluster")
# TESTS ONLY (server.web.media_api.DROP_PUBLISH_ENV): camera publications still to be dropped
PUBLISH_DROPS: web.AppKey[list[int]] = web.AppKey("media_publish_drops")

# the app's own jobs: timers and background tasks, cancelled when it stops
TIMERS: web.AppKey[Timers] = web.AppKey("timers")

# one request: who sent it (set by the edge middleware)
PRINCIPAL = web.RequestKey("principal", Principal)


def principal(request: web.Request) -> Principal:
    """Who sent this request (anonymous until the edge middleware has authenticated it)."""
    found: Principal = request.get(PRINCIPAL, ANONYMOUS)
    return found
