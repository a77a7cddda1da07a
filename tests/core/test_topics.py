from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import InvalidInput
from server.core.topics import (
    Cursor,
    Replay,
    Resync,
    ResyncReason,
    TopicEvent,
    TopicLog,
    is_topic_name,
    session_presence_topic,
    session_topic,
)


def filled(count: int, capacity: int = 5, epoch: str = "e1") -> TopicLog:
    log = TopicLog("session:42", epoch, capacity)
    for i in range(count):
        log.publish("question.added", {"n": i + 1})
    return log


def test_publish_numbers_events_from_one() -> None:
    log = TopicLog("session:42", "e1")
    first = log.publish("session.started", {"at": 1.0})
    second = log.publish("question.added", {"id": 9})
    assert (first.seq, second.seq) == (1, 2)
    assert log.cursor() == Cursor("e1", 2)
    assert second == TopicEvent(2, "question.added", {"id": 9})


def test_published_payload_is_a_private_copy() -> None:
    log = TopicLog("session:42", "e1")
    payload = {"id": 1}
    event = log.publish("x", payload)
    payload["id"] = 2
    assert event.payload == {"id": 1}


def test_resume_replays_missed_events_in_order() -> None:
    log = filled(4)
    result = log.resume("e1", 1)
    assert isinstance(result, Replay)
    assert [e.seq for e in result.events] == [2, 3, 4]
    assert (result.epoch, result.last_seq) == ("e1", 4)


def test_resume_when_up_to_date_replays_nothing() -> None:
    assert filled(3).resume("e1", 3) == Replay("e1", (), 3)


def test_resume_of_an_empty_topic_from_zero_replays_nothing() -> None:
    assert TopicLog("session:1", "e1").resume("e1", 0) == Replay("e1", (), 0)


def test_resume_from_zero_replays_everything_while_nothing_was_dropped() -> None:
    result = filled(5, capacity=5).resume("e1", 0)
    assert isinstance(result, Replay)
    assert [e.seq for e in result.events] == [1, 2, 3, 4, 5]


def test_resume_with_another_epoch_asks_for_resync() -> None:
    assert filled(3).resume("old", 3) == Resync(ResyncReason.EPOCH_CHANGED, "e1", 3)


def test_resume_past_the_bounded_history_asks_for_resync() -> None:
    log = filled(8, capacity=5)  # holds 4..8
    assert log.oldest_seq == 4
    assert log.resume("e1", 2) == Resync(ResyncReason.HISTORY_LOST, "e1", 8)
    replay = log.resume("e1", 3)  # the first missed event (4) is still held
    assert isinstance(replay, Replay) and [e.seq for e in replay.events] == [4, 5, 6, 7, 8]


def test_resume_from_the_future_asks_for_resync() -> None:
    assert filled(3).resume("e1", 4) == Resync(ResyncReason.FUTURE_SEQ, "e1", 3)


def test_reset_starts_a_new_epoch_and_old_cursors_resync() -> None:
    log = filled(3)
    log.reset("e2")
    assert log.cursor() == Cursor("e2", 0) and len(log) == 0
    assert log.resume("e1", 3) == Resync(ResyncReason.EPOCH_CHANGED, "e2", 0)
    assert log.publish("x", {}).seq == 1
    with pytest.raises(ValueError):
        log.reset("e2")


@pytest.mark.parametrize("bad", [-1, True, 1.5])
def test_resume_rejects_a_malformed_cursor(bad: object) -> None:
    with pytest.raises(InvalidInput) as info:
        filled(1).resume("e1", bad)  # type: ignore[arg-type]
    assert info.value.code == "topic.bad_cursor"


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("session:42", True),
        ("session:42:presence", True),
        ("site_wall", True),
        ("Session:42", False),
        ("session::42", False),
        ("session:42\n", False),
        ("", False),
        ("session:" + "9" * 200, False),
    ],
)
def test_topic_names(name: str, ok: bool) -> None:
    assert is_topic_name(name) is ok


def test_topic_name_helpers() -> None:
    assert session_topic(42) == "session:42"
    assert session_presence_topic(42) == "session:42:presence"


def test_log_rejects_bad_construction() -> None:
    with pytest.raises(ValueError):
        TopicLog("bad topic", "e1")
    with pytest.raises(ValueError):
        TopicLog("session:1", "")
    with pytest.raises(ValueError):
        TopicLog("session:1", "e1", capacity=0)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    published=st.integers(min_value=0, max_value=60),
    data=st.data(),
)
def test_replay_returns_exactly_the_events_after_any_cursor_within_history(
    capacity: int, published: int, data: st.DataObject
) -> None:
    log = TopicLog("session:7", "e1", capacity)
    all_events = [log.publish("t", {"i": i}) for i in range(published)]
    last_seq = data.draw(st.integers(min_value=log.oldest_seq - 1, max_value=published))
    result = log.resume("e1", last_seq)
    assert isinstance(result, Replay)
    assert list(result.events) == all_events[last_seq:]
    assert result.last_seq == published


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(min_value=1, max_value=20),
    published=st.integers(min_value=0, max_value=60),
    last_seq=st.integers(min_value=0, max_value=100),
)
def test_resume_replays_iff_the_cursor_is_within_history(
    capacity: int, published: int, last_seq: int
) -> None:
    log = TopicLog("session:7", "e1", capacity)
    for i in range(published):
        log.publish("t", {"i": i})
    result = log.resume("e1", last_seq)
    within = max(0, published - capacity) <= last_seq <= published
    assert isinstance(result, Replay) is within
    if isinstance(result, Resync):
        expected = ResyncReason.FUTURE_SEQ if last_seq > published else ResyncReason.HISTORY_LOST
        assert result.reason is expected
