"""A storm of live sockets is admitted with batched reads, and every answer stays exact
(issue 18 item 2: server/web/batching.py, server/web/admission.py)."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import WSServerHandshakeError
from sqlalchemy import delete

from server import security
from server.config import Config
from server.store import db as store_db
from server.store.models import LoginSession, Site, Trainee, utcnow
from server.web.batching import Batcher, padded
from server.web.keys import ADMISSION
from tests.cluster_helpers import add_login, in_the_room
from tests.conftest import ClientFactory, World

# -- the batcher ------------------------------------------------------------------------------


async def test_questions_asked_together_are_answered_by_one_read() -> None:
    reads: list[list[int]] = []

    async def load(keys: list[int]) -> dict[int, int]:
        reads.append(sorted(keys))
        await asyncio.sleep(0.01)
        return {k: k * 10 for k in keys if k != 3}

    batcher: Batcher[int, int] = Batcher(load, default=-1)
    answers = await asyncio.gather(*(batcher.get(k % 5) for k in range(50)))
    assert answers == [(k % 5) * 10 if k % 5 != 3 else -1 for k in range(50)]
    assert reads == [[0, 1, 2, 3, 4]]  # 50 questions, 5 distinct keys, one read
    assert (batcher.reads, batcher.keys) == (1, 5)


async def test_a_question_asked_during_a_read_waits_for_the_next_read() -> None:
    """Never answered by a read that started before it was asked: that is what keeps a
    batched answer as fresh as a read of its own."""
    started: list[tuple[float, list[str]]] = []
    release = asyncio.Event()

    async def load(keys: list[str]) -> dict[str, float]:
        started.append((asyncio.get_running_loop().time(), sorted(keys)))
        if len(started) == 1:
            await release.wait()
        return dict.fromkeys(keys, asyncio.get_running_loop().time())

    batcher: Batcher[str, float] = Batcher(load, default=0.0)
    first = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0.01)  # the first read is running
    asked_at = asyncio.get_running_loop().time()
    second = asyncio.ensure_future(batcher.get("a"))
    await asyncio.sleep(0.01)
    release.set()
    await asyncio.gather(first, second)
    assert [keys for _, keys in started] == [["a"], ["a"]]
    assert started[1][0] >= asked_at
    assert second.result() >= asked_at


async def test_a_failed_read_fails_its_questions_and_the_next_read_still_runs() -> None:
    calls = 0

    async def load(keys: list[int]) -> dict[int, int]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("database gone")
        return dict.fromkeys(keys, 1)

    batcher: Batcher[int, int] = Batcher(load, default=0)
    results = await asyncio.gather(batcher.get(1), batcher.get(2), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    assert await batcher.get(1) == 1


async def test_a_batch_is_bounded() -> None:
    sizes: list[int] = []

    async def load(keys: list[int]) -> dict[int, int]:
        sizes.append(len(keys))
        return {k: k for k in keys}

    batcher: Batcher[int, int] = Batcher(load, default=0, max_batch=7)
    assert await asyncio.gather(*(batcher.get(k) for k in range(20))) == list(range(20))
    assert sizes == [7, 7, 6]


async def test_closing_cancels_the_read_in_progress_and_every_question_and_refuses_more() -> None:
    started = asyncio.Event()
    cancelled: list[list[int]] = []

    async def load(keys: list[int]) -> dict[int, int]:
        started.set()
        try:
            await asyncio.Event().wait()  # a read that does not end by itself
        except asyncio.CancelledError:
            cancelled.append(sorted(keys))
            raise
        return {}

    batcher: Batcher[int, int] = Batcher(load, default=0, max_batch=2)
    asked = [asyncio.ensure_future(batcher.get(k)) for k in range(3)]
    await started.wait()
    await batcher.close()
    await asyncio.wait(asked, timeout=5)
    assert all(a.cancelled() for a in asked)  # the two being read and the one still queued
    assert cancelled == [[0, 1]]
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("batcher:")] == []
    with pytest.raises(RuntimeError, match="closed"):
        await batcher.get(4)
    assert batcher.reads == 0


async def test_closing_before_the_first_read_started_cancels_its_questions() -> None:
    async def load(keys: list[int]) -> dict[int, int]:
        return dict.fromkeys(keys, 1)

    batcher: Batcher[int, int] = Batcher(load, default=0)
    asked = asyncio.ensure_future(batcher.get(1))
    await asyncio.sleep(0)  # asked; the read is scheduled but has not run a step
    await batcher.close()
    await asyncio.wait([asked], timeout=5)
    assert asked.cancelled() and batcher.reads == 0


# -- the live socket ---------------------------------------------------------------------------


async def _seed_logins(config: Config, world: World) -> dict[str, list[str]]:
    """Trainee logins: at a site of the session, elsewhere but checked in (listed),
    elsewhere and not listed, and a login that is ended before the storm."""
    engine = store_db.create_engine(config.effective_database_url)
    out: dict[str, list[str]] = {"home": [], "listed": [], "outside": [], "ended": []}
    now = utcnow()
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            elsewhere = Site(name="别处分课堂", code="ELSE", capacity=10)
            db.add(elsewhere)
            await db.flush()
            for kind, count in (("home", 6), ("listed", 6), ("outside", 6), ("ended", 2)):
                for i in range(count):
                    home = world.site_id if kind == "home" else elsewhere.id
                    t = Trainee(
                        name=f"{kind}{i}",
                        staff_no=f"ST{kind}{i}",
                        org_unit_id=world.org_unit_id,
                        home_site_id=home,
                    )
                    db.add(t)
                    await db.flush()
                    if kind == "listed":
                        db.add(in_the_room(t.id, world.session_id, world.site_id, now))
                    out[kind].append(add_login(db, now, hours=1, trainee_id=t.id))
        async with store_db.session_factory(engine)() as db, db.begin():
            hashes = [security.sha256(t) for t in out["ended"]]
            await db.execute(delete(LoginSession).where(LoginSession.token_hash.in_(hashes)))
    finally:
        await engine.dispose()
    return out


async def test_a_storm_of_sockets_is_admitted_in_a_few_reads_each_answer_exact(
    client_as: ClientFactory, config: Config, world: World
) -> None:
    staff = await client_as("operator")  # starts the server; its app is the one under test
    logins = await _seed_logins(config, world)
    topic = f"session:{world.session_id}"

    async def socket_of(token: str) -> str:
        try:
            ws = await browsers.ws_connect(
                staff.make_url("/ws/client"), headers={"Cookie": f"classroom_session={token}"}
            )
        except WSServerHandshakeError as exc:
            return f"refused {exc.status}"
        try:
            assert (await ws.receive_json(timeout=10))["type"] == "hello"
            await ws.send_json({"type": "subscribe", "topics": [topic]})
            answer: dict[str, Any] = await ws.receive_json(timeout=10)
            if answer["type"] == "resync":
                assert answer["snapshot"]["session"]["id"] == world.session_id
                return "subscribed"
            return str(answer.get("code"))
        finally:
            await ws.close()

    admission = staff.server.app[ADMISSION]
    principal_reads = admission.principals.reads
    kinds = [kind for kind, tokens in logins.items() for _ in tokens]
    tokens = [token for ts in logins.values() for token in ts]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as browsers:
        results = await asyncio.gather(*(socket_of(t) for t in tokens))
    by_kind: dict[str, set[str]] = {}
    for kind, result in zip(kinds, results, strict=True):
        by_kind.setdefault(kind, set()).add(result)
    assert by_kind == {
        "home": {"subscribed"},
        "listed": {"subscribed"},
        "outside": {"ws.forbidden_topic"},
        "ended": {"refused 401"},
    }
    # 20 sockets opened together: their sign-ins were read in far fewer reads than sockets
    assert admission.principals.reads - principal_reads < len(tokens) // 2
    assert admission.takes_part.keys >= 18


async def test_an_ended_login_is_refused_on_its_next_socket(
    client_as: ClientFactory, config: Config, world: World
) -> None:
    """No cache: a login ended after a socket was admitted cannot open another one."""
    staff = await client_as("operator")
    logins = await _seed_logins(config, world)
    token = logins["home"][0]
    headers = {"Cookie": f"classroom_session={token}"}
    browser = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    ws = await browser.ws_connect(staff.make_url("/ws/client"), headers=headers)
    assert (await ws.receive_json(timeout=10))["type"] == "hello"
    await ws.close()
    engine = store_db.create_engine(config.effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            await db.execute(
                delete(LoginSession).where(LoginSession.token_hash == security.sha256(token))
            )
    finally:
        await engine.dispose()
    try:
        with pytest.raises(WSServerHandshakeError) as refused:
            await browser.ws_connect(staff.make_url("/ws/client"), headers=headers)
    finally:
        await browser.close()
    assert refused.value.status == 401


def test_in_lists_are_padded_to_few_lengths() -> None:
    """Batches of 1..500 keys make at most 10 distinct statements to prepare."""
    assert padded([]) == []
    assert padded([7]) == [7]
    assert padded([1, 2, 3]) == [1, 2, 3, 3]
    assert len(padded(list(range(300)))) == 512
    assert len({len(padded(list(range(n)))) for n in range(1, 501)}) == 10
