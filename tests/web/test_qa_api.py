"""Interview-style Q&A over HTTP, on SQLite and on PostgreSQL: questions, votes, moderation,
on air (live to browsers and agents), the floor, polls and quizzes, surveys, feedback, the log."""

from __future__ import annotations

import asyncio
import csv
import io
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import aiohttp
import pytest
from aiohttp.test_utils import TestClient
from openpyxl import load_workbook

from server.config import Config
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import add_trainee, trainee_browser
from tests.web.http_helpers import expect_error as _error
from tests.web.http_helpers import expect_ok as _ok
from tests.web.live_helpers import AgentPeer, hello, subscribed


@pytest.fixture
def config(config: Config, database_url: str) -> Config:
    return replace(config, database_url=database_url)


@dataclass
class Person:
    """A trainee signed in on their own cookie jar, against the operator's app."""

    trainee_id: int
    http: aiohttp.ClientSession
    headers: dict[str, str]
    base: TestClient[Any, Any]

    def request(self, method: str, path: str, **kw: Any) -> Any:
        return self.http.request(method, self.base.make_url(path), headers=self.headers, **kw)


async def _people(op: TestClient[Any, Any], world: World, count: int, tag: str) -> list[Person]:
    out = []
    for i in range(count):
        t = await add_trainee(
            op, f"学员{tag}{i}", f"Q{tag}-{i}", world.org_unit_id, home_site_id=world.site_id
        )
        http, headers = await trainee_browser(op, t["id"])
        out.append(Person(t["id"], http, headers, op))
    return out


async def _check_in(op: TestClient[Any, Any], world: World, trainee_id: int) -> None:
    await _ok(
        await op.post(
            f"/api/v1/sessions/{world.session_id}/attendance/mark",
            json={"trainee_id": trainee_id, "reason": "测试签到", "site_id": world.site_id},
        )
    )


class Room(NamedTuple):
    """The world's session, started: the operator's client, three trainees checked in, one
    not, and the session's id."""

    op: TestClient[Any, Any]
    present: list[Person]
    outsider: Person
    sid: int


@pytest.fixture
async def room(client_as: ClientFactory, world: World) -> AsyncIterator[Room]:
    op = await client_as("operator")
    await _ok(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    people = await _people(op, world, 4, "r")
    for p in people[:3]:
        await _check_in(op, world, p.trainee_id)
    yield Room(op, people[:3], people[3], world.session_id)
    for p in people:
        await p.http.close()


def _agent_headers(world: World) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.site_secret}"}


async def _ask(p: Person, sid: int, text: str, **extra: Any) -> Any:
    return await p.request(
        "POST", f"/api/v1/sessions/{sid}/questions", json={"text": text, **extra}
    )


# --- asking -----------------------------------------------------------------------------------


async def test_only_a_checked_in_trainee_or_a_participating_site_may_ask(
    room: Room, world: World
) -> None:
    op, (alice, _bob, _carol), outsider, sid = room
    await _error(await _ask(outsider, sid, "我没签到"), 403, "qa.not_checked_in")
    asked = await _ok(
        await _ask(alice, sid, "请问嘉宾如何看待基层减负？", addressed_to="王书记"), 201
    )
    assert asked["state"] == "approved" and asked["asker_trainee_id"] == alice.trainee_id
    assert asked["addressed_to"] == "王书记" and asked["site_id"] == world.site_id
    by_site = await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/questions",
            json={"text": "本分课堂集体提问"},
            headers=_agent_headers(world),
        ),
        201,
    )
    assert by_site["asker_trainee_id"] is None and by_site["site_id"] == world.site_id
    # a site not in the session may not ask
    other = await _ok(
        await op.post(
            "/api/v1/sessions",
            json={
                "course_id": world.ids["courses"],
                "starts_at": "2026-01-01T01:00:00+00:00",
                "ends_at": "2026-01-01T03:00:00+00:00",
                "teaching_method": "interview",
                "site_ids": [],
            },
        ),
        201,
    )
    r = await op.post(
        f"/api/v1/sessions/{other['id']}/questions",
        json={"text": "x"},
        headers=_agent_headers(world),
    )
    await _error(r, 403, "qa.other_site")
    # idempotent by client id
    first = await _ok(await _ask(alice, sid, "重发的问题", client_id="c-1"), 201)
    again = await _ok(await _ask(alice, sid, "重发的问题", client_id="c-1"))
    assert again["id"] == first["id"] and again["replayed"] is True


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    '<a href="javascript:alert(1)">点我</a>',
    "abc\u202egnp.exe",
    "零\u200b宽\u200d字符",
    "长" * 10_000,
    "",
    "   ",
    "tab\tinside",
    "a" * 500,
    "a" * 501,
]


