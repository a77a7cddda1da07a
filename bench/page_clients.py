"""The client side of ``bench/reconnect_storm.py``: thousands of browsers' live sockets in one
process, each reconnecting as the page does.

A :class:`Page` is what ``web_client/shared/live.js`` (``LiveSocket``) does, in Python:

* on open: subscribe to its topic, with ``resume`` (epoch, last seq) once it has a cursor;
* events advance the cursor (repeats skipped), a ``resync`` sets it, a ``gap`` resubscribes;
* when the socket ends: try again after the page's capped, jittered back-off
  (``cap = min(MAX_DELAY, MIN_DELAY * 2**attempt)``, ``delay = max(MIN_DELAY/2, cap/2 +
  random() * cap/2)``, ``attempt`` reset when a socket opens; the constants are read from
  live.js itself), and give a handshake up after ``CONNECT_TIMEOUT``.

Where the page has one address and a balancer behind it, a page here knows both nodes and
does what the balancer does (``proxy_next_upstream error``): a refused connection goes to the
next node at once. After subscribing the page sends a ``ping``: its ``pong`` comes after the
subscription's answer (messages are handled in order), so the page knows it is live again
and resynced (its snapshot or the missed events received).

Frames use the raw asyncio client of ``bench/cp_clients.py`` (no library in the loop).
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

from cp_clients import Recorder, Target, WsClient
from workers import commands, run_worker

LIVE_JS = Path(__file__).resolve().parents[1] / "web_client" / "shared" / "live.js"


def page_constants(source: str | None = None) -> dict[str, float]:
    """MIN_DELAY, MAX_DELAY and CONNECT_TIMEOUT of live.js, in seconds."""
    text = source if source is not None else LIVE_JS.read_text()
    found = {}
    for name in ("MIN_DELAY", "MAX_DELAY", "CONNECT_TIMEOUT"):
        match = re.search(rf"const {name} = (\d+);", text)
        if match is None:
            raise ValueError(f"{name} not found in live.js")
        found[name] = int(match.group(1)) / 1000
    return found


def backoff(attempt: int, min_delay: float, max_delay: float, rand: float) -> float:
    """live.js ``_retry``: the delay before the next attempt (``rand`` in [0, 1))."""
    cap = min(max_delay, min_delay * 2**attempt)
    return max(min_delay / 2, cap / 2 + rand * (cap / 2))


class PageSocket(WsClient):
    """One socket of a page: reports to its :class:`Page`."""

    def __init__(self, target: Target, recorder: Recorder, page: Page) -> None:
        super().__init__(target, recorder)
        self.page = page

    def opened(self) -> None:
        self.page.on_open(self)

    def _message(self, payload: bytes, now: float) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            return
        messages = message["messages"] if message.get("type") == "batch" else [message]
        for m in messages:
            self.page.on_message(self, m, now)

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        self.page.on_lost(self)

    def _fail(self, why: str) -> None:
        self.page.failures += 1
        super()._fail(why)


@dataclass
class PageStats:
    lost_at: float | None = None  # when the socket last ended (monotonic)
    back_at: float | None = None  # when it was live again after that (pong received)
    attempts: int = 0  # sockets tried since lost
    tried_at: float | None = None  # the last attempt began
    open_at: float | None = None  # its handshake was answered


class Page:
    def __init__(self, spec: dict[str, Any], constants: dict[str, float]) -> None:
        self.token: str = spec["token"]
        self.ports: list[int] = spec["ports"]  # its own node first
        self.host: str = spec.get("host", "127.0.0.1")
        self.topic: str = spec["topic"]
        self.constants = constants
        self.cursor: tuple[str, int] | None = None
        self.attempt = 0
        self.socket: PageSocket | None = None
        self.live = False
        self.node_port: int | None = None
        self.stats = PageStats()
        self.resyncs = 0
        self.replayed = 0  # events received in a resume's replay or live
        self.skipped = 0  # an event that skipped seqs (should never happen)
        self.failures = 0  # handshakes refused (e.g. 503) or broken
        self.nonce = 0
        self.stopping = False
        self.first_live = asyncio.get_running_loop().create_future()

    # -- opening -----------------------------------------------------------------------

    def open(self) -> None:
        if self.stopping:
            return
        self.stats.attempts += 1
        self.stats.tried_at = time.monotonic()
        asyncio.get_running_loop().create_task(self._open())

    async def _open(self) -> None:
        loop = asyncio.get_running_loop()
        for port in self.ports:  # the balancer: a refused connection goes to the next node
            target = Target("ours", self.host, port, self.topic, self.token)
            try:
                _, sock = await asyncio.wait_for(
                    loop.create_connection(
                        lambda t=target: PageSocket(t, Recorder(), self), self.host, port
                    ),
                    self.constants["CONNECT_TIMEOUT"],
                )
            except ConnectionRefusedError:
                continue
            except (OSError, TimeoutError):
                break
            self.socket = sock
            self.node_port = port
            return
        self.retry()

    def retry(self) -> None:
        if self.stopping:
            return
        delay = backoff(
            self.attempt, self.constants["MIN_DELAY"], self.constants["MAX_DELAY"], random.random()
        )
        self.attempt += 1
        asyncio.get_running_loop().call_later(delay, self.open)

    # -- the socket's life ---------------------------------------------------------------

    def on_open(self, sock: PageSocket) -> None:
        self.attempt = 0
        self.stats.open_at = time.monotonic()
        message: dict[str, Any] = {"type": "subscribe", "topics": [self.topic]}
        if self.cursor is not None:
            message["resume"] = {self.topic: {"epoch": self.cursor[0], "last_seq": self.cursor[1]}}
        sock.send_text(json.dumps(message))
        self.nonce += 1
        sock.send_text(json.dumps({"type": "ping", "nonce": self.nonce}))

    def on_message(self, sock: PageSocket, m: dict[str, Any], now: float) -> None:
        kind = m.get("type")
        if kind == "resync":
            self.cursor = (m["epoch"], m["seq"])
            self.resyncs += 1
        elif kind == "event":
            cursor = self.cursor
            if cursor is not None and cursor[0] == m["epoch"]:
                if m["seq"] <= cursor[1]:
                    return  # a repeat
                if m["seq"] != cursor[1] + 1:
                    self.skipped += 1
            self.cursor = (m["epoch"], m["seq"])
            self.replayed += 1
        elif kind == "gap":
            self.on_open(sock)
        elif kind == "pong" and m.get("nonce") == self.nonce and not self.live:
            self.live = True
            if self.stats.lost_at is not None and self.stats.back_at is None:
                self.stats.back_at = now
            if not self.first_live.done():
                self.first_live.set_result(None)

    def on_lost(self, sock: PageSocket) -> None:
        if sock is not self.socket:
            return
        self.socket = None
        was_live, self.live = self.live, False
        if self.stopping:
            return
        if was_live:
            self.stats = PageStats(lost_at=time.monotonic())
        self.retry()

    def close(self) -> None:
        self.stopping = True
        if self.socket is not None:
            self.socket.close()


class PageFleet:
    def __init__(self) -> None:
        self.pages: list[Page] = []

    async def connect(self, spec: dict[str, Any]) -> dict[str, Any]:
        """Open the pages ``concurrency`` at a time; wait until each is live (or ``budget``)."""
        constants = page_constants()
        gate = asyncio.Semaphore(int(spec.get("concurrency", 100)))
        budget = float(spec.get("budget", 120.0))
        pages = [Page(p, constants) for p in spec["pages"]]
        self.pages.extend(pages)

        async def one(page: Page) -> None:
            async with gate:
                page.open()
                await asyncio.wait_for(asyncio.shield(page.first_live), budget)

        results = await asyncio.gather(*(one(p) for p in pages), return_exceptions=True)
        return {
            "live": sum(1 for p in pages if p.live),
            "errors": [repr(r)[:200] for r in results if isinstance(r, BaseException)][:5],
        }

    def status(self, since: float) -> dict[str, Any]:
        """Pages that lost their socket after ``since`` and are back (or not yet)."""
        lost = [p for p in self.pages if (p.stats.lost_at or 0) >= since]
        return {
            "pages": len(self.pages),
            "live": sum(1 for p in self.pages if p.live),
            "lost": len(lost),
            "back": sum(1 for p in lost if p.stats.back_at is not None),
        }

    def collect(self, since: float) -> dict[str, Any]:
        lost = [p for p in self.pages if (p.stats.lost_at or 0) >= since]
        return {
            "back_s": [
                p.stats.back_at - since
                for p in lost
                if p.stats.back_at is not None and p.stats.lost_at is not None
            ],
            "tried_s": [p.stats.tried_at - since for p in lost if p.stats.tried_at is not None],
            "open_s": [p.stats.open_at - since for p in lost if p.stats.open_at is not None],
            "lost_s": [p.stats.lost_at - since for p in lost if p.stats.lost_at is not None],
            "not_back": sum(1 for p in lost if p.stats.back_at is None),
            "attempts": [p.stats.attempts for p in lost],
            "cursors": [p.cursor for p in self.pages],
            "skipped": sum(p.skipped for p in self.pages),
            "failures": sum(p.failures for p in self.pages),
            "resyncs": sum(p.resyncs for p in self.pages),
            "ports": [p.node_port for p in self.pages],
        }

    async def close(self) -> None:
        for p in self.pages:
            p.close()
        await asyncio.sleep(0.3)
        self.pages.clear()


def worker_main(pipe: Pipe) -> None:
    """A page process: obey the coordinator's commands until ``exit``."""
    run_worker(pipe, _worker)


async def _worker(pipe: Pipe) -> None:
    fleet = PageFleet()
    async for command, arg in commands(pipe):
        if command == "connect":
            pipe.send(await fleet.connect(arg))
        elif command == "status":
            pipe.send(fleet.status(arg))
        elif command == "collect":
            pipe.send(fleet.collect(arg))
        elif command == "close":
            await fleet.close()
            pipe.send(None)
        else:
            pipe.send({"error": f"unknown command {command}"})
