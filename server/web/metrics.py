"""Prometheus metrics, one registry per application (tests run many apps in one process)."""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncEngine


@dataclass
class Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    open_sockets: Gauge
    db_pool_in_use: Gauge

    @classmethod
    def create(cls, engine: AsyncEngine) -> Metrics:
        registry = CollectorRegistry()
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
        )
