"""The bus contract, proved against every adapter.

``memory``: buses sharing one :class:`MemoryBroker` stand for processes. ``redis``: buses with
different node ids sharing one key prefix on the Redis at 127.0.0.1:6379; the prefix is unique
per test and every key under it is deleted afterwards.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from server.bus import Bus, BusEvent, BusUnavailable, MemoryBroker, MemoryBus, RedisBus
from server.core.errors import InvalidInput
from server.core.topics import Cursor, Replay, Resync, ResyncReason, TopicEvent, TopicLog

REDIS_URL = "redis://127.0.0.1:6379/0"
TOPIC = "session:42"


async def wait_until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.002)


class Inbox:
    """A subscriber that keeps what it receives."""

    def __init__(self) -> None:
        self.events: list[BusEvent] = []

    def __call__(self, topic: str, event: BusEvent) -> None:
        assert topic == event.topic
        self.events.append(event)

    def on(self, topic: str) -> list[BusEvent]:
        return [e for e in self.events if e.topic == topic]

    async def wait_for(self, count: int, timeout: float = 5.0) -> list[BusEvent]:
        await wait_until(lambda: len(self.events) >= count, timeout)
        return self.events


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_790_000_000.0

    def __call__(self) -> float:
        return self.now


class Harness:
    """Makes started buses of one adapter that see each other, and cleans up after them."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = f"test:{uuid.uuid4().hex}:"
        self.clock = FakeClock()
        self._brokers: dict[int, MemoryBroker] = {}
        self.buses: list[Bus] = []

    async def bus(self, node_id: str, *, history: int = 1024, handler: Inbox | None = None) -> Bus:
        bus: Bus
        if self.kind == "memory":
            broker = self._brokers.setdefault(history, MemoryBroker(history, self.clock))
            bus = MemoryBus(broker, node_id=node_id)
        else:
            bus = RedisBus(REDIS_URL, prefix=self.prefix, node_id=node_id, history=history)
        if handler is not None:
            bus.subscribe(handler)
        await bus.start()
        self.buses.append(bus)
        return bus

    async def advance(self, seconds: float) -> None:
        """Let time pass for presence TTLs: the fake clock in memory, real time on Redis."""
        if self.kind == "memory":
            self.clock.now += seconds
        else:
            await asyncio.sleep(seconds)

    async def cleanup(self) -> None:
        for bus in self.buses:
            await bus.close()
        if self.kind == "redis":
            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                pattern = re.sub(r"([*?\[\]\\])", r"\\\1", self.prefix) + "*"
                keys = [k async for k in client.scan_iter(match=pattern, count=500)]
                if keys:
                    await client.delete(*keys)
                assert [k async for k in client.scan_iter(match=pattern)] == []
            finally:
                await client.aclose()


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def harness(request: pytest.FixtureRequest) -> AsyncIterator[Harness]:
    made = Harness(request.param)
    try:
        yield made
    finally:
        await made.cleanup()


# ---- publish and deliver ----------------------------------------------------------------


async def test_publish_numbers_each_topic_from_one_independently(harness: Harness) -> None:
    bus = await harness.bus("n1")
    seqs = [
        (await bus.publish(topic, "tick", {"i": i})).seq
        for i, topic in enumerate(["session:1", "session:2", "session:1", "session:1", "session:2"])
    ]
    assert seqs == [1, 1, 2, 3, 2]
    one, two = await bus.cursor("session:1"), await bus.cursor("session:2")
    assert (one.last_seq, two.last_seq) == (3, 2)
    assert one.epoch and two.epoch


async def test_publish_returns_the_event_subscribers_receive(harness: Harness) -> None:
    inbox = Inbox()
    bus = await harness.bus("n1", handler=inbox)
    sent = await bus.publish(TOPIC, "question.on_air", {"id": 7, "text": "为什么?", "tags": ("a",)})
    (got,) = await inbox.wait_for(1)
    assert got == sent
    assert got.plain() == TopicEvent(
        1, "question.on_air", {"id": 7, "text": "为什么?", "tags": ["a"]}
    )
    assert (got.topic, got.epoch, got.origin) == (TOPIC, (await bus.cursor(TOPIC)).epoch, "n1")


async def test_subscriber_receives_every_topic_in_seq_order(harness: Harness) -> None:
    inbox = Inbox()
    bus = await harness.bus("n1", handler=inbox)
    for i in range(60):
        await bus.publish(f"session:{i % 3}", "tick", {"i": i})
    await inbox.wait_for(60)
    for t in range(3):
        assert [e.seq for e in inbox.on(f"session:{t}")] == list(range(1, 21))
        assert [e.payload["i"] for e in inbox.on(f"session:{t}")] == list(range(t, 60, 3))


