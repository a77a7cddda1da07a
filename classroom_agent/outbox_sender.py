"""The outbox sender: what the site owes the server, on its way out over the connection.

:class:`OutboxSender` holds the site's :class:`~classroom_agent.outbox.Outbox` and, while a
connection serves, sends what it holds: one ``outbox`` batch in flight at a time (the server
paces the queue), cut to fit one frame, sent again after ``outbox_resend`` seconds without an
``outbox_ack``, at most five messages a second while a long queue drains. An ack removes the
items it names; a check-in the server refused for good is taken back out of the site state,
and check-ins not acked yet are what the site state keeps across a restart or a resync. Items
too old for the server are dropped instead of being resent forever.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

from classroom_agent import protocol
from classroom_agent.config import AgentConfig
from classroom_agent.outbox import Outbox, OutboxItem
from classroom_agent.state import SiteState

log = logging.getLogger("classroom_agent")

OUTBOX_MAX_AGE = 7 * 24 * 3600.0 - 3600.0
"""Items older than this are dropped: the server refuses items over 7 days old (1 h margin)."""
OUTBOX_MIN_GAP = 0.2
"""At most five ``outbox`` messages a second while a long queue drains."""

Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def open_outbox(path: Path, now: float) -> Outbox:
    """Open the outbox; a damaged file is moved aside (kept for inspection) and a new one
    started, so one bad sector does not keep the site offline for good."""
    try:
        return Outbox(path)
    except sqlite3.DatabaseError as exc:
        aside = path.with_name(f"{path.name}.damaged-{int(now)}")
        log.error(
            "the outbox %s is damaged (%s); moved to %s, starting a new one", path, exc, aside
        )
        for suffix in ("", "-wal", "-shm"):
            source = path.with_name(path.name + suffix)
            if source.exists():
                source.replace(aside.with_name(aside.name + suffix))
        return Outbox(path)


class OutboxSender:
    """Sends ``outbox``'s items as ``config`` says (``outbox_batch``, ``outbox_resend``);
    ``now`` (epoch seconds, the server's clock as far as the agent can tell) stamps new items
    and ages old ones, ``monotonic`` times the resends."""

    def __init__(
        self,
        outbox: Outbox,
        state: SiteState,
        config: AgentConfig,
        *,
        now: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.outbox = outbox
        self._state = state
        self._config = config
        self._now = now
        self._monotonic = monotonic
        self._inflight: dict[str, float] = {}
        self._wakeup = asyncio.Event()

    def add(self, kind: str, body: Mapping[str, Any], ts: float | None) -> str:
        """Queue one item durably (``ts``: now if None) and send it soon; returns its id."""
        item_id = self.outbox.add(kind, body, ts=self._now() if ts is None else ts)
        self._wakeup.set()
        return item_id

    def connected(self) -> None:
        """A new connection: nothing is in flight on it; send what the outbox holds at once."""
        self._inflight.clear()
        self._wakeup.set()

    def acknowledge(self, results: Mapping[str, str]) -> None:
        """Apply an ``outbox_ack`` from the server."""
        outcome = self.outbox.acknowledge(results)
        for item_id in results:
            self._inflight.pop(item_id, None)
        for item, code in outcome.refused:
            log.error(
                "the server refused outbox item %s (%s) for good: %s %s",
                item.id,
                item.kind,
                code[:100],
                dict(item.body),
            )
            if item.kind == "checkin":
                self._forget_checkin(item)
        if outcome.removed:
            log.debug("%d outbox items acknowledged", len(outcome.removed))
        self._wakeup.set()

    def _forget_checkin(self, item: OutboxItem) -> None:
        session_id, trainee_id = item.body.get("session_id"), item.body.get("trainee_id")
        if isinstance(session_id, int) and isinstance(trainee_id, int):
            self._state.note_checkout(session_id, trainee_id)

    def pending_checkins(self) -> list[tuple[int, int]]:
        """``(session_id, trainee_id)`` of every check-in the server has not acked yet."""
        pairs: list[tuple[int, int]] = []
        for item in self.outbox.pending(limit=1_000_000):
            if item.kind != "checkin":
                continue
            sid, tid = item.body.get("session_id"), item.body.get("trainee_id")
            if isinstance(sid, int) and isinstance(tid, int):
                pairs.append((sid, tid))
        return pairs

    async def run(self, send: Send) -> None:
        """The connection's outbox task: send batches with ``send`` until cancelled."""
        resend = self._config.outbox_resend
        while True:
            self._wakeup.clear()
            self._expire()
            now = self._monotonic()
            waiting = any(now - sent < resend for sent in self._inflight.values())
            if not waiting:  # one batch in flight at a time: the server paces the queue
                self._inflight.clear()
                batch = self._fit_frame(self.outbox.pending(self._config.outbox_batch))
                if batch:
                    await send(protocol.outbox(item.to_wire() for item in batch))
                    sent_at = self._monotonic()
                    for item in batch:
                        self._inflight[item.id] = sent_at
                    log.debug("sent %d outbox items", len(batch))
                    await asyncio.sleep(OUTBOX_MIN_GAP)
                    continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), resend)

    def _fit_frame(self, items: list[OutboxItem]) -> list[OutboxItem]:
        """The longest head of ``items`` whose ``outbox`` message fits in one frame."""
        while items:
            try:
                protocol.encode(protocol.outbox(item.to_wire() for item in items))
                return items
            except ValueError:
                if len(items) == 1:
                    log.error("outbox item %s cannot be sent (too large); dropping it", items[0].id)
                    self.outbox.acknowledge({items[0].id: "agent.too_large"})
                    return []
                items = items[: len(items) // 2]
        return items

    def _expire(self) -> None:
        for item in self.outbox.expire(self._now() - OUTBOX_MAX_AGE):
            log.error(
                "outbox item %s (%s) from %.0f is too old for the server; dropped: %s",
                item.id,
                item.kind,
                item.ts,
                dict(item.body),
            )
