"""A live session with two district rooms, seeded straight into a real server's store, and the
small clients the check-in attack tests use against a real ``classroom-server`` process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server import security
from server.config import Config
from server.store import db as store_db
from server.store.live_models import OutboxItem
from server.store.models import ClassSession, OrgUnit, SessionStatus, Site, Trainee, utcnow
from server.web.checkin.service import checkin_secret
from tests.conftest import World, seed_world
from tests.server_process import ServerProcess

KEY = "security-test-secret-key-0123456789"
CHECKIN_KEY = checkin_secret(KEY)
TIMEOUT = aiohttp.ClientTimeout(total=20)


@dataclass
class Rooms:
    """The seeded world: site A (world.site_id) and site B take part in one live session."""

    world: World
    data_dir: Path
    site_b: int
    site_b_secret: str
    trainee_a2: int  # a second trainee of site A
    trainee_a2_code: str
    trainee_b: int  # a trainee of site B (another district)
    trainee_b_code: str
    crowd_codes: list[str]  # personal codes of more trainees of site A

    @property
    def session_id(self) -> int:
        return self.world.session_id


async def go_live(
    db: AsyncSession,
    session_id: int,
    *,
    scheduled_ago: timedelta,
    started_ago: timedelta,
    ends_in: timedelta,
) -> None:
    """Make a seeded session live now: due ``scheduled_ago``, running since ``started_ago``."""
    now = utcnow()
    await db.execute(
        update(ClassSession)
        .where(ClassSession.id == session_id)
        .values(
            status=SessionStatus.LIVE,
            starts_at=now - scheduled_ago,
            started_at=now - started_ago,
            ends_at=now + ends_in,
        )
    )


async def seed_rooms(data_dir: Path, crowd: int = 0) -> Rooms:
    """Migrate ``<data_dir>/classroom.db``, seed it and make the session live (started 5 min
    ago, planned from 10 min ago to 2 h from now); ``crowd`` more trainees of site A."""
    config = Config(data_dir=str(data_dir), secret_key=KEY)
    url = config.effective_database_url
    await store_db.migrate(url)
    world = await seed_world(config)
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            unit = OrgUnit(name="江北区", code="JB")
            db.add(unit)
            await db.flush()
            main = await db.get(Site, world.site_id)
            assert main is not None
            site_b = Site(
                name="江北分课堂", code="JB1", parent_id=main.parent_id, org_unit_id=unit.id
            )
            db.add(site_b)
            await db.flush()
            b_secret, b_hash = security.new_site_secret(site_b.id)
            site_b.secret_hash = b_hash
            a2_code, a2_hash = security.new_join_code()
            b_code, b_code_hash = security.new_join_code()
            a2 = Trainee(
                name="王芳",
                staff_no="T0002",
                org_unit_id=world.org_unit_id,
                home_site_id=world.site_id,
                join_code_hash=a2_hash,
            )
            b = Trainee(
                name="李娜",
                staff_no="T0003",
                org_unit_id=unit.id,
                home_site_id=site_b.id,
                join_code_hash=b_code_hash,
            )
            db.add_all([a2, b])
            crowd_codes = []
            for n in range(crowd):
                code, code_hash = security.new_join_code()
                crowd_codes.append(code)
                db.add(
                    Trainee(
                        name=f"学员{n}",
                        staff_no=f"C{n:04d}",
                        org_unit_id=world.org_unit_id,
                        home_site_id=world.site_id,
                        join_code_hash=code_hash,
                    )
                )
            session = await db.get(ClassSession, world.session_id)
            assert session is not None
            await db.run_sync(lambda _: session.sites.append(site_b))
            await db.flush()
            await go_live(
                db,
                world.session_id,
                scheduled_ago=timedelta(minutes=10),
                started_ago=timedelta(minutes=5),
                ends_in=timedelta(hours=2),
            )
            rooms = Rooms(
                world, data_dir, site_b.id, b_secret, a2.id, a2_code, b.id, b_code, crowd_codes
            )
    finally:
        await engine.dispose()
    return rooms


@asynccontextmanager
async def running_server(data_dir: Path) -> AsyncIterator[ServerProcess]:
    server = ServerProcess(data_dir, env={"CLASSROOM_SECRET_KEY": KEY})
    await asyncio.to_thread(server.start, 60.0)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


@asynccontextmanager
async def served(tmp_path: Path, crowd: int = 0) -> AsyncIterator[tuple[Rooms, ServerProcess]]:
    """The two rooms seeded under ``tmp_path`` and a real server process over them."""
    rooms = await seed_rooms(tmp_path / "server", crowd=crowd)
    async with running_server(rooms.data_dir) as server:
        yield rooms, server


def as_operator(base: str, rooms: Rooms) -> AbstractAsyncContextManager[aiohttp.ClientSession]:
    """The seeded operator, signed in."""
    return signed_in(base, user=("operator", rooms.world.passwords["operator"]))


@asynccontextmanager
async def signed_in(
    base: str,
    *,
    code: str | None = None,
    user: tuple[str, str] | None = None,
    site_secret: str | None = None,
) -> AsyncIterator[aiohttp.ClientSession]:
    """A client of the real server: a trainee (join code), a user, or a site (bearer secret)."""
    headers = {"Authorization": f"Bearer {site_secret}"} if site_secret else {}
    http = aiohttp.ClientSession(
        base_url=base, cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=TIMEOUT, headers=headers
    )
    try:
        path, body = "", {}
        if code is not None:
            path, body = "/api/v1/auth/join", {"code": code}
        elif user is not None:
            path, body = "/api/v1/auth/login", {"username": user[0], "password": user[1]}
        if path:
            async with http.post(path, json=body) as r:
                assert r.status == 200, await r.text()
                http.headers["X-CSRF-Token"] = (await r.json())["csrf_token"]
        yield http
    finally:
        await http.close()


async def outbox_results(rooms: Rooms) -> dict[str, str]:
    """What the server kept of the agents' outbox items: client id -> result."""
    engine = store_db.create_engine(Config(data_dir=str(rooms.data_dir)).effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db:
            rows = (await db.execute(select(OutboxItem.client_id, OutboxItem.result))).all()
    finally:
        await engine.dispose()
    return {client_id: result for client_id, result in rows}


async def answer(response: aiohttp.ClientResponse) -> tuple[int, dict[str, Any]]:
    body: dict[str, Any] = await response.json(content_type=None)
    return response.status, body


async def healthy(base: str) -> float:
    """Seconds /healthz took (the server keeps serving others)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.get(base + "/healthz") as r:
        assert r.status == 200
    return loop.time() - started
