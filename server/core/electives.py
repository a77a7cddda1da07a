"""Elective registration (学员点课): seats up to the capacity, then a waitlist in order.

Pure: the service loads the counts, asks here, and stores what these functions decide.
"""

from __future__ import annotations


def has_room(capacity: int | None, registered: int) -> bool:
    """Whether one more trainee can be registered (no capacity = no limit)."""
    return capacity is None or registered < capacity


def waitlist_place(capacity: int | None, registered: int, last_waitlisted: int) -> int | None:
    """Where a new registration goes: None for a seat (there is room), else its place at the end
    of the waitlist (``last_waitlisted``: the highest place so far, 0 for none; 1 is the next
    to move up)."""
    if has_room(capacity, registered):
        return None
    return last_waitlisted + 1


def moves_up(was_registered: bool, capacity: int | None, registered_after: int) -> bool:
    """After a cancellation: whether the first on the waitlist gets the seat. Only a freed seat
    (a registered trainee cancelled) and only while there is room (the capacity may have been
    lowered below the registrations in the meantime)."""
    return was_registered and has_room(capacity, registered_after)
