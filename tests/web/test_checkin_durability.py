"""An acknowledged check-in survives a SIGKILL of the server, and a re-sent one stays one.

The real ``classroom-server`` runs as a child process on each backend; no mocks.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import func, select, update

from server.config import Config
from server.core.checkin import current_code
from server.store import db as store_db
from server.store.attendance_models import AttendanceRecordRow, CheckinRequest
from server.store.models import ClassSession, SessionStatus, utcnow
from server.web.checkin.service import checkin_secret
from tests.conftest import World, seed_world
from tests.server_process import ServerProcess

KEY = "durability-secret-key-0123456789"
TIMEOUT = aiohttp.ClientTimeout(total=15)


async def _seed_live(url: str, data_dir: Path) -> World:
    world = await seed_world(Config(data_dir=str(data_dir), database_url=url, secret_key=KEY))
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            await db.execute(
                update(ClassSession)
                .where(ClassSession.id == world.session_id)
                .values(status=SessionStatus.LIVE, started_at=utcnow())
            )
    finally:
        await engine.dispose()
    return world


async def _rows(url: str) -> tuple[int, int]:
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db:
            records = await db.scalar(select(func.count()).select_from(AttendanceRecordRow))
            requests = await db.scalar(select(func.count()).select_from(CheckinRequest))
    finally:
        await engine.dispose()
    return int(records or 0), int(requests or 0)


async def _checkin(http: aiohttp.ClientSession, base: str, world: World, csrf: str) -> Any:
    code = current_code(
        checkin_secret(KEY), str(world.site_id), str(world.session_id), utcnow().timestamp()
    ).code
    async with http.post(
        f"{base}/api/v1/sessions/{world.session_id}/checkin",
        json={"code": code, "client_id": "phone-1-checkin-1"},
        headers={"X-CSRF-Token": csrf},
    ) as r:
        assert r.status == 200, await r.text()
        body: dict[str, Any] = await r.json()
        return body


async def test_acknowledged_checkin_survives_sigkill_and_resend_stays_one(
    tmp_path: Path, database_url: str
) -> None:
    world = await _seed_live(database_url, tmp_path)
    data_dir = tmp_path / "server"
    env = {"CLASSROOM_SECRET_KEY": KEY}
    server = ServerProcess(data_dir, None, "--database-url", database_url, env=env)
    await asyncio.to_thread(server.start, 30.0)
    jar = aiohttp.CookieJar(unsafe=True)
    try:
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as http:
            async with http.post(
                f"{server.url}/api/v1/auth/join", json={"code": world.trainee_code}
            ) as r:
                assert r.status == 200, await r.text()
                csrf = (await r.json())["csrf_token"]
            first = await _checkin(http, server.url, world, csrf)
            server.kill()  # right after the 200: no shutdown code runs
        assert first["replayed"] is False
        assert await _rows(database_url) == (1, 1)

        again = ServerProcess(data_dir, server.port, "--database-url", database_url, env=env)
        await asyncio.to_thread(again.start, 30.0)
        try:
            async with aiohttp.ClientSession(cookie_jar=jar, timeout=TIMEOUT) as http:
                resent = await _checkin(http, again.url, world, csrf)
                assert resent["replayed"] is True
                assert resent["record"]["id"] == first["record"]["id"]
            async with aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=TIMEOUT
            ) as staff:
                async with staff.post(
                    f"{again.url}/api/v1/auth/login",
                    json={"username": "operator", "password": world.passwords["operator"]},
                ) as r:
                    assert r.status == 200
                async with staff.get(
                    f"{again.url}/api/v1/sessions/{world.session_id}/attendance"
                ) as r:
                    listed = await r.json()
            assert listed["total"] == 1
            (record,) = listed["items"]
            assert record["id"] == first["record"]["id"] and record["checked_in"] is True
            assert record["trainee_id"] == world.trainee_id
        finally:
            again.stop()
        assert await _rows(database_url) == (1, 1)
    finally:
        server.stop()
