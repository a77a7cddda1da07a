"""Reminders (我的待办): what a trainee has still to do in a program, and the office's list.

Decisions:

* A trainee's due items, in this order: the next live session (and its room) they are expected
  at, have no approved leave for and have not checked in to (one the operator already ended,
  even before its planned end, is not coming any more; one they are in is being done); every
  self-study course open now they have not finished; the write-up when the program asks for
  one and it is not accepted; each leave request still waiting for a decision, or decided
  since the trainee last looked (the state is shown).
* The office's "who has not done what" list has one row per trainee and open item, grouped by
  org unit; what is merely informational (a leave decision) is not on it.

Pure: no I/O; times are float seconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum


class DueKind(StrEnum):
    LIVE = "live"
    SELF_STUDY = "self_study"
    WRITEUP = "writeup"
    LEAVE = "leave"


@dataclass(frozen=True, slots=True)
class UpcomingSession:
    session_id: int
    title: str
    start: float
    end: float
    room: str
    ended: bool = False
    """The operator ended it (it may end before its planned ``end``)."""
    checked_in: bool = False
    """The trainee has checked in to it: it is being done, not to do."""


@dataclass(frozen=True, slots=True)
class CourseDue:
    course_id: int
    title: str
    watched_share: float
    """0..1 of the course watched so far."""
    closes: float | None


@dataclass(frozen=True, slots=True)
class LeaveNote:
    request_id: int
    state: str
    first_start: float


@dataclass(frozen=True, slots=True)
class DueItem:
    kind: DueKind
    ref: int
    title: str
    when: float | None = None
    room: str = ""
    state: str = ""
    progress: float | None = None
    actionable: bool = True
    """Something the trainee must still do (False: information, e.g. a leave decision)."""


def due_items(
    *,
    now: float,
    upcoming: Iterable[UpcomingSession],
    on_leave: frozenset[int],
    courses: Iterable[CourseDue],
    writeup_required: bool,
    writeup_state: str | None,
    program_id: int,
    leave: Sequence[LeaveNote],
) -> tuple[DueItem, ...]:
    """What a trainee has to do, next things first (see the module docstring)."""
    items: list[DueItem] = []
    ahead = sorted(
        (
            s
            for s in upcoming
            if s.end > now and not s.ended and not s.checked_in and s.session_id not in on_leave
        ),
        key=lambda s: (s.start, s.session_id),
    )
    if ahead:
        s = ahead[0]
        items.append(DueItem(DueKind.LIVE, s.session_id, s.title, when=s.start, room=s.room))
    for course in sorted(courses, key=lambda c: (c.closes or float("inf"), c.course_id)):
        if course.watched_share < 1 and (course.closes is None or course.closes > now):
            items.append(
                DueItem(
                    DueKind.SELF_STUDY,
                    course.course_id,
                    course.title,
                    when=course.closes,
                    progress=round(course.watched_share, 3),
                )
            )
    if writeup_required and writeup_state != "accepted":
        items.append(
            DueItem(DueKind.WRITEUP, program_id, "", state=writeup_state or "not_submitted")
        )
    for note in sorted(leave, key=lambda n: (n.first_start, n.request_id)):
        if note.state in ("requested", "approved", "refused") and note.first_start > now:
            items.append(
                DueItem(
                    DueKind.LEAVE,
                    note.request_id,
                    "",
                    when=note.first_start,
                    state=note.state,
                    actionable=False,
                )
            )
    return tuple(items)


@dataclass(frozen=True, slots=True)
class Outstanding:
    """One row of the office's list: a trainee and one thing not done."""

    org_unit: str
    staff_no: str
    name: str
    kind: DueKind
    title: str
    when: float | None
    progress: float | None
    state: str


def outstanding_rows(
    people: Iterable[tuple[str, str, str, Iterable[DueItem]]],
) -> list[Outstanding]:
    """The office's list from (org unit, staff no, name, due items): actionable items only,
    by unit, then staff number, then the items' own order."""
    rows = [
        Outstanding(unit, staff_no, name, i.kind, i.title, i.when, i.progress, i.state)
        for unit, staff_no, name, items in people
        for i in items
        if i.actionable
    ]
    order = {k: n for n, k in enumerate(DueKind)}
    rows.sort(key=lambda r: (r.org_unit, r.staff_no, order[r.kind]))
    return rows