async def test_hostile_text_is_refused_with_a_code_or_stored_without_invisible_characters(
    room: Room,
) -> None:
    op, (alice, _b, _c), _, sid = room
    await _ok(await op.put(f"/api/v1/sessions/{sid}/qa-settings", json={"rate_limit": 100}))
    stored: dict[int, str] = {}
    for text in HOSTILE:
        r = await _ask(alice, sid, text)
        body = await r.json()
        if r.status == 201:
            # stored as given, except zero-width characters: stripped (server/core/text.py)
            expected = text.replace("\u200b", "").replace("\u200d", "")
            assert body["text"] == expected
            stored[body["id"]] = expected
        else:
            assert r.status == 400, body
            assert body["error"]["code"] in {
                "question.empty",
                "question.too_long",
                "question.bad_characters",
            }, body
    assert len(stored) == 5  # script, img, link, zero-width, 500 characters
    listed = await _ok(await op.get(f"/api/v1/sessions/{sid}/questions?order=time&limit=500"))
    for item in listed["items"]:
        if item["id"] in stored:
            assert item["text"] == stored[item["id"]] == item["original_text"]
    codes = {}
    for text in ("abc\u202egnp.exe", "长" * 10_000, "", "tab\tinside", "a" * 501):
        codes[text[:5]] = (await (await _ask(alice, sid, text)).json())["error"]["code"]
    assert codes == {
        "abc\u202eg": "question.bad_characters",
        "长" * 5: "question.too_long",
        "": "question.empty",
        "tab\ti": "question.bad_characters",
        "aaaaa": "question.too_long",
    }


async def test_rate_limit_answers_429_with_retry_after(room: Room) -> None:
    _op, (alice, bob, _c), _, sid = room
    for i in range(3):
        await _ok(await _ask(alice, sid, f"问题{i}"), 201)
    r = await _ask(alice, sid, "第四个")
    error = await _error(r, 429, "question.rate_limited")
    assert 1 <= int(r.headers["Retry-After"]) <= 61
    assert error["details"]["retry_after"] > 0
    await _ok(await _ask(bob, sid, "别人不受影响"), 201)
    # concurrent submissions by one trainee cannot slip past the limit
    answers = await asyncio.gather(*(_ask(bob, sid, f"并发{i}") for i in range(6)))
    assert sorted(a.status for a in answers) == [201, 201, 429, 429, 429, 429]


async def test_sensitive_words_hold_a_question_for_moderation(room: Room) -> None:
    op, (alice, bob, _c), _, sid = room
    await _ok(await op.put("/api/v1/qa/sensitive-words", json={"words": ["违禁词"]}))
    await _ok(
        await op.put(f"/api/v1/sessions/{sid}/qa-settings", json={"sensitive_words": ["敏感"]})
    )
    held = await _ok(await _ask(alice, sid, "这里有违\u200b禁词"), 201)
    assert held["state"] == "submitted"
    held2 = await _ok(await _ask(alice, sid, "这个很敏感"), 201)
    assert held2["state"] == "submitted"
    # other trainees do not see it; the asker and moderators do
    bob_list = await _ok(await bob.request("GET", f"/api/v1/sessions/{sid}/questions"))
    assert held["id"] not in {q["id"] for q in bob_list["items"]}
    mine = await _ok(await alice.request("GET", f"/api/v1/sessions/{sid}/questions"))
    assert held["id"] in {q["id"] for q in mine["items"]}
    mod = await _ok(await op.get(f"/api/v1/sessions/{sid}/questions?state=submitted"))
    flagged = {q["id"]: q["flags"] for q in mod["items"]}
    assert flagged[held["id"]] == ["违禁词"] and flagged[held2["id"]] == ["敏感"]
    await _ok(await op.post(f"/api/v1/questions/{held['id']}/approve"))
    bob_list = await _ok(await bob.request("GET", f"/api/v1/sessions/{sid}/questions"))
    assert held["id"] in {q["id"] for q in bob_list["items"]}


