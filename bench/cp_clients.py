"""The client side of ``bench/control_plane.py``: many WebSocket clients in one process.

One raw asyncio ``Protocol`` per socket (HTTP upgrade, RFC 6455 framing, no compression, no
library in the receive path) so that thousands of clients stay cheap and the same code speaks
to every server under test:

* ``r1``  (``bench/peers/r1_websockets.py``) and ``ours`` (``/ws/client``): JSON ``subscribe``,
  wait for ``resync``;
* ``r2``  (``bench/peers/r2_socketio.py``): Engine.IO 4 over the websocket transport (``0`` open,
  ``40`` namespace connect, ``42["subscribe",…]``, ``2``/``3`` pings).

A received frame is not parsed as JSON: the time it arrived is recorded for every event id
(``eid``) found in it, which works for single events, ``batch`` frames and socket.io packets
alike. Worker processes are driven by the coordinator over a ``multiprocessing`` pipe.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import socket
import struct
import time
from dataclasses import dataclass, field
from multiprocessing.connection import Connection as Pipe
from typing import Any

from workers import commands, run_worker

EID = re.compile(rb"eid\W{1,3}(\d+)")
HANDSHAKE_LIMIT = 16384


@dataclass
class Target:
    kind: str  # "r1", "r2" or "ours"
    host: str
    port: int
    topic: str
    token: str | None = None  # ours: the classroom_session cookie

    @property
    def path(self) -> str:
        if self.kind == "r2":
            return "/socket.io/?EIO=4&transport=websocket"
        if self.kind == "ours":
            return "/ws/client"
        return "/"


def mask_frame(opcode: int, payload: bytes) -> bytes:
    """A client frame (FIN set, masked as RFC 6455 requires)."""
    key = os.urandom(4)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, 0x80 | n)
    elif n < 65536:
        head = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, n)
    if n:
        repeated = (key * (n // 4 + 1))[:n]
        masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
            n, "big"
        )
    else:
        masked = b""
    return head + key + masked


class Recorder:
    """When each event id reached each socket of this process (monotonic clock)."""

    def __init__(self) -> None:
        self.arrivals: dict[int, list[float]] = {}
        self.stalled_arrivals = 0

    def clear(self) -> None:
        self.arrivals = {}
        self.stalled_arrivals = 0


class WsClient(asyncio.Protocol):
    def __init__(self, target: Target, recorder: Recorder) -> None:
        self.target = target
        self.recorder = recorder
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.handshaken = False
        self.subscribed: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.closed = False
        self.close_code: int | None = None
        self.stalled = False
        self.fragments = bytearray()
        self.frag_opcode = 0

    # -- asyncio callbacks --------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        t = self.target
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {t.path} HTTP/1.1",
            f"Host: {t.host}:{t.port}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            "Sec-WebSocket-Version: 13",
        ]
        if t.token:
            lines.append(f"Cookie: classroom_session={t.token}")
        transport.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        self.buffer += data
        if not self.handshaken:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > HANDSHAKE_LIMIT:
                    self._fail("handshake too long")
                return
            status = bytes(self.buffer[: self.buffer.find(b"\r\n")])
            if b" 101 " not in status:
                self._fail(status.decode(errors="replace"))
                return
            del self.buffer[: end + 4]
            self.handshaken = True
            self.opened()
        self._frames(now)

    def opened(self) -> None:
        """The handshake is done: subscribe (socket.io: after its own handshake)."""
        if self.target.kind != "r2":
            self.send_text(json.dumps({"type": "subscribe", "topics": [self.target.topic]}))

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(f"closed before subscribed: {exc}"))
            self.subscribed.exception()  # reported by whoever awaits it, else not at all

    # -- framing -------------------------------------------------------------------------

    def _frames(self, now: float) -> None:
        buf = self.buffer
        pos = 0
        size = len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length = b1 & 0x7F
            head = 2
            if length == 126:
                if size - pos < 4:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if size - pos < 10:
                    break
                length = int.from_bytes(buf[pos + 2 : pos + 10], "big")
                head = 10
            if b1 & 0x80:
                head += 4  # servers never mask; tolerate it anyway
            if size - pos < head + length:
                break
            payload = bytes(buf[pos + head : pos + head + length])
            pos += head + length
            self._frame(b0 & 0x80, b0 & 0x0F, payload, now)
        if pos:
            del buf[:pos]

    def _frame(self, fin: int, opcode: int, payload: bytes, now: float) -> None:
        if opcode == 0x0:  # continuation
            self.fragments += payload
            if not fin:
                return
            opcode, payload = self.frag_opcode, bytes(self.fragments)
            self.fragments.clear()
        elif opcode in (0x1, 0x2) and not fin:
            self.frag_opcode = opcode
            self.fragments = bytearray(payload)
            return
        if opcode == 0x1 or opcode == 0x2:
            self._message(payload, now)
        elif opcode == 0x9:
            self._write(mask_frame(0xA, payload))
        elif opcode == 0x8:
            self.close_code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
            self._write(mask_frame(0x8, payload[:2]))
            if self.transport is not None:
                self.transport.close()

    def _message(self, payload: bytes, now: float) -> None:
        if self.target.kind == "r2":
            if payload == b"2":
                self.send_text("3")
                return
            if payload.startswith(b"0{"):
                self.send_text("40")
                return
            if payload.startswith(b"40"):
                self.send_text("42" + json.dumps(["subscribe", {"topics": [self.target.topic]}]))
                return
        if not self.subscribed.done():
            if b'"resync"' in payload:
                self.subscribed.set_result(None)
            return
        if self.stalled:
            self.recorder.stalled_arrivals += 1
            return
        arrivals = self.recorder.arrivals
        for match in EID.finditer(payload):
            arrivals.setdefault(int(match.group(1)), []).append(now)

    def send_text(self, text: str) -> None:
        self._write(mask_frame(0x1, text.encode()))

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, why: str) -> None:
        if not self.subscribed.done():
            self.subscribed.set_exception(ConnectionError(why))
            self.subscribed.exception()
        if self.transport is not None:
            self.transport.close()

    def stall(self) -> None:
        """Stop reading: the server's writes pile up in its buffers."""
        self.stalled = True
        if self.transport is not None:
            self.transport.pause_reading()

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self._write(mask_frame(0x8, struct.pack("!H", 1000)))
            self.transport.close()


