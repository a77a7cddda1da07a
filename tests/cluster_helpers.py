"""Shared parts of the multi-process tests: the shared PostgreSQL database and Redis prefix,
seeding (sites with agents, trainees with logins), browsers that reconnect and resume, a
Redis server the test owns, and a TCP proxy that can cut the database off.

The processes themselves come from ``deploy/local_cluster.py`` (nodes and balancer) or
``tests/server_process.py`` (one server)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import redis.asyncio as aioredis
from sqlalchemy import insert, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import security
from server.config import Config
from server.store import db as store_db
from server.store.attendance_models import AttendanceRecordRow, RecordKind
from server.store.models import (
    ClassSession,
    LoginSession,
    SessionStatus,
    Site,
    Trainee,
    session_sites,
    utcnow,
)
from server.store.qa_models import QaSettings
from server.web.checkin.records import new_row, store_core, to_core
from tests.conftest import World, create_pg_database, seed_world
from tests.server_process import free_port, stop_process
from tests.web.live_helpers import unbatched

if TYPE_CHECKING:
    from classroom_agent.agent import Agent

REDIS_URL = "redis://127.0.0.1:6379/0"
SECRET_KEY = "cluster-test-secret-key-0123456789"


@dataclass
class Backends:
    """What every node of a test shares: the environment to start them with, the seeded
    world and the database URL."""

    env: dict[str, str]
    world: World
    url: str


@contextlib.asynccontextmanager
async def shared_backends(
    tmp_path: Path, redis_url: str = REDIS_URL, log_level: str | None = None
) -> AsyncIterator[Backends]:
    """A new PostgreSQL database (migrated, seeded) and a Redis key prefix; both are removed
    afterwards."""
    url, drop = await create_pg_database()
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    try:
        await store_db.migrate(url)
        world = await seed_world(
            Config(data_dir=str(tmp_path), database_url=url, secret_key=SECRET_KEY)
        )
        env = {
            "CLASSROOM_DATABASE_URL": url,
            "CLASSROOM_REDIS_URL": redis_url,
            "CLASSROOM_REDIS_PREFIX": prefix,
            "CLASSROOM_SECRET_KEY": SECRET_KEY,
        }
        if log_level:
            env["CLASSROOM_LOG_LEVEL"] = log_level
        yield Backends(env, world, url)
    finally:
        await drop()
        with contextlib.suppress(Exception):  # a test's own Redis may be gone already
            client = aioredis.from_url(redis_url, socket_connect_timeout=2)
            keys = [k async for k in client.scan_iter(match=prefix + "*")]
            if keys:
                await client.delete(*keys)
            await client.aclose()


# --------------------------------------------------------------------------------------------
# Seeding
# --------------------------------------------------------------------------------------------


async def make_session_live(url: str, session_id: int) -> None:
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            await db.execute(
                update(ClassSession)
                .where(ClassSession.id == session_id)
                .values(status=SessionStatus.LIVE, started_at=utcnow())
            )
    finally:
        await engine.dispose()


async def lift_question_rate_limit(url: str, session_id: int) -> None:
    """Test clients ask far more often than trainees may (3 a minute by default)."""
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            db.add(QaSettings(session_id=session_id, rate_limit=100_000, sensitive_words=[]))
    finally:
        await engine.dispose()


async def add_sites(url: str, world: World, count: int) -> list[tuple[int, str]]:
    """``count`` more branch sites taking part in the world's session: (site id, secret)."""
    engine = store_db.create_engine(url)
    found: list[tuple[int, str]] = []
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            for _ in range(count):
                tag = uuid.uuid4().hex[:6]
                site = Site(name=f"分课堂{tag}", code=f"C{tag}", capacity=100)
                db.add(site)
                await db.flush()
                secret, digest = security.new_site_secret(site.id)
                site.secret_hash = digest
                await db.execute(
                    insert(session_sites).values(session_id=world.session_id, site_id=site.id)
                )
                found.append((site.id, secret))
    finally:
        await engine.dispose()
    return found


async def select_rows(url: str, sql: str) -> list[Any]:
    """The rows a read-only SQL query finds in this database (to check what was stored)."""
    engine = store_db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql))).all())
    finally:
        await engine.dispose()


def add_login(db: AsyncSession, now: datetime, hours: float = 2, **who: int) -> str:
    """A ready-made login of ``trainee_id=`` or ``user_id=`` (cookie token; CSRF token ``c``),
    valid ``hours`` from ``now``: its token."""
    token = secrets.token_urlsafe(24)
    db.add(
        LoginSession(
            token_hash=security.sha256(token),
            csrf_token="c",
            created_at=now,
            expires_at=now + timedelta(hours=hours),
            **who,
        )
    )
    return token


