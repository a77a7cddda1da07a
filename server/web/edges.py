"""The server's own edge limits (issue 14 item 11), whatever sits in front of it.

* **Request-head timeout**: a connection must complete its first request head within
  ``header_timeout`` seconds (default 10) or it is closed: a slowloris upgrade, or a connection
  that never says anything, is held no longer than that. After the first request, idle
  keep-alive connections close after ``KEEPALIVE`` seconds (aiohttp's own timer).
* **Connections waiting for a request head**: at most ``max_pending_per_client`` per client
  address (default 1000); more are closed at once. A real client sends its request head
  straight after connecting, so this only bites connections that are opened and left idle
  (the limit is high because a classroom behind one NAT opens hundreds at check-in time).
* **Live sockets**: at most ``max_sockets_per_client`` open WebSockets per client address
  (default 400: a classroom of phones behind one NAT); the next upgrade answers 429
  ``ws.too_many_sockets``.

Addresses are ``server.web.guard.client_address`` (the deploy work makes it proxy-aware; the
connection-level count uses the peer address, the only one known before a request).
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from server.core.errors import RateLimited
from server.web.guard import client_address
from server.web.keys import CONNECTIONS, SOCKETS

KEEPALIVE = 20.0  # seconds an idle keep-alive connection is kept between requests


def _peer(transport: asyncio.BaseTransport) -> str:
    peer = transport.get_extra_info("peername")
    return str(peer[0]) if isinstance(peer, tuple) and peer else "unknown"


class ConnectionGuard:
    """Tracks connections that have not yet sent a complete request head."""

    def __init__(self, header_timeout: float, max_pending: int) -> None:
        self.header_timeout = header_timeout
        self.max_pending = max_pending
        self._pending: dict[asyncio.BaseTransport, str] = {}
        self._per_peer: Counter[str] = Counter()
        self.refused = 0
        self.timed_out = 0

    def opened(self, transport: asyncio.BaseTransport) -> None:
        peer = _peer(transport)
        if self._per_peer[peer] >= self.max_pending:
            self.refused += 1
            transport.close()
            return
        self._pending[transport] = peer
        self._per_peer[peer] += 1
        asyncio.get_running_loop().call_later(self.header_timeout, self._deadline, transport)

    def _deadline(self, transport: asyncio.BaseTransport) -> None:
        if transport in self._pending:
            self.timed_out += 1
            self.request_started(transport)
            transport.close()

    def request_started(self, transport: asyncio.BaseTransport | None) -> None:
        peer = self._pending.pop(transport, None) if transport is not None else None
        if peer is not None:
            self._per_peer[peer] -= 1
            if self._per_peer[peer] <= 0:
                del self._per_peer[peer]

    def pending(self) -> int:
        return len(self._pending)


def install(app: web.Application, header_timeout: float, max_pending: int) -> None:
    """Hook the guard into the aiohttp server this application gets when it is run."""
    guard = ConnectionGuard(header_timeout, max_pending)
    app[CONNECTIONS] = guard
    make_handler: Callable[..., Any] = app._make_handler

    def guarded_make_handler(**kwargs: Any) -> Any:
        server = make_handler(**kwargs)
        connection_made = server.connection_made
        connection_lost = server.connection_lost

        def made(handler: Any, transport: asyncio.Transport) -> None:
            connection_made(handler, transport)
            guard.opened(transport)

        def lost(handler: Any, exc: BaseException | None = None) -> None:
            guard.request_started(handler.transport)
            connection_lost(handler, exc)

        server.connection_made = made
        server.connection_lost = lost
        return server

    app._make_handler = guarded_make_handler  # type: ignore[method-assign]


@web.middleware
async def request_seen(request: web.Request, handler: Any) -> web.StreamResponse:
    """The connection sent a complete request head: it is no longer pending."""
    guard = request.app.get(CONNECTIONS)
    if guard is not None:
        guard.request_started(request.transport)
    response: web.StreamResponse = await handler(request)
    return response


class SocketCap:
    """Open live sockets per client address."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._open: Counter[str] = Counter()

    def enter(self, request: web.Request) -> str:
        address = client_address(request)
        if self._open[address] >= self.limit:
            raise RateLimited(
                "ws.too_many_sockets",
                f"At most {self.limit} live connections from one address; close some first.",
                {"retry_after": 5},
            )
        self._open[address] += 1
        return address

    def leave(self, address: str) -> None:
        self._open[address] -= 1
        if self._open[address] <= 0:
            del self._open[address]


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def capped(handler: Handler) -> Handler:
    """A WebSocket route counted against its client's ``max_sockets_per_client``."""

    async def counted(request: web.Request) -> web.StreamResponse:
        cap = request.app[SOCKETS]
        try:
            address = cap.enter(request)
        except RateLimited as exc:
            return web.json_response(
                {"error": {"code": exc.code, "message": exc.message}},
                status=429,
                headers={"Retry-After": "5"},
            )
        try:
            return await handler(request)
        finally:
            cap.leave(address)

    return counted


def is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False
