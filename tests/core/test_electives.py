"""Elective registration: seats up to the capacity, then the waitlist (server/core/electives.py)."""

from __future__ import annotations

from server.core.electives import has_room, moves_up, waitlist_place


def test_there_is_room_below_the_capacity_and_always_without_one() -> None:
    assert has_room(None, 10_000)
    assert has_room(3, 2)
    assert not has_room(3, 3)
    assert not has_room(0, 0)
    assert not has_room(2, 5)  # the capacity was lowered below the registrations


def test_a_new_registration_is_seated_while_there_is_room_else_waitlisted_at_the_end() -> None:
    assert waitlist_place(None, 50, 0) is None
    assert waitlist_place(2, 1, 0) is None
    assert waitlist_place(2, 2, 0) == 1
    assert waitlist_place(2, 2, 4) == 5


def test_the_first_waitlisted_moves_up_only_into_a_freed_seat_with_room() -> None:
    assert moves_up(True, 2, 1)
    assert moves_up(True, None, 7)
    assert not moves_up(False, 2, 0)  # a waitlisted trainee left: no seat was freed
    assert not moves_up(True, 2, 2)  # still full (the capacity was lowered)