def in_the_room(
    trainee_id: int, session_id: int, site_id: int, now: datetime
) -> AttendanceRecordRow:
    """A trainee's regular attendance record: checked in by code at ``now``, still in the room.

    Made as the server makes it: a new record, checked in by the core's rule, stored."""
    row = new_row(trainee_id, session_id, site_id, RecordKind.REGULAR)
    store_core(row, to_core(row).check_in(now.timestamp()))
    return row


async def seed_trainees(
    url: str, world: World, count: int, *, checked_in: bool = True, tag: str = "V"
) -> list[tuple[int, str]]:
    """Trainees with ready-made logins (cookie token; CSRF token ``c``), optionally already
    checked in to the world's session at its site. Returns (trainee id, token)."""
    engine = store_db.create_engine(url)
    found: list[tuple[int, str]] = []
    now = datetime.now(UTC)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            trainees = [
                Trainee(
                    name=f"学员{i}",
                    staff_no=f"{tag}{i:05d}",
                    org_unit_id=world.org_unit_id,
                    home_site_id=world.site_id,
                )
                for i in range(count)
            ]
            db.add_all(trainees)
            await db.flush()
            for t in trainees:
                if checked_in:
                    db.add(in_the_room(t.id, world.session_id, world.site_id, now))
                found.append((t.id, add_login(db, now, trainee_id=t.id)))
    finally:
        await engine.dispose()
    return found


def trainee_headers(token: str) -> dict[str, str]:
    return {"Cookie": f"classroom_session={token}", "X-CSRF-Token": "c"}


async def staff_login(http: aiohttp.ClientSession, base: str, world: World, who: str) -> str:
    """Sign ``who`` in on ``http`` (its cookie jar keeps the cookie); returns the CSRF token."""
    async with http.post(
        base + "/api/v1/auth/login", json={"username": who, "password": world.passwords[who]}
    ) as r:
        assert r.status == 200, await r.text()
        token: str = (await r.json())["csrf_token"]
        return token


# --------------------------------------------------------------------------------------------
# A browser that reconnects and resumes
# --------------------------------------------------------------------------------------------


@dataclass
class TopicHistory:
    """What one browser saw on one topic, in order: ("event"|"resync", epoch, seq)."""

    items: list[tuple[str, str, int]] = field(default_factory=list)
    duplicates: int = 0  # events at or below the browser's position (skipped, as a page does)

    def check(self) -> list[str]:
        """Problems: an event that skips seqs within an epoch, or an event of a new epoch
        that no resync follows (after a bus ``gap`` the new epoch's first events may come
        before the resync that answers the client's subscribe: they are superseded by it)."""
        problems: list[str] = []
        epoch, seq = "", -1
        unexplained: str | None = None
        for kind, e, s in self.items:
            if kind == "resync":
                epoch, seq, unexplained = e, s, None
            elif unexplained is not None:
                continue  # waiting for the resync of the new epoch
            elif e != epoch:
                unexplained = f"event {e}/{s} in another epoch than {epoch}, and no resync after"
            elif s != seq + 1:
                problems.append(f"event {s} after {seq}: events {seq + 1}..{s - 1} never came")
                seq = s
            else:
                seq = s
        if unexplained is not None:
            problems.append(unexplained)
        return problems


