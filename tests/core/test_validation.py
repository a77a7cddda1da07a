from __future__ import annotations

import copy
import math
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import DomainError, InvalidInput
from server.core.messages import (
    AGENT_MESSAGES,
    CLIENT_MESSAGES,
    Message,
    check_protocol_version,
    validate_message,
)
from server.core.validation import (
    BAD_CHARACTERS,
    MAX_SAFE_INT,
    Bool,
    Bytes,
    Data,
    Dict,
    Enum,
    Float,
    Int,
    List,
    Map,
    Optional,
    Str,
    Timestamp,
    validate,
)

NOW = 1_715_400_000.0


def heartbeat() -> dict[str, Any]:
    return {
        "type": "heartbeat",
        "ts": NOW - 1.0,
        "seq": 17,
        "health": {
            "uptime_s": 3600,
            "rtt_ms": 42.5,
            "cpu_load": 0.25,
            "display_state": "ok",
            "stream": {
                "state": "ok",
                "fps": 25.0,
                "bitrate_kbps": 1800.0,
                "freezes_1m": 0,
                "delay_ms": 350.0,
            },
            "checked_in": 31,
        },
    }


def hello() -> dict[str, Any]:
    return {
        "type": "hello",
        "protocol": "1.0",
        "agent_version": "1.2.3",
        "capabilities": ["display", "camera", "outbox"],
        "site_id": 12,
    }


def outbox() -> dict[str, Any]:
    return {
        "type": "outbox",
        "items": [
            {
                "id": "3f2b8c4e-1d2a-4b8f-9c3e-7a1b2c3d4e5f",
                "kind": "checkin",
                "ts": NOW - 3 * 3600,  # queued during an outage
                "body": {"trainee_id": 5, "code": "483920", "tags": ["late"]},
            }
        ],
    }


def subscribe() -> dict[str, Any]:
    return {
        "type": "subscribe",
        "topics": ["session:42", "session:42:presence"],
        "resume": {"session:42": {"epoch": "b7f1", "last_seq": 120}},
    }


def agent(obj: object) -> Message:
    return validate_message(AGENT_MESSAGES, obj, now=NOW)


def client(obj: object) -> Message:
    return validate_message(CLIENT_MESSAGES, obj, now=NOW)


# -- valid messages -------------------------------------------------------------------------------


def test_valid_heartbeat_passes_and_comes_back_clean() -> None:
    message = agent(heartbeat())
    assert message.type == "heartbeat"
    assert message.body["health"]["stream"]["state"] == "ok"
    assert message.body["health"]["uptime_s"] == 3600.0
    assert isinstance(message.body["health"]["uptime_s"], float)
    assert "type" not in message.body


def test_hello_optional_fields_come_back_as_none() -> None:
    body = agent(hello()).body
    assert body["last_seq"] is None and body["epoch"] is None
    assert body["site_id"] == 12


def test_outbox_accepts_items_queued_hours_ago() -> None:
    item = agent(outbox()).body["items"][0]
    assert item["kind"] == "checkin" and item["body"]["tags"] == ["late"]


def test_stream_numbers_may_be_absent_when_there_is_no_stream() -> None:
    msg = heartbeat()
    msg["health"]["stream"] = {"state": "none"}
    assert agent(msg).body["health"]["stream"]["fps"] is None


def test_client_subscribe_with_resume_passes() -> None:
    body = client(subscribe()).body
    assert body["resume"]["session:42"] == {"epoch": "b7f1", "last_seq": 120}


def test_ack_pong_ping_unsubscribe_pass() -> None:
    assert agent({"type": "ack", "seq": 5}).body == {"seq": 5}
    assert agent({"type": "pong"}).body == {"nonce": None}
    assert client({"type": "ping", "nonce": 3}).body == {"nonce": 3}
    assert client({"type": "unsubscribe", "topics": ["session:1"]}).body == {
        "topics": ["session:1"]
    }


def test_unknown_fields_are_dropped() -> None:
    msg = heartbeat()
    msg["added_in_1_3"] = {"x": [1, 2, 3]}
    msg["health"]["gpu_temp"] = 61.5
    body = agent(msg).body
    assert "added_in_1_3" not in body and "gpu_temp" not in body["health"]


def test_returned_data_is_a_copy() -> None:
    msg = outbox()
    body = agent(msg).body
    msg["items"][0]["body"]["tags"].append("x")
    assert body["items"][0]["body"]["tags"] == ["late"]


