"""Live presence of every site, across server processes.

The process that holds a site agent's socket (or lost it less than the flap window ago: it
reports that loss, as ``connection_lost``) runs that site's state machine
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

from aiohttp import web
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker

from server.aio import cancel_and_wait
from server.bus.port import Bus, BusEvent, BusUnavailable
from server.core import screen
from server.core.presence import (
    PresenceChanged,
    PresenceConfig,
    PresenceState,
    PresenceTimeline,
    Reason,
)
from server.core.site_presence import SiteBoard, screen_ok
from server.store.live_models import PresenceEvent
from server.store.models import ClassSession, utcnow
from server.web.keys import SESSIONS
from server.web.resources import load, path_id
from server.web.session_window import session_window, window_bounds

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
        tick_interval: float = 0.25,
        reap_interval: float = 1.0,
    ) -> None:
        self.bus = bus
        self.sessions = sessions
        self.config = config or PresenceConfig()
        self.board = SiteBoard(self._changed, self.config)  # agents' and screen pages' presence
        self.local: set[int] = set()  # sites whose agent socket is on this process
        # sites whose agent socket was lost here less than the flap window ago: this process
        # reports how that ends (back, or offline for connection_lost), not another's reaper
        self.lost: set[int] = set()
        self.screen_node: dict[int, str] = {}  # node that received each site's latest screen report
        self.known: dict[int, str] = {}  # last state seen on the bus, per site
        self.tick_interval = tick_interval
        self.reap_interval = reap_interval
        self._pending: set[asyncio.Task[None]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._to_store: list[PresenceEvent] = []
        self._store_wakeup = asyncio.Event()
        self._reap_after = 0.0  # monotonic time before which the reaper waits (after a gap)
        self._learn_at: float | None = None  # when to read other processes' keys (after a gap)
        self._last_report: dict[int, dict[str, Any]] = {}  # latest change fanned out, per site
        self.screens: dict[int, dict[str, Any]] = {}  # latest screen playback status, per site

    # -- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._ticker(), name="presence-ticker"),
            asyncio.create_task(self._reaper(), name="presence-reaper"),
            asyncio.create_task(self._writer(), name="presence-writer"),
        ]

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        if self._pending:
            await asyncio.wait(self._pending, timeout=2)
        await self._flush()

    # -- what the agent socket calls ------------------------------------------------------
    def connected(self, site_id: int) -> None:
        self.local.add(site_id)
        self.lost.discard(site_id)
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
        if self._flapping(site_id):
            self.lost.add(site_id)

    def _flapping(self, site_id: int) -> bool:
        return self.board.agents.site(site_id).internal_state is PresenceState.FLAPPING

    def holds(self, site_id: int) -> bool:
        """This process reports the site's changes: it holds its agent's socket (or lost it
        within the flap window), or received its screen page's latest report (every process
        feeds the screen reports it hears into its own board, so the one that got the latest
        report decides)."""
        if site_id in self.local or site_id in self.lost:
            return True
        return self.screen_node.get(site_id) == self.bus.node_id

    def state(self, site_id: int) -> str:
        if self.holds(site_id):
            return state_name(self.board.state(site_id))
        return self.known.get(site_id, "offline")

    def snapshot(self, site_ids: Iterable[int]) -> dict[str, str]:
        return {str(s): self.state(s) for s in site_ids}

    async def snapshot_sites(self, site_ids: list[int]) -> dict[int, dict[str, Any]]:
        """What a wall that (re)subscribes must show at once, per site: its state (another
        process's live presence key wins over what this process last heard for a site it does
        not hold), the last heartbeat and health, and the screen page's playback status."""
        try:
            alive = await self.bus.get_presence(site_ids)
        except BusUnavailable:
            alive = {}
        out: dict[int, dict[str, Any]] = {}
        for site_id in site_ids:
            entry: dict[str, Any] = {"state": self.state(site_id)}
            record = alive.get(site_id)
            if record is not None:
                if not self.holds(site_id):
                    entry["state"] = record.state
                entry["last_heartbeat"] = record.data.get("last_heartbeat")
                entry["health"] = record.data.get("health")
            if site_id in self.screens:
                entry["screen"] = self.screens[site_id]
                if entry["state"] != "offline":  # a screen-only site: its reports are its beat
                    beat = entry.get("last_heartbeat") or 0
                    entry["last_heartbeat"] = max(beat, self.screens[site_id]["at"])
            out[site_id] = entry
        return out

    async def screen_report(
        self, site_id: int, report: screen.ScreenReport, broadcast_since: float | None = None
    ) -> dict[str, Any]:
        """A screen page's playback report: judged against its previous one, then fanned out
        to every process's walls (like a heartbeat's health). The report is also the screen's
        heartbeat: a site with a reporting screen is present (see server.core.site_presence).
        ``broadcast_since``: when the broadcast of the report's session started (``None``: no
        broadcast is live for it)."""
        last = self.screens.get(site_id)
        status = screen.judge(report, screen.report_from_wire(last) if last else None)
        wire = status.to_wire(report, site_id)
        live_for = None if broadcast_since is None else report.at - broadcast_since
        wire["ok"] = screen_ok(status.state, live_for)
        wire["node"] = self.bus.node_id
        self.screens[site_id] = wire
        self._screen_seen(site_id, wire)
        if site_id not in self.local:  # an agent here keeps the key (with its health)
            # a little longer than the board's offline rule: this process reports the silence
            # (heartbeat_missed) before another one's reaper sees the key gone (node_lost)
            self._refresh_key(site_id, {"last_heartbeat": report.at}, grace=2.0)
        await self._publish(HEALTH_TOPIC, "screen", wire)
        return wire

    def _screen_seen(self, site_id: int, wire: dict[str, Any]) -> None:
        self.screen_node[site_id] = str(wire.get("node", ""))
        self.board.screen_report(site_id, float(wire["at"]), bool(wire.get("ok", True)))

    # -- bus side -----------------------------------------------------------------------
    def observe(self, event: BusEvent) -> None:
        """Every process learns every site's state from the presence topic."""
        if event.topic == PRESENCE_TOPIC:
            site_id = int(event.payload["site_id"])
            self.known[site_id] = str(event.payload["state"])
            if event.origin != self.bus.node_id:
                self.lost.discard(site_id)  # the agent came back on another process
        elif event.topic == HEALTH_TOPIC and event.type == "screen":
            site_id = int(event.payload["site_id"])
            self.screens[site_id] = dict(event.payload)
            if event.payload.get("node") != self.bus.node_id:  # ours was fed when it came in
                self._screen_seen(site_id, self.screens[site_id])

    def bus_gap(self) -> None:
        """The bus came back after losing its connection (a Redis restart may have emptied
        it): rewrite the presence keys of this process's sites at once and fan out each one's
        latest change again (other processes may have missed it). Other processes'
        keys may be missing until their own rewrite, so nobody is declared ``node_lost``
        before a full presence lifetime has passed."""
        self._after_gap()
        now = time.time()
        for site_id in list(self.local):
            self._refresh_key(site_id, {"last_heartbeat": now})
            last = self._last_report.get(site_id)
            if last is not None:  # the site's latest change, again (same time and reason)
                self._spawn(self._publish(PRESENCE_TOPIC, "presence", last))

    # -- internals ----------------------------------------------------------------------
    def _changed(self, change: PresenceChanged) -> None:
        new, old = state_name(change.new), state_name(change.old)
        if new == old or not self.holds(int(change.site_id)):
            return  # another process reports it (and everyone learns it from the bus)
        self.known[int(change.site_id)] = new
        self._spawn(self._report(int(change.site_id), new, old, change.at, change.reason.value))
        if new != "offline":
            self._refresh_key(int(change.site_id), {"last_heartbeat": change.at})

    async def _report(self, site_id: int, new: str, old: str, at: float, reason: str) -> None:
        """Fan the change out first (the wall must not wait for the disk), then keep it."""
        payload = {"site_id": site_id, "state": new, "previous": old, "at": at, "reason": reason}
        self._last_report[site_id] = payload
        await self._publish(PRESENCE_TOPIC, "presence", payload)
        self._to_store.append(
            PresenceEvent(
                site_id=site_id,
                state=new,
                previous=old,
                reason=reason,
                at=datetime.fromtimestamp(at, UTC),
                node_id=self.bus.node_id,
            )
        )
        self._store_wakeup.set()
        if new == "offline":
            with contextlib.suppress(BusUnavailable):
                await self.bus.clear_presence(site_id, self.bus.node_id)

    async def _writer(self) -> None:
        """Store presence changes in batches: one transaction for a burst of changes."""
        while True:
            await self._store_wakeup.wait()
            self._store_wakeup.clear()
            await self._flush()

    async def _flush(self) -> None:
        batch, self._to_store = self._to_store, []
        if not batch:
            return
        try:
            async with self.sessions() as db, db.begin():
                db.add_all(batch)
        except Exception:
            log.exception("could not store presence changes", extra={"changes": len(batch)})

    async def _publish(self, topic: str, kind: str, payload: dict[str, Any]) -> None:
        try:
            await self.bus.publish(topic, kind, payload)
        except BusUnavailable:
            log.warning("bus unavailable; presence event not fanned out", extra={"topic": topic})

    def _refresh_key(self, site_id: int, data: dict[str, Any], grace: float = 0.0) -> None:
        state = state_name(self.board.state(site_id))
        ttl = self.config.offline_after + grace
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
            try:
                self.board.tick(time.time())
                self.lost = {s for s in self.lost if self._flapping(s)}
            except Exception:  # one bad site must not stop presence for every site
                log.exception("presence tick failed")

    def _after_gap(self) -> None:
        now = time.monotonic()
        self._reap_after = now + self.config.offline_after
        self._learn_at = now + 2 * self.config.heartbeat_interval

    async def _reaper(self) -> None:
        """Declare ``node_lost`` the sites whose presence key expired.

        Not while the bus is reconnecting, nor for ``offline_after`` seconds after: a Redis
        that restarted empty has no keys until their owners rewrite them (at once, or at the
        site's next heartbeat). Two heartbeats after a gap, the states of other processes'
        sites are read once from their keys: changes made while events were lost."""
        while True:
            await asyncio.sleep(self.reap_interval)
            if not getattr(self.bus, "online", True):
                self._after_gap()
                continue
            if self._learn_at is not None and time.monotonic() >= self._learn_at:
                self._learn_at = None
                with contextlib.suppress(BusUnavailable):
                    await self._learn()
            if time.monotonic() < self._reap_after:
                continue
            suspects = [
                s for s, state in self.known.items() if state != "offline" and not self.holds(s)
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
                    and not self.holds(site_id)
                    and self.known.get(site_id) != "offline"
                ):
                    previous = self.known[site_id]
                    self.known[site_id] = "offline"
                    await self._report(
                        site_id, "offline", previous, time.time(), Reason.NODE_LOST.value
                    )

    async def _learn(self) -> None:
        """Take other processes' sites' states from their presence keys."""
        remote = [s for s in self.known if s not in self.local]
        alive = await self.bus.get_presence(remote)
        for site_id, record in alive.items():
            if site_id not in self.local:
                self.known[site_id] = record.state