async def test_anonymous_questions_hide_the_asker_per_the_session_setting(
    room: Room, client_as: ClientFactory
) -> None:
    op, (alice, bob, _c), _, sid = room
    q = await _ok(await _ask(alice, sid, "匿名提问", anonymous=True), 201)
    seen_by_bob = await _ok(await bob.request("GET", f"/api/v1/questions/{q['id']}"))
    assert seen_by_bob["asker_trainee_id"] is None and seen_by_bob["anonymous"] is True
    assert (await _ok(await alice.request("GET", f"/api/v1/questions/{q['id']}")))["is_mine"]
    moderator = await client_as("moderator")
    assert (await _ok(await moderator.get(f"/api/v1/questions/{q['id']}")))[
        "asker_trainee_id"
    ] is None
    await _ok(
        await op.put(f"/api/v1/sessions/{sid}/qa-settings", json={"moderators_see_identity": True})
    )
    seen = await _ok(await moderator.get(f"/api/v1/questions/{q['id']}"))
    assert seen["asker_trainee_id"] == alice.trainee_id
    await _error(
        await moderator.put(f"/api/v1/sessions/{sid}/qa-settings", json={"auto_approve": False}),
        403,
        "auth.forbidden",
    )


# --- votes ------------------------------------------------------------------------------------


async def test_one_vote_per_trainee_withdrawable_and_lists_sort_by_votes(room: Room) -> None:
    op, (alice, bob, carol), outsider, sid = room
    first = await _ok(await _ask(alice, sid, "第一个"), 201)
    second = await _ok(await _ask(bob, sid, "第二个"), 201)
    for p in (alice, bob, carol):
        await _ok(await p.request("POST", f"/api/v1/questions/{second['id']}/vote"))
    again = await _ok(await bob.request("POST", f"/api/v1/questions/{second['id']}/vote"))
    assert again["vote_count"] == 3 and again["changed"] is False
    await _ok(await alice.request("POST", f"/api/v1/questions/{first['id']}/vote"))
    await _error(
        await outsider.request("POST", f"/api/v1/questions/{first['id']}/vote"),
        403,
        "qa.not_checked_in",
    )
    by_votes = await _ok(await carol.request("GET", f"/api/v1/sessions/{sid}/questions"))
    assert [q["id"] for q in by_votes["items"]] == [second["id"], first["id"]]
    assert [q["voted_by_me"] for q in by_votes["items"]] == [True, False]
    by_time = await _ok(await carol.request("GET", f"/api/v1/sessions/{sid}/questions?order=time"))
    assert [q["id"] for q in by_time["items"]] == [first["id"], second["id"]]
    gone = await _ok(await carol.request("DELETE", f"/api/v1/questions/{second['id']}/vote"))
    assert gone["vote_count"] == 2 and gone["changed"] is True
    twice = await _ok(await carol.request("DELETE", f"/api/v1/questions/{second['id']}/vote"))
    assert twice["vote_count"] == 2 and twice["changed"] is False
    # pinned first
    await _ok(await op.post(f"/api/v1/questions/{first['id']}/pin"))
    by_votes = await _ok(await op.get(f"/api/v1/sessions/{sid}/questions"))
    assert [q["id"] for q in by_votes["items"]] == [first["id"], second["id"]]