async def test_both_instances_receive_what_either_publishes(harness: Harness) -> None:
    inbox_a, inbox_b = Inbox(), Inbox()
    a = await harness.bus("node-a", handler=inbox_a)
    b = await harness.bus("node-b", handler=inbox_b)
    await a.publish(TOPIC, "from.a", {})
    await b.publish(TOPIC, "from.b", {})
    for inbox in (inbox_a, inbox_b):
        events = await inbox.wait_for(2)
        assert [(e.seq, e.type, e.origin) for e in events] == [
            (1, "from.a", "node-a"),
            (2, "from.b", "node-b"),
        ]
    await asyncio.sleep(0.05)
    assert len(inbox_a.events) == len(inbox_b.events) == 2


async def test_concurrent_publishes_from_two_instances_get_consecutive_seqs(
    harness: Harness,
) -> None:
    inbox = Inbox()
    a = await harness.bus("node-a", handler=inbox)
    b = await harness.bus("node-b")
    sent = await asyncio.gather(
        *(bus.publish(TOPIC, "tick", {"i": i}) for i in range(200) for bus in (a, b))
    )
    assert sorted(e.seq for e in sent) == list(range(1, 401))
    assert len({e.epoch for e in sent}) == 1
    received = await inbox.wait_for(400, timeout=10.0)
    assert [e.seq for e in received] == list(range(1, 401))
    assert (await b.cursor(TOPIC)).last_seq == 400


async def test_a_failing_handler_does_not_stop_delivery(harness: Harness) -> None:
    inbox = Inbox()

    def handler(topic: str, event: BusEvent) -> None:
        inbox(topic, event)
        if event.seq == 1:
            raise RuntimeError("boom")

    bus = await harness.bus("n1")
    bus.subscribe(handler)
    await bus.publish(TOPIC, "one", {})
    await bus.publish(TOPIC, "two", {})
    assert [e.seq for e in await inbox.wait_for(2)] == [1, 2]


async def test_a_process_registers_one_handler(harness: Harness) -> None:
    bus = await harness.bus("n1", handler=Inbox())
    with pytest.raises(RuntimeError):
        bus.subscribe(Inbox())


async def test_bad_topic_type_and_payload_are_refused(harness: Harness) -> None:
    bus = await harness.bus("n1")
    with pytest.raises(InvalidInput) as bad_topic:
        await bus.publish("Session 42", "tick", {})
    assert bad_topic.value.code == "bus.bad_topic"
    with pytest.raises(InvalidInput) as bad_type:
        await bus.publish(TOPIC, "", {})
    assert bad_type.value.code == "bus.bad_type"
    with pytest.raises(InvalidInput) as bad_payload:
        await bus.publish(TOPIC, "tick", {"when": object()})
    assert bad_payload.value.code == "bus.bad_payload"
    assert (await bus.cursor(TOPIC)).last_seq == 0


# ---- resume -------------------------------------------------------------------------------


async def test_resume_replays_exactly_the_missed_events(harness: Harness) -> None:
    bus = await harness.bus("n1")
    sent = [await bus.publish(TOPIC, "tick", {"i": i}) for i in range(10)]
    epoch = sent[0].epoch
    answer = await bus.resume(TOPIC, epoch, 6)
    assert answer == Replay(epoch, tuple(e.plain() for e in sent[6:]), 10)
    assert await bus.resume(TOPIC, epoch, 10) == Replay(epoch, (), 10)
    assert await bus.resume(TOPIC, epoch, 0) == Replay(epoch, tuple(e.plain() for e in sent), 10)


async def test_resume_with_another_epoch_asks_for_resync(harness: Harness) -> None:
    bus = await harness.bus("n1")
    event = await bus.publish(TOPIC, "tick", {})
    answer = await bus.resume(TOPIC, "an-old-epoch", 1)
    assert answer == Resync(ResyncReason.EPOCH_CHANGED, event.epoch, 1)


async def test_resume_from_the_future_asks_for_resync(harness: Harness) -> None:
    bus = await harness.bus("n1")
    event = await bus.publish(TOPIC, "tick", {})
    answer = await bus.resume(TOPIC, event.epoch, 2)
    assert answer == Resync(ResyncReason.FUTURE_SEQ, event.epoch, 1)


async def test_history_is_bounded_and_older_cursors_resync(harness: Harness) -> None:
    bus = await harness.bus("n1", history=5)
    sent = [await bus.publish(TOPIC, "tick", {"i": i}) for i in range(12)]
    epoch = sent[0].epoch
    oldest_resumable = await bus.resume(TOPIC, epoch, 7)  # holds 8..12
    assert isinstance(oldest_resumable, Replay)
    assert [e.seq for e in oldest_resumable.events] == [8, 9, 10, 11, 12]
    assert await bus.resume(TOPIC, epoch, 6) == Resync(ResyncReason.HISTORY_LOST, epoch, 12)


