"""Shared fixtures: real databases (a temp SQLite file, a throwaway PostgreSQL database) and
signed-in clients for every kind of caller."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from aiohttp.test_utils import TestClient

from server import security
from server.config import Config
from server.store import db as store_db
from server.store.models import (
    OrgUnit,
    Role,
    Site,
    SiteKind,
    Trainee,
    User,
    utcnow,
)
from server.web import auth
from server.web.app import create_app
from tests.seed import add_course, add_lecture

PG_ADMIN_DSN = os.environ.get("CLASSROOM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


async def create_pg_database() -> tuple[str, Callable[[], Awaitable[None]]]:
    """Create an empty PostgreSQL database; return its SQLAlchemy URL and a drop function."""
    name = f"classroom_test_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")

    async def drop() -> None:
        conn = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    return f"{base}/{name}", drop


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'store.db'}"
        await store_db.migrate(url)
        yield url
        return
    url, drop = await create_pg_database()
    try:
        await store_db.migrate(url)
        yield url
    finally:
        await drop()


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(data_dir=str(tmp_path / "var"), secret_key="test-secret", port=8080)


@dataclass
class World:
    """A small catalogue with one of everything and the credentials to act as each role."""

    passwords: dict[str, str]
    site_id: int
    site_secret: str
    trainee_id: int
    trainee_code: str
    session_id: int
    org_unit_id: int
    ids: dict[str, int]


async def seed_world(config: Config) -> World:
    engine = store_db.create_engine(config.effective_database_url)
    sessions = store_db.session_factory(engine)
    passwords = {
        "admin": "admin-pass-1",
        "operator": "operator-pass-1",
        "moderator": "moderator-pass-1",
    }
    async with sessions() as db, db.begin():
        for name, password in passwords.items():
            db.add(
                User(
                    username=name,
                    display_name=name,
                    password_hash=security.hash_password(password),
                    role=Role(name),
                )
            )
        unit = OrgUnit(name="海曙区", code="HS")
        db.add(unit)
        await db.flush()
        main = Site(name="主课堂", code="MAIN", kind=SiteKind.MAIN, capacity=200)
        db.add(main)
        await db.flush()
        sub = Site(
            name="海曙分课堂", code="HS1", parent_id=main.id, org_unit_id=unit.id, capacity=60
        )
        db.add(sub)
        await db.flush()
        secret, digest = security.new_site_secret(sub.id)
        sub.secret_hash = digest
        code, code_hash = security.new_join_code()
        trainee = Trainee(
            name="张伟",
            staff_no="T0001",
            org_unit_id=unit.id,
            position="科员",
            home_site_id=sub.id,
            join_code_hash=code_hash,
        )
        db.add(trainee)
        program, punit, course = await add_course(
            db, "周末知行学堂", "专题一", title="课程一", lecturer="李老师", credits=1
        )
        now = utcnow()
        session = await add_lecture(
            db, course.id, "第一场", now + timedelta(hours=1), now + timedelta(hours=3), [main, sub]
        )
        world = World(
            passwords,
            sub.id,
            secret,
            trainee.id,
            code,
            session.id,
            unit.id,
            {
                "org-units": unit.id,
                "sites": sub.id,
                "trainees": trainee.id,
                "users": 1,
                "programs": program.id,
                "units": punit.id,
                "courses": course.id,
                "sessions": session.id,
            },
        )
    await engine.dispose()
    return world


@pytest.fixture
async def world(config: Config) -> World:
    await store_db.migrate(config.effective_database_url)
    return await seed_world(config)


ClientFactory = Callable[[str], Awaitable[TestClient[Any, Any]]]


@pytest.fixture
async def client_as(
    aiohttp_client: Any, aiohttp_server: Any, config: Config, world: World
) -> ClientFactory:
    """``await client_as("operator")`` gives a client signed in as that role (CSRF header set)."""

    servers: list[Any] = []

    async def make(actor: str) -> TestClient[Any, Any]:
        # Every client of one test talks to the same server (one app, one bus), like browsers
        # and agents of one deployment; each has its own cookie jar.
        if not servers:
            servers.append(await aiohttp_server(create_app(replace(config))))
        client: TestClient[Any, Any] = await aiohttp_client(servers[0])
        if actor in world.passwords:
            r = await client.post(
                "/api/v1/auth/login", json={"username": actor, "password": world.passwords[actor]}
            )
            assert r.status == 200, await r.text()
            client.session.headers[auth.CSRF_HEADER] = (await r.json())["csrf_token"]
        elif actor == "trainee":
            r = await client.post("/api/v1/auth/join", json={"code": world.trainee_code})
            assert r.status == 200, await r.text()
            client.session.headers[auth.CSRF_HEADER] = (await r.json())["csrf_token"]
        elif actor == "site_agent":
            client.session.headers["Authorization"] = f"Bearer {world.site_secret}"
        else:
            assert actor == "anonymous"
        return client

    return make
