"""The on-disk outbox, on a real SQLite file."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from classroom_agent.outbox import Outbox
from classroom_agent.protocol import CLIENT_ID_PATTERN

NOW = 1_780_000_000.0
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Outbox]:
    outbox = Outbox(tmp_path / "outbox.db")
    yield outbox
    outbox.close()


def test_add_returns_a_protocol_id_and_the_item_is_pending(box: Outbox) -> None:
    item_id = box.add("checkin", {"trainee_id": 1, "session_id": 2}, ts=NOW)
    assert CLIENT_ID_PATTERN.fullmatch(item_id) and len(item_id) <= 64
    [item] = box.pending()
    assert (item.id, item.kind, item.ts, dict(item.body)) == (
        item_id,
        "checkin",
        NOW,
        {"trainee_id": 1, "session_id": 2},
    )


def test_pending_is_oldest_first_and_limited(box: Outbox) -> None:
    ids = [box.add("checkin", {"n": n}, ts=NOW - n) for n in range(5)]  # ts order differs
    assert [i.id for i in box.pending(3)] == ids[:3]
    assert [i.id for i in box.pending(100)] == ids
    assert [i.id for i in box.pending(2, exclude=frozenset(ids[:2]))] == ids[2:4]
    assert box.pending(0) == []
    assert len(box) == 5


def test_recorded_and_duplicate_acks_remove_items(box: Outbox) -> None:
    a = box.add("checkin", {"n": 1}, ts=NOW)
    b = box.add("checkin", {"n": 2}, ts=NOW)
    c = box.add("checkin", {"n": 3}, ts=NOW)
    outcome = box.acknowledge({a: "recorded", b: "duplicate"})
    assert set(outcome.removed) == {a, b} and outcome.refused == ()
    assert [i.id for i in box.pending()] == [c]


def test_repeated_ack_is_harmless(box: Outbox) -> None:
    a = box.add("checkin", {"n": 1}, ts=NOW)
    b = box.add("checkin", {"n": 2}, ts=NOW)
    box.acknowledge({a: "recorded"})
    again = box.acknowledge({a: "recorded", "never-sent": "duplicate"})
    assert again.removed == () and set(again.unknown) == {a, "never-sent"}
    assert [i.id for i in box.pending()] == [b]


def test_an_error_code_removes_the_item_and_hands_it_back_for_the_log(box: Outbox) -> None:
    a = box.add("rollcall_answer", {"roll_call_id": 4}, ts=NOW)
    outcome = box.acknowledge({a: "rollcall.closed"})
    [(item, code)] = outcome.refused
    assert (item.id, item.kind, code) == (a, "rollcall_answer", "rollcall.closed")
    assert dict(item.body) == {"roll_call_id": 4}
    assert len(box) == 0


def test_items_survive_closing_and_reopening(tmp_path: Path) -> None:
    with Outbox(tmp_path / "o.db") as first:
        a = first.add("checkin", {"trainee_id": 1}, ts=NOW)
        b = first.add("outage_log", {"from": NOW - 5, "to": NOW, "reason": "x"}, ts=NOW)
        first.acknowledge({a: "recorded"})
    with Outbox(tmp_path / "o.db") as second:
        assert [i.id for i in second.pending()] == [b]
        c = second.add("checkin", {"trainee_id": 2}, ts=NOW)
        assert [i.id for i in second.pending()] == [b, c]


def test_an_added_item_survives_a_crash_of_the_process(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    script = textwrap.dedent(
        f"""
        import os
        from classroom_agent.outbox import Outbox
        box = Outbox({str(path)!r})
        print(box.add("checkin", {{"trainee_id": 77, "session_id": 1}}, ts={NOW}), flush=True)
        os._exit(9)  # no close, no checkpoint: like a power cut right after add()
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 9, run.stderr
    item_id = run.stdout.strip()
    with Outbox(path) as box:
        [item] = box.pending()
        assert item.id == item_id and dict(item.body) == {"trainee_id": 77, "session_id": 1}


def test_the_database_is_in_wal_mode(box: Outbox) -> None:
    box.add("checkin", {}, ts=NOW)
    con = sqlite3.connect(box.path)
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        con.close()


def test_expire_drops_items_older_than_the_limit(box: Outbox) -> None:
    old = box.add("checkin", {"n": 1}, ts=NOW - 8 * 86400)
    new = box.add("checkin", {"n": 2}, ts=NOW)
    assert [i.id for i in box.expire(NOW - 7 * 86400)] == [old]
    assert [i.id for i in box.pending()] == [new]
    assert box.expire(NOW - 7 * 86400) == []


@pytest.mark.parametrize(
    ("kind", "body", "item_id", "error"),
    [
        ("vote", {}, None, "kind"),
        ("checkin", {"x": float("nan")}, None, "NaN|Out of range"),
        ("checkin", {"x": "y" * 5000}, None, "4096"),
        ("checkin", {}, "-starts-with-dash", "must match"),
        ("checkin", {}, "x" * 65, "must match"),
    ],
)
def test_bad_items_are_refused_before_they_reach_the_disk(
    box: Outbox, kind: str, body: dict[str, object], item_id: str | None, error: str
) -> None:
    with pytest.raises(ValueError, match=error):
        box.add(kind, body, ts=NOW, item_id=item_id)
    assert len(box) == 0


def test_closing_twice_is_harmless(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.close()
    box.close()
