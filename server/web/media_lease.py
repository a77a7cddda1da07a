"""The durable record of each live broadcast and its owner's lease (``live_broadcasts``).

The rules are in ``server.core.broadcast_lease``; this module reads and writes the records and
runs one loop per node that every ``RENEW_SECONDS`` renews the leases of the broadcasts the
node owns, drops those another node has claimed, and claims the expired records of others
(the database decides between two claimants: the claim names the generation it saw).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.broadcast_lease import (
    RENEW_SECONDS,
    LeaseRecord,
    claimable,
    lease_until,
    lost,
    may_claim,
)
from server.store.media_models import LiveBroadcast

log = logging.getLogger("server.media.lease")

Resume = Callable[[LeaseRecord, dict[str, Any], int | None], Awaitable[None]]
Drop = Callable[[int], Awaitable[None]]


def _record(row: Any) -> LeaseRecord:
    return LeaseRecord(int(row.session_id), str(row.node_id), int(row.generation), row.lease_until)


async def load(db: AsyncSession, session_id: int) -> LeaseRecord | None:
    row = await db.get(LiveBroadcast, session_id)
    return None if row is None else _record(row)


async def write(
    db: AsyncSession,
    session_id: int,
    node_id: str,
    request: dict[str, Any],
    recording_id: int | None,
    started_by: str,
    now: float,
) -> int:
    """Record a broadcast this node starts now; its generation (one more than a record left
    behind by a dead owner, so that its sites connect again)."""
    row = await db.get(LiveBroadcast, session_id, with_for_update=True)
    if row is None:
        db.add(
            LiveBroadcast(
                session_id=session_id,
                node_id=node_id,
                generation=1,
                lease_until=lease_until(now),
                request=request,
                recording_id=recording_id,
                started_by=started_by,
            )
        )
        return 1
    row.node_id = node_id
    row.generation += 1
    row.lease_until = lease_until(now)
    row.request = request
    row.recording_id = recording_id
    row.started_by = started_by
    return int(row.generation)


async def set_recording(db: AsyncSession, session_id: int, recording_id: int | None) -> None:
    await db.execute(
        update(LiveBroadcast)
        .where(LiveBroadcast.session_id == session_id)
        .values(recording_id=recording_id)
    )


async def forget(db: AsyncSession, session_id: int, node_id: str) -> None:
    """The broadcast stopped: remove its record if this node still owns it."""
    await db.execute(
        delete(LiveBroadcast).where(
            LiveBroadcast.session_id == session_id, LiveBroadcast.node_id == node_id
        )
    )


class Leases:
    """One node's lease loop. ``running`` gives the sessions whose relay this node holds;
    ``resume`` starts a claimed broadcast here; ``drop`` ends one whose record was claimed by
    another node, quietly."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        node_id: str,
        running: Callable[[], Iterable[int]],
        resume: Resume,
        drop: Drop,
    ) -> None:
        self.sessions = sessions
        self.node_id = node_id
        self.running = running
        self.resume = resume
        self.drop = drop
        self.reachable_since: float | None = None  # reached the database since then
        self._closing = asyncio.Event()

    async def run(self) -> None:
        """Tick until :meth:`close`; a tick is never cut off mid-transaction (SQLite would
        keep its write lock until the cancelled connection is cleaned up)."""
        while not self._closing.is_set():
            now = time.time()
            try:
                await self.tick(now)
            except (SQLAlchemyError, OSError) as exc:
                if self.reachable_since is not None:
                    log.warning("broadcast leases: the database is unreachable (%s)", exc)
                self.reachable_since = None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), RENEW_SECONDS)

    def close(self) -> None:
        self._closing.set()

    async def tick(self, now: float) -> None:
        running = set(self.running())
        async with self.sessions() as db, db.begin():
            if running:
                await db.execute(
                    update(LiveBroadcast)
                    .where(
                        LiveBroadcast.node_id == self.node_id,
                        LiveBroadcast.session_id.in_(running),
                    )
                    .values(lease_until=lease_until(now))
                )
            rows = (await db.execute(select(LiveBroadcast))).scalars().all()
        records = [_record(r) for r in rows]
        mine = {r.session_id for r in records if r.node_id == self.node_id}
        for session_id in sorted(lost(running, mine)):
            log.warning("broadcast of session %d was taken over by another node", session_id)
            await self.drop(session_id)
        if self.reachable_since is None:
            self.reachable_since = now
        if not may_claim(now, self.reachable_since):
            return
        requests = {int(r.session_id): (dict(r.request or {}), r.recording_id) for r in rows}
        for record in claimable(records, self.node_id, now):
            claimed = await self._claim(record, now)
            if claimed is not None:
                log.warning(
                    "taking over the broadcast of session %d from node %s (generation %d)",
                    record.session_id,
                    record.node_id,
                    claimed.generation,
                )
                request, recording_id = requests[record.session_id]
                await self.resume(claimed, request, recording_id)

    async def _claim(self, record: LeaseRecord, now: float) -> LeaseRecord | None:
        generation = record.generation + 1
        async with self.sessions() as db, db.begin():
            result = await db.execute(
                update(LiveBroadcast)
                .where(
                    LiveBroadcast.session_id == record.session_id,
                    LiveBroadcast.generation == record.generation,
                    LiveBroadcast.node_id == record.node_id,
                )
                .values(node_id=self.node_id, generation=generation, lease_until=lease_until(now))
            )
        if getattr(result, "rowcount", 0) != 1:
            return None  # another node claimed it first
        return LeaseRecord(record.session_id, self.node_id, generation, lease_until(now))