class LiveBrowser:
    """A browser's live socket through ``base``: subscribes, follows events, and when the
    socket ends reconnects (every ``retry`` s) and subscribes again with ``resume``, as the
    pages do. ``gap`` messages are answered with a resuming subscribe."""

    def __init__(
        self, http: aiohttp.ClientSession, base: str, topics: list[str], retry: float = 0.2
    ) -> None:
        self.http = http
        self.base = base
        self.topics = topics
        self.retry = retry
        self.cursors: dict[str, tuple[str, int]] = {}
        self.history: dict[str, TopicHistory] = {t: TopicHistory() for t in topics}
        self.events: list[dict[str, Any]] = []
        self.nodes: list[str] = []  # node id of each connection, in order
        self.outages: list[float] = []  # seconds from losing the socket to subscribed again
        self.gaps = 0
        self.errors: list[dict[str, Any]] = []
        self.subscribed = asyncio.Event()
        self._lost_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._stopping = False

    def start(self) -> LiveBrowser:
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    @property
    def node(self) -> str:
        return self.nodes[-1] if self.nodes else ""

    async def _run(self) -> None:
        while not self._stopping:
            try:
                async with self.http.ws_connect(self.base + "/ws/client", heartbeat=None) as ws:
                    self._ws = ws
                    await self._serve(ws)
            except (aiohttp.ClientError, OSError, TimeoutError):
                pass
            self._ws = None
            self.subscribed.clear()
            if self._lost_at is None:
                self._lost_at = time.monotonic()
            await asyncio.sleep(self.retry)

    async def _subscribe(self, ws: aiohttp.ClientWebSocketResponse, topics: list[str]) -> None:
        resume = {
            t: {"epoch": self.cursors[t][0], "last_seq": self.cursors[t][1]}
            for t in topics
            if t in self.cursors
        }
        message: dict[str, Any] = {"type": "subscribe", "topics": topics}
        if resume:
            message["resume"] = resume
        await ws.send_str(json.dumps(message))

    async def _serve(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        nonce = 0
        async for msg in ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                break
            for m in unbatched(msg.data):
                kind = m.get("type")
                if kind == "hello":
                    self.nodes.append(str(m["node_id"]))
                    await self._subscribe(ws, self.topics)
                    # Messages are handled in order: the pong comes after the subscription's
                    # answer (a resume with nothing missed sends nothing else).
                    nonce += 1
                    await ws.send_str(json.dumps({"type": "ping", "nonce": nonce}))
                elif kind == "pong" and m.get("nonce") == nonce:
                    self._answered()
                elif kind == "resync":
                    topic = m["topic"]
                    self.cursors[topic] = (m["epoch"], m["seq"])
                    self.history[topic].items.append(("resync", m["epoch"], m["seq"]))
                elif kind == "event":
                    self._on_event(m)
                elif kind == "gap":
                    self.gaps += 1
                    await self._subscribe(ws, [t for t in m["topics"] if t in self.topics])
                elif kind == "error":
                    self.errors.append(m)

    def _answered(self) -> None:
        """Every topic answered (resync) or resumed: the browser is live again."""
        if self._lost_at is not None:
            self.outages.append(time.monotonic() - self._lost_at)
            self._lost_at = None
        self.subscribed.set()

    def _on_event(self, m: dict[str, Any]) -> None:
        topic, epoch, seq = m["topic"], m["epoch"], m["seq"]
        current = self.cursors.get(topic)
        if current is not None and current[0] == epoch and seq <= current[1]:
            self.history[topic].duplicates += 1
            return
        self.cursors[topic] = (epoch, seq)
        self.history[topic].items.append(("event", epoch, seq))
        self.events.append(m)


async def stop_clients(
    agents: Iterable[Agent], runs: Iterable[asyncio.Task[Any]], browsers: Iterable[LiveBrowser] = ()
) -> None:
    """Teardown: stop the live browsers, then the site agents, and wait until the agents' run
    tasks have ended (how they ended is not the teardown's concern)."""
    for browser in browsers:
        await browser.stop()
    for agent in agents:
        agent.stop()
    await asyncio.gather(*runs, return_exceptions=True)


# --------------------------------------------------------------------------------------------
# A Redis server of the test's own, and a cuttable TCP proxy
# --------------------------------------------------------------------------------------------


class RedisServer:
    """``redis-server`` on a free port without persistence: a restart empties it."""

    def __init__(self, work_dir: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.work_dir = work_dir
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> RedisServer:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.work_dir.mkdir(parents=True, exist_ok=True)
        cmd = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        cmd += ["--appendonly", "no", "--dir", str(self.work_dir)]
        log = (self.work_dir / "redis.log").open("ab")
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        raise TimeoutError("redis-server did not answer")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        stop_process(self.proc)


class CuttableProxy:
    """A TCP proxy on a free port to ``target`` that the test can cut (every open connection
    reset, new ones refused: the database host is unreachable) and restore."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = free_port()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._generation = 0
        self.accepted = 0

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(
            self._serve, "127.0.0.1", self.port, reuse_address=True
        )
        return self

    async def cut(self) -> None:
        self._generation += 1
        server, self._server = self._server, None
        if server is not None:
            server.close()  # stop listening: new connections are refused
        for writer in list(self._writers):
            transport = writer.transport
            if not transport.is_closing():
                transport.abort()
        self._writers.clear()
        if server is not None:
            await server.wait_closed()

    async def restore(self) -> None:
        if self._server is None:
            await self.start()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.accepted += 1
        generation = self._generation
        self._writers.add(writer)
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.target)
        except OSError:
            writer.transport.abort()
            return
        if generation != self._generation:  # cut while this connection was being made
            writer.transport.abort()
            up_writer.transport.abort()
            return
        pair = {writer, up_writer}
        self._writers |= pair

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            try:
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            except (OSError, asyncio.IncompleteReadError):
                pass
            finally:
                if not dst.transport.is_closing():
                    dst.transport.abort()

        try:
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        finally:
            self._writers -= pair