@dataclass
class Fleet:
    """The sockets of one worker process."""

    recorder: Recorder = field(default_factory=Recorder)
    clients: list[WsClient] = field(default_factory=list)
    stall_candidate: WsClient | None = None

    async def open_one(self, target: Target, small_rcvbuf: bool, timeout: float) -> WsClient:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if small_rcvbuf:  # a small receive window: a stalled reader backs up the server soon
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(sock, (target.host, target.port)), timeout)
        except BaseException:
            sock.close()
            raise
        _, client = await loop.create_connection(lambda: WsClient(target, self.recorder), sock=sock)
        try:
            await asyncio.wait_for(asyncio.shield(client.subscribed), timeout)
        except BaseException:
            client.close()
            raise
        return client

    async def connect(self, spec: dict[str, Any]) -> dict[str, Any]:
        targets = [Target(**t) for t in spec["targets"]]
        gate = asyncio.Semaphore(spec.get("concurrency", 50))
        errors: list[str] = []
        took: list[float] = []  # seconds from starting to connect to subscribed, per socket
        timeout = float(spec.get("timeout", 30.0))
        deadline = time.monotonic() + float(spec.get("budget", 120.0))

        async def one(i: int, target: Target) -> None:
            async with gate:
                if time.monotonic() > deadline:
                    errors.append("connect budget exhausted")
                    return
                small = spec.get("stall_candidate", False) and i == 0
                started = time.monotonic()
                try:
                    client = await self.open_one(target, small, timeout)
                except Exception as exc:
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    return
                took.append(time.monotonic() - started)
                self.clients.append(client)
                if small:
                    self.stall_candidate = client

        await asyncio.gather(*(one(i, t) for i, t in enumerate(targets)))
        return {
            "ok": len(targets) - len(errors),
            "failed": len(errors),
            "errors": errors[:5],
            "took": took,
        }

    def status(self) -> dict[str, Any]:
        codes: dict[str, int] = {}
        for c in self.clients:
            if c.closed:
                codes[str(c.close_code)] = codes.get(str(c.close_code), 0) + 1
        candidate = self.stall_candidate
        return {
            "open": sum(1 for c in self.clients if not c.closed),
            "receiving": sum(1 for c in self.clients if not c.closed and not c.stalled),
            "closed": codes,
            "candidate": None
            if candidate is None
            else {"closed": candidate.closed, "close_code": candidate.close_code},
        }

    def collect(self) -> dict[str, Any]:
        out = {
            "arrivals": self.recorder.arrivals,
            "stalled_arrivals": self.recorder.stalled_arrivals,
        }
        self.recorder.clear()
        return out

    async def close_all(self) -> None:
        for c in self.clients:
            c.close()
        await asyncio.sleep(0.2)
        self.clients.clear()
        self.stall_candidate = None


def worker_main(pipe: Pipe) -> None:
    """A client process: obey the coordinator's commands until ``exit``."""
    run_worker(pipe, _worker)


async def _worker(pipe: Pipe) -> None:
    fleet = Fleet()
    async for command, arg in commands(pipe):
        if command == "connect":
            pipe.send(await fleet.connect(arg))
        elif command == "stall":
            if fleet.stall_candidate is not None:
                fleet.stall_candidate.stall()
            pipe.send(fleet.stall_candidate is not None)
        elif command == "resume":
            candidate = fleet.stall_candidate
            if candidate is not None and candidate.transport is not None:
                candidate.transport.resume_reading()
            pipe.send(None)
        elif command == "drop_candidate":
            candidate = fleet.stall_candidate
            if candidate is not None:
                candidate.close()
                fleet.clients.remove(candidate)
            pipe.send(None)
        elif command == "status":
            pipe.send(fleet.status())
        elif command == "collect":
            pipe.send(fleet.collect())
        elif command == "close":
            await fleet.close_all()
            fleet.recorder.clear()
            pipe.send(None)
        else:
            pipe.send({"error": f"unknown command {command}"})
