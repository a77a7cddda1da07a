"""Two server processes sharing PostgreSQL and Redis: 1,000 trainees upvote one question at
once, split across both processes, with repeated votes and withdrawals racing them; the count
is exact, on both processes, and equals the stored vote rows."""

from __future__ import annotations

import asyncio
import random
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select

from server import security
from server.config import Config
from server.store import db as store_db
from server.store.attendance_models import AttendanceRecordRow, RecordKind
from server.store.models import LoginSession, Trainee
from server.store.qa_models import QuestionVote
from tests.conftest import World, create_pg_database, seed_world
from tests.server_process import ServerProcess

REDIS_URL = "redis://127.0.0.1:6379/0"
TRAINEES = 1000
CONCURRENCY = 100


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], World, str]]:
    url, drop = await create_pg_database()
    prefix = f"test:{uuid.uuid4().hex[:10]}:"
    try:
        await store_db.migrate(url)
        world = await seed_world(Config(data_dir=str(tmp_path), database_url=url))
        yield (
            {
                "CLASSROOM_DATABASE_URL": url,
                "CLASSROOM_REDIS_URL": REDIS_URL,
                "CLASSROOM_REDIS_PREFIX": prefix,
                "CLASSROOM_LOG_LEVEL": "WARNING",
            },
            world,
            url,
        )
    finally:
        await drop()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def seed_trainees(url: str, world: World, count: int) -> list[str]:
    """Trainees checked in to the world's session, with ready-made logins (tokens)."""
    engine = store_db.create_engine(url)
    tokens: list[str] = []
    now = datetime.now(UTC)
    async with store_db.session_factory(engine)() as db, db.begin():
        trainees = [
            Trainee(name=f"学员{i}", staff_no=f"V{i:05d}", org_unit_id=world.org_unit_id)
            for i in range(count)
        ]
        db.add_all(trainees)
        await db.flush()
        for t in trainees:
            db.add(
                AttendanceRecordRow(
                    trainee_id=t.id,
                    session_id=world.session_id,
                    site_id=world.site_id,
                    kind=RecordKind.REGULAR,
                    state="in",
                    stays=[{"start": now.timestamp(), "end": None, "source": "code"}],
                    manual=[],
                    first_in=now,
                )
            )
            token = secrets.token_urlsafe(24)
            db.add(
                LoginSession(
                    token_hash=security.sha256(token),
                    trainee_id=t.id,
                    csrf_token="c",
                    created_at=now,
                    expires_at=now + timedelta(hours=2),
                )
            )
            tokens.append(token)
    await engine.dispose()
    return tokens


def _headers(token: str) -> dict[str, str]:
    return {"Cookie": f"classroom_session={token}", "X-CSRF-Token": "c"}


async def test_a_thousand_concurrent_votes_across_two_processes_count_exactly(
    shared: tuple[dict[str, str], World, str], tmp_path: Path
) -> None:
    env, world, url = shared
    tokens = await seed_trainees(url, world, TRAINEES)
    node_a = ServerProcess(tmp_path / "a", env={**env, "CLASSROOM_NODE_ID": "node-a"}).start()
    node_b = ServerProcess(tmp_path / "b", env={**env, "CLASSROOM_NODE_ID": "node-b"}).start()
    nodes = [node_a.url, node_b.url]
    gate = asyncio.Semaphore(CONCURRENCY)
    try:
        connector = aiohttp.TCPConnector(limit=CONCURRENCY * 2)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            r = await http.post(
                f"{node_a.url}/api/v1/sessions/{world.session_id}/questions",
                json={"text": "请嘉宾谈谈基层减负"},
                headers=_headers(tokens[0]),
            )
            assert r.status == 201, await r.text()
            question = (await r.json())["id"]
            path = f"/api/v1/questions/{question}/vote"

            async def call(method: str, i: int) -> int:
                async with (
                    gate,
                    http.request(
                        method, nodes[i % 2] + path, headers=_headers(tokens[i])
                    ) as response,
                ):
                    await response.read()
                    assert response.status == 200, (method, i, response.status)
                    return response.status

            # every trainee votes once; 200 vote twice (the second on the other process)
            jobs = [("POST", i) for i in range(TRAINEES)] + [("POST", i + 1) for i in range(200)]
            random.Random(5).shuffle(jobs)
            await asyncio.wait_for(asyncio.gather(*(call(m, i) for m, i in jobs)), timeout=120)
            for node in nodes:
                async with http.get(
                    f"{node}/api/v1/questions/{question}", headers=_headers(tokens[3])
                ) as r:
                    assert (await r.json())["vote_count"] == TRAINEES

            # 150 withdraw while 150 others vote again (no change) and 50 withdraw twice
            jobs = [("DELETE", i) for i in range(150)] + [("POST", i) for i in range(500, 650)]
            jobs += [("DELETE", i + 1) for i in range(50)]
            random.Random(7).shuffle(jobs)
            await asyncio.wait_for(asyncio.gather(*(call(m, i) for m, i in jobs)), timeout=120)
            for node in nodes:
                async with http.get(
                    f"{node}/api/v1/questions/{question}", headers=_headers(tokens[999])
                ) as r:
                    body = await r.json()
                    assert body["vote_count"] == TRAINEES - 150, body
        engine = store_db.create_engine(url)
        async with store_db.session_factory(engine)() as db:
            rows = await db.scalar(select(func.count()).where(QuestionVote.question_id == question))
        await engine.dispose()
        assert rows == TRAINEES - 150
    finally:
        node_a.stop()
        node_b.stop()
