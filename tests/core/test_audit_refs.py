"""The audit trail's ids and the names people know them by (server.core.audit_refs)."""

from __future__ import annotations

from server.core.audit_refs import Entry, entity_name, field_names, plan_moves, wanted

NAMES = {
    "session": {12: "党课 第1批"},
    "trainee": {40: "张三"},
    "site": {1: "主课堂", 2: "海曙区分课堂"},
    "attendance": {7: "张三 · 党课 第1批"},
}


def test_the_ids_of_objects_and_id_fields_are_wanted_by_kind() -> None:
    entries = [
        Entry("sessions", "12", None, {"site_ids": [1, 2], "course_id": 8, "title": "x"}),
        Entry("session_result", "12/40", {"status": "absent"}, {"status": "present"}),
        Entry("attendance", "7", None, {"trainee_id": 40, "site_id": "2", "state": "in"}),
        Entry("batch_plans", "3", None, {"trainees": 20}),  # a count is no id
    ]
    assert wanted(entries) == {
        "batch_plan": {3},
        "session": {12},
        "site": {1, 2},
        "course": {8},
        "trainee": {40},
        "attendance": {7},
    }


def test_an_entry_reads_by_its_names_and_keeps_unknown_ids_as_numbers() -> None:
    session = Entry("sessions", "12", None, {"site_ids": [1, 2, 9], "floor_site_id": None})
    assert entity_name(session, NAMES) == "党课 第1批"
    assert field_names(session, NAMES) == {"site_ids": {"1": "主课堂", "2": "海曙区分课堂"}}
    result = Entry("session_result", "12/40", None, None)
    assert entity_name(result, NAMES) == "党课 第1批 · 张三"
    assert field_names(result, NAMES) == {
        "session_id": {"12": "党课 第1批"},
        "trainee_id": {"40": "张三"},
    }
    assert entity_name(Entry("attendance", "7", None, None), NAMES) == "张三 · 党课 第1批"
    assert entity_name(Entry("sessions", "99", None, None), NAMES) is None  # deleted
    assert entity_name(Entry("batch_plans", "3", None, None), NAMES) is None
    assert (
        field_names(Entry("roll_calls", "5", None, {"seconds": 60, "site_id": True}), NAMES) == {}
    )


def test_a_batch_plan_move_reads_as_who_went_from_which_batch_to_which() -> None:
    """A swap is written {trainee id: session id} before and after: it reads by the cadre's
    name and staff number and by the batches, never as "9: 2 → 1"."""
    names = {
        "trainee": {9: "张三", 10: "李四"},
        "staff_no": {9: "NB0009"},
        "session": {1: "党课（第1批）", 2: "党课（第2批）"},
        "batch": {1: "1", 2: "2"},
        "batch_plan": {3: "党课"},
    }
    swap = Entry("batch_plans", "3", {"9": 2, "10": 1}, {"9": 1, "10": 2})
    assert wanted([swap]) == {
        "trainee": {9, 10},
        "staff_no": {9, 10},
        "session": {1, 2},
        "batch": {1, 2},
        "batch_plan": {3},
    }
    assert entity_name(swap, names) == "党课"
    first, second = ({"session_id": s, "title": f"党课（第{s}批）", "batch": s} for s in (1, 2))
    assert plan_moves(swap, names) == [
        {"trainee_id": 9, "name": "张三", "staff_no": "NB0009", "from": second, "to": first},
        {"trainee_id": 10, "name": "李四", "staff_no": None, "from": first, "to": second},
    ]
    # a deleted session keeps its number; a plan's creation is no move
    gone = Entry("batch_plans", "3", {"9": 7}, {"9": 1})
    assert plan_moves(gone, names)[0]["from"] == {"session_id": 7, "title": None, "batch": None}
    assert plan_moves(Entry("batch_plans", "3", None, {"trainees": 20}), names) == []
    assert plan_moves(Entry("batch_plans", "3", {"status": "draft"}, {"status": "x"}), names) == []
