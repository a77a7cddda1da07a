"""Live presence of every site, across server processes.

The process that holds a site agent's socket runs that site's state machine
(:class:`server.core.presence.PresenceBoard`), ticks it, and on every reported change
publishes a ``presence`` event on the bus, writes the change to the store (the timeline for
reports) and refreshes the site's presence key (TTL = the offline limit). Every process
remembers the last state it saw per site; a site that looks up to this process but whose key
has expired (its node died with kill -9, so nobody reported the close) is declared offline by
the first process that notices (reason ``node_lost``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import async_sessionmaker

from server.bus.port import Bus, BusEvent, BusUnavailable
from server.core.presence import PresenceBoard, PresenceChanged, PresenceConfig, PresenceState
from server.store.live_models import PresenceEvent

log = logging.getLogger("server.presence")

PRESENCE_TOPIC = "presence"  # state changes of every site: operators' site wall
HEALTH_TOPIC = "health"  # each heartbeat's health summary, per site


def state_name(state: PresenceState) -> str:
    return "offline" if state is PresenceState.SILENT else str(state.value)


class PresenceService:
    def __init__(
        self,
        bus: Bus,
        sessions: async_sessionmaker[Any],
        config: PresenceConfig | None = None,
        tick_interval: float = 0.5,
        reap_interval: float = 1.0,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.config = config or PresenceConfig()
        self.board = PresenceBoard(self._changed, self.config)
        self.local: set[int] = set()  # sites whose agent socket is on this process
        self.known: dict[int, str] = {}  # last state seen on the bus, per site
        self.tick_interval = tick_interval
        self.reap_interval = reap_interval
        self._pending: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._ticker(), name="presence-ticker"),
            asyncio.create_task(self._reaper(), name="presence-reaper"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._pending:
            await asyncio.wait(self._pending, timeout=2)

    # -- what the agent socket calls ------------------------------------------------------
    def connected(self, site_id: int) -> None:
        self.local.add(site_id)
        self.board.connected(site_id, time.time())
        self._refresh_key(site_id, {"last_heartbeat": time.time()})

    def heartbeat(self, site_id: int, health: dict[str, Any]) -> None:
        now = time.time()
        stream_ok = health["stream"]["state"] != "bad"
        self.board.heartbeat(site_id, now, stream_ok)
        self._refresh_key(site_id, {"last_heartbeat": now, "health": health})
        self._spawn(
            self._publish(HEALTH_TOPIC, "health", {"site_id": site_id, "at": now, **health})
        )

    def closed(self, site_id: int, clean: bool) -> None:
        self.board.closed(site_id, time.time(), clean)
        self.local.discard(site_id)

    def state(self, site_id: int) -> str:
        if site_id in self.local:
            return state_name(self.board.state(site_id))
        return self.known.get(site_id, "offline")

    def snapshot(self, site_ids: Iterable[int]) -> dict[str, str]:
        return {str(s): self.state(s) for s in site_ids}

    # -- bus side -----------------------------------------------------------------------
    def observe(self, event: BusEvent) -> None:
        """Every process learns every site's state from the presence topic."""
        if event.topic == PRESENCE_TOPIC:
            self.known[int(event.payload["site_id"])] = str(event.payload["state"])

    # -- internals ----------------------------------------------------------------------
    def _changed(self, change: PresenceChanged) -> None:
        new, old = state_name(change.new), state_name(change.old)
        if new == old:
            return
        self.known[int(change.site_id)] = new
        self._spawn(self._report(int(change.site_id), new, old, change.at, change.reason.value))
        if new != "offline":
            self._refresh_key(int(change.site_id), {"last_heartbeat": change.at})

    async def _report(self, site_id: int, new: str, old: str, at: float, reason: str) -> None:
        payload = {"site_id": site_id, "state": new, "previous": old, "at": at, "reason": reason}
        try:
            async with self.sessions() as db, db.begin():
                db.add(
                    PresenceEvent(
                        site_id=site_id,
                        state=new,
                        previous=old,
                        reason=reason,
                        at=datetime.fromtimestamp(at, UTC),
                        node_id=self.bus.node_id,
                    )
                )
        except Exception:
            log.exception("could not store a presence change", extra={"site_id": site_id})
        if new == "offline":
            with contextlib.suppress(BusUnavailable):
                await self.bus.clear_presence(site_id, self.bus.node_id)
        await self._publish(PRESENCE_TOPIC, "presence", payload)

    async def _publish(self, topic: str, kind: str, payload: dict[str, Any]) -> None:
        try:
            await self.bus.publish(topic, kind, payload)
        except BusUnavailable:
            log.warning("bus unavailable; presence event not fanned out", extra={"topic": topic})

    def _refresh_key(self, site_id: int, data: dict[str, Any]) -> None:
        state = state_name(self.board.state(site_id))
        ttl = self.config.offline_after
        self._spawn(self._set_key(site_id, state, data, ttl))

    async def _set_key(self, site_id: int, state: str, data: dict[str, Any], ttl: float) -> None:
        with contextlib.suppress(BusUnavailable):
            await self.bus.set_presence(site_id, self.bus.node_id, state, data, ttl)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.tick_interval)
            self.board.tick(time.time())

    async def _reaper(self) -> None:
        while True:
            await asyncio.sleep(self.reap_interval)
            suspects = [
                s for s, state in self.known.items() if state != "offline" and s not in self.local
            ]
            if not suspects:
                continue
            try:
                alive = await self.bus.get_presence(suspects)
            except BusUnavailable:
                continue
            for site_id in suspects:
                if (
                    site_id not in alive
                    and site_id not in self.local
                    and self.known.get(site_id) != "offline"
                ):
                    previous = self.known[site_id]
                    self.known[site_id] = "offline"
                    await self._report(site_id, "offline", previous, time.time(), "node_lost")