async def test_concurrent_votes_and_withdrawals_count_exactly(room: Room, world: World) -> None:
    op, (alice, _b, _c), _, sid = room
    people = await _people(op, world, 30, "v")
    try:
        for p in people:
            await _check_in(op, world, p.trainee_id)
        q = await _ok(await _ask(alice, sid, "大家点赞"), 201)
        path = f"/api/v1/questions/{q['id']}/vote"
        votes = [p.request("POST", path) for p in people for _ in range(2)]
        answers = await asyncio.gather(*votes)
        assert all(a.status == 200 for a in answers)
        answers = await asyncio.gather(*(p.request("DELETE", path) for p in people[:7]))
        assert all(a.status == 200 for a in answers)
        shown = await _ok(await op.get(f"/api/v1/questions/{q['id']}"))
        assert shown["vote_count"] == 23
    finally:
        for p in people:
            await p.http.close()


# --- moderation and on air --------------------------------------------------------------------


async def test_edit_keeps_the_original_and_merge_carries_votes_once(room: Room) -> None:
    op, (alice, bob, carol), _, sid = room
    target = await _ok(await _ask(alice, sid, "关于减负的问题"), 201)
    dup = await _ok(await _ask(bob, sid, "减负问题（重复）"), 201)
    for p in (alice, carol):
        await _ok(await p.request("POST", f"/api/v1/questions/{dup['id']}/vote"))
    await _ok(await carol.request("POST", f"/api/v1/questions/{target['id']}/vote"))
    edited = await _ok(
        await op.post(f"/api/v1/questions/{target['id']}/edit", json={"text": "关于基层减负"})
    )
    assert edited["text"] == "关于基层减负" and edited["original_text"] == "关于减负的问题"
    assert edited["edited"] is True
    await _error(
        await op.post(f"/api/v1/questions/{target['id']}/edit", json={"text": ""}),
        400,
        "question.empty",
    )
    merged = await _ok(
        await op.post(f"/api/v1/questions/{dup['id']}/merge", json={"into": target["id"]})
    )
    assert merged["state"] == "archived" and merged["merged_into"] == target["id"]
    after = await _ok(await op.get(f"/api/v1/questions/{target['id']}"))
    assert after["vote_count"] == 2 and after["also_asked_count"] == 1  # carol counted once
    assert (await _ok(await bob.request("GET", f"/api/v1/questions/{target['id']}")))["is_mine"]
    await _error(
        await op.post(f"/api/v1/questions/{target['id']}/merge", json={"into": target["id"]}),
        400,
        "question.merge_into_self",
    )
    await _error(
        await op.post(f"/api/v1/questions/{dup['id']}/approve"), 409, "question.bad_transition"
    )
    await _error(
        await alice.request("POST", f"/api/v1/questions/{target['id']}/approve"),
        403,
        "auth.forbidden",
    )


async def test_on_air_is_one_at_a_time_published_to_browsers_and_agents_with_history(
    room: Room, world: World
) -> None:
    op, (alice, bob, _c), _, sid = room
    browser = await subscribed(op, f"session:{sid}")
    agent = AgentPeer(await op.ws_connect("/ws/agent", headers=_agent_headers(world)))
    await agent.send(hello(world.site_id))
    await agent.expect("welcome")

    q1 = await _ok(await _ask(alice, sid, "第一个上屏"), 201)
    q2 = await _ok(await _ask(bob, sid, "<b>第二个</b>", anonymous=True), 201)
    await _ok(await op.post(f"/api/v1/questions/{q1['id']}/on-air"))
    event = await browser.expect("event", kind="question_on_air")
    assert event["data"]["question"]["id"] == q1["id"]
    pushed = await agent.expect("event")
    while pushed.get("kind") != "question_on_air":
        pushed = await agent.expect("event")
    assert pushed["data"]["question"]["text"] == "第一个上屏"
    assert pushed["data"]["session_id"] == sid

    await _ok(await op.post(f"/api/v1/questions/{q2['id']}/on-air"))
    event = await browser.expect("event", kind="question_on_air")
    assert event["data"]["question"]["asker_trainee_id"] is None  # anonymous on screens
    assert event["data"]["previous"] == q1["id"]
    assert (await _ok(await op.get(f"/api/v1/questions/{q1['id']}")))["state"] == "answered"
    await _error(
        await op.post(f"/api/v1/questions/{q1['id']}/on-air"), 409, "question.bad_transition"
    )
    await _ok(await op.post(f"/api/v1/questions/{q2['id']}/answered"))
    await browser.expect("event", kind="question_off_air")
    shown = await _ok(await alice.request("GET", f"/api/v1/sessions/{sid}/on-air"))
    assert shown["current"] is None
    assert [h["question_id"] for h in shown["history"]] == [q1["id"], q2["id"]]
    assert all(h["ended_at"] is not None and h["seconds"] >= 0 for h in shown["history"])
    # send back: off air to approved, then back to screening
    q3 = await _ok(await _ask(alice, sid, "第三个"), 201)
    await _ok(await op.post(f"/api/v1/questions/{q3['id']}/on-air"))
    back = await _ok(await op.post(f"/api/v1/questions/{q3['id']}/send-back"))
    assert back["state"] == "approved"
    assert (await _ok(await op.get(f"/api/v1/sessions/{sid}/on-air")))["current"] is None
    back = await _ok(await op.post(f"/api/v1/questions/{q3['id']}/send-back"))
    assert back["state"] == "submitted"
    await _ok(await op.post(f"/api/v1/questions/{q3['id']}/reject"))
    await _ok(await op.post(f"/api/v1/questions/{q3['id']}/archive"))


