"""The live side of one server process: its bus, its sockets and the presence of every site."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from server.bus.memory import MemoryBus
from server.bus.port import Bus, BusEvent, BusUnavailable
from server.bus.redis_bus import RedisBus
from server.web.hub import Connection, Hub
from server.web.keys import CONFIG, METRICS, SESSIONS
from server.web.presence import PresenceService

log = logging.getLogger("server.live")


@dataclass
class Live:
    bus: Bus
    hub: Hub
    presence: PresenceService
    app: web.Application
    agents: dict[int, Connection] = field(default_factory=dict)  # site id -> its agent's socket
    listeners: list[Callable[[str, BusEvent], None]] = field(default_factory=list)

    def on_event(self, topic: str, event: BusEvent) -> None:
        self.presence.observe(event)
        self.hub.deliver(topic, event)
        for listener in self.listeners:
            listener(topic, event)

    def on_gap(self, topics: frozenset[str] | None) -> None:
        """The bus lost events: tell every browser to resume (they resync if they must)."""
        log.warning("bus gap: asking clients to resume", extra={"topics": sorted(topics or [])})
        self.app[METRICS].bus_gaps.inc()
        self.presence.bus_gap()
        for connection in list(self.hub.connections):
            if connection.kind == "client":
                connection.send_message(
                    {"type": "gap", "topics": sorted(topics or connection.topics)}
                )

    async def announce(
        self, kind: str, data: dict[str, Any], site_ids: list[int], session_id: int
    ) -> None:
        """A session command: to the session's browsers and to each participating site's agent."""
        try:
            await self.bus.publish(f"session:{session_id}", kind, data)
            for site_id in site_ids:
                await self.bus.publish(f"site:{site_id}", kind, {"session_id": session_id, **data})
        except BusUnavailable:
            log.warning("bus unavailable; agents and browsers will resync", extra={"kind": kind})

    def metrics_open(self, kind: str, delta: int) -> None:
        self.app[METRICS].open_sockets.labels(kind).inc(delta)

    async def start(self) -> None:
        """Subscribe to the bus, connect it, start watching presence."""
        self.bus.subscribe(self.on_event, self.on_gap)
        await self.bus.start()
        self.presence.start()

    async def stop(self) -> None:
        await self.presence.stop()
        await self.bus.close()


def make_bus(app: web.Application) -> Bus:
    config = app[CONFIG]
    if config.redis_url:
        return RedisBus(
            config.redis_url, prefix=config.redis_prefix, node_id=config.node_id or None
        )
    return MemoryBus(node_id=config.node_id or None)


def create_live(app: web.Application, bus: Bus | None = None) -> Live:
    """The live side of this app, on ``bus`` (or the configured one); ``app.py`` starts it."""
    bus = bus or make_bus(app)
    return Live(bus, Hub(), PresenceService(bus, app[SESSIONS]), app)