async def test_a_new_topic_gets_one_stable_epoch(harness: Harness) -> None:
    a = await harness.bus("node-a")
    b = await harness.bus("node-b")
    first = await a.cursor("site:12")
    assert first.last_seq == 0 and first.epoch
    assert await b.cursor("site:12") == first
    assert await b.resume("site:12", first.epoch, 0) == Replay(first.epoch, (), 0)
    event = await b.publish("site:12", "hello", {})
    assert (event.epoch, event.seq) == (first.epoch, 1)
    assert await a.cursor("site:12") == Cursor(first.epoch, 1)


async def test_resume_answers_like_the_core_topic_log_for_every_cursor(harness: Harness) -> None:
    bus = await harness.bus("n1", history=4)
    epoch = (await bus.cursor(TOPIC)).epoch
    reference = TopicLog(TOPIC, epoch, capacity=4)
    for published in range(11):
        for last_seq in range(published + 3):
            assert await bus.resume(TOPIC, epoch, last_seq) == reference.resume(epoch, last_seq)
        assert await bus.resume(TOPIC, "x" + epoch, 0) == reference.resume("x" + epoch, 0)
        sent = await bus.publish(TOPIC, "tick", {"n": published})
        assert sent.plain() == reference.publish("tick", {"n": published})


async def test_resume_refuses_a_negative_seq(harness: Harness) -> None:
    bus = await harness.bus("n1")
    epoch = (await bus.cursor(TOPIC)).epoch
    with pytest.raises(InvalidInput) as caught:
        await bus.resume(TOPIC, epoch, -1)
    assert caught.value.code == "topic.bad_cursor"


# ---- presence -----------------------------------------------------------------------------


async def test_presence_is_seen_by_every_instance_until_its_ttl(harness: Harness) -> None:
    a = await harness.bus("node-a")
    b = await harness.bus("node-b")
    await a.set_presence(12, "node-a", "online", {"rtt_ms": 40}, ttl=0.3)
    await a.set_presence(13, "node-a", "degraded", {}, ttl=30.0)
    seen = await b.get_presence([12, 13, 14])
    assert set(seen) == {12, 13}
    assert (seen[12].node_id, seen[12].state, seen[12].data) == ("node-a", "online", {"rtt_ms": 40})
    await harness.advance(0.45)
    assert set(await b.get_presence([12, 13, 14])) == {13}


async def test_presence_is_cleared_only_by_the_node_that_owns_it(harness: Harness) -> None:
    a = await harness.bus("node-a")
    b = await harness.bus("node-b")
    await a.set_presence(12, "node-a", "online", {}, ttl=30.0)
    await b.set_presence(12, "node-b", "online", {}, ttl=30.0)  # the agent moved to node-b
    await a.clear_presence(12, "node-a")  # node-a's late cleanup of the old socket
    assert (await a.get_presence([12]))[12].node_id == "node-b"
    await b.clear_presence(12, "node-b")
    assert await a.get_presence([12]) == {}


async def test_presence_ttl_must_be_positive(harness: Harness) -> None:
    bus = await harness.bus("n1")
    with pytest.raises(InvalidInput):
        await bus.set_presence(12, "n1", "online", {}, ttl=0)


# ---- lifecycle ----------------------------------------------------------------------------


async def test_a_bus_refuses_work_before_start_and_after_close(harness: Harness) -> None:
    bus: Bus = (
        MemoryBus(node_id="n0")
        if harness.kind == "memory"
        else RedisBus(REDIS_URL, prefix=harness.prefix, node_id="n0")
    )
    with pytest.raises(BusUnavailable) as before:
        await bus.publish(TOPIC, "tick", {})
    assert before.value.code == "bus.unavailable"
    started = await harness.bus("n1")
    await started.close()
    await started.close()  # idempotent
    with pytest.raises(BusUnavailable):
        await started.publish(TOPIC, "tick", {})


async def test_close_leaves_no_task_behind(harness: Harness) -> None:
    inbox = Inbox()
    buses = [await harness.bus(f"n{i}", handler=inbox if i == 0 else None) for i in range(3)]
    await buses[1].publish(TOPIC, "tick", {})
    await inbox.wait_for(1)
    ours = [t for t in asyncio.all_tasks() if t.get_name().startswith("bus-")]
    assert len(ours) == 3
    for bus in buses:
        await bus.close()
    never_ran = await harness.bus("n9")  # closed before its task ever ran
    await never_ran.close()
    assert all(t.done() for t in ours)
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("bus-")] == []
