"""The live sockets end to end in one process: agents, presence, browsers, resume."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import msgpack

from server.web.keys import LIVE
from tests.conftest import ClientFactory, World
from tests.web.live_helpers import (
    AgentPeer,
    browser_socket,
    heartbeat,
    hello,
    stalled_browser,
    wait_for,
)


async def _agent(client: Any, secret: str) -> AgentPeer:
    ws = await client.ws_connect("/ws/agent", headers={"Authorization": f"Bearer {secret}"})
    return AgentPeer(ws)


async def _welcomed_agent(client: Any, world: World) -> AgentPeer:
    """The world's site agent, connected and past its hello."""
    agent = await _agent(client, world.site_secret)
    await agent.send(hello(world.site_id))
    await agent.expect("welcome")
    return agent


async def test_agent_handshake_heartbeat_and_presence_seen_by_operator(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    browser = await browser_socket(op)
    await browser.subscribe("presence")
    snapshot = await browser.expect("resync")
    states = {s["id"]: s["state"] for s in snapshot["snapshot"]["sites"]}
    assert states[world.site_id] == "offline"

    agent = await _agent(op, world.site_secret)
    await agent.send(hello(world.site_id))
    welcome = await agent.expect("welcome")
    assert welcome["site_id"] == world.site_id and welcome["resume"] == "fresh"
    assert welcome["topic"] == f"site:{world.site_id}"
    online = await browser.expect("event", kind="presence", state="online")
    assert online["data"]["site_id"] == world.site_id and online["seq"] >= 1

    await agent.send(heartbeat(1))
    ack = await agent.expect("heartbeat_ack")
    assert ack["seq"] == 1

    await agent.send(heartbeat(2, stream={"state": "bad"}))
    degraded = await browser.expect("event", kind="presence", state="degraded")
    assert degraded["data"]["reason"]

    await agent.ws.close()
    offline = await browser.expect("event", kind="presence", state="offline")
    assert offline["data"]["site_id"] == world.site_id


async def test_wrong_or_missing_secret_is_refused_before_the_upgrade(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    for headers in (
        {},
        {"Authorization": "Bearer nope"},
        {"Authorization": f"Bearer {world.site_secret}x"},
    ):
        r = await client.get(
            "/ws/agent",
            headers={
                **headers,
                "Connection": "Upgrade",
                "Upgrade": "websocket",
                "Sec-WebSocket-Version": "13",
                "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
            },
        )
        assert r.status == 401
        assert (await r.json())["error"]["code"].startswith("auth.")


async def test_unknown_major_version_is_closed_with_a_reason(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    agent = await _agent(client, world.site_secret)
    await agent.send(hello(world.site_id, protocol="2.0"))
    code, reason = await agent.closed()
    assert code == 4002 and "protocol.unsupported_version" in reason


async def test_hello_naming_another_site_is_closed(client_as: ClientFactory, world: World) -> None:
    client = await client_as("anonymous")
    agent = await _agent(client, world.site_secret)
    await agent.send(hello(world.site_id + 1))
    code, reason = await agent.closed()
    assert code == 4004 and "wrong_site" in reason


async def test_second_connection_replaces_the_first(client_as: ClientFactory, world: World) -> None:
    client = await client_as("anonymous")
    first = await _welcomed_agent(client, world)
    second = await _welcomed_agent(client, world)
    code, reason = await first.closed()
    assert code == 4003 and "replaced" in reason
    await second.send(heartbeat(1))
    assert (await second.expect("heartbeat_ack"))["seq"] == 1
    live = client.server.app[LIVE]
    assert live.presence.state(world.site_id) == "online"


async def test_outbox_items_are_recorded_exactly_once(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    agent = await _welcomed_agent(client, world)
    item = {
        "id": "ol-0001",
        "kind": "outage_log",
        "ts": time.time() - 3600,
        "body": {"from": time.time() - 3700, "to": time.time() - 3600, "reason": "network"},
    }
    await agent.send({"type": "outbox", "items": [item]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ol-0001": "recorded"}
    await agent.send({"type": "outbox", "items": [item, {**item, "id": "ol-0002"}]})
    assert (await agent.expect("outbox_ack"))["results"] == {
        "ol-0001": "duplicate",
        "ol-0002": "recorded",
    }


async def test_check_ins_taken_at_the_site_become_attendance_once(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    agent = await _welcomed_agent(op, world)
    taken = time.time() - 120  # taken while the site was offline, delivered now
    body = {"trainee_id": world.trainee_id, "session_id": world.session_id, "method": "site_staff"}
    item = {"id": "ck-0001", "kind": "checkin", "ts": taken, "body": body}
    await agent.send({"type": "outbox", "items": [item]})
    ack = await agent.expect("outbox_ack")
    assert ack["results"] == {"ck-0001": "checkin.session_not_live"}  # refused for good, by code
    assert (await op.post(f"/api/v1/sessions/{world.session_id}/start")).status == 200
    again = {**item, "id": "ck-0002"}
    await agent.send({"type": "outbox", "items": [again]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ck-0002": "recorded"}
    await agent.send({"type": "outbox", "items": [again]})
    assert (await agent.expect("outbox_ack"))["results"] == {"ck-0002": "duplicate"}
    records = await (await op.get(f"/api/v1/sessions/{world.session_id}/attendance")).json()
    assert records["total"] == 1
    record = records["items"][0]
    assert record["trainee_id"] == world.trainee_id and record["site_id"] == world.site_id
    assert record["manual"][0]["reason"] == "site check-in (site_staff)"


def hostile_frames() -> list[tuple[str, bytes, str]]:
    """Bad frames and the error code each must get (built when used: the heartbeats carry the
    current time, which must not be older than the server's allowed skew by then)."""
    return [
        (
            "truncated msgpack",
            msgpack.packb({"type": "heartbeat", "ts": 1.0})[:-3],
            "message.bad_msgpack",
        ),
        ("garbage", b"\xc1\xc1\xc1", "message.bad_msgpack"),
        ("array claiming 4 billion items", b"\xdd\xff\xff\xff\xff", "message.bad_msgpack"),
        ("deep nesting", b"\x91" * 200 + b"\xc0", "message"),
        (
            "bytes map keys",
            msgpack.packb({b"type": "heartbeat"}, use_bin_type=True),
            "message.invalid",
        ),
        ("ext type", msgpack.packb(msgpack.ExtType(5, b"xx")), "message.ext_type"),
        (
            "NaN",
            msgpack.packb(
                {**heartbeat(), "health": {**heartbeat()["health"], "cpu_load": float("nan")}}
            ),
            "message.invalid",
        ),
        ("huge integer", msgpack.packb({**heartbeat(), "seq": 2**64 - 1}), "message.invalid"),
        ("unknown type", msgpack.packb({"type": "launch_missiles"}), "message.unknown_type"),
        (
            "far past timestamp",
            msgpack.packb({**heartbeat(), "ts": 1000.0}),
            "message.bad_timestamp",
        ),
        (
            "far future timestamp",
            msgpack.packb({**heartbeat(), "ts": time.time() + 86400}),
            "message.bad_timestamp",
        ),
        ("another site's id in hello", msgpack.packb(hello(999)), "protocol.hello_twice"),
    ]


async def test_hostile_frames_get_error_codes_and_the_server_keeps_serving(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("operator")
    agent = await _welcomed_agent(client, world)
    for name, frame, code in hostile_frames():
        await agent.ws.send_bytes(frame)
        error = await agent.expect("error")
        assert error["code"].startswith(code), (name, error)
        await asyncio.sleep(0.06)  # stay under the rate limit: this test is about content
    await agent.send(heartbeat(7))
    assert (await agent.expect("heartbeat_ack"))["seq"] == 7
    assert (await client.get("/healthz")).status == 200


async def test_oversize_frame_and_text_frame_close_the_socket(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    agent = await _welcomed_agent(client, world)
    await agent.ws.send_bytes(b"\xc4" + b"\x00" * (70 * 1024))
    code, _ = await agent.closed()
    assert code == 1009
    other = await _welcomed_agent(client, world)
    await other.ws.send_str('{"type": "heartbeat"}')
    code, reason = await other.closed()
    assert code == 1003 and "text_frame" in reason


async def test_a_flood_past_the_rate_limit_is_cut_off(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    agent = await _welcomed_agent(client, world)
    for i in range(200):
        if agent.ws.closed:
            break
        await agent.send({"type": "pong", "nonce": i})
    code, reason = await agent.closed()
    assert code == 1008 and "rate_limited" in reason


async def test_foreign_origin_and_anonymous_browsers_are_refused(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    upgrade = {
        "Connection": "Upgrade",
        "Upgrade": "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
    }
    for origin in ("http://evil.example", "http://127.0.0.1:8080.evil.example", "null"):
        r = await op.get("/ws/client", headers={**upgrade, "Origin": origin})
        assert r.status == 403 and (await r.json())["error"]["code"] == "ws.bad_origin", origin
    anon = await client_as("anonymous")
    r = await anon.get("/ws/client", headers=upgrade)
    assert r.status == 401


async def test_trainee_may_not_watch_presence(client_as: ClientFactory) -> None:
    trainee = await client_as("trainee")
    browser = await browser_socket(trainee)
    await browser.subscribe("presence")
    error = await browser.expect("error")
    assert error["code"] == "ws.forbidden_topic"


async def test_reconnecting_browser_gets_exactly_the_missed_events(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    live = op.server.app[LIVE]
    topic = f"session:{world.session_id}"
    browser = await browser_socket(op)
    await browser.subscribe(topic)
    first = await browser.expect("resync")
    await live.bus.publish(topic, "note", {"n": 1})
    seen = await browser.expect("event")
    assert seen["seq"] == first["seq"] + 1
    await browser.ws.close()
    for n in (2, 3, 4):
        await live.bus.publish(topic, "note", {"n": n})
    again = await browser_socket(op)
    await again.subscribe(topic, resume={topic: {"epoch": seen["epoch"], "last_seq": seen["seq"]}})
    got = [await again.expect("event") for _ in range(3)]
    assert [g["data"]["n"] for g in got] == [2, 3, 4]
    third = await browser_socket(op)
    await third.subscribe(topic, resume={topic: {"epoch": "another-epoch", "last_seq": 2}})
    resync = await third.expect("resync")
    assert (
        resync["reason"] == "epoch_changed"
        and resync["snapshot"]["session"]["id"] == world.session_id
    )


async def test_a_stalled_browser_is_dropped_and_does_not_delay_the_others(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    live = op.server.app[LIVE]
    topic = f"session:{world.session_id}"
    readers = [await browser_socket(op) for _ in range(5)]
    for reader in readers:
        await reader.subscribe(topic)
        await reader.expect("resync")
    before = set(live.hub.connections)
    cookie = "; ".join(f"{c.key}={c.value}" for c in op.session.cookie_jar)
    stalled = await stalled_browser(op.server.host, op.server.port, cookie, topic)
    await wait_for(lambda: live.hub.subscribers(topic) == 6)
    (victim,) = set(live.hub.connections) - before
    big = {"text": "问" * 20000}  # about 60 KB a frame: the stalled socket's buffers fill fast
    worst = 0.0
    started = time.monotonic()
    n = 0
    while time.monotonic() - started < 15 and victim.dropped_reason is None:
        sent = time.monotonic()
        await live.bus.publish(topic, "note", {**big, "n": n})
        for reader in readers:
            assert (await reader.expect("event", timeout=5))["data"]["n"] == n
        worst = max(worst, time.monotonic() - sent)
        n += 1
        await asyncio.sleep(0.01)
    stalled.close()
    assert victim.dropped_reason is not None, f"the stalled socket was not dropped after {n} events"
    assert worst < 0.5, f"a reading client waited {worst:.3f} s for an event"
    await wait_for(lambda: live.hub.subscribers(topic) == 5)
    assert not any(c.dropped_reason for c in before)


async def test_site_outage_shows_in_the_session_timeline_and_report(
    client_as: ClientFactory, world: World, config: Any
) -> None:
    from datetime import timedelta

    from server.store import db as store_db
    from server.store.live_models import PresenceEvent
    from server.store.models import ClassSession

    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        session = await db.get(ClassSession, world.session_id)
        assert session is not None
        start = session.starts_at
        changes = [
            (start - timedelta(minutes=5), "offline", "online", "connected"),
            (start + timedelta(minutes=30), "online", "offline", "connection_lost"),
            (start + timedelta(minutes=42), "offline", "online", "connected"),
        ]
        for at, previous, state, reason in changes:
            db.add(
                PresenceEvent(
                    site_id=world.site_id, state=state, previous=previous, reason=reason, at=at
                )
            )
    await engine.dispose()
    op = await client_as("operator")
    timeline = await (await op.get(f"/api/v1/sessions/{world.session_id}/presence")).json()
    site = next(s for s in timeline["sites"] if s["site_id"] == world.site_id)
    assert [i["state"] for i in site["intervals"]] == ["online", "offline", "online"]
    assert any("offline" in line and "海曙分课堂" in line for line in site["lines"])
    untracked = next(s for s in timeline["sites"] if s["site_id"] != world.site_id)
    assert untracked["tracked"] is False
    report = await (await op.get(f"/api/v1/sessions/{world.session_id}/report")).json()
    outages = report["site_outages"]
    assert (
        len(outages) == 1
        and outages[0]["site_id"] == world.site_id
        and outages[0]["minutes"] == 12.0
    )