async def test_ending_the_session_takes_its_question_off_the_air(room: Room) -> None:
    op, (alice, _b, _c), _, sid = room
    browser = await subscribed(op, f"session:{sid}")
    q = await _ok(await _ask(alice, sid, "下课前最后一个问题"), 201)
    await _ok(await op.post(f"/api/v1/questions/{q['id']}/on-air"))
    await browser.expect("event", kind="question_on_air")
    await _ok(await op.post(f"/api/v1/sessions/{sid}/end"))
    await browser.expect("event", kind="question_off_air")
    shown = await _ok(await op.get(f"/api/v1/sessions/{sid}/on-air"))
    assert shown["current"] is None and shown["history"][0]["ended_at"] is not None
    assert (await _ok(await op.get(f"/api/v1/questions/{q['id']}")))["state"] == "answered"


async def test_concurrent_on_air_leaves_exactly_one_on_air(room: Room) -> None:
    op, (alice, _b, _c), _, sid = room
    await _ok(await op.put(f"/api/v1/sessions/{sid}/qa-settings", json={"rate_limit": 100}))
    ids = [(await _ok(await _ask(alice, sid, f"问{i}"), 201))["id"] for i in range(8)]
    answers = await asyncio.gather(*(op.post(f"/api/v1/questions/{i}/on-air") for i in ids))
    assert all(a.status == 200 for a in answers)
    listed = await _ok(await op.get(f"/api/v1/sessions/{sid}/questions?limit=100"))
    assert sum(q["state"] == "on_air" for q in listed["items"]) == 1
    history = (await _ok(await op.get(f"/api/v1/sessions/{sid}/on-air")))["history"]
    assert len(history) == 8 and sum(h["ended_at"] is None for h in history) == 1


# --- the floor --------------------------------------------------------------------------------


