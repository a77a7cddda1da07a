"""Small real clients for the live sockets, used by the live tests."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import aiohttp
import msgpack

HEALTH = {
    "uptime_s": 12.0,
    "rtt_ms": 3.0,
    "cpu_load": 0.2,
    "display_state": "none",
    "stream": {"state": "none"},
    "checked_in": 0,
}


def unbatched(frame: str | bytes) -> list[dict[str, Any]]:
    """The messages one text frame of ``/ws/client`` carries: a ``batch`` frame holds several."""
    data: dict[str, Any] = json.loads(frame)
    return data["messages"] if data.get("type") == "batch" else [data]


def hello(site_id: int, **extra: Any) -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": "1.0",
        "agent_version": "0.1.0",
        "capabilities": ["heartbeat"],
        "site_id": site_id,
        **extra,
    }


def heartbeat(seq: int = 1, **health: Any) -> dict[str, Any]:
    return {"type": "heartbeat", "ts": time.time(), "seq": seq, "health": {**HEALTH, **health}}


class AgentPeer:
    """A site agent speaking the msgpack protocol over a real WebSocket."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: Any) -> None:
        await self.ws.send_bytes(msgpack.packb(message, use_bin_type=True))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=timeout)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise AssertionError(
                f"expected a binary frame, got {msg.type} {msg.data!r} {msg.extra!r}"
            )
        result: dict[str, Any] = msgpack.unpackb(msg.data, raw=False)
        return result

    async def expect(self, kind: str, timeout: float = 5.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            if message["type"] == kind:
                return message

    async def closed(self, timeout: float = 5.0) -> tuple[int | None, str]:
        """Wait for the server to close; returns (close code, reason)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = await self.ws.receive(timeout=max(0.01, deadline - time.monotonic()))
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                return self.ws.close_code, str(msg.extra or "")
        raise AssertionError("the server did not close the socket")


class BrowserPeer:
    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.seen: dict[str, tuple[str, int]] = {}
        self.log: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []  # messages of a batch not yet handed out

    async def send(self, message: Any) -> None:
        await self.ws.send_str(json.dumps(message))

    async def receive(self, timeout: float = 5.0) -> dict[str, Any]:
        if not self.pending:
            msg = await self.ws.receive(timeout=timeout)
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(
                    f"expected a text frame, got {msg.type} {msg.data!r} {msg.extra!r}"
                )
            self.pending.extend(unbatched(msg.data))
        result: dict[str, Any] = self.pending.pop(0)
        self.log.append(result)
        if result.get("type") in ("event", "resync"):
            self.seen[result["topic"]] = (result["epoch"], result["seq"])
        return result

    async def expect(self, type_: str, timeout: float = 5.0, **match: Any) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            message = await self.receive(max(0.01, deadline - time.monotonic()))
            if message["type"] == type_ and all(
                message.get(k) == v or message.get("data", {}).get(k) == v for k, v in match.items()
            ):
                return message

    async def subscribe(self, *topics: str, resume: dict[str, Any] | None = None) -> None:
        await self.send(
            {"type": "subscribe", "topics": list(topics), **({"resume": resume} if resume else {})}
        )


async def browser_socket(client: Any) -> BrowserPeer:
    """``client``'s live socket (``/ws/client``), once the server's hello has come."""
    peer = BrowserPeer(await client.ws_connect("/ws/client"))
    assert (await peer.receive())["type"] == "hello"
    return peer


async def subscribed(client: Any, topic: str) -> BrowserPeer:
    """``client``'s live socket (``/ws/client``) subscribed to ``topic``, once the topic's
    ``resync`` (its snapshot) has come: what follows is the topic's events."""
    peer = BrowserPeer(await client.ws_connect("/ws/client"))
    await peer.subscribe(topic)
    await peer.expect("resync")
    return peer


async def wait_for(predicate: Any, timeout: float = 5.0, step: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        await asyncio.sleep(step)
    raise AssertionError("condition not met in time")


async def stalled_browser(host: str, port: int, cookie: str, topic: str) -> asyncio.StreamWriter:
    """A browser socket that subscribes and then never reads again (its TCP window fills up)."""
    import base64
    import os
    import struct

    reader, writer = await asyncio.open_connection(host, port)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET /ws/client HTTP/1.1\r\nHost: {host}:{port}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: {cookie}\r\n\r\n"
        ).encode()
    )
    status = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert b" 101 " in status.split(b"\r\n")[0], status
    payload = json.dumps({"type": "subscribe", "topics": [topic]}).encode()
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    writer.write(struct.pack("!BB", 0x81, 0x80 | len(payload)) + mask + masked)
    await writer.drain()
    return writer
