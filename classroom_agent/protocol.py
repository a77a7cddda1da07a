"""Protocol 1.0 of ``/ws/agent``: message builders, msgpack framing and close codes.

Every builder returns the plain map that goes on the wire; the server checks it against
``AGENT_MESSAGES`` in ``server/core/messages.py`` (the agent's tests do the same).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import msgpack

from classroom_agent import __version__
from server.core.messages import (
    CLOSE_UNSUPPORTED_VERSION,
    CLOSE_WRONG_SITE,
    MAX_FRAME,
    PROTOCOL_VERSION,
)
from server.core.validation import MAX_SAFE_INT

CAPABILITIES: tuple[str, ...] = ("heartbeat", "outbox")
MAX_OUTBOX_ITEMS = 500
"""The protocol's limit per ``outbox`` message; the agent sends smaller batches."""

# Close codes (docs/agent-protocol.md, "Closing codes"); the agent-specific ones (4000-4004) are
# the server's, imported above.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_TEXT_FRAME = 1003
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009

FATAL_CLOSE_CODES: Mapping[int, str] = {
    CLOSE_UNSUPPORTED_VERSION: (
        "the server does not speak this agent's protocol version; upgrade the classroom agent"
    ),
    CLOSE_WRONG_SITE: (
        "the server says the site id does not match the site secret; check site_id and"
        " site_secret in the agent's configuration"
    ),
}
"""Close codes after which reconnecting cannot help: the agent stops (exit code 3)."""

CLIENT_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
EPOCH_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,64}")
OUTBOX_KINDS = frozenset({"checkin", "rollcall_answer", "outage_log"})
_SECRET = re.compile(r"site([1-9][0-9]{0,15})\.[A-Za-z0-9_-]+")


class ProtocolError(ValueError):
    """A frame from the server that is not a protocol 1.x message."""


def site_id_from_secret(secret: str) -> int | None:
    """The site id in a site secret ``site<ID>.<random>``; ``None`` if it has no such prefix."""
    match = _SECRET.fullmatch(secret.strip())
    return int(match.group(1)) if match else None


def agent_url(server: str) -> str:
    """The ``/ws/agent`` URL for a server address.

    ``https://host`` and ``wss://host`` give ``wss://host/ws/agent``, ``http``/``ws`` give
    ``ws://...``; a URL with its own path is used as it is.
    """
    parts = urlsplit(server.strip())
    scheme = {"http": "ws", "https": "wss", "ws": "ws", "wss": "wss"}.get(parts.scheme.lower())
    if scheme is None or not parts.hostname:
        raise ValueError(
            f"server must be a URL like wss://classroom.example.org, got {server!r:.80}"
        )
    path = parts.path if parts.path not in ("", "/") else "/ws/agent"
    return urlunsplit((scheme, parts.netloc, path, parts.query, ""))


def http_base(server: str) -> str:
    """The server's HTTP(S) origin for REST calls (``wss://host/ws/agent`` -> ``https://host``)."""
    parts = urlsplit(agent_url(server))
    return urlunsplit(({"ws": "http", "wss": "https"}[parts.scheme], parts.netloc, "", "", ""))


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the agent stands in its command stream: the last event it handled."""

    epoch: str
    seq: int


def is_valid_epoch(value: object) -> bool:
    return isinstance(value, str) and EPOCH_PATTERN.fullmatch(value) is not None


def is_valid_seq(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_SAFE_INT


# -- agent -> server --------------------------------------------------------------------------


def hello(
    site_id: int,
    cursor: Cursor | None,
    *,
    agent_version: str = __version__,
    capabilities: Sequence[str] = CAPABILITIES,
) -> dict[str, Any]:
    msg: dict[str, Any] = {
        "type": "hello",
        "protocol": PROTOCOL_VERSION,
        "agent_version": agent_version,
        "capabilities": list(capabilities),
        "site_id": site_id,
    }
    if cursor is not None:
        msg["last_seq"] = cursor.seq
        msg["epoch"] = cursor.epoch
    return msg


def heartbeat(ts: float, seq: int, health: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "heartbeat", "ts": ts, "seq": seq, "health": dict(health)}


def outbox(items: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    return {"type": "outbox", "items": [dict(item) for item in items]}


def ack(seq: int) -> dict[str, Any]:
    return {"type": "ack", "seq": seq}


def pong(nonce: int | None) -> dict[str, Any]:
    return {"type": "pong", "nonce": nonce}


# -- framing ----------------------------------------------------------------------------------


def encode(msg: Mapping[str, Any]) -> bytes:
    """One msgpack frame; raises ``ValueError`` for NaN/inf or a frame over 64 KiB."""
    _check_finite(msg, 0)
    data: bytes = msgpack.packb(msg, use_bin_type=True)
    if len(data) > MAX_FRAME:
        raise ValueError(f"{msg.get('type')} frame of {len(data)} bytes is over 64 KiB")
    return data


def _check_finite(value: object, depth: int) -> None:
    if depth > 32:
        raise ValueError("message nested too deep")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("NaN and infinity cannot be sent")
    if isinstance(value, Mapping):
        for item in value.values():
            _check_finite(item, depth + 1)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_finite(item, depth + 1)


def decode(frame: bytes | str) -> dict[str, Any]:
    """A server frame as a map with a string ``type``; raises :class:`ProtocolError`."""
    if isinstance(frame, str):
        raise ProtocolError("text frame on the msgpack socket")
    if len(frame) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(frame)} bytes is over 64 KiB")
    try:
        obj = msgpack.unpackb(
            frame,
            raw=False,
            strict_map_key=True,
            max_bin_len=MAX_FRAME,
            max_str_len=MAX_FRAME,
            max_array_len=MAX_FRAME,
            max_map_len=MAX_FRAME,
            max_ext_len=0,
        )
    except Exception as exc:  # msgpack raises several unrelated types on bad input
        raise ProtocolError(f"undecodable frame: {exc}") from None
    if not isinstance(obj, dict) or not isinstance(obj.get("type"), str):
        raise ProtocolError("frame is not a map with a string type")
    return obj


# -- server -> agent --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Welcome:
    protocol: str
    site_id: int | None
    epoch: str
    seq: int
    resume: str
    heartbeat_interval: float | None
    node_id: str
    server_version: str
    server_ts: float | None = None
    """Not in protocol 1.0's welcome; used to correct a wrong PC clock when a server sends it."""


