"""Live sockets of this process: one bounded send queue per connection, and the topic router.

The bus hands every event to :meth:`Hub.deliver` on its delivery task. The hub encodes the event
once per wire format (JSON text for browsers, msgpack for agents) and appends the frame to the
queue of every local subscriber; it never awaits a socket. Each connection has its own writer
task, so a client that stops reading only fills its own queue: when the queue is full, or one
send takes longer than ``send_timeout``, that client is dropped and nobody else waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
from aiohttp import web

from server.bus.port import BusEvent

log = logging.getLogger("server.hub")

CLOSE_TOO_SLOW = 4008  # the client did not read its messages in time
MAX_BATCH = 128  # JSON messages sent together at most when a client's queue has backed up


@dataclass(frozen=True, slots=True)
class HubLimits:
    queue_frames: int = 256  # frames waiting for one client before it counts as stalled
    send_timeout: float = 1.5  # seconds one frame may take to leave before the client is dropped


class Connection:
    """One WebSocket with its own bounded outbox and writer task."""

    def __init__(
        self, ws: web.WebSocketResponse, kind: str, label: str, binary: bool, limits: HubLimits
    ) -> None:
        self.ws = ws
        self.kind = kind  # "agent" or "client"
        self.label = label
        self.binary = binary
        self.limits = limits
        self.topics: set[str] = set()
        self._frames: deque[bytes | str] = deque()
        self._wake = asyncio.Event()
        self._closing = False
        self.dropped_reason: str | None = None
        self._held: dict[str, list[tuple[int, bytes | str]]] = {}
        self._writer = asyncio.create_task(self._write_loop(), name=f"writer:{label}")

    def send(self, frame: bytes | str) -> bool:
        """Queue a frame without waiting; False (and the client is dropped) when it is full."""
        if self._closing:
            return False
        if len(self._frames) >= self.limits.queue_frames:
            self.drop("send queue full: the client is not reading")
            return False
        self._frames.append(frame)
        self._wake.set()
        return True

    def offer(self, topic: str, seq: int, frame: bytes | str) -> bool:
        """A live event: held back while this topic's subscription is being answered."""
        held = self._held.get(topic)
        if held is not None:
            held.append((seq, frame))
            return True
        return self.send(frame)

    def hold(self, topic: str) -> None:
        self._held[topic] = []

    def release(self, topic: str, last_sent: int) -> None:
        """Send what arrived during the subscription, skipping what the answer covered."""
        for seq, frame in self._held.pop(topic, []):
            if seq > last_sent:
                self.send(frame)

    def send_message(self, message: dict[str, Any]) -> bool:
        return self.send(encode(message, self.binary))

    def drop(self, reason: str, code: int = CLOSE_TOO_SLOW) -> None:
        if self._closing:
            return
        self._closing = True
        self.dropped_reason = reason
        self._frames.clear()
        log.warning("dropping socket", extra={"socket": self.label, "reason": reason})
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=reason[:120].encode()), 1.0)
        transport = self.ws._req.transport if self.ws._req is not None else None
        if transport is not None and not transport.is_closing():
            transport.abort()

    async def close(self, code: int, reason: str) -> None:
        """Close after the queued frames are sent (bounded by the send timeout)."""
        if self._closing:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._flushed(), self.limits.send_timeout)
        self._closing = True
        self._writer.cancel()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=reason[:120].encode()), 1.0)

    async def _flushed(self) -> None:
        while self._frames:
            await asyncio.sleep(0.01)

    async def _write_loop(self) -> None:
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._frames:
                    frame = self._next_frame()
                    send = (
                        self.ws.send_bytes(frame)
                        if isinstance(frame, bytes)
                        else self.ws.send_str(frame)
                    )
                    try:
                        await asyncio.wait_for(send, self.limits.send_timeout)
                    except TimeoutError:
                        self.drop(f"one message took over {self.limits.send_timeout} s to send")
                        return
                    except (ConnectionError, RuntimeError):
                        self._closing = True
                        return
        except asyncio.CancelledError:
            pass

    def _next_frame(self) -> bytes | str:
        """The next frame to write. JSON frames that queued up during a burst leave together
        as one ``batch`` message: one write instead of many, which keeps a burst of presence
        changes to thousands of browsers cheap."""
        first = self._frames.popleft()
        if isinstance(first, bytes) or not self._frames or isinstance(self._frames[0], bytes):
            return first
        parts = [first]
        while self._frames and len(parts) < MAX_BATCH and isinstance(self._frames[0], str):
            parts.append(self._frames.popleft())  # type: ignore[arg-type]
        return '{"type":"batch","messages":[' + ",".join(parts) + "]}"

    def finished(self) -> None:
        """The socket's handler is done: stop the writer."""
        self._closing = True
        self._writer.cancel()


def encode(message: dict[str, Any], binary: bool) -> bytes | str:
    if binary:
        packed: bytes = msgpack.packb(message, use_bin_type=True)
        return packed
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def event_message(event: BusEvent) -> dict[str, Any]:
    return {
        "type": "event",
        "topic": event.topic,
        "epoch": event.epoch,
        "seq": event.seq,
        "kind": event.type,
        "data": event.payload,
    }


class Hub:
    """The local sockets and what they subscribed to."""

    def __init__(self, limits: HubLimits | None = None) -> None:
        self.limits = limits or HubLimits()
        self.connections: set[Connection] = set()
        self._by_topic: dict[str, set[Connection]] = {}
        self.on_change: Callable[[], None] | None = None

    def open(self, ws: web.WebSocketResponse, kind: str, label: str, binary: bool) -> Connection:
        connection = Connection(ws, kind, label, binary, self.limits)
        self.connections.add(connection)
        return connection

    def close(self, connection: Connection) -> None:
        connection.finished()
        self.connections.discard(connection)
        for topic in list(connection.topics):
            self.unsubscribe(connection, topic)

    def subscribe(self, connection: Connection, topic: str) -> None:
        connection.topics.add(topic)
        self._by_topic.setdefault(topic, set()).add(connection)

    def unsubscribe(self, connection: Connection, topic: str) -> None:
        connection.topics.discard(topic)
        members = self._by_topic.get(topic)
        if members is not None:
            members.discard(connection)
            if not members:
                del self._by_topic[topic]

    def subscribers(self, topic: str) -> int:
        return len(self._by_topic.get(topic, ()))

    def deliver(self, topic: str, event: BusEvent) -> int:
        """Queue the event for every local subscriber of the topic; returns how many."""
        members = self._by_topic.get(topic)
        if not members:
            return 0
        message = event_message(event)
        frames: dict[bool, bytes | str] = {}
        count = 0
        for connection in list(members):
            frame = frames.get(connection.binary)
            if frame is None:
                frame = frames[connection.binary] = encode(message, connection.binary)
            if connection.offer(topic, event.seq, frame):
                count += 1
        return count

    async def shutdown(self) -> None:
        """Close every socket with 1001 GOING_AWAY (server restart: clients reconnect)."""
        await asyncio.gather(
            *(c.close(1001, "server restarting; reconnect") for c in list(self.connections)),
            return_exceptions=True,
        )
