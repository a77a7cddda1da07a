"""The on-disk outbox: what the site must tell the server, kept until the server acks it.

One SQLite file in the state directory (stdlib ``sqlite3``, WAL journal, ``synchronous=FULL``:
an item :meth:`Outbox.add` returned is on disk and survives a power cut). Items leave the
outbox only when an ``outbox_ack`` names them: ``recorded`` or ``duplicate`` (the server has
it) or an error code (the server refused it for good; the caller logs it). The server records
each ``(site, id)`` once, so sending an item twice is harmless: exactly-once comes from the
client-made id, not from the network.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from classroom_agent.protocol import CLIENT_ID_PATTERN, OUTBOX_KINDS

OK_RESULTS = frozenset({"recorded", "duplicate"})
MAX_BODY_BYTES = 4096
"""Largest JSON body of one item: a batch of 100 must fit in one 64 KiB frame."""

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    pos  INTEGER PRIMARY KEY AUTOINCREMENT,
    id   TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    ts   REAL NOT NULL,
    body TEXT NOT NULL
)
"""


def new_item_id(now: float, random_bytes: bytes) -> str:
    """A sortable client id like a ULID: 48-bit milliseconds + 80 random bits, 26 characters
    of Crockford base32 (matches the protocol's ``[A-Za-z0-9][A-Za-z0-9_-]*``, <= 64)."""
    if len(random_bytes) != 10:
        raise ValueError("new_item_id needs exactly 10 random bytes")
    millis = max(0, int(now * 1000)) & ((1 << 48) - 1)
    number = (millis << 80) | int.from_bytes(random_bytes, "big")
    chars = []
    for _ in range(26):
        chars.append(_CROCKFORD[number & 31])
        number >>= 5
    return "".join(reversed(chars))


@dataclass(frozen=True, slots=True)
class OutboxItem:
    id: str
    kind: str
    ts: float
    body: Mapping[str, Any]

    def to_wire(self) -> dict[str, Any]:
        """The item as it goes into an ``outbox`` message."""
        return {"id": self.id, "kind": self.kind, "ts": self.ts, "body": dict(self.body)}


@dataclass(frozen=True, slots=True)
class AckOutcome:
    """What :meth:`Outbox.acknowledge` did."""

    removed: tuple[str, ...] = ()
    """Ids the server has (``recorded`` or ``duplicate``), now gone from the outbox."""
    refused: tuple[tuple[OutboxItem, str], ...] = field(default=())
    """Items the server refused for good, with its error code; also gone from the outbox."""
    unknown: tuple[str, ...] = ()
    """Ids named in the ack that were not (or no longer) in the outbox: a repeated ack."""


class Outbox:
    """A durable FIFO of outbox items in one SQLite file. Not thread-safe: one event loop."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Checkpoint the WAL into the main file and close (safe to call twice)."""
        try:
            self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.ProgrammingError:
            return  # already closed
        self._db.close()

    def add(
        self,
        kind: str,
        body: Mapping[str, Any],
        *,
        ts: float | None = None,
        item_id: str | None = None,
    ) -> str:
        """Queue one item durably and return its id (made here unless ``item_id`` is given)."""
        if kind not in OUTBOX_KINDS:
            raise ValueError(f"outbox kind must be one of {sorted(OUTBOX_KINDS)}, got {kind!r}")
        if ts is None:
            ts = time.time()
        if item_id is None:
            item_id = new_item_id(ts, os.urandom(10))
        if CLIENT_ID_PATTERN.fullmatch(item_id) is None:
            raise ValueError(f"outbox id {item_id!r:.80} must match [A-Za-z0-9][A-Za-z0-9_-]*")
        text = json.dumps(dict(body), ensure_ascii=False, allow_nan=False, separators=(",", ":"))
        if len(text.encode("utf-8")) > MAX_BODY_BYTES:
            raise ValueError(f"outbox body over {MAX_BODY_BYTES} bytes")
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute(
                "INSERT INTO outbox (id, kind, ts, body) VALUES (?, ?, ?, ?)",
                (item_id, kind, float(ts), text),
            )
        return item_id

    def pending(
        self, limit: int = 100, *, exclude: frozenset[str] = frozenset()
    ) -> list[OutboxItem]:
        """Up to ``limit`` unacknowledged items, oldest first, skipping ids in ``exclude``."""
        if limit <= 0:
            return []
        out: list[OutboxItem] = []
        rows = self._db.execute("SELECT id, kind, ts, body FROM outbox ORDER BY pos")
        for item_id, kind, ts, body in rows:
            if item_id in exclude:
                continue
            out.append(OutboxItem(item_id, kind, ts, json.loads(body)))
            if len(out) >= limit:
                break
        return out

    def get(self, item_id: str) -> OutboxItem | None:
        row = self._db.execute(
            "SELECT id, kind, ts, body FROM outbox WHERE id = ?", (item_id,)
        ).fetchone()
        return None if row is None else OutboxItem(row[0], row[1], row[2], json.loads(row[3]))

    def __len__(self) -> int:
        (count,) = self._db.execute("SELECT count(*) FROM outbox").fetchone()
        return int(count)

    def acknowledge(self, results: Mapping[str, str]) -> AckOutcome:
        """Apply an ``outbox_ack``: every named item leaves the outbox (one transaction).

        ``recorded``/``duplicate`` mean the server has the item; anything else is an error
        code: the server refused the item for good, and it is returned in ``refused`` so the
        caller can log it. Ids not in the outbox (a repeated ack) are ignored.
        """
        removed: list[str] = []
        refused: list[tuple[OutboxItem, str]] = []
        unknown: list[str] = []
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            for item_id, result in results.items():
                row = self._db.execute(
                    "SELECT id, kind, ts, body FROM outbox WHERE id = ?", (item_id,)
                ).fetchone()
                if row is None:
                    unknown.append(item_id)
                    continue
                self._db.execute("DELETE FROM outbox WHERE id = ?", (item_id,))
                if result in OK_RESULTS:
                    removed.append(item_id)
                else:
                    item = OutboxItem(row[0], row[1], row[2], json.loads(row[3]))
                    refused.append((item, result))
        return AckOutcome(tuple(removed), tuple(refused), tuple(unknown))

    def expire(self, older_than: float) -> list[OutboxItem]:
        """Remove and return items whose ``ts`` is before ``older_than``.

        The server rejects items over 7 days old (and the whole ``outbox`` message with
        them), so the agent drops such items instead of resending them forever.
        """
        rows = self._db.execute(
            "SELECT id, kind, ts, body FROM outbox WHERE ts < ? ORDER BY pos", (older_than,)
        ).fetchall()
        if rows:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany("DELETE FROM outbox WHERE id = ?", [(row[0],) for row in rows])
        return [OutboxItem(r[0], r[1], r[2], json.loads(r[3])) for r in rows]