@dataclass(frozen=True, slots=True)
class Event:
    """One event of the site's command stream."""

    topic: str
    epoch: str
    seq: int
    kind: str
    data: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Resync:
    epoch: str
    seq: int
    reason: str
    snapshot: Mapping[str, Any]


def _str(msg: Mapping[str, Any], key: str, default: str = "") -> str:
    value = msg.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ProtocolError(f"{msg.get('type')}.{key} must be a string")
    return value


def _cursor_fields(msg: Mapping[str, Any]) -> tuple[str, int]:
    epoch, seq = msg.get("epoch"), msg.get("seq")
    if not is_valid_epoch(epoch) or not is_valid_seq(seq):
        raise ProtocolError(f"{msg.get('type')} needs a valid epoch and seq")
    assert isinstance(epoch, str) and isinstance(seq, int)
    return epoch, seq


def _map(msg: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ProtocolError(f"{msg.get('type')}.{key} must be a map")
    return value


def parse_welcome(msg: Mapping[str, Any]) -> Welcome:
    epoch, seq = _cursor_fields(msg)
    interval = msg.get("heartbeat_interval")
    if interval is not None and (
        isinstance(interval, bool)
        or not isinstance(interval, int | float)
        or not math.isfinite(interval)
        or interval <= 0
    ):
        raise ProtocolError("welcome.heartbeat_interval must be a positive number")
    site_id = msg.get("site_id")
    return Welcome(
        protocol=_str(msg, "protocol"),
        site_id=site_id if is_valid_seq(site_id) else None,
        epoch=epoch,
        seq=seq,
        resume=_str(msg, "resume", "fresh"),
        heartbeat_interval=float(interval) if interval is not None else None,
        node_id=_str(msg, "node_id"),
        server_version=_str(msg, "server_version"),
        server_ts=parse_ts(msg),
    )


def parse_event(msg: Mapping[str, Any]) -> Event:
    epoch, seq = _cursor_fields(msg)
    kind = _str(msg, "kind")
    if not kind:
        raise ProtocolError("event.kind is required")
    return Event(_str(msg, "topic"), epoch, seq, kind, _map(msg, "data"))


def parse_resync(msg: Mapping[str, Any]) -> Resync:
    epoch, seq = _cursor_fields(msg)
    return Resync(epoch, seq, _str(msg, "reason"), _map(msg, "snapshot"))


def parse_seq(msg: Mapping[str, Any], key: str = "seq") -> int:
    value = msg.get(key)
    if not is_valid_seq(value):
        raise ProtocolError(f"{msg.get('type')}.{key} must be an integer >= 0")
    assert isinstance(value, int)
    return value


def parse_ts(msg: Mapping[str, Any], key: str = "server_ts") -> float | None:
    """An optional epoch-seconds field; ``None`` when absent or not a finite number."""
    value = msg.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) and number > 0 else None


def parse_results(msg: Mapping[str, Any]) -> dict[str, str]:
    results = msg.get("results")
    if not isinstance(results, dict):
        raise ProtocolError("outbox_ack.results must be a map")
    return {str(k): str(v) for k, v in results.items() if isinstance(v, str)}
