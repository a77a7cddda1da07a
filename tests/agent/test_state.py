"""The site state folded from events, and the persisted stream position."""

from __future__ import annotations

from pathlib import Path

from classroom_agent.protocol import Cursor
from classroom_agent.state import CursorStore, SiteState


def test_sessions_start_and_end() -> None:
    state = SiteState()
    assert state.apply("session_started", {"session_id": 7, "title": "第一场"})
    assert state.apply("session_started", {"session_id": 8})
    assert set(state.live_sessions) == {7, 8}
    assert state.live_sessions[7]["title"] == "第一场"
    state.apply("session_ended", {"session_id": 7})
    assert set(state.live_sessions) == {8}


def test_question_on_air_is_set_and_cleared() -> None:
    state = SiteState()
    state.apply("question_on_air", {"question_id": 3, "text": "请问"})
    assert state.question_on_air == {"question_id": 3, "text": "请问"}
    state.apply("question_on_air", {"question": {"question_id": 4}})
    assert state.question_on_air == {"question_id": 4}
    state.apply("question_on_air", {"question": None})
    assert state.question_on_air is None
    state.apply("question_on_air", {"question_id": 5})
    state.apply("question_off_air", {})
    assert state.question_on_air is None


def test_roll_call_ends_with_its_session() -> None:
    state = SiteState()
    state.apply("session_started", {"session_id": 7})
    state.apply("roll_call", {"roll_call_id": 2, "session_id": 7})
    assert state.roll_call == {"roll_call_id": 2, "session_id": 7}
    state.apply("session_ended", {"session_id": 7})
    assert state.roll_call is None


def test_checked_in_counts_distinct_trainees_of_the_known_sessions() -> None:
    state = SiteState()
    state.note_checkin(7, 100)
    state.note_checkin(7, 100)
    state.apply("checked_in", {"session_id": 7, "trainee_id": 101})
    state.apply("checkin", {"session_id": 8, "trainee_id": 100})
    assert state.checked_in_count() == 2
    state.apply("checked_out", {"session_id": 7, "trainee_id": 101})
    assert state.checked_in_count() == 1
    state.apply("session_ended", {"session_id": 8})
    state.apply("session_ended", {"session_id": 7})
    assert state.checked_in_count() == 0


def test_unknown_or_malformed_events_leave_the_state_alone() -> None:
    state = SiteState()
    assert not state.apply("poll_opened", {"poll_id": 1})
    assert not state.apply("session_started", {"title": "no id"})
    assert not state.apply("checked_in", {"session_id": 7, "trainee_id": True})
    assert state == SiteState()


def test_resync_replaces_everything_with_the_snapshot() -> None:
    state = SiteState()
    state.apply("session_started", {"session_id": 1})
    state.apply("question_on_air", {"question_id": 9})
    state.note_checkin(1, 50)
    state.replace_with(
        {
            "site": {"id": 12, "name": "海曙分课堂"},
            "sessions": [{"id": 7, "title": "x"}, {"session_id": 8}, "junk"],
            "roll_call": {"roll_call_id": 3, "session_id": 7},
            "checked_in": {"7": [100, 101], "8": [101, "bad"]},
        }
    )
    assert state.site == {"id": 12, "name": "海曙分课堂"}
    assert set(state.live_sessions) == {7, 8}
    assert state.question_on_air is None
    assert state.roll_call == {"roll_call_id": 3, "session_id": 7}
    assert state.checked_in == {7: {100, 101}, 8: {101}}
    assert state.checked_in_count() == 2


def test_cursor_round_trips_through_the_state_dir(tmp_path: Path) -> None:
    store = CursorStore(tmp_path / "cursor.json")
    assert store.load() is None
    store.save(Cursor("k3x9:1", 40))
    assert CursorStore(tmp_path / "cursor.json").load() == Cursor("k3x9:1", 40)
    store.save(Cursor("k3x9:1", 41))
    assert store.load() == Cursor("k3x9:1", 41)
    assert [p.name for p in tmp_path.iterdir()] == ["cursor.json"]  # no temporary left


def test_a_damaged_cursor_file_means_start_fresh(tmp_path: Path) -> None:
    path = tmp_path / "cursor.json"
    for text in ("{not json", "[]", '{"epoch": "", "seq": 3}', '{"epoch": "e", "seq": -1}'):
        path.write_text(text)
        assert CursorStore(path).load() is None
    CursorStore(path).clear()
    CursorStore(path).clear()
    assert not path.exists()
