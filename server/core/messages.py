"""Socket messages: their schemas by ``type``, :func:`validate_message`, the protocol version.

Two sockets, one shape: every message is a flat map ``{"type": "heartbeat", "ts": ..., ...}``.

- ``AGENT_MESSAGES``: agent -> server over ``/ws/agent`` (msgpack), protocol 1.x; an agent's
  ``hello`` carries its version, checked by :func:`check_protocol_version`.
- ``CLIENT_MESSAGES``: browser -> server over ``/ws/client`` (JSON).

The fields are specs of the schema toolkit (:mod:`server.core.validation`), so the same rules
hold here as in request bodies: bounded sizes and depth, string keys, finite numbers, unknown
fields dropped (a newer 1.x agent may add optional ones), absent optional fields as ``None``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from server.core.errors import InvalidInput
from server.core.topics import TOPIC_MAX_LEN, TOPIC_PATTERN
from server.core.validation import (
    INVALID,
    MAX_DEPTH,
    MAX_SAFE_INT,
    Dict,
    Enum,
    Float,
    Int,
    List,
    Map,
    MapOf,
    Optional,
    Str,
    Timestamp,
    validate,
)

UNKNOWN_TYPE = "message.unknown_type"
UNSUPPORTED_VERSION = "protocol.unsupported_version"


def _invalid(path: str, reason: str) -> InvalidInput:
    return InvalidInput(INVALID, f"{path}: {reason}", {"path": path})


@dataclass(frozen=True, slots=True)
class Message:
    """A validated message: its ``type`` and its fields (without ``type``)."""

    type: str
    body: dict[str, Any]


def validate_message(
    registry: Mapping[str, Map],
    obj: object,
    *,
    now: float | None = None,
    max_depth: int = MAX_DEPTH,
) -> Message:
    """Validate a decoded ``{"type": ..., ...}`` message against the schema of its type."""
    if not isinstance(obj, dict):
        raise _invalid("message", "must be a map with a type field")
    kind = obj.get("type")
    if kind is None:
        raise _invalid("message.type", "is required")
    if not isinstance(kind, str):
        raise _invalid("message.type", "must be a string")
    schema = registry.get(kind)
    if schema is None:
        shown = kind if len(kind) <= 40 else kind[:37] + "..."
        raise InvalidInput(
            UNKNOWN_TYPE,
            f"message.type: unknown message type {shown!r}; expected one of: "
            + ", ".join(sorted(registry)),
            {"path": "message.type", "type": shown},
        )
    fields = {k: v for k, v in obj.items() if k != "type"}
    body = validate(schema, fields, now=now, path=kind, max_depth=max_depth)
    return Message(kind, body)


# -- protocol versions ------------------------------------------------------------------------

PROTOCOL_VERSION = "1.0"
MAX_FRAME = 64 * 1024
"""The largest frame either side of a socket sends or accepts (documented: a frame of 65,536
bytes passes, 65,537 closes with 1009)."""
# The close codes of /ws/agent the server sends and the agent reads (docs/agent-protocol.md,
# "Closing codes").
CLOSE_HELLO_TIMEOUT = 4000
CLOSE_UNSUPPORTED_VERSION = 4002
CLOSE_REPLACED = 4003
CLOSE_WRONG_SITE = 4004
SUPPORTED_MAJOR_VERSIONS = frozenset({1})
_VERSION = re.compile(r"(\d{1,3})\.(\d{1,3})")


def check_protocol_version(version: object) -> None:
    """Accept any ``1.x`` protocol version; otherwise raise ``protocol.unsupported_version``."""
    supported = ", ".join(f"{m}.x" for m in sorted(SUPPORTED_MAJOR_VERSIONS))
    match = _VERSION.fullmatch(version) if isinstance(version, str) else None
    if match is None:
        raise InvalidInput(
            UNSUPPORTED_VERSION,
            f"protocol version {version!r:.40} is not of the form MAJOR.MINOR;"
            f" this server speaks {supported}",
            {"supported": sorted(SUPPORTED_MAJOR_VERSIONS)},
        )
    if int(match.group(1)) not in SUPPORTED_MAJOR_VERSIONS:
        raise InvalidInput(
            UNSUPPORTED_VERSION,
            f"the agent speaks protocol {version} but this server speaks {supported};"
            " install a matching agent or upgrade the server",
            {"version": version, "supported": sorted(SUPPORTED_MAJOR_VERSIONS)},
        )


# -- the agent protocol v1 (msgpack over /ws/agent) ------------------------------------------

SEQ = Int(0, MAX_SAFE_INT)
EPOCH = Str(max_len=64, min_len=1, pattern=r"[A-Za-z0-9_.:-]+")
TOPIC = Str(max_len=TOPIC_MAX_LEN, pattern=TOPIC_PATTERN.pattern)
CLIENT_ID = Str(max_len=64, min_len=1, pattern=r"[A-Za-z0-9][A-Za-z0-9_-]*")
OUTBOX_MAX_AGE = 7 * 24 * 3600.0
"""Outbox items are queued while a site is offline, so their ``ts`` may be up to 7 days old."""

STREAM = Map(
    {
        "state": Enum("ok", "bad", "none"),
        "fps": Optional(Float(0, 240)),
        "bitrate_kbps": Optional(Float(0, 1_000_000)),
        "freezes_1m": Optional(Int(0, 10_000)),
        "delay_ms": Optional(Float(0, 3_600_000)),
    }
)

HEALTH = Map(
    {
        "uptime_s": Float(0, 10 * 365 * 24 * 3600.0),
        "rtt_ms": Optional(Float(0, 600_000)),
        "cpu_load": Float(0, 1),  # share of all cores busy, 0.0 to 1.0
        "display_state": Enum("ok", "off", "error", "none"),
        "stream": STREAM,
        "checked_in": Int(0, 100_000),
    }
)

OUTBOX_ITEM = Map(
    {
        "id": CLIENT_ID,
        "kind": Enum("checkin", "rollcall_answer", "outage_log"),
        "ts": Timestamp(max_past=OUTBOX_MAX_AGE, max_future=600),
        "body": MapOf(max_items=64, max_len=2000),
    }
)

SDP = Str(max_len=32_000, min_len=10)
"""A complete offer (non-trickle ICE: the candidates are in it)."""
MEDIA_SESSION = Int(1, 2**31 - 1)
MEDIA_REQUEST = Str(max_len=32, min_len=1, pattern=r"[A-Za-z0-9_-]+")

AGENT_MESSAGES: dict[str, Map] = {
    "hello": Map(
        {
            "protocol": Str(max_len=16, pattern=r"\d{1,3}\.\d{1,3}"),
            "agent_version": Str(max_len=32, min_len=1, pattern=r"[0-9A-Za-z][0-9A-Za-z.+_-]*"),
            "capabilities": List(Str(max_len=32, pattern=r"[a-z][a-z0-9_.-]*"), max_items=32),
            "site_id": Int(1, MAX_SAFE_INT),
            "last_seq": Optional(SEQ),
            "epoch": Optional(EPOCH),
        }
    ),
    "heartbeat": Map({"ts": Timestamp(), "seq": SEQ, "health": HEALTH}),
    "outbox": Map({"items": List(OUTBOX_ITEM, max_items=500, min_items=1)}),
    "ack": Map({"seq": SEQ}),
    "pong": Map({"nonce": Optional(SEQ)}),
    "media_offer": Map(
        {"session_id": MEDIA_SESSION, "role": Enum("publish", "subscribe"), "sdp": SDP}
    ),
    "media_close": Map({"session_id": MEDIA_SESSION, "role": Enum("publish", "subscribe")}),
    "upstream_lost": Map({"session_id": MEDIA_SESSION, "site_id": Int(1, MAX_SAFE_INT)}),
    "relay_answer": Map({"session_id": MEDIA_SESSION, "site_id": Int(1, MAX_SAFE_INT), "sdp": SDP}),
    "relay_error": Map(
        {
            "session_id": MEDIA_SESSION,
            "site_id": Int(1, MAX_SAFE_INT),
            "code": Str(max_len=64, min_len=1),
            "message": Str(max_len=500),
        }
    ),
}
"""Agent -> server messages of protocol 1.x, by ``type``."""

# -- the browser socket (JSON over /ws/client) -----------------------------------------------

CLIENT_MESSAGES: dict[str, Map] = {
    "subscribe": Map(
        {
            "topics": List(TOPIC, max_items=16, min_items=1),
            "resume": Optional(Dict(TOPIC, Map({"epoch": EPOCH, "last_seq": SEQ}), max_items=16)),
        }
    ),
    "unsubscribe": Map({"topics": List(TOPIC, max_items=16, min_items=1)}),
    "ping": Map({"nonce": Optional(SEQ)}),
    "media_offer": Map(
        {
            "session_id": MEDIA_SESSION,
            "role": Enum("publish", "view", "site"),
            "site_id": Optional(Int(1, 2**31 - 1)),
            "request_id": Optional(MEDIA_REQUEST),
            "sdp": SDP,
        }
    ),
    "media_close": Map({"session_id": MEDIA_SESSION, "request_id": Optional(MEDIA_REQUEST)}),
}
"""Browser -> server messages, by ``type``."""
