"""The audit trail's ids and the names people know them by (server.core.audit_refs)."""

from __future__ import annotations

from server.core.audit_refs import Entry, entity_name, field_names, wanted

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
        Entry("batch_plans", "3", None, {"trainees": 20}),  # no name, a count is no id
    ]
    assert wanted(entries) == {
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