def test_tuples_from_msgpack_are_accepted_as_lists() -> None:
    msg = hello()
    msg["capabilities"] = ("display",)
    assert agent(msg).body["capabilities"] == ["display"]


# -- the table of hostile inputs -----------------------------------------------------------------


def set_at(path: tuple[Any, ...], value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(msg: dict[str, Any]) -> None:
        target: Any = msg
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def drop(path: tuple[Any, ...]) -> Callable[[dict[str, Any]], None]:
    def mutate(msg: dict[str, Any]) -> None:
        target: Any = msg
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def nested(depth: int) -> object:
    value: object = 1
    for _ in range(depth):
        value = {"a": value}
    return value


def deep_list(depth: int) -> object:
    value: object = []
    for _ in range(depth):
        value = [value]
    return value


BASES: dict[str, Callable[[], dict[str, Any]]] = {
    "heartbeat": heartbeat,
    "hello": hello,
    "outbox": outbox,
    "subscribe": subscribe,
}

H = ("health",)
S = ("health", "stream")
HOSTILE: list[tuple[str, str, Callable[[dict[str, Any]], None], str, str]] = [
    # (id, base, mutation, expected code, text expected in the message)
    ("unknown type", "heartbeat", set_at(("type",), "rm -rf"), "message.unknown_type", "rm -rf"),
    ("type is bytes", "heartbeat", set_at(("type",), b"heartbeat"), "message.invalid", "type"),
    ("no type", "heartbeat", drop(("type",)), "message.invalid", "message.type: is required"),
    ("bytes key", "heartbeat", set_at((b"seq",), 1), "message.invalid", "keys must be strings"),
    ("huge key", "heartbeat", set_at(("k" * 10_000,), 1), "message.invalid", "at most 128"),
    ("int key deep", "heartbeat", set_at((*H, 1), 1), "message.invalid", "heartbeat.health:"),
    (
        "bytes key in body",
        "outbox",
        set_at(("items", 0, "body", b"k"), 1),
        "message.invalid",
        "outbox.items[0].body",
    ),
    ("NaN", "heartbeat", set_at((*H, "cpu_load"), math.nan), "message.invalid", "finite"),
    ("inf", "heartbeat", set_at((*S, "fps"), math.inf), "message.invalid", "stream.fps"),
    ("-inf ts", "heartbeat", set_at(("ts",), -math.inf), "message.invalid", "heartbeat.ts"),
    ("huge int", "heartbeat", set_at(("seq",), 10**100), "message.invalid", "heartbeat.seq"),
    ("huge int as float", "heartbeat", set_at((*H, "rtt_ms"), 10**400), "message.invalid", "rtt"),
    ("unsafe int", "hello", set_at(("site_id",), MAX_SAFE_INT + 1), "message.invalid", "site_id"),
    ("negative seq", "heartbeat", set_at(("seq",), -1), "message.invalid", "between"),
    ("bool as int", "heartbeat", set_at((*H, "checked_in"), True), "message.invalid", "boolean"),
    ("bool as float", "heartbeat", set_at((*H, "cpu_load"), False), "message.invalid", "cpu_load"),
    ("float as int", "heartbeat", set_at(("seq",), 17.0), "message.invalid", "integer"),
    ("str as number", "heartbeat", set_at((*H, "cpu_load"), "0.2"), "message.invalid", "finite"),
    ("cpu out of range", "heartbeat", set_at((*H, "cpu_load"), 3), "message.invalid", "at most 1"),
    ("bad enum", "heartbeat", set_at((*S, "state"), "great"), "message.invalid", "one of"),
    ("missing field", "heartbeat", drop((*H, "stream")), "message.invalid", "required"),
    ("null required", "heartbeat", set_at(("seq",), None), "message.invalid", "heartbeat.seq"),
    ("health is list", "heartbeat", set_at(H, [1]), "message.invalid", "must be a map"),
    ("ts far past", "heartbeat", set_at(("ts",), NOW - 601), "message.bad_timestamp", "past"),
    ("ts far future", "heartbeat", set_at(("ts",), NOW + 601), "message.bad_timestamp", "future"),
    (
        "outbox ts 8 days old",
        "outbox",
        set_at(("items", 0, "ts"), NOW - 8 * 86400),
        "message.bad_timestamp",
        "outbox.items[0].ts",
    ),
    ("long str", "hello", set_at(("agent_version",), "1" * 33), "message.invalid", "at most 32"),
    ("bytes for str", "hello", set_at(("agent_version",), b"1.0"), "message.invalid", "string"),
    ("NUL in str", "hello", set_at(("agent_version",), "1.0\x00"), "message.invalid", "NUL"),
    ("lone surrogate", "hello", set_at(("epoch",), "ab\ud800"), "message.invalid", "surrogate"),
    ("bad id chars", "outbox", set_at(("items", 0, "id"), "../x"), "message.invalid", "format"),
    ("id too long", "outbox", set_at(("items", 0, "id"), "a" * 65), "message.invalid", "at most"),
    ("body not map", "outbox", set_at(("items", 0, "body"), [1]), "message.invalid", "map"),
    (
        "long bytes in body",
        "outbox",
        set_at(("items", 0, "body", "blob"), b"x" * 2001),
        "message.invalid",
        "bytes",
    ),
    (
        "too many items",
        "hello",
        set_at(("capabilities",), ["a"] * 33),
        "message.invalid",
        "at most 32 items",
    ),
    ("empty outbox", "outbox", set_at(("items",), []), "message.invalid", "at least 1"),
    ("deep body", "outbox", set_at(("items", 0, "body", "x"), nested(20)), "message.too_deep", ""),
    ("deep unknown", "heartbeat", set_at(("extra",), nested(50)), "message.too_deep", ""),
    ("deep unknown list", "heartbeat", set_at(("x",), deep_list(10**4)), "message.too_deep", ""),
    ("unknown set value", "heartbeat", set_at(("x",), {1, 2}), "message.invalid", "set"),
    (
        "too many unknown",
        "heartbeat",
        lambda m: m.update({f"f{i}": 1 for i in range(33)}),
        "message.invalid",
        "unknown fields",
    ),
    ("bad protocol str", "hello", set_at(("protocol",), "v1"), "message.invalid", "protocol"),
    ("bad topic", "subscribe", set_at(("topics", 0), "Session 42"), "message.invalid", "topics"),
    (
        "bad resume key",
        "subscribe",
        set_at(("resume", "no way"), {"epoch": "e", "last_seq": 1}),
        "message.invalid",
        "subscribe.resume.no way",
    ),
    (
        "resume seq bool",
        "subscribe",
        set_at(("resume", "session:42", "last_seq"), True),
        "message.invalid",
        "last_seq",
    ),
    ("topics empty", "subscribe", set_at(("topics",), []), "message.invalid", "at least 1"),
]


@pytest.mark.parametrize(
    ("base", "mutate", "code", "text"),
    [pytest.param(b, m, c, t, id=i) for i, b, m, c, t in HOSTILE],
)
def test_hostile_input_is_rejected_with_its_code(
    base: str, mutate: Callable[[dict[str, Any]], None], code: str, text: str
) -> None:
    msg = copy.deepcopy(BASES[base]())
    mutate(msg)
    registry = CLIENT_MESSAGES if base == "subscribe" else AGENT_MESSAGES
    with pytest.raises(InvalidInput) as info:
        validate_message(registry, msg, now=NOW)
    assert info.value.code == code
    assert text in info.value.message


@pytest.mark.parametrize("obj", [None, [], "heartbeat", b"\x81", 42, ({"type": "ack"},)])
def test_non_map_message_is_rejected(obj: object) -> None:
    with pytest.raises(InvalidInput) as info:
        agent(obj)
    assert info.value.code == "message.invalid"


def test_client_cannot_send_agent_messages() -> None:
    with pytest.raises(InvalidInput) as info:
        client(heartbeat())
    assert info.value.code == "message.unknown_type"


def test_error_message_names_the_field_path() -> None:
    msg = heartbeat()
    msg["health"]["cpu_load"] = math.nan
    with pytest.raises(InvalidInput) as info:
        agent(msg)
    assert info.value.message == "heartbeat.health.cpu_load: must be a finite number"
    assert info.value.details == {"path": "heartbeat.health.cpu_load"}


# -- the toolkit on its own --------------------------------------------------------------------


def test_map_can_reject_unknown_fields() -> None:
    schema = Map({"a": Int(0, 9)}, extra="reject")
    with pytest.raises(InvalidInput, match=r"message\.b: unknown field"):
        validate(schema, {"a": 1, "b": 2})


def test_map_explicit_required_overrides_optional_default() -> None:
    schema = Map({"a": Int(0, 9), "b": Optional(Bool())}, required=frozenset({"b"}))
    assert validate(schema, {"b": True}) == {"a": None, "b": True}
    with pytest.raises(InvalidInput, match="required"):
        validate(schema, {"a": 1})


def test_float_without_finite_accepts_infinity_but_never_nan() -> None:
    assert validate(Float(finite=False), math.inf) == math.inf
    with pytest.raises(InvalidInput):
        validate(Float(finite=False), math.nan)


def test_scalars() -> None:
    assert validate(Str(max_len=3), "abc") == "abc"
    assert validate(Bytes(3), bytearray(b"ab")) == b"ab"
    assert validate(Enum("a", "b"), "b") == "b"
    assert validate(Bool(), False) is False
    with pytest.raises(InvalidInput):
        validate(Bool(), 0)
    with pytest.raises(InvalidInput):
        validate(Str(min_len=1), "")
    with pytest.raises(InvalidInput):
        validate(Dict(Str(max_len=2), Int(), max_items=1), {"a": 1, "b": 2})
    assert validate(List(Int(), max_items=2), [1, 2]) == [1, 2]


def test_depth_limit_is_configurable() -> None:
    schema = Data()
    assert validate(schema, nested(3), max_depth=3) == nested(3)
    with pytest.raises(InvalidInput) as info:
        validate(schema, nested(4), max_depth=3)
    assert info.value.code == "message.too_deep"


def test_timestamp_needs_now() -> None:
    with pytest.raises(ValueError):
        validate(Timestamp(), NOW)


# -- protocol versions -------------------------------------------------------------------------


@pytest.mark.parametrize("version", ["1.0", "1.7", "1.12"])
def test_protocol_one_x_is_supported(version: str) -> None:
    check_protocol_version(version)


@pytest.mark.parametrize(
    ("version", "reason"),
    [
        ("2.0", "speaks protocol 2.0 but this server speaks 1.x"),
        ("0.9", "speaks protocol 0.9"),
        ("1", "MAJOR.MINOR"),
        ("1.0.0", "MAJOR.MINOR"),
        ("v1.0", "MAJOR.MINOR"),
        (1.0, "MAJOR.MINOR"),
        (None, "MAJOR.MINOR"),
    ],
)
def test_unknown_protocol_version_is_refused_with_a_reason(version: object, reason: str) -> None:
    with pytest.raises(InvalidInput) as info:
        check_protocol_version(version)
    assert info.value.code == "protocol.unsupported_version"
    assert reason in info.value.message


# -- robustness property -------------------------------------------------------------------------

scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=4)
)
keys = st.sampled_from(["type", "ts", "seq", "state", "x"]) | st.binary(max_size=2) | st.integers()
junk = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(keys, children, max_size=3),
    max_leaves=8,
)


