"""The live fan-out bus: the port every adapter implements, and the types it speaks.

The bus carries what is LIVE, never what is true: the SQL store holds every record; the bus
numbers the events of each topic (sequence numbers within an epoch, see
:mod:`server.core.topics`), fans them out to every server process, keeps a bounded history per
topic so that a reconnecting client can resume, and holds short-lived presence keys. Losing
the bus (a Redis restart) may drop live events; clients then resync from the store.

Contract (proved for every adapter by ``tests/bus/test_bus_contract.py``):

- :meth:`Bus.publish` gives the topic's next sequence number (1, 2, 3... per topic and epoch,
  without gaps or duplicates even when several processes publish at once) and returns the event.
- Each process registers ONE handler with :meth:`Bus.subscribe`; it receives every event
  published on ANY topic by ANY process, its own included, in sequence order per topic. The
  handler is a plain function called on the bus's delivery task: it must not block (hand the
  event to per-socket queues and return). An exception in it is logged and the next event is
  delivered anyway.
- After the bus lost its connection and got it back, the optional ``on_gap`` callback is
  called (with ``None``: "any topic may have missed events"); the app tells its clients to
  resume or resync.
- :meth:`Bus.resume` answers a client's ``(epoch, last_seq)`` with exactly the missed events
  (:class:`Replay`) or :class:`Resync`, with the semantics of :meth:`TopicLog.resume`.
- The epoch of a topic is a random string made when the topic's counter is created; when the
  bus loses its data, the next use of the topic makes a new epoch, so old cursors resync.
- Payloads are maps of msgpack types (use string keys: browsers get them as JSON); every
  adapter round-trips them through msgpack, so the in-memory bus refuses what Redis would
  refuse (``bus.bad_payload``) and tuples come back as lists everywhere.
"""

from __future__ import annotations

import abc
import logging
import os
import secrets
import socket
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import msgpack

from server.core.errors import DomainError, InvalidInput
from server.core.topics import Cursor, Replay, Resync, TopicEvent, is_topic_name

__all__ = [
    "DEFAULT_HISTORY",
    "Bus",
    "BusEvent",
    "BusUnavailable",
    "EventHandler",
    "GapHandler",
    "PresenceRecord",
    "check_topic",
    "check_ttl",
    "check_type",
    "decode_payload",
    "encode_payload",
    "new_epoch",
    "new_node_id",
]

log = logging.getLogger(__name__)

DEFAULT_HISTORY = 1024
"""Events kept per topic for resume, unless an adapter is configured otherwise."""


class BusUnavailable(DomainError):
    """The bus cannot be reached (Redis down or reconnecting, or the bus is closed)."""

    def __init__(self, message: str = "", details: Any = None) -> None:
        super().__init__(
            "bus.unavailable",
            message or "Live updates are reconnecting; try again in a few seconds.",
            details,
        )


@dataclass(frozen=True, slots=True)
class BusEvent(TopicEvent):
    """A published event as the bus delivers it: the topic event plus where it belongs.

    ``epoch`` is the topic's epoch the event was numbered in (clients resume with it);
    ``origin`` is the ``node_id`` of the process that published it (for metrics, and for
    presence: a site's change reported by another process).
    """

    topic: str
    epoch: str
    origin: str

    def plain(self) -> TopicEvent:
        """The event as a :class:`TopicEvent` (what :class:`Replay` holds)."""
        return TopicEvent(self.seq, self.type, self.payload)


@dataclass(frozen=True, slots=True)
class PresenceRecord:
    """The live presence of one site, written by the node that holds its agent's socket."""

    site_id: int
    node_id: str
    state: str
    data: Mapping[str, Any]
    updated_at: float


EventHandler = Callable[[str, BusEvent], None]
"""``handler(topic, event)``: called for every event on every topic; must not block."""

GapHandler = Callable[[frozenset[str] | None], None]
"""``on_gap(topics)``: events may have been missed on these topics (``None``: on any topic)."""