async def test_floor_queue_grant_countdown_expiry_and_revoke(room: Room, world: World) -> None:
    op, (alice, _b, _c), _, sid = room
    agent = _agent_headers(world)
    browser = await subscribed(op, f"session:{sid}")
    q = await _ok(await _ask(alice, sid, "排队的问题"), 201)
    raised = await _ok(await op.post(f"/api/v1/sessions/{sid}/floor/raise", headers=agent))
    assert raised["requests"][0]["site_id"] == world.site_id
    await _error(
        await op.post(f"/api/v1/sessions/{sid}/floor/raise", headers=agent),
        409,
        "floor.already_requested",
    )
    queue = await _ok(await op.get(f"/api/v1/sessions/{sid}/moderator-queue"))
    assert [i["kind"] for i in queue["items"]] == ["question", "floor_request"]
    assert queue["items"][0]["question"]["id"] == q["id"]

    granted = await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": world.site_id, "time_limit": 1}
        )
    )
    assert granted["holder"]["site_id"] == world.site_id and granted["requests"] == []
    event = await browser.expect("event", kind="floor_granted")
    assert event["data"]["deadline"] and event["data"]["seconds"] == 1
    main = world.ids["sites"]
    site = await _ok(await op.get(f"/api/v1/sites/{main}"))
    await _error(
        await op.post(f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": site["parent_id"]}),
        409,
        "floor.busy",
    )
    returned = await browser.expect("event", kind="floor_returned", timeout=5)
    assert returned["data"]["reason"] == "expired"
    assert (await _ok(await op.get(f"/api/v1/sessions/{sid}/floor")))["holder"] is None

    await _ok(await op.post(f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": world.site_id}))
    revoked = await _ok(await op.post(f"/api/v1/sessions/{sid}/floor/revoke"))
    assert revoked["holder"] is None
    event = await browser.expect("event", kind="floor_returned")
    assert event["data"]["reason"] == "revoked"
    await _ok(await op.post(f"/api/v1/sessions/{sid}/floor/raise", headers=agent))
    lowered = await _ok(await op.post(f"/api/v1/sessions/{sid}/floor/lower", headers=agent))
    assert lowered["requests"] == []
    await _error(
        await op.post(f"/api/v1/sessions/{sid}/floor/grant", json={"site_id": 999}),
        409,
        "floor.site_not_in_session",
    )


async def test_lazy_expiry_on_read_when_the_timer_did_not_run(
    room: Room, world: World, config: Config
) -> None:
    from datetime import timedelta

    from sqlalchemy import select

    from server.store import db as store_db
    from server.store.qa_models import FloorGrantRow

    op, _, _, sid = room
    await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/floor/grant",
            json={"site_id": world.site_id, "time_limit": 600},
        )
    )
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        grant = (await db.scalars(select(FloorGrantRow))).one()
        grant.deadline = grant.granted_at + timedelta(seconds=1)
    await engine.dispose()
    await asyncio.sleep(1.1)
    assert (await _ok(await op.get(f"/api/v1/sessions/{sid}/floor")))["holder"] is None
    log = await _ok(await op.get(f"/api/v1/sessions/{sid}/interaction-log"))
    returned = [e for e in log["items"] if e["kind"] == "floor_returned"]
    assert len(returned) == 1 and returned[0]["data"]["reason"] == "expired"


# --- polls, quizzes, surveys, feedback, the log -----------------------------------------------


async def test_quiz_live_tally_per_site_scores_and_time_limit(room: Room, world: World) -> None:
    op, (alice, bob, carol), outsider, sid = room
    quiz = await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/polls",
            json={
                "prompt": "党校成立于哪年？",
                "options": ["1933", "1949", "1977"],
                "correct": [0],
            },
        ),
        201,
    )
    await _error(
        await op.post(
            f"/api/v1/sessions/{sid}/polls",
            json={"prompt": "x", "options": ["a", "b"], "correct": [0, 1]},
        ),
        400,
        "quiz.bad_spec",
    )
    answer = f"/api/v1/polls/{quiz['id']}/answers"
    await _error(await alice.request("POST", answer, json={"choices": [0]}), 409, "quiz.not_open")
    await _ok(await op.post(f"/api/v1/polls/{quiz['id']}/launch", json={"time_limit": 60}))
    seen = await _ok(await alice.request("GET", f"/api/v1/polls/{quiz['id']}"))
    assert seen["correct"] is None and seen["state"] == "open"
    await _ok(await alice.request("POST", answer, json={"choices": [0]}), 201)
    await _ok(await bob.request("POST", answer, json={"choices": [1]}), 201)
    await _error(
        await bob.request("POST", answer, json={"choices": [0]}), 409, "quiz.already_answered"
    )
    await _error(
        await carol.request("POST", answer, json={"choices": [0, 1]}), 400, "quiz.single_choice"
    )
    await _error(
        await outsider.request("POST", answer, json={"choices": [0]}), 403, "qa.not_checked_in"
    )
    # The list tells each trainee their own answer (a reloaded phone shows it), staff none.
    listed = f"/api/v1/sessions/{sid}/polls"
    assert (await _ok(await alice.request("GET", listed)))["items"][0]["my_choices"] == [0]
    assert (await _ok(await carol.request("GET", listed)))["items"][0]["my_choices"] is None
    assert "my_choices" not in (await _ok(await op.get(listed)))["items"][0]
    shown = await _ok(await op.get(f"/api/v1/polls/{quiz['id']}"))
    assert shown["tally"]["per_option"] == [1, 1, 0]
    assert shown["tally"]["per_site"] == {str(world.site_id): [1, 1, 0]}
    assert "correct" not in shown["tally"]  # an open quiz does not tell how many are right
    closed = await _ok(await op.post(f"/api/v1/polls/{quiz['id']}/close"))
    assert closed["state"] == "closed" and closed["tally"]["correct"] == 1
    shown = await _ok(await op.get(f"/api/v1/polls/{quiz['id']}"))
    assert shown["tally"]["correct"] == 1 and shown["tally"]["answers"] == 2
    await _error(await carol.request("POST", answer, json={"choices": [0]}), 409, "quiz.closed")
    mine = await _ok(await alice.request("GET", "/api/v1/trainee/quiz-scores"))
    assert mine["total"] == 1 and mine["items"][0]["score"] == 1
    bobs = await _ok(await op.get(f"/api/v1/trainees/{bob.trainee_id}/quiz-scores"))
    assert bobs["total"] == 0 and bobs["quizzes"] == 1
    # a poll with a short time limit closes by itself
    poll = await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/polls",
            json={"prompt": "选几项", "options": ["甲", "乙", "丙"], "mode": "multiple"},
        ),
        201,
    )
    await _ok(await op.post(f"/api/v1/polls/{poll['id']}/launch", json={"time_limit": 1}))
    await _ok(
        await carol.request(
            "POST", f"/api/v1/polls/{poll['id']}/answers", json={"choices": [0, 2]}
        ),
        201,
    )
    await asyncio.sleep(1.1)
    r = await alice.request("POST", f"/api/v1/polls/{poll['id']}/answers", json={"choices": [1]})
    await _error(r, 409, "quiz.closed")
    assert (await _ok(await carol.request("GET", "/api/v1/trainee/quiz-scores")))["quizzes"] == 0


