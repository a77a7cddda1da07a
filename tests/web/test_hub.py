"""The hub's send path on a real aiohttp server: frames written straight to a socket that keeps
up (no task, no queue), a queue and writer only for a socket that falls behind, nothing lost
or reordered in between, and no direct writes on a socket that negotiated compression."""

from __future__ import annotations

import asyncio
import base64
import os
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from server.bus.port import BusEvent
from server.web.hub import Connection, Hub, HubLimits, ws_frame
from tests.web.live_helpers import unbatched

TOPIC = "session:1"


def event(seq: int, **data: Any) -> BusEvent:
    return BusEvent(
        seq=seq, type="note", payload={"n": seq, **data}, topic=TOPIC, epoch="e", origin="t"
    )


class Served:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.connections: list[Connection] = []
        self.opened = asyncio.Event()


async def _serve(hub: Hub, compress: bool) -> AsyncIterator[tuple[TestServer, Served]]:
    served = Served(hub)

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        connection = hub.open(ws, "client", "test", binary=False)
        hub.subscribe(connection, TOPIC)
        served.connections.append(connection)
        served.opened.set()
        try:
            async for _ in ws:
                pass
        finally:
            hub.close(connection)
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    server = TestServer(app)
    await server.start_server()
    try:
        yield server, served
    finally:
        await hub.shutdown()
        await server.close()


@pytest.fixture
async def plain() -> AsyncIterator[tuple[TestServer, Served]]:
    async for pair in _serve(Hub(HubLimits(send_timeout=30.0)), compress=False):
        yield pair


@pytest.fixture
async def deflate() -> AsyncIterator[tuple[TestServer, Served]]:
    async for pair in _serve(Hub(), compress=True):
        yield pair


@asynccontextmanager
async def client(
    server: TestServer, served: Served, **options: Any
) -> AsyncIterator[tuple[aiohttp.ClientWebSocketResponse, Connection]]:
    """A client socket to ``/ws`` (``options`` for ``ws_connect``) and the hub's connection for
    it, once the server has opened it."""
    async with (
        aiohttp.ClientSession() as http,
        http.ws_connect(server.make_url("/ws"), **options) as ws,
    ):
        await asyncio.wait_for(served.opened.wait(), 5)
        (connection,) = served.connections
        yield ws, connection


def test_ws_frame_headers_for_every_length() -> None:
    assert ws_frame("hi") == b"\x81\x02hi"
    assert ws_frame(b"\x01") == b"\x82\x01\x01"
    mid = ws_frame("x" * 300)
    assert mid[:4] == b"\x81\x7e\x01\x2c" and len(mid) == 304
    big = ws_frame(b"y" * 70000)
    assert big[:2] == b"\x82\x7f" and struct.unpack("!Q", big[2:10])[0] == 70000


async def test_a_socket_that_keeps_up_gets_events_without_a_writer_task(
    plain: tuple[TestServer, Served],
) -> None:
    server, served = plain
    async with client(server, served) as (ws, connection):
        tasks_before = len(asyncio.all_tasks())
        for seq in range(1, 51):
            assert served.hub.deliver(TOPIC, event(seq)) == 1
            assert connection._writer is None  # written straight to the transport
        assert len(asyncio.all_tasks()) == tasks_before
        got: list[int] = []
        while len(got) < 50:
            msg = await ws.receive(timeout=5)
            got += [m["seq"] for m in unbatched(msg.data)]
        assert got == list(range(1, 51))


async def test_a_socket_that_falls_behind_is_queued_then_catches_up_in_order(
    plain: tuple[TestServer, Served],
) -> None:
    server, served = plain
    assert server.port is not None
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    await asyncio.wait_for(served.opened.wait(), 5)
    (connection,) = served.connections
    big = "问" * 20000  # about 60 KB a frame: the kernel's buffers fill after some 70 of them
    seq = 0
    while connection._writer is None and seq < 400:  # not reading: it must fall back to a queue
        seq += 1
        served.hub.deliver(TOPIC, event(seq, text=big))
        await asyncio.sleep(0)
    assert connection._writer is not None, "never fell back to the queue"
    last = seq + 20
    while seq < last:  # these wait in the queue, behind what the transport holds
        seq += 1
        served.hub.deliver(TOPIC, event(seq, text=big))
    assert connection.dropped_reason is None

    # now read everything: every event once, in order, batches unpacked
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    buffer = b""
    head_end = -1
    got: list[int] = []
    deadline = loop.time() + 20
    while len(got) < last and loop.time() < deadline:
        chunk = await asyncio.wait_for(loop.sock_recv(sock, 1 << 20), 10)
        assert chunk, "the server closed the socket"
        buffer += chunk
        if head_end < 0:
            head_end = buffer.find(b"\r\n\r\n")
            if head_end < 0:
                continue
            assert b" 101 " in buffer[:head_end]
            buffer = buffer[head_end + 4 :]
        while len(buffer) >= 2:
            length, offset = buffer[1] & 0x7F, 2
            if length == 126:
                length, offset = struct.unpack("!H", buffer[2:4])[0], 4
            elif length == 127:
                length, offset = struct.unpack("!Q", buffer[2:10])[0], 10
            if len(buffer) < offset + length:
                break
            opcode, payload = buffer[0] & 0x0F, buffer[offset : offset + length]
            buffer = buffer[offset + length :]
            if opcode == 0x1:
                got += [m["seq"] for m in unbatched(payload)]
    sock.close()
    assert got == list(range(1, last + 1))
    # caught up: the writer task is gone and frames go straight out again
    for _ in range(100):
        if connection._writer is None:
            break
        await asyncio.sleep(0.05)
    assert connection._writer is None


async def test_a_compressed_socket_never_gets_raw_frames(
    deflate: tuple[TestServer, Served],
) -> None:
    server, served = deflate
    async with client(server, served, compress=15) as (ws, connection):
        assert connection.ws.compress
        assert connection._transport is None
        for seq in range(1, 21):
            served.hub.deliver(TOPIC, event(seq, text="压缩" * 500))
        got: list[int] = []
        while len(got) < 20:
            msg = await ws.receive(timeout=5)
            got += [m["seq"] for m in unbatched(msg.data)]
        assert got == list(range(1, 21))
