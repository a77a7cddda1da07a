"""Protocol 1.0 messages: what the agent sends passes the server's AGENT_MESSAGES schemas."""

from __future__ import annotations

import time

import msgpack
import pytest

from classroom_agent import __version__, protocol
from classroom_agent.health import Health
from classroom_agent.outbox import OutboxItem, new_item_id
from classroom_agent.protocol import Cursor, ProtocolError
from server.core.messages import AGENT_MESSAGES, check_protocol_version, validate_message

NOW = 1_780_000_000.0


def test_first_hello_has_no_stream_position_and_validates() -> None:
    msg = protocol.hello(12, None)
    checked = validate_message(AGENT_MESSAGES, msg, now=NOW)
    assert checked.type == "hello"
    assert checked.body["protocol"] == "1.0"
    assert checked.body["agent_version"] == __version__
    assert checked.body["capabilities"] == ["heartbeat", "outbox"]
    assert checked.body["site_id"] == 12
    assert checked.body["last_seq"] is None and checked.body["epoch"] is None
    check_protocol_version(checked.body["protocol"])


def test_hello_after_events_carries_last_seq_and_epoch() -> None:
    msg = protocol.hello(12, Cursor("k3x9:7", 40))
    body = validate_message(AGENT_MESSAGES, msg, now=NOW).body
    assert (body["last_seq"], body["epoch"]) == (40, "k3x9:7")


def test_heartbeat_validates() -> None:
    health = Health(5.0, 12.0, 0.2, "none", 3).to_wire()
    msg = protocol.heartbeat(NOW, 17, health)
    body = validate_message(AGENT_MESSAGES, msg, now=NOW + 3).body
    assert body["seq"] == 17 and body["health"]["checked_in"] == 3


def test_outbox_of_every_kind_validates_even_when_items_are_days_old() -> None:
    items = [
        OutboxItem(
            new_item_id(NOW, bytes(10)),
            "checkin",
            NOW - 3 * 86400,
            {"trainee_id": 5, "session_id": 9, "method": "site_staff"},
        ),
        OutboxItem(
            new_item_id(NOW, b"\xff" * 10),
            "rollcall_answer",
            NOW,
            {"trainee_id": 5, "session_id": 9, "roll_call_id": 2, "answer": "present"},
        ),
        OutboxItem(
            "a" * 64,
            "outage_log",
            NOW,
            {"from": NOW - 60, "to": NOW, "reason": "connection lost", "attempts": 3},
        ),
    ]
    msg = protocol.outbox(item.to_wire() for item in items)
    body = validate_message(AGENT_MESSAGES, msg, now=NOW).body
    assert [i["kind"] for i in body["items"]] == ["checkin", "rollcall_answer", "outage_log"]


def test_ack_and_pong_validate() -> None:
    assert validate_message(AGENT_MESSAGES, protocol.ack(41), now=NOW).body == {"seq": 41}
    assert validate_message(AGENT_MESSAGES, protocol.pong(7), now=NOW).body == {"nonce": 7}
    assert validate_message(AGENT_MESSAGES, protocol.pong(None), now=NOW).body == {"nonce": None}


def test_frames_are_msgpack_maps_with_string_keys_and_round_trip() -> None:
    msg = protocol.hello(3, Cursor("e", 1))
    frame = protocol.encode(msg)
    assert isinstance(frame, bytes)
    assert msgpack.unpackb(frame, raw=False) == msg
    assert protocol.decode(frame) == msg


def test_encoding_refuses_nan_and_frames_over_64_kib() -> None:
    with pytest.raises(ValueError, match="NaN"):
        protocol.encode({"type": "heartbeat", "ts": float("nan")})
    with pytest.raises(ValueError, match="64 KiB"):
        protocol.encode({"type": "outbox", "items": ["x" * 70_000]})


@pytest.mark.parametrize(
    "frame",
    [
        "text frame",
        b"\xc1",
        msgpack.packb([1, 2]),
        msgpack.packb({"no_type": 1}),
        msgpack.packb({"type": 5}),
        b"\x00" * (64 * 1024 + 1),
    ],
)
def test_bad_server_frames_raise_protocol_error(frame: bytes | str) -> None:
    with pytest.raises(ProtocolError):
        protocol.decode(frame)


def test_server_messages_are_parsed() -> None:
    welcome = protocol.parse_welcome(
        {
            "type": "welcome",
            "protocol": "1.0",
            "server_version": "0.1.0",
            "node_id": "n1",
            "site_id": 12,
            "topic": "site:12",
            "epoch": "k3x9",
            "seq": 40,
            "heartbeat_interval": 5.0,
            "resume": "replay",
        }
    )
    assert (welcome.epoch, welcome.seq, welcome.resume, welcome.heartbeat_interval) == (
        "k3x9",
        40,
        "replay",
        5.0,
    )
    event = protocol.parse_event(
        {
            "type": "event",
            "topic": "site:12",
            "epoch": "k3x9",
            "seq": 41,
            "kind": "session_started",
            "data": {"session_id": 7},
        }
    )
    assert (event.seq, event.kind, event.data) == (41, "session_started", {"session_id": 7})
    with pytest.raises(ProtocolError):
        protocol.parse_event({"type": "event", "epoch": "k", "seq": -1, "kind": "x"})
    with pytest.raises(ProtocolError):
        protocol.parse_welcome({"type": "welcome", "epoch": "k", "seq": 1, "heartbeat_interval": 0})
    assert protocol.parse_results({"type": "outbox_ack", "results": {"a": "recorded"}}) == {
        "a": "recorded"
    }
    assert protocol.parse_ts({"server_ts": NOW}) == NOW
    assert protocol.parse_ts({"server_ts": True}) is None


def test_site_id_comes_from_the_secret_prefix() -> None:
    assert protocol.site_id_from_secret("site12.Ab_c-9xyz") == 12
    assert protocol.site_id_from_secret("site0.abc") is None
    assert protocol.site_id_from_secret("12.abc") is None
    assert protocol.site_id_from_secret("site12") is None


def test_server_address_becomes_the_agent_socket_url() -> None:
    assert protocol.agent_url("https://c.example.org") == "wss://c.example.org/ws/agent"
    assert protocol.agent_url("http://10.0.0.5:8080/") == "ws://10.0.0.5:8080/ws/agent"
    assert protocol.agent_url("wss://c.example.org/ws/agent") == "wss://c.example.org/ws/agent"
    with pytest.raises(ValueError):
        protocol.agent_url("ftp://c.example.org")
    with pytest.raises(ValueError):
        protocol.agent_url("c.example.org")


def test_server_address_becomes_the_rest_origin() -> None:
    assert protocol.http_base("https://c.example.org/") == "https://c.example.org"
    assert protocol.http_base("ws://10.0.0.5:8080/ws/agent") == "http://10.0.0.5:8080"
    assert protocol.http_base("wss://c.example.org") == "https://c.example.org"


def test_item_ids_match_the_protocol_pattern_and_sort_by_time() -> None:
    earlier = new_item_id(NOW, b"\xff" * 10)
    later = new_item_id(NOW + 0.001, bytes(10))
    assert len(earlier) == 26 and protocol.CLIENT_ID_PATTERN.fullmatch(earlier)
    assert earlier < later
    assert new_item_id(time.time(), b"\x01" * 10) != new_item_id(time.time(), b"\x02" * 10)
