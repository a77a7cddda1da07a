"""Live sockets of this process: one bounded send queue per connection, and the topic router.

The bus hands every event to :meth:`Hub.deliver` on its delivery task. The hub encodes the event
once per wire format (JSON text for browsers, msgpack for agents), and once more into a complete
WebSocket frame, and hands that to every local subscriber; it never awaits a socket.

A connection whose transport has little or nothing waiting (the usual case) gets the frame
written straight into its transport: no task, no queue, no per-socket encoding. Only when a
client falls behind (more than ``direct_bytes`` waiting in user space) do its frames go to its
own bounded queue, drained by a writer task made for it then and gone once the queue is empty.
So a client that stops reading only fills its own queue: when the queue is full, or one send
takes longer than ``send_timeout``, that client is dropped (close 4008) and nobody else waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import msgpack
from aiohttp import web

from server.bus.port import BusEvent

log = logging.getLogger("server.hub")

CLOSE_TOO_SLOW = 4008  # the client did not read its messages in time
CLOSE_TRY_AGAIN = 1013  # the server could not answer now: reconnect (with back-off) and resume
MAX_BATCH = 128  # JSON messages sent together at most when a client's queue has backed up

Frame = bytes | str  # a message as encoded for its socket: msgpack bytes or JSON text


@dataclass(frozen=True, slots=True)
class HubLimits:
    queue_frames: int = 256  # frames waiting for one client before it counts as stalled
    send_timeout: float = 1.5  # seconds one frame may take to leave before the client is dropped
    direct_bytes: int = 16384  # bytes waiting in a transport up to which frames skip the queue


def ws_frame(frame: Frame) -> bytes:
    """``frame`` as one complete, unmasked, uncompressed server WebSocket frame (RFC 6455):
    text for JSON, binary for msgpack."""
    if isinstance(frame, str):
        payload, first = frame.encode(), 0x81
    else:
        payload, first = frame, 0x82
    n = len(payload)
    if n < 126:
        return struct.pack("!BB", first, n) + payload
    if n < 65536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


class Connection:
    """One WebSocket: frames written straight to it while it keeps up, else to its own bounded
    outbox drained by a writer task that exists only while the outbox is not empty."""

    __slots__ = (
        "_closing",
        "_frames",
        "_held",
        "_transport",
        "_writer",
        "binary",
        "dropped_reason",
        "kind",
        "label",
        "limits",
        "topics",
        "ws",
    )

    def __init__(
        self, ws: web.WebSocketResponse, kind: str, label: str, binary: bool, limits: HubLimits
    ) -> None:
        self.ws = ws
        self.kind = kind  # "agent" or "client"
        self.label = label
        self.binary = binary
        self.limits = limits
        self.topics: set[str] = set()
        self.dropped_reason: str | None = None
        self._frames: deque[Frame] | None = None  # made when a frame must wait
        self._closing = False
        self._held: dict[str, list[tuple[int, Frame]]] | None = None
        self._writer: asyncio.Task[None] | None = None  # only while frames wait
        # Frames are written straight to the transport only when nothing transforms them
        # on the way (no permessage-deflate negotiated on this socket).
        transport = ws._req.transport if ws._req is not None else None
        self._transport = transport if transport is not None and not ws.compress else None

    def send(self, frame: Frame, wire: bytes | None = None) -> bool:
        """Send or queue a frame without waiting; False (and the client is dropped) when its
        queue is full. ``wire`` is ``frame`` already made a WebSocket frame (``ws_frame``)."""
        if self._closing:
            return False
        transport = self._transport
        if self._writer is None and transport is not None:
            if transport.is_closing() or self.ws.closed:
                self._closing = True
                return False
            if transport.get_write_buffer_size() <= self.limits.direct_bytes:
                transport.write(ws_frame(frame) if wire is None else wire)
                return True
        frames = self._frames
        if frames is None:
            frames = self._frames = deque()
        if len(frames) >= self.limits.queue_frames:
            self.drop("send queue full: the client is not reading")
            return False
        frames.append(frame)
        if self._writer is None:
            self._writer = asyncio.get_running_loop().create_task(
                self._write_loop(), name=f"writer:{self.label}"
            )
        return True

    def offer(self, topic: str, seq: int, frame: Frame, wire: bytes | None = None) -> bool:
        """A live event: held back while this topic's subscription is being answered."""
        if self._held is not None:
            held = self._held.get(topic)
            if held is not None:
                held.append((seq, frame))
                return True
        return self.send(frame, wire)

    def hold(self, topic: str) -> None:
        if self._held is None:
            self._held = {}
        self._held[topic] = []

    def release(self, topic: str, last_sent: int) -> None:
        """Send what arrived during the subscription, skipping what the answer covered."""
        if self._held is None:
            return
        held = self._held.pop(topic, [])
        if not self._held:
            self._held = None
        for seq, frame in held:
            if seq > last_sent:
                self.send(frame)

    def forget(self, topic: str) -> None:
        """The subscription was not answered: drop what was held for it (nothing is sent)."""
        if self._held is not None:
            self._held.pop(topic, None)
            if not self._held:
                self._held = None

    def send_message(self, message: dict[str, Any]) -> bool:
        return self.send(encode(message, self.binary))

    def drop(self, reason: str, code: int = CLOSE_TOO_SLOW) -> None:
        if self._closing:
            return
        self._closing = True
        self.dropped_reason = reason
        if self._frames is not None:
            self._frames.clear()
        log.warning("dropping socket", extra={"socket": self.label, "reason": reason})
        asyncio.get_running_loop().create_task(self._close(code, reason))

    def _stop_writer(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and writer is not asyncio.current_task():
            writer.cancel()

    async def _close(self, code: int, reason: str) -> None:
        self._stop_writer()
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
        self._stop_writer()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(code=code, message=reason[:120].encode()), 1.0)

    async def _flushed(self) -> None:
        while self._writer is not None:
            await asyncio.sleep(0.01)

    async def _write_loop(self) -> None:
        frames = self._frames
        assert frames is not None
        try:
            while frames and not self._closing:
                frame = self._next_frame(frames)
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
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    @staticmethod
    def _next_frame(frames: deque[Frame]) -> Frame:
        """The next frame to write. JSON frames that queued up during a burst leave together
        as one ``batch`` message: one write instead of many, which keeps a burst of presence
        changes to thousands of browsers cheap."""
        first = frames.popleft()
        if isinstance(first, bytes) or not frames or isinstance(frames[0], bytes):
            return first
        parts = [first]
        while frames and len(parts) < MAX_BATCH and isinstance(frames[0], str):
            parts.append(frames.popleft())  # type: ignore[arg-type]
        return '{"type":"batch","messages":[' + ",".join(parts) + "]}"

    def finished(self) -> None:
        """The socket's handler is done: stop the writer."""
        self._closing = True
        self._stop_writer()


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
        encoded: dict[bool, tuple[Frame, bytes]] = {}  # once per wire format, not per socket
        seq = event.seq
        count = 0
        for connection in tuple(members):
            pair = encoded.get(connection.binary)
            if pair is None:
                frame = encode(message, connection.binary)
                pair = encoded[connection.binary] = (frame, ws_frame(frame))
            if connection.offer(topic, seq, pair[0], pair[1]):
                count += 1
        return count

    async def shutdown(self) -> None:
        """Close every socket with 1001 GOING_AWAY (server restart: clients reconnect)."""
        await asyncio.gather(
            *(c.close(1001, "server restarting; reconnect") for c in list(self.connections)),
            return_exceptions=True,
        )
