"""Who is present changed: tell the session's consoles at once.

A check-in (a trainee's code or QR, a site's mark, an agent's outbox), a mark by staff or a
check-out publishes ``checkin_changed`` on ``session:<id>`` once it is committed, so the
operator's wall updates its count ("签到 n/m") now instead of on its next 15 s refresh.

A burst (a whole room typing the code within seconds) makes one event per session per
``COALESCE_S``, not one per trainee. The event says only which sites changed, never who: the
session topic also reaches the session's trainees and site agents. A bus outage only loses the
ping (the wall's periodic refresh still comes).

Repeated wrong check-in codes (``server.web.checkin.guard``) go to the operators' consoles on the
staff-only topic :data:`ALERTS_TOPIC` (kind ``checkin_failures``), published by
``server.web.checkin.http.publish_alerts``."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from aiohttp import web

from server.bus.port import Bus, BusUnavailable
from server.media.tasks import Background
from server.web.keys import CHECKIN_EVENTS

log = logging.getLogger("server.checkin_events")

KIND = "checkin_changed"
ALERTS_TOPIC = "alerts"
"""Staff-only live topic of security alerts (repeated wrong check-in codes)."""
COALESCE_S = 0.5


class CheckinEvents:
    def __init__(self, bus: Bus, coalesce_s: float = COALESCE_S) -> None:
        self._bus = bus
        self._coalesce_s = coalesce_s
        self._pending: dict[int, set[int]] = {}  # session id -> sites changed since the last
        self._background = Background(log, "check-in event")

    def changed(self, session_id: int, site_id: int | None) -> None:
        """Call after the commit; publishes a moment later, together with the others."""
        sites = self._pending.get(session_id)
        if sites is None:
            sites = self._pending[session_id] = set()
            self._background.spawn(self._flush(session_id))
        if site_id is not None:
            sites.add(site_id)

    async def _flush(self, session_id: int) -> None:
        try:
            await asyncio.sleep(self._coalesce_s)
        finally:
            sites = self._pending.pop(session_id, set())
        data = {"session_id": session_id, "site_ids": sorted(sites)}
        try:
            await self._bus.publish(f"session:{session_id}", KIND, data)
        except BusUnavailable:
            log.warning("check-in event not published: bus unavailable")

    def close(self) -> None:
        self._background.cancel()


def record_changed(app: web.Application, record: dict[str, Any]) -> None:
    """An attendance record (its view: session_id, site_id) was committed changed."""
    events = app.get(CHECKIN_EVENTS)
    if events is not None:
        events.changed(int(record["session_id"]), record.get("site_id"))