class Bus(abc.ABC):
    """The port. One instance per server process; ``node_id`` names the process. What every
    adapter does alike lives here: checking the arguments of the public methods (so every
    adapter refuses the same topics, types, payloads and ttls with the same codes), the one
    handler and gap callback, and calling them. An adapter implements the ``_``-methods, which
    get the arguments checked and the payload already msgpack-encoded."""

    node_id: str
    _handler: EventHandler | None = None
    _on_gap: GapHandler | None = None

    @abc.abstractmethod
    async def start(self) -> None:
        """Connect and begin delivering to the subscribed handler."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop delivering and release connections; idempotent. Later calls raise
        :class:`BusUnavailable`."""

    def subscribe(self, handler: EventHandler, on_gap: GapHandler | None = None) -> None:
        """Register the process's one handler (and gap callback); a second call raises."""
        if self._handler is not None:
            raise RuntimeError("this bus already has its handler; a process registers one")
        self._handler = handler
        self._on_gap = on_gap

    async def publish(self, topic: str, type: str, payload: Mapping[str, Any]) -> BusEvent:
        """Number the event with the topic's next seq, keep it in the history, fan it out."""
        return await self._publish(check_topic(topic), check_type(type), encode_payload(payload))

    async def resume(self, topic: str, epoch: str, last_seq: int) -> Replay | Resync:
        """What a client that last saw ``(epoch, last_seq)`` on ``topic`` must do."""
        return await self._resume(check_topic(topic), epoch, last_seq)

    async def cursor(self, topic: str) -> Cursor:
        """The topic's epoch and last seq (creating the topic's epoch if it has none)."""
        return await self._cursor(check_topic(topic))

    async def set_presence(
        self, site_id: int, node_id: str, state: str, data: Mapping[str, Any], ttl: float
    ) -> None:
        """Write the site's presence; it disappears ``ttl`` seconds later unless rewritten."""
        seconds = check_ttl(ttl)
        await self._set_presence(site_id, node_id, state, encode_payload(data), seconds)

    @abc.abstractmethod
    async def _publish(self, topic: str, type: str, packed: bytes) -> BusEvent:
        """:meth:`publish`; ``packed`` is the payload's msgpack encoding."""

    @abc.abstractmethod
    async def _resume(self, topic: str, epoch: str, last_seq: int) -> Replay | Resync:
        """:meth:`resume` of a checked topic."""

    @abc.abstractmethod
    async def _cursor(self, topic: str) -> Cursor:
        """:meth:`cursor` of a checked topic."""

    @abc.abstractmethod
    async def _set_presence(
        self, site_id: int, node_id: str, state: str, packed: bytes, seconds: float
    ) -> None:
        """:meth:`set_presence`; ``packed`` is the data's msgpack encoding, ``seconds`` the ttl."""

    @abc.abstractmethod
    async def get_presence(self, site_ids: Iterable[int]) -> dict[int, PresenceRecord]:
        """The live presence of those of ``site_ids`` that have one."""

    @abc.abstractmethod
    async def clear_presence(self, site_id: int, node_id: str) -> None:
        """Remove the site's presence if ``node_id`` still owns it (a newer connection on
        another node keeps its own)."""

    def _dispatch(self, event: BusEvent) -> None:
        """Call the process's handler; a failing handler is logged, never fatal to delivery."""
        if self._handler is None:
            return
        try:
            self._handler(event.topic, event)
        except Exception:
            log.exception("bus handler failed on %s seq %d", event.topic, event.seq)

    def _notify_gap(self, topics: frozenset[str] | None) -> None:
        """Tell the gap callback that events may have been missed (``None``: on any topic)."""
        if self._on_gap is None:
            return
        try:
            self._on_gap(topics)
        except Exception:
            log.exception("bus on_gap callback failed")


def check_topic(topic: str) -> str:
    if not isinstance(topic, str) or not is_topic_name(topic):
        raise InvalidInput(
            "bus.bad_topic",
            f"{topic!r} is not a topic name; use e.g. 'session:42' or 'site:12'",
            {"topic": str(topic)[:200]},
        )
    return topic


def check_type(type: str) -> str:
    if not isinstance(type, str) or not type or len(type) > 64:
        raise InvalidInput("bus.bad_type", "an event type must be a non-empty string of <= 64")
    return type


def check_ttl(ttl: float) -> float:
    if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
        raise InvalidInput("bus.bad_ttl", "presence ttl must be a number of seconds > 0")
    return float(ttl)


def encode_payload(payload: Mapping[str, Any]) -> bytes:
    """msgpack bytes of a payload map; :class:`InvalidInput` for what msgpack cannot carry."""
    if not isinstance(payload, Mapping):
        raise InvalidInput("bus.bad_payload", "an event payload must be a map")
    try:
        packed: bytes = msgpack.packb(payload, use_bin_type=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(
            "bus.bad_payload", f"the event payload cannot be encoded: {exc}"
        ) from exc
    return packed


def decode_payload(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False, strict_map_key=False)


def new_epoch() -> str:
    """A fresh random epoch (12 URL-safe characters, 72 bits)."""
    return secrets.token_urlsafe(9)


def new_node_id() -> str:
    """``host-pid-random``: unique per bus instance, readable in metrics."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
