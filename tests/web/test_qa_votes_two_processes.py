"""Two server processes sharing PostgreSQL and Redis: 1,000 trainees upvote one question at
once, split across both processes, with repeated votes and withdrawals racing them; the count
is exact, on both processes, and equals the stored vote rows."""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from sqlalchemy import func, select

from server.store import db as store_db
from server.store.qa_models import QuestionVote
from tests.cluster_helpers import seed_trainees, shared_backends, trainee_headers
from tests.conftest import World
from tests.server_process import ServerProcess

TRAINEES = 1000
CONCURRENCY = 100


@pytest.fixture
async def shared(tmp_path: Path) -> AsyncIterator[tuple[dict[str, str], World, str]]:
    async with shared_backends(tmp_path, log_level="WARNING") as backends:
        yield backends.env, backends.world, backends.url


async def test_a_thousand_concurrent_votes_across_two_processes_count_exactly(
    shared: tuple[dict[str, str], World, str], tmp_path: Path
) -> None:
    env, world, url = shared
    tokens = [token for _, token in await seed_trainees(url, world, TRAINEES)]
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
                headers=trainee_headers(tokens[0]),
            )
            assert r.status == 201, await r.text()
            question = (await r.json())["id"]
            path = f"/api/v1/questions/{question}/vote"

            async def call(method: str, i: int) -> int:
                async with (
                    gate,
                    http.request(
                        method, nodes[i % 2] + path, headers=trainee_headers(tokens[i])
                    ) as response,
                ):
                    await response.read()
                    assert response.status == 200, (method, i, response.status)
                    return response.status

            async def run_then_count(jobs: list[tuple[str, int]], seed: int) -> list[int]:
                """Send ``jobs`` all at once in a shuffled order; the vote count on each node."""
                random.Random(seed).shuffle(jobs)
                await asyncio.wait_for(asyncio.gather(*(call(m, i) for m, i in jobs)), timeout=120)
                counts = []
                for node in nodes:
                    async with http.get(
                        f"{node}/api/v1/questions/{question}", headers=trainee_headers(tokens[3])
                    ) as r:
                        counts.append((await r.json())["vote_count"])
                return counts

            # every trainee votes once; 200 vote twice (the second on the other process)
            jobs = [("POST", i) for i in range(TRAINEES)] + [("POST", i + 1) for i in range(200)]
            assert await run_then_count(jobs, seed=5) == [TRAINEES, TRAINEES]

            # 150 withdraw while 150 others vote again (no change) and 50 withdraw twice
            jobs = [("DELETE", i) for i in range(150)] + [("POST", i) for i in range(500, 650)]
            jobs += [("DELETE", i + 1) for i in range(50)]
            assert await run_then_count(jobs, seed=7) == [TRAINEES - 150, TRAINEES - 150]
        engine = store_db.create_engine(url)
        async with store_db.session_factory(engine)() as db:
            rows = await db.scalar(select(func.count()).where(QuestionVote.question_id == question))
        await engine.dispose()
        assert rows == TRAINEES - 150
    finally:
        node_a.stop()
        node_b.stop()
