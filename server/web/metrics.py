"""Prometheus metrics, one registry per application (tests run many apps in one process).

HTTP (requests by route and status, latency), the process (CPU, memory, open files, GC), the
database pool, and what an operator alerts on (server/web/domain_metrics.py adds the gauges read
at scrape time: sites by state, broadcasts, subscribers, media ports, sockets by kind, bus lag).
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector
from sqlalchemy.ext.asyncio import AsyncEngine

CHECKIN_ROUTES = frozenset({"/api/v1/sessions/{id}/checkin"})
"""Routes whose answers count as trainee check-ins (accepted, or refused with the error code)."""


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    open_sockets: Gauge
    db_pool_in_use: Gauge
    checkins: Counter
    outbox_items: Counter
    bus_gaps: Counter
    bus_lag: Gauge

    @classmethod
    def create(cls, engine: AsyncEngine) -> Metrics:
        registry = CollectorRegistry()
        ProcessCollector(registry=registry)  # process_cpu_seconds_total, resident memory, fds
        GCCollector(registry=registry)  # python_gc_collections_total by generation
        PlatformCollector(registry=registry)  # python_info
        db_pool = Gauge(
            "classroom_db_connections_in_use",
            "database connections checked out of the pool",
            registry=registry,
        )
        pool = engine.sync_engine.pool
        checkedout = getattr(pool, "checkedout", None)
        if callable(checkedout):
            db_pool.set_function(lambda: float(checkedout()))
        return cls(
            registry=registry,
            requests=Counter(
                "classroom_http_requests",
                "HTTP requests answered",
                ["method", "route", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "classroom_http_request_seconds",
                "time to answer an HTTP request",
                ["method", "route"],
                registry=registry,
                buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
            ),
            open_sockets=Gauge(
                "classroom_open_websockets",
                "open WebSocket connections",
                ["kind"],
                registry=registry,
            ),
            db_pool_in_use=db_pool,
            checkins=Counter(
                "classroom_checkins",
                "check-ins answered: result accepted, or the refusal's error code",
                ["source", "result"],
                registry=registry,
            ),
            outbox_items=Counter(
                "classroom_outbox_items",
                "items received from site agents' outboxes, by kind and result",
                ["kind", "result"],
                registry=registry,
            ),
            bus_gaps=Counter(
                "classroom_bus_gaps",
                "times the bus lost events (connection lost and regained); clients resynced",
                registry=registry,
            ),
            bus_lag=Gauge(
                "classroom_bus_lag_seconds",
                "seconds from publishing a probe event to receiving it back from the bus"
                " (every 10 s; NaN until the first probe returns)",
                registry=registry,
            ),
        )

    def observe_request(
        self, method: str, route: str, status: int, elapsed: float, error_code: str
    ) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(elapsed)
        if route in CHECKIN_ROUTES and method == "POST":
            result = "accepted" if status < 400 else (error_code or f"http.{status}")
            self.checkins.labels("trainee", result).inc()
