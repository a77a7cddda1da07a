"""The in-memory bus: the default for one server process, and the reference for the contract.

A :class:`MemoryBroker` plays the part Redis plays for the Redis adapter: it holds one
:class:`~server.core.topics.TopicLog` per topic (made with a random epoch on first use), the
presence entries, and the started buses. Several :class:`MemoryBus` instances can share one
broker (tests use this to stand for several processes); a bus made without a broker gets its
own.

Publishing numbers the event in the topic's log and puts it on the delivery queue of every
started bus sharing the broker, in one step without awaiting, so every bus sees every topic
in seq order. Each bus delivers from its queue on its own task, like the Redis listener does,
so a handler never runs inside ``publish`` and a slow handler never slows the publisher.

Nothing is ever lost here while the process lives, so ``on_gap`` is never called.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from server.aio import cancel_and_wait
from server.bus.port import (
    DEFAULT_HISTORY,
    Bus,
    BusEvent,
    BusUnavailable,
    PresenceRecord,
    decode_payload,
    new_epoch,
    new_node_id,
)
from server.core.topics import Cursor, Replay, Resync, TopicLog

Clock = Callable[[], float]


class MemoryBroker:
    """What the buses of one process share: topic logs, presence entries, started buses."""

    def __init__(self, history: int = DEFAULT_HISTORY, clock: Clock = time.time) -> None:
        if history < 1:
            raise ValueError("history must be at least 1")
        self.history = history
        self.clock = clock
        self._logs: dict[str, TopicLog] = {}
        self._presence: dict[int, tuple[PresenceRecord, float]] = {}
        self._buses: list[MemoryBus] = []

    def topic_log(self, topic: str) -> TopicLog:
        found = self._logs.get(topic)
        if found is None:
            found = self._logs[topic] = TopicLog(topic, new_epoch(), self.history)
        return found

    def publish(self, topic: str, type: str, payload: Mapping[str, Any], origin: str) -> BusEvent:
        topic_log = self.topic_log(topic)
        plain = topic_log.publish(type, payload)
        event = BusEvent(
            seq=plain.seq,
            type=plain.type,
            payload=plain.payload,
            topic=topic,
            epoch=topic_log.epoch,
            origin=origin,
        )
        for bus in self._buses:
            bus._enqueue(event)
        return event

    def attach(self, bus: MemoryBus) -> None:
        self._buses.append(bus)

    def detach(self, bus: MemoryBus) -> None:
        with contextlib.suppress(ValueError):
            self._buses.remove(bus)

    def set_presence(self, record: PresenceRecord, expires_at: float) -> None:
        self._presence[record.site_id] = (record, expires_at)

    def get_presence(self, site_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        now = self.clock()
        found: dict[int, PresenceRecord] = {}
        for site_id in site_ids:
            entry = self._presence.get(site_id)
            if entry is None:
                continue
            record, expires_at = entry
            if now < expires_at:
                found[site_id] = record
            else:
                del self._presence[site_id]
        return found

    def clear_presence(self, site_id: int, node_id: str) -> None:
        entry = self._presence.get(site_id)
        if entry is not None and entry[0].node_id == node_id:
            del self._presence[site_id]


class MemoryBus(Bus):
    """A bus on a :class:`MemoryBroker` (its own one unless ``broker`` is given)."""

    def __init__(self, broker: MemoryBroker | None = None, *, node_id: str | None = None) -> None:
        self.broker = broker if broker is not None else MemoryBroker()
        self.node_id = node_id or new_node_id()
        self._queue: asyncio.Queue[BusEvent] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise BusUnavailable("The bus is closed.")
        if self._task is not None:
            return
        self._task = asyncio.create_task(self._deliver(), name=f"bus-memory:{self.node_id}")
        self.broker.attach(self)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.broker.detach(self)
        task, self._task = self._task, None
        if task is not None:
            await cancel_and_wait(task)

    async def _publish(self, topic: str, type: str, packed: bytes) -> BusEvent:
        self._ensure_running()
        return self.broker.publish(topic, type, decode_payload(packed), self.node_id)

    async def _resume(self, topic: str, epoch: str, last_seq: int) -> Replay | Resync:
        self._ensure_running()
        return self.broker.topic_log(topic).resume(epoch, last_seq)

    async def _cursor(self, topic: str) -> Cursor:
        self._ensure_running()
        return self.broker.topic_log(topic).cursor()

    async def _set_presence(
        self, site_id: int, node_id: str, state: str, packed: bytes, seconds: float
    ) -> None:
        self._ensure_running()
        now = self.broker.clock()
        record = PresenceRecord(site_id, node_id, state, decode_payload(packed), now)
        self.broker.set_presence(record, now + seconds)

    async def get_presence(self, site_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        self._ensure_running()
        return self.broker.get_presence(site_ids)

    async def clear_presence(self, site_id: int, node_id: str) -> None:
        self._ensure_running()
        self.broker.clear_presence(site_id, node_id)

    def _ensure_running(self) -> None:
        if self._closed:
            raise BusUnavailable("The bus is closed.")
        if self._task is None:
            raise BusUnavailable("The bus is not started.")

    def _enqueue(self, event: BusEvent) -> None:
        self._queue.put_nowait(event)

    async def _deliver(self) -> None:
        queue = self._queue
        while True:
            event = await queue.get()
            self._dispatch(event)
            while not queue.empty():
                self._dispatch(queue.get_nowait())
