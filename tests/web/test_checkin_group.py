"""Group commit of check-ins (server/web/checkin/writer.py), on SQLite and on PostgreSQL.

Many check-ins in one transaction, yet each caller gets its own answer or its own error, a
refused one changes nothing, a re-sent client id stays one record, and a group that meets a
concurrent writer is retried check-in by check-in. Real databases, no mocks.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server import security
from server.config import Config
from server.core.checkin import (
    DEFAULT_OUT_OF_BATCH,
    current_code,
    roster_standing,
)
from server.core.checkin_guard import Attempts, checkin_site, qr_token
from server.core.errors import DomainError
from server.store import db as store_db
from server.store.attendance_models import RecordKind
from server.store.models import ClassSession, SessionStatus, Site, Trainee, utcnow
from server.web.checkin.records import new_row, store_core, to_core
from server.web.checkin.service import checkin_alone, checkin_secret
from server.web.checkin.writer import CheckinItem, CheckinWriter
from tests.checkins import screen_code, stored_checkins
from tests.conftest import ClientFactory, World, create_pg_database, seed_world
from tests.web.http_helpers import expect_error, expect_ok

KEY = "group-commit-secret-0123456789ab"
SECRET = checkin_secret(KEY)
_code = partial(screen_code, SECRET)  # (site, session[, back_windows]): the code on the screen


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return replace(config, database_url=database_url, secret_key=KEY)


@dataclass
class Room:
    """A live session with ``n`` trainees homed at its sub-classroom and one outsider."""

    world: World
    trainees: list[tuple[int, str]]  # (id, join code)
    outsider: tuple[int, str]


async def _add_trainees(url: str, world: World, n: int) -> Room:
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            elsewhere = Site(name="不参加的分课堂", code="X1")
            db.add(elsewhere)
            await db.flush()
            people: list[tuple[Trainee, str]] = []
            for i in range(n + 1):
                code, digest = security.new_join_code()
                home = elsewhere.id if i == n else world.site_id
                row = Trainee(
                    name=f"学员{i}",
                    staff_no=f"G{i:04d}",
                    org_unit_id=world.org_unit_id,
                    position="科员",
                    home_site_id=home,
                    join_code_hash=digest,
                )
                db.add(row)
                people.append((row, code))
            await db.execute(
                update(ClassSession)
                .where(ClassSession.id == world.session_id)
                .values(status=SessionStatus.LIVE, started_at=utcnow())
            )
            await db.flush()
            ids = [(row.id, code) for row, code in people]
    finally:
        await engine.dispose()
    return Room(world, ids[:n], ids[n])


async def _rows(url: str, session_id: int) -> tuple[int, int, int]:
    """(records, stored requests, trainees with more than one record) of a session."""
    engine = store_db.create_engine(url)
    try:
        async with store_db.session_factory(engine)() as db:
            return await stored_checkins(db, session_id)
    finally:
        await engine.dispose()


def _wrong(code: str) -> str:
    return f"{(int(code) + 500_000) % 1_000_000:06d}"


@pytest.fixture
async def writer_store(config: Config) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = store_db.create_engine(config.effective_database_url)
    try:
        yield store_db.session_factory(engine)
    finally:
        await engine.dispose()


def _writer(sessions: async_sessionmaker[Any]) -> CheckinWriter:
    async def alone(item: CheckinItem) -> dict[str, Any]:
        return await checkin_alone(sessions, SECRET, item)

    return CheckinWriter(sessions, SECRET, DEFAULT_OUT_OF_BATCH, alone)


async def _outcome(writer: CheckinWriter, item: CheckinItem) -> dict[str, Any] | str:
    try:
        return await writer.submit(item)
    except DomainError as exc:
        return exc.code


async def test_one_group_gives_each_checkin_its_own_answer_and_refusals_change_nothing(
    config: Config, world: World, writer_store: async_sessionmaker[Any]
) -> None:
    url = config.effective_database_url
    room = await _add_trainees(url, world, 8)
    sid, site = world.session_id, world.site_id
    ids = [t for t, _ in room.trainees]
    good = _code(site, sid)

    def item(trainee: int, client_id: str, home: int | None = site, **body: Any) -> CheckinItem:
        data = {**(body or {"code": good}), "client_id": client_id}
        return CheckinItem(data, trainee, home, sid, utcnow())

    items = [
        item(ids[0], "g0"),
        item(ids[1], "g1"),
        item(ids[1], "g1"),  # the same phone request twice: one record, one replayed answer
        item(ids[2], "g2"),
        item(ids[2], "g2-again"),  # a second check-in of the same trainee: still one record
        item(ids[3], "g0"),  # someone else's client id
        item(ids[4], "bad", code=_wrong(good)),
        item(ids[5], "old", code=_code(site, sid, back_windows=5)),
        item(room.outsider[0], "out", home=None),
        CheckinItem({"code": good, "client_id": "gone"}, ids[6], site, 2**31 - 2, utcnow()),
        item(ids[7], "g7", qr=qr_token(SECRET, str(site), str(sid), utcnow().timestamp())),
    ]
    writer = _writer(writer_store)
    answers = await asyncio.gather(*(_outcome(writer, i) for i in items))

    assert (writer.groups, writer.largest_group) == (1, len(items))  # all in one transaction
    ok = [a for a in answers if isinstance(a, dict)]
    assert [a["client_id"] for a in ok] == ["g0", "g1", "g1", "g2", "g2-again", "g7"]
    assert [a["replayed"] for a in ok] == [False, False, True, False, False, False]
    assert ok[1]["record"]["id"] == ok[2]["record"]["id"]
    assert ok[3]["record"]["id"] == ok[4]["record"]["id"]
    assert all(a["kind"] == "regular" and a["record"]["checked_in"] for a in ok)
    assert answers[5:10] == [
        "checkin.client_id_reused",
        "checkin.code_invalid",
        "checkin.code_expired",
        "checkin.no_room",  # no home site: only the room's QR can check them in
        "session.not_found",
    ]
    # four trainees checked in; five client ids stored with their answer
    assert await _rows(url, sid) == (4, 5, 0)

    # A later group: re-sent ids are answered from the store, refused ones may try again.
    again = await asyncio.gather(
        *(
            _outcome(writer, i)
            for i in [item(ids[0], "g0"), item(ids[4], "bad"), item(ids[3], "g0")]
        )
    )
    assert isinstance(again[0], dict) and again[0]["replayed"] is True
    assert again[0]["record"]["id"] == ok[0]["record"]["id"]
    assert isinstance(again[1], dict) and again[1]["replayed"] is False
    assert again[2] == "checkin.client_id_reused"
    assert await _rows(url, sid) == (5, 6, 0)


async def test_a_burst_through_the_api_keeps_one_record_per_trainee(
    config: Config, world: World, client_as: ClientFactory
) -> None:
    url = config.effective_database_url
    room = await _add_trainees(url, world, 24)
    sid, site = world.session_id, world.site_id
    clients = []
    for _, join_code in room.trainees:
        client = await client_as("anonymous")
        r = await client.post("/api/v1/auth/join", json={"code": join_code})
        body = await expect_ok(r)
        client.session.headers["X-CSRF-Token"] = body["csrf_token"]
        clients.append(client)
    good = _code(site, sid)

    async def send(n: int) -> Any:
        client = clients[n % len(clients)]
        if n >= 2 * len(clients):  # a third round: wrong codes, each refused on its own
            body = {"code": _wrong(good), "client_id": f"w{n}"}
        else:  # two rounds with the same client ids: the second is a re-send
            body = {"code": good, "client_id": f"b{n % len(clients)}"}
        return await client.post(f"/api/v1/sessions/{sid}/checkin", json=body)

    responses = await asyncio.gather(*(send(n) for n in range(3 * len(clients))))
    first, second, wrong = (
        responses[: len(clients)],
        responses[len(clients) : 2 * len(clients)],
        responses[2 * len(clients) :],
    )
    a = [await expect_ok(r) for r in first]
    b = [await expect_ok(r) for r in second]
    for r in wrong:
        await expect_error(r, 400, "checkin.code_invalid")
    for x, y in zip(a, b, strict=True):
        assert x["record"]["id"] == y["record"]["id"]
        assert sorted([x["replayed"], y["replayed"]]) == [False, True]
    assert Counter(x["record"]["trainee_id"] for x in a) == Counter(t for t, _ in room.trainees)
    assert await _rows(url, sid) == (len(clients), len(clients), 0)


class _RacedWriter(CheckinWriter):
    """Another process writes a record of the first trainee between the group's read and its
    write, the race a group must survive."""

    def __init__(
        self, *args: Any, rival: async_sessionmaker[Any], trainee: int, session: int, **kw: Any
    ) -> None:
        super().__init__(*args, **kw)
        self.rival, self.trainee, self.session, self.raced = rival, trainee, session, 0

    async def _before_write(self, db: AsyncSession) -> None:
        if self.raced:
            return
        self.raced += 1
        async with self.rival() as other, other.begin():
            site = await other.scalar(
                select(Trainee.home_site_id).where(Trainee.id == self.trainee)
            )
            assert site is not None
            row = new_row(self.trainee, self.session, site, RecordKind.MANUAL)
            store_core(row, to_core(row).check_in(utcnow().timestamp() - 60))
            other.add(row)


async def test_a_group_that_meets_a_concurrent_writer_is_retried_one_by_one(
    tmp_path: Path,
) -> None:
    # PostgreSQL only: two writers on one SQLite file are not a supported deployment (a
    # SQLite server process has one connection, so no other writer can come in between).
    url, drop = await create_pg_database()
    try:
        await store_db.migrate(url)
        config = Config(data_dir=str(tmp_path / "var"), database_url=url, secret_key=KEY)
        world = await seed_world(config)
        room = await _add_trainees(url, world, 5)
        engine, rival_engine = store_db.create_engine(url), store_db.create_engine(url)
        try:
            sessions = store_db.session_factory(engine)

            async def alone(item: CheckinItem) -> dict[str, Any]:
                return await checkin_alone(sessions, SECRET, item)

            ids = [t for t, _ in room.trainees]
            writer = _RacedWriter(
                sessions,
                SECRET,
                DEFAULT_OUT_OF_BATCH,
                alone,
                rival=store_db.session_factory(rival_engine),
                trainee=ids[0],
                session=world.session_id,
            )
            good = _code(world.site_id, world.session_id)
            items = [
                CheckinItem(
                    {"code": good, "client_id": f"r{n}"},
                    t,
                    world.site_id,
                    world.session_id,
                    utcnow(),
                )
                for n, t in enumerate(ids)
            ]
            items.append(
                CheckinItem(
                    {"code": _wrong(good), "client_id": "r-bad"},
                    ids[1],
                    world.site_id,
                    world.session_id,
                    utcnow(),
                )
            )
            answers = await asyncio.gather(*(_outcome(writer, i) for i in items))
        finally:
            await engine.dispose()
            await rival_engine.dispose()
        assert writer.raced == 1 and writer.fallbacks == 1
        assert all(isinstance(a, dict) and a["replayed"] is False for a in answers[:-1])
        assert answers[-1] == "checkin.code_invalid"
        first = answers[0]
        assert isinstance(first, dict) and first["record"]["kind"] == "manual"  # the rival's
        assert await _rows(url, world.session_id) == (len(ids), len(ids), 0)
    finally:
        await drop()


def test_roster_standing_and_checkin_site_are_the_rules_both_write_paths_share() -> None:
    sites = frozenset({"1", "2"})

    def standing(**kw: Any) -> tuple[bool, str | None]:
        args: dict[str, Any] = {
            "session_id": "9",
            "plan_published": True,
            "assigned_session_id": None,
            "registered": False,
            "home_site_id": None,
            "participating_site_ids": sites,
        }
        return roster_standing(**{**args, **kw})

    assert standing() == (False, None)
    assert standing(home_site_id="2") == (True, None)  # on the roster, planned nowhere
    assert standing(assigned_session_id="8") == (True, "8")  # another batch
    assert standing(assigned_session_id="8", registered=True) == (True, "9")
    assert standing(plan_published=False, home_site_id="3") == (False, "9")
    now = utcnow().timestamp()
    shown = current_code(SECRET, "2", "9", now).code
    kw: dict[str, Any] = {
        "qr": None,
        "site_hint": None,
        "participating": ["1", "2"],
        "any_room": False,
        "trainee": Attempts(),
        "session": Attempts(),
        "now": now,
    }
    assert checkin_site(SECRET, "9", code=shown, rooms=("2",), **kw) == "2"
    with pytest.raises(DomainError) as caught:
        checkin_site(SECRET, "9", code=shown, rooms=("1",), **kw)  # not the trainee's room
    assert caught.value.code == "checkin.code_invalid"
    assert checkin_site(SECRET, "9", code=shown, rooms=("1",), **{**kw, "any_room": True}) == "2"
    with pytest.raises(DomainError) as caught:
        checkin_site(SECRET, "9", code=None, rooms=("2",), **kw)
    assert caught.value.code == "checkin.code_required"