async def test_needs_survey_and_feedback_are_aggregated(room: Room, world: World) -> None:
    op, (alice, bob, _c), outsider, _ = room
    program = world.ids["programs"]
    await _ok(
        await op.put(
            f"/api/v1/programs/{program}/needs-survey",
            json={"topics": ["乡村振兴", "基层治理", "数字政府"]},
        )
    )
    url = f"/api/v1/programs/{program}/needs-survey/response"
    await _ok(await alice.request("POST", url, json={"ranking": ["基层治理", "乡村振兴"]}))
    await _ok(
        await bob.request("POST", url, json={"ranking": ["基层治理"], "needs_text": "多讲案例"})
    )
    await _error(
        await bob.request("POST", url, json={"ranking": ["不存在"]}), 400, "survey.unknown_topic"
    )
    summary = await _ok(await op.get(f"/api/v1/programs/{program}/needs-survey"))
    assert summary["ranked"][0]["topic"] == "基层治理" and summary["responses"] == 2
    assert summary["needs_texts"] == ["多讲案例"]

    sid = world.session_id
    fb = f"/api/v1/sessions/{sid}/feedback"
    await _ok(
        await alice.request(
            "POST",
            fb,
            json={"course_rating": 5, "lecturer_ratings": {"李老师": 4}, "comment": "很好"},
        )
    )
    await _ok(
        await bob.request("POST", fb, json={"course_rating": 3, "lecturer_ratings": {"李老师": 5}})
    )
    await _ok(
        await bob.request("POST", fb, json={"course_rating": 4, "lecturer_ratings": {"李老师": 5}})
    )
    await _error(
        await alice.request("POST", fb, json={"course_rating": 6}),
        400,
        "feedback.rating_out_of_range",
    )
    await _error(
        await outsider.request("POST", fb, json={"course_rating": 5}), 403, "qa.not_checked_in"
    )
    agg = await _ok(await op.get(fb))
    assert agg["course"]["count"] == 2 and agg["course"]["mean"] == 4.5
    assert agg["lecturers"]["李老师"]["mean"] == 4.5 and agg["comments"] == ["很好"]


