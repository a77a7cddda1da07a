"""Topic sequencing: sequence numbers, epochs, a bounded history and resume after reconnect.

Every event published to a topic (``session:42``, ``session:42:presence``) gets the next
sequence number (1, 2, 3...) within the topic's current ``epoch``. The epoch is an opaque
string chosen by the caller (the core makes no random numbers and reads no clock); it must
change whenever the history is lost (a server or bus restart), and :meth:`TopicLog.reset`
starts a new epoch with the sequence back at 1.

A reconnecting client sends the ``(epoch, last_seq)`` it last saw. :meth:`TopicLog.resume`
answers with either :class:`Replay` (the missed events, in order, possibly none) or
:class:`Resync` (fetch a fresh snapshot, then follow from ``Resync.last_seq``) when the epoch
differs, the missed events fell out of the bounded history, or ``last_seq`` is from the future.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from server.core.errors import InvalidInput

TOPIC_PATTERN = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9_-]+)*")
"""Topic names: a lower-case kind then ``:``-separated parts, e.g. ``session:42:presence``."""

TOPIC_MAX_LEN = 128


def session_topic(session_id: int) -> str:
    """The main topic of a live session: ``session:42``."""
    return f"session:{session_id}"


def session_presence_topic(session_id: int) -> str:
    """The presence topic of a live session: ``session:42:presence``."""
    return f"session:{session_id}:presence"


def is_topic_name(name: str) -> bool:
    return len(name) <= TOPIC_MAX_LEN and TOPIC_PATTERN.fullmatch(name) is not None


@dataclass(frozen=True, slots=True)
class TopicEvent:
    """One published event; ``payload`` is a private copy of what was published."""

    seq: int
    type: str
    payload: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where a reader stands in a topic."""

    epoch: str
    last_seq: int


@dataclass(frozen=True, slots=True)
class Replay:
    """The events after the client's ``last_seq``, in order; the client is now at ``last_seq``."""

    epoch: str
    events: tuple[TopicEvent, ...]
    last_seq: int


class ResyncReason(StrEnum):
    EPOCH_CHANGED = "epoch_changed"  # the history was lost (restart) since the client's epoch
    HISTORY_LOST = "history_lost"  # the missed events fell out of the bounded history
    FUTURE_SEQ = "future_seq"  # the client claims events this topic never published


@dataclass(frozen=True, slots=True)
class Resync:
    """The client must reload a snapshot and follow from ``(epoch, last_seq)``."""

    reason: ResyncReason
    epoch: str
    last_seq: int


class TopicLog:
    """The last ``capacity`` events of one topic, with their sequence numbers."""

    __slots__ = ("_capacity", "_epoch", "_events", "_last_seq", "topic")

    def __init__(self, topic: str, epoch: str, capacity: int = 1024) -> None:
        if not is_topic_name(topic):
            raise ValueError(f"bad topic name {topic!r}")
        if not epoch:
            raise ValueError("epoch must be a non-empty string")
        if capacity < 1:
            raise ValueError("capacity must be at least 1")
        self.topic = topic
        self._epoch = epoch
        self._capacity = capacity
        self._events: deque[TopicEvent] = deque(maxlen=capacity)
        self._last_seq = 0

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def capacity(self) -> int:
        return self._capacity

    @property
    def last_seq(self) -> int:
        """The sequence number of the newest event (0 before the first)."""
        return self._last_seq

    @property
    def oldest_seq(self) -> int:
        """The sequence number of the oldest event still held (``last_seq + 1`` when empty)."""
        return self._last_seq - len(self._events) + 1

    def cursor(self) -> Cursor:
        return Cursor(self._epoch, self._last_seq)

    def __len__(self) -> int:
        return len(self._events)

    def publish(self, type: str, payload: Mapping[str, Any]) -> TopicEvent:
        """Append an event with the next sequence number; the oldest drops out when full."""
        self._last_seq += 1
        event = TopicEvent(self._last_seq, type, dict(payload))
        self._events.append(event)
        return event

    def reset(self, epoch: str) -> None:
        """The history is lost: start ``epoch`` (which must be new) with the sequence at 0."""
        if not epoch or epoch == self._epoch:
            raise ValueError("a reset needs a new, non-empty epoch")
        self._epoch = epoch
        self._events.clear()
        self._last_seq = 0

    def resume(self, epoch: str, last_seq: int) -> Replay | Resync:
        """What a client that last saw ``(epoch, last_seq)`` must do to catch up."""
        if isinstance(last_seq, bool) or not isinstance(last_seq, int) or last_seq < 0:
            raise InvalidInput(
                "topic.bad_cursor",
                f"{self.topic}: last_seq must be a whole number >= 0; subscribe without resume",
                {"topic": self.topic},
            )
        if epoch != self._epoch:
            return self._resync(ResyncReason.EPOCH_CHANGED)
        if last_seq > self._last_seq:
            return self._resync(ResyncReason.FUTURE_SEQ)
        if last_seq < self.oldest_seq - 1:
            return self._resync(ResyncReason.HISTORY_LOST)
        return Replay(self._epoch, self.events_after(last_seq), self._last_seq)

    def events_after(self, last_seq: int) -> tuple[TopicEvent, ...]:
        """The held events with ``seq > last_seq``, oldest first."""
        skip = max(0, last_seq - self.oldest_seq + 1)
        return tuple(itertools.islice(self._events, skip, None))

    def _resync(self, reason: ResyncReason) -> Resync:
        return Resync(reason, self._epoch, self._last_seq)
