"""The gauges an operator alerts on, read when Prometheus scrapes ``/metrics``:

- ``classroom_sites{state}``: sites with an agent secret, by presence state (online, degraded,
  offline, ...) as this process knows it from the presence topic;
- ``classroom_broadcasts_live`` and ``classroom_broadcast_peers{session_id,role}``: broadcasts
  whose relay runs in this process, their publishers and subscribers (sites, browsers);
- ``classroom_media_ports_in_use``: UDP ports the relay's WebRTC peers hold (one per peer and
  bind address; compare with the size of ``media_port_range``);
- ``classroom_live_sockets{kind,actor}``: open live sockets by kind and by who holds them;
- bus lag: a probe event published every 10 s on topic ``bus_probe`` and timed on its return
  (``classroom_bus_lag_seconds``, in server/web/metrics.py with the counters).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter as Tally
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

from aiohttp import web
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import select

from server.bus.port import BusEvent, BusUnavailable
from server.store.models import Site
from server.web.keys import CONFIG, LIVE, MEDIA, METRICS, SESSIONS

log = logging.getLogger("server.metrics")
PROBE_TOPIC = "bus_probe"
PROBE_INTERVAL = 10.0


class DomainCollector(Collector):
    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.site_ids: list[int] = []  # sites with an agent secret, refreshed with each probe

    def _broadcasts(self) -> list[tuple[int, dict[str, Any]]]:
        media = self.app.get(MEDIA)
        if media is None:
            return []
        return [(session_id, b.relay.stats()) for session_id, b in list(media.live.items())]

    def collect(self) -> Iterator[GaugeMetricFamily]:
        live = self.app[LIVE]
        sites = GaugeMetricFamily("classroom_sites", "sites by presence state", labels=["state"])
        states = Tally(live.presence.state(s) for s in {*self.site_ids, *live.presence.known})
        for state in ("online", "degraded", "offline"):
            states.setdefault(state, 0)
        for state, count in sorted(states.items()):
            sites.add_metric([state], count)
        yield sites

        broadcasts = self._broadcasts()
        yield GaugeMetricFamily(
            "classroom_broadcasts_live", "broadcasts relayed by this process", value=len(broadcasts)
        )
        peers = GaugeMetricFamily(
            "classroom_broadcast_peers",
            "a broadcast's publishers and subscribers (sites, browsers, recorder)",
            labels=["session_id", "role"],
        )
        networked = 0
        for session_id, stats in broadcasts:
            for role in ("publishers", "subscribers"):
                members = stats.get(role, {})
                peers.add_metric([str(session_id), role[:-1]], len(members))
                networked += sum(1 for m in members.values() if m.get("state") != "in-process")
        yield peers
        addresses = max(1, len(self.app[CONFIG].media_bind_addresses))
        yield GaugeMetricFamily(
            "classroom_media_ports_in_use",
            "UDP ports held by the relay's WebRTC peers (peers x bind addresses)",
            value=networked * addresses,
        )

        sockets = GaugeMetricFamily(
            "classroom_live_sockets",
            "open live sockets by kind and holder",
            labels=["kind", "actor"],
        )
        held = Tally(
            (c.kind, "site_agent" if c.kind == "agent" else c.label.split(":")[0])
            for c in list(live.hub.connections)
        )
        for (kind, actor), count in sorted(held.items()):
            sockets.add_metric([kind, actor], count)
        yield sockets


def setup(app: web.Application) -> Callable[[], Coroutine[Any, Any, None]]:
    """Register the domain gauges and the bus-lag listener; returns the probe ``app.py`` runs."""
    collector = DomainCollector(app)
    metrics = app[METRICS]
    metrics.registry.register(collector)
    metrics.bus_lag.set(math.nan)
    live = app[LIVE]

    def on_event(topic: str, event: BusEvent) -> None:
        if topic == PROBE_TOPIC and event.origin == live.bus.node_id:
            sent = event.payload.get("t")
            if isinstance(sent, int | float):
                metrics.bus_lag.set(max(0.0, time.time() - sent))

    live.listeners.append(on_event)

    async def probe() -> None:
        while True:
            try:
                async with app[SESSIONS]() as db:
                    ids = await db.scalars(select(Site.id).where(Site.secret_hash.is_not(None)))
                    collector.site_ids = list(ids)
                await live.bus.publish(PROBE_TOPIC, "probe", {"t": time.time()})
            except BusUnavailable:
                metrics.bus_lag.set(math.nan)  # no answer to time: the alert sees "absent"
            except Exception:  # a metrics probe must never take the server down
                log.exception("metrics probe failed")
            await asyncio.sleep(PROBE_INTERVAL)

    return probe