def paths(value: object, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a message (map keys and list indexes)."""
    found = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            found += paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += paths(item, (*prefix, index))
    return found


@settings(max_examples=150, deadline=None)
@given(base=st.sampled_from(sorted(BASES)), data=st.data())
def test_any_corruption_of_a_valid_message_is_accepted_or_refused_with_a_message_code(
    base: str, data: st.DataObject
) -> None:
    msg = BASES[base]()
    path = data.draw(st.sampled_from(paths(msg)))
    set_at(path, data.draw(junk))(msg)
    registry = CLIENT_MESSAGES if base == "subscribe" else AGENT_MESSAGES
    try:
        message = validate_message(registry, msg, now=NOW)
    except DomainError as error:
        assert isinstance(error, InvalidInput)
        # hidden control characters in a text field have their own code, whatever the message
        assert error.code.startswith("message.") or error.code == BAD_CHARACTERS
        assert error.message.split(":")[0].startswith(("message", base))
    else:
        assert message.type == base


@settings(max_examples=100, deadline=None)
@given(fps=st.floats(), checked_in=st.integers() | st.booleans() | st.floats())
def test_heartbeat_numbers_are_accepted_only_when_finite_and_in_range(
    fps: float, checked_in: object
) -> None:
    msg = heartbeat()
    msg["health"]["stream"]["fps"] = fps
    msg["health"]["checked_in"] = checked_in
    ok_fps = math.isfinite(fps) and 0 <= fps <= 240
    ok_checked_in = type(checked_in) is int and 0 <= checked_in <= 100_000
    try:
        agent(msg)
    except InvalidInput:
        assert not (ok_fps and ok_checked_in)
    else:
        assert ok_fps and ok_checked_in
