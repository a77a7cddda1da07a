"""Reminders: what a trainee has to do, and the office's list of who has not done what."""

from __future__ import annotations

from server.core.reminders import (
    CourseDue,
    DueItem,
    DueKind,
    LeaveNote,
    UpcomingSession,
    due_items,
    outstanding_rows,
)

NOW = 1_800_000_000.0
DAY = 86400.0


def _items(**changes: object) -> tuple[DueItem, ...]:
    args: dict[str, object] = {
        "now": NOW,
        "upcoming": [
            UpcomingSession(2, "second", NOW + 2 * DAY, NOW + 2 * DAY + 3600, "B"),
            UpcomingSession(1, "first", NOW + DAY, NOW + DAY + 3600, "A"),
            UpcomingSession(0, "past", NOW - DAY, NOW - DAY + 3600, "Z"),
        ],
        "on_leave": frozenset(),
        "courses": [
            CourseDue(5, "watched", 1.0, None),
            CourseDue(6, "half", 0.5, NOW + DAY),
            CourseDue(7, "closed", 0.0, NOW - 1),
        ],
        "writeup_required": True,
        "writeup_state": "needs_revision",
        "program_id": 3,
        "leave": [LeaveNote(9, "requested", NOW + 2 * DAY), LeaveNote(8, "withdrawn", NOW + DAY)],
    }
    args.update(changes)
    return due_items(**args)  # type: ignore[arg-type]


def test_a_trainee_sees_the_next_session_unwatched_courses_write_up_and_leave() -> None:
    items = _items()
    kinds = [(i.kind, i.ref) for i in items]
    assert kinds == [
        (DueKind.LIVE, 1),
        (DueKind.SELF_STUDY, 6),
        (DueKind.WRITEUP, 3),
        (DueKind.LEAVE, 9),
    ]
    assert items[0].room == "A"
    assert items[2].state == "needs_revision"


def test_a_session_on_leave_is_not_the_next_one_and_an_accepted_write_up_is_done() -> None:
    items = _items(on_leave=frozenset({1}), writeup_state="accepted", leave=[])
    assert [(i.kind, i.ref) for i in items] == [(DueKind.LIVE, 2), (DueKind.SELF_STUDY, 6)]


def test_a_session_ended_before_its_planned_end_is_not_the_next_one() -> None:
    ended_early = UpcomingSession(4, "ran", NOW - 600, NOW + 3600, "A", ended=True)
    running = UpcomingSession(5, "running", NOW - 600, NOW + 3600, "A")
    later = UpcomingSession(6, "later", NOW + DAY, NOW + DAY + 3600, "A")
    items = _items(upcoming=[ended_early, later], leave=[])
    assert (items[0].kind, items[0].ref) == (DueKind.LIVE, 6)
    items = _items(upcoming=[running, later], leave=[])
    assert (items[0].kind, items[0].ref) == (DueKind.LIVE, 5)


def test_a_running_session_the_trainee_checked_in_to_is_not_to_do() -> None:
    attending = UpcomingSession(5, "running", NOW - 600, NOW + 3600, "A", checked_in=True)
    later = UpcomingSession(6, "later", NOW + DAY, NOW + DAY + 3600, "A")
    items = _items(upcoming=[attending, later], leave=[])
    assert [(i.kind, i.ref) for i in items if i.kind is DueKind.LIVE] == [(DueKind.LIVE, 6)]
    items = _items(upcoming=[attending], leave=[])
    assert [i for i in items if i.kind is DueKind.LIVE] == []


def test_the_office_list_has_only_what_a_trainee_must_still_do() -> None:
    rows = outstanding_rows(
        [
            ("B unit", "002", "王五", _items()),
            ("A unit", "001", "张三", _items(writeup_required=False)),
        ]
    )
    assert [(r.org_unit, r.kind) for r in rows] == [
        ("A unit", DueKind.LIVE),
        ("A unit", DueKind.SELF_STUDY),
        ("B unit", DueKind.LIVE),
        ("B unit", DueKind.SELF_STUDY),
        ("B unit", DueKind.WRITEUP),
    ]