async def site_timelines(
    db: Any, site_ids: Iterable[int], start: datetime, end: datetime
) -> PresenceTimeline:
    """The presence timeline of these sites over [start, end], from the stored changes.

    The state at ``start`` comes from each site's last change before it.
    """
    ids = sorted(set(site_ids))
    timeline = PresenceTimeline(start.timestamp(), end.timestamp())
    if not ids:
        return timeline
    window = (
        select(PresenceEvent)
        .where(PresenceEvent.site_id.in_(ids), PresenceEvent.at >= start, PresenceEvent.at <= end)
        .order_by(PresenceEvent.at, PresenceEvent.id)
    )
    latest_before = (
        select(PresenceEvent.site_id, func.max(PresenceEvent.at).label("at"))
        .where(PresenceEvent.site_id.in_(ids), PresenceEvent.at < start)
        .group_by(PresenceEvent.site_id)
        .subquery()
    )
    before = select(PresenceEvent).join(
        latest_before,
        (PresenceEvent.site_id == latest_before.c.site_id)
        & (PresenceEvent.at == latest_before.c.at),
    )
    for row in [*(await db.scalars(before)).all(), *(await db.scalars(window)).all()]:
        timeline.add(
            PresenceChanged(
                row.site_id,
                PresenceState(row.previous),
                PresenceState(row.state),
                row.at.timestamp(),
                Reason(row.reason),
            )
        )
    return timeline