async def test_interaction_log_exports_json_csv_xlsx(room: Room) -> None:
    op, (alice, bob, _c), _, sid = room
    q = await _ok(await _ask(alice, sid, '=HYPERLINK("x")'), 201)
    await _ok(await bob.request("POST", f"/api/v1/questions/{q['id']}/vote"))
    await _ok(await op.post(f"/api/v1/questions/{q['id']}/on-air"))
    log = await _ok(await op.get(f"/api/v1/sessions/{sid}/interaction-log"))
    kinds = [e["kind"] for e in log["items"]]
    assert kinds == ["question_submitted", "vote_cast", "question_put_on_air"]
    r = await op.get(f"/api/v1/sessions/{sid}/interaction-log?format=csv")
    assert r.status == 200
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))
    assert rows[0] == ["序号", "时间", "事件", "问题编号", "操作者", "内容"]
    assert [row[2] for row in rows[1:]] == ["提交问题", "点赞", "上屏"]
    r = await op.get(f"/api/v1/sessions/{sid}/interaction-log?format=xlsx")
    assert r.status == 200
    with zipfile.ZipFile(io.BytesIO(await r.read())) as book:
        assert any(name.startswith("xl/worksheets/") for name in book.namelist())
    await _error(
        await op.get(f"/api/v1/sessions/{sid}/interaction-log?format=pdf"), 400, "request.bad_query"
    )


async def test_interaction_log_export_names_people_and_sites_and_keeps_anonymity(
    room: Room, world: World
) -> None:
    """The CSV/XLSX names who acted and the site, in Chinese words; an anonymous asker is
    never named, not even by the events on their question."""
    op, (alice, bob, _c), _, sid = room
    site = (await _ok(await op.get(f"/api/v1/sites/{world.site_id}")))["name"]
    q = await _ok(await _ask(alice, sid, "请问考核怎么算"), 201)
    await _ok(await bob.request("POST", f"/api/v1/questions/{q['id']}/vote"))
    hidden = await _ok(await _ask(bob, sid, "不想署名的问题", anonymous=True), 201)
    await _ok(await bob.request("POST", f"/api/v1/questions/{hidden['id']}/vote"))
    await _ok(await op.post(f"/api/v1/questions/{q['id']}/on-air"))
    r = await op.get(f"/api/v1/sessions/{sid}/interaction-log?format=csv")
    rows = list(csv.reader(io.StringIO((await r.read()).decode("utf-8-sig"))))[1:]
    by_kind = [(row[2], row[4], row[5]) for row in rows]
    assert by_kind[0][:2] == ("提交问题", "学员r0")
    assert by_kind[0][2] == f"“请问考核怎么算”；课堂：{site}；状态：已通过"
    assert by_kind[1] == ("点赞", "学员r1", "点赞数 1")
    assert by_kind[2][:2] == ("提交问题", "匿名学员")
    assert by_kind[3][:2] == ("点赞", "匿名学员")  # the asker's own vote would name them
    assert by_kind[4][0] == "上屏" and not by_kind[4][1].startswith("user:")
    assert "已通过 → 上屏中" in by_kind[4][2]
    text = "\n".join(",".join(row) for row in rows)
    assert "trainee:" not in text and "{" not in text
    r = await op.get(f"/api/v1/sessions/{sid}/interaction-log?format=xlsx")
    book = load_workbook(io.BytesIO(await r.read()))
    cells = [[c.value for c in row] for row in book.active.iter_rows(min_row=2)]
    assert [c[4] for c in cells] == [b for _, b, _ in by_kind]
