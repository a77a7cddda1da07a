"""Roll call end to end: started live, answered from the phone and by the site, closed with the
missing marked, and shown in the session report."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import update

from server.store import db as store_db
from server.store.models import Trainee, utcnow
from server.store.rollcall_models import RollCall
from server.web.keys import LIVE
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import check_in_from_screen, operator_site_trainee
from tests.web.http_helpers import expect_error as _error
from tests.web.http_helpers import expect_ok as _ok
from tests.web.live_helpers import AgentPeer, hello, subscribed


async def _second_trainee(config: Any, world: World) -> int:
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        other = Trainee(
            name="李强", staff_no="T0002", org_unit_id=world.org_unit_id, home_site_id=world.site_id
        )
        db.add(other)
        await db.flush()
        trainee_id = other.id
    await engine.dispose()
    return trainee_id


async def _live_with_one_checked_in(
    client_as: ClientFactory, world: World, client_id: str
) -> tuple[Any, Any]:
    """Start the world's session and check its trainee in; (operator, trainee) clients."""
    op, agent, trainee = await operator_site_trainee(client_as)
    await _ok(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    await check_in_from_screen(agent, trainee, world.session_id, client_id)
    return op, trainee


async def _roll_call(op: Any, world: World, seconds: int, **more: Any) -> Any:
    """The operator opens a roll call of ``seconds`` in the world's session (201): the call."""
    body = {"seconds": seconds, **more}
    return await _ok(
        await op.post(f"/api/v1/sessions/{world.session_id}/roll-calls", json=body), 201
    )


async def test_roll_call_from_start_to_report(
    client_as: ClientFactory, world: World, config: Any
) -> None:
    other_id = await _second_trainee(config, world)
    op, agent, trainee = await operator_site_trainee(client_as)
    r = await op.post(f"/api/v1/sessions/{world.session_id}/roll-calls", json={})
    await _error(r, 409, "rollcall.session_not_live")
    await _ok(await op.post(f"/api/v1/sessions/{world.session_id}/start"))
    await check_in_from_screen(agent, trainee, world.session_id, "rc-1")
    await _ok(
        await agent.post(
            f"/api/v1/sessions/{world.session_id}/attendance/mark",
            json={"trainee_id": other_id, "reason": "手机没电"},
        )
    )

    watcher = await subscribed(op, f"session:{world.session_id}")
    site_socket = AgentPeer(
        await op.ws_connect("/ws/agent", headers={"Authorization": f"Bearer {world.site_secret}"})
    )
    await site_socket.send(hello(world.site_id))
    await site_socket.expect("welcome")

    r = await op.post(f"/api/v1/sessions/{world.session_id}/roll-calls", json={"seconds": 5})
    await _error(r, 400, "rollcall.bad_time_limit")
    call = await _roll_call(op, world, 60, site_ids=[world.site_id])
    assert call["by_site"][str(world.site_id)] == {
        "expected": 2,
        "answered": 0,
        "pending": 2,
        "missed": 0,
    }
    started = await watcher.expect("event", kind="roll_call")
    assert started["data"]["roll_call_id"] == call["id"]
    command = await site_socket.expect("event")
    assert command["kind"] == "roll_call" and command["data"]["roll_call_id"] == call["id"]

    await _ok(await trainee.post(f"/api/v1/roll-calls/{call['id']}/answer"))
    try:
        tally = await watcher.expect("event", kind="roll_call_tally", timeout=3)
    except TimeoutError:
        raise AssertionError(watcher.log) from None
    assert tally["data"]["by_site"][str(world.site_id)]["answered"] == 1
    await _error(
        await trainee.post(f"/api/v1/roll-calls/{call['id']}/answer"),
        409,
        "rollcall.already_answered",
    )

    # The site answers for a trainee in its room through its outbox; a bad one is refused by code.
    items = [
        {
            "id": "rc-a",
            "kind": "rollcall_answer",
            "ts": time.time(),
            "body": {"roll_call_id": call["id"], "trainee_id": other_id, "answer": "present"},
        },
        {
            "id": "rc-b",
            "kind": "rollcall_answer",
            "ts": time.time(),
            "body": {"roll_call_id": call["id"], "trainee_id": 424242, "answer": "present"},
        },
    ]
    await site_socket.send({"type": "outbox", "items": items})
    ack = await site_socket.expect("outbox_ack")
    assert ack["results"] == {"rc-a": "recorded", "rc-b": "rollcall.not_in_room"}

    shown_call = await _ok(await op.get(f"/api/v1/roll-calls/{call['id']}"))
    assert shown_call["by_site"][str(world.site_id)]["answered"] == 2
    assert {a["via"] for a in shown_call["answered"]} == {"phone", "site"}


async def test_who_did_not_answer_is_marked_missed_when_it_closes(
    client_as: ClientFactory, world: World, config: Any
) -> None:
    op, trainee = await _live_with_one_checked_in(client_as, world, "rc-2")
    call = await _roll_call(op, world, 10)
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        await db.execute(
            update(RollCall)
            .where(RollCall.id == call["id"])
            .values(deadline=utcnow() - timedelta(seconds=1))
        )
    await engine.dispose()
    await _error(
        await trainee.post(f"/api/v1/roll-calls/{call['id']}/answer"), 409, "rollcall.closed"
    )
    closed = await _ok(await op.get(f"/api/v1/roll-calls/{call['id']}"))
    assert closed["closed"] is True
    assert closed["missed"] == [
        {"trainee_id": world.trainee_id, "name": "张伟", "site_id": world.site_id}
    ]
    report = await _ok(await op.get(f"/api/v1/sessions/{world.session_id}/report"))
    assert report["roll_calls"][0]["by_site"][str(world.site_id)]["missed"] == 1
    assert op.server.app[LIVE].presence is not None


async def test_ending_the_session_ends_its_roll_call_for_everyone_watching(
    client_as: ClientFactory, world: World, config: Any
) -> None:
    op, _ = await _live_with_one_checked_in(client_as, world, "rc-3")
    call = await _roll_call(op, world, 60)
    watcher = await subscribed(op, f"session:{world.session_id}")
    await _ok(await op.post(f"/api/v1/sessions/{world.session_id}/end"))
    ended = await watcher.expect("event", kind="roll_call_ended")
    assert ended["data"]["roll_call_id"] == call["id"]
    assert ended["data"]["closed"] is True
    assert ended["data"]["by_site"][str(world.site_id)]["missed"] == 1