def reported_sites(timeline: PresenceTimeline) -> list[int]:
    """Sites with any stored presence change: sites without an agent are not clipped."""
    return [int(s) for s in timeline.sites()]


async def session_presence(request: web.Request) -> web.Response:
    """Each participating site's presence over the session: intervals and readable lines."""
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        start, end = window_bounds(session_window(session, utcnow()))  # when it really ran
        names = {s.id: s.name for s in session.sites}
        timeline = await site_timelines(db, names, start, end)
    sites = []
    for site_id, name in names.items():
        intervals = timeline.intervals(site_id) if site_id in reported_sites(timeline) else []
        sites.append(
            {
                "site_id": site_id,
                "site": name,
                "tracked": bool(intervals),
                "intervals": [
                    {
                        "state": state_name(i.state),
                        "reason": None if i.reason is None else i.reason.value,
                        "from": datetime.fromtimestamp(i.start, UTC).isoformat(),
                        "to": datetime.fromtimestamp(i.end, UTC).isoformat(),
                    }
                    for i in intervals
                ],
                "lines": [
                    line.replace(f"site {site_id}", name, 1) for line in timeline.describe(site_id)
                ]
                if intervals
                else [],
            }
        )
    return web.json_response(
        {"session_id": session.id, "from": start.isoformat(), "to": end.isoformat(), "sites": sites}
    )
