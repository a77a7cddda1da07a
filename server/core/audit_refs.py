"""What the audit trail's entries name by id, so the reader shows the names people know.

Decisions:

* An entry's object (its ``entity`` and ``entity_id``) is named when it is a record people know
  by name: a session (its title), a trainee, a site, an org unit, a user, a course, a thematic
  unit, a program, a self-study course. A session result (``"<session>/<trainee>"``) names its
  session and its trainee. Records known through others (an attendance record, a roll call, a
  leave request) are named by the store from the session and trainee they belong to.
* In what changed, the fields that hold an id (``site_id``, ``trainee_id``, ``site_ids`` ...)
  are named too; other numbers stay numbers.
* An id that no longer names anything (a deleted record) keeps its number.
* A batch plan's move or swap holds ``{trainee id: session id}`` before and after: it reads as
  who moved (the trainee's name and staff number) from which batch to which (the session's
  title and its place among the course's sessions, 第N批, as the plan page numbers them). A plan
  is named by its course.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

ENTITY_KINDS: Mapping[str, str] = {
    "sessions": "session",
    "trainees": "trainee",
    "sites": "site",
    "org-units": "org_unit",
    "users": "user",
    "courses": "course",
    "units": "unit",
    "programs": "program",
    "selfstudy_courses": "selfstudy_course",
    "attendance": "attendance",
    "roll_calls": "roll_call",
    "leave_request": "leave_request",
    "batch_plans": "batch_plan",
}
"""The audit entity → the kind of record its id names."""

FIELD_KINDS: Mapping[str, str] = {
    "session_id": "session",
    "trainee_id": "trainee",
    "site_id": "site",
    "site_ids": "site",
    "sites": "site",
    "home_site_id": "site",
    "origin_site_id": "site",
    "floor_site_id": "site",
    "org_unit_id": "org_unit",
    "course_id": "course",
    "program_id": "program",
    "unit_id": "unit",
    "org_unit_ids": "org_unit",
    "user_ids": "user",
}
"""A field of an entry's before / after → the kind of record its id (or ids) name."""

MAX_ID = 2**31 - 1

Names = Mapping[str, Mapping[int, str]]
"""Kind → id → name, as the store found them."""


@dataclass(frozen=True, slots=True)
class Entry:
    entity: str
    entity_id: str
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None


def _id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and 0 < value <= MAX_ID:
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 10:
        return int(value)
    return None


def _field_ids(value: Any) -> list[int]:
    values = value if isinstance(value, list) else [value]
    return [i for i in (_id(v) for v in values) if i is not None]


def _session_result(entry: Entry) -> tuple[int, int] | None:
    if entry.entity != "session_result":
        return None
    session, _, trainee = entry.entity_id.partition("/")
    s, t = _id(session), _id(trainee)
    return (s, t) if s is not None and t is not None else None


def _plan_changes(entry: Entry) -> list[tuple[int, int | None, int | None]]:
    """A batch plan's move or swap: (trainee, session before, session after) per trainee; none
    for any other entry (a plan's creation or publication holds named fields)."""
    if entry.entity != "batch_plans":
        return []
    before, after = entry.before or {}, entry.after or {}
    keys = [*before, *(k for k in after if k not in before)]
    trainees = [_id(k) for k in keys]
    if not keys or None in trainees:
        return []
    return [
        (t, _id(before.get(k)), _id(after.get(k)))
        for k, t in zip(keys, trainees, strict=True)
        if t is not None
    ]


def wanted(entries: Iterable[Entry]) -> dict[str, set[int]]:
    """Per kind, the ids the entries name: their objects' and their id fields'. Besides the
    kinds of records, ``staff_no`` (a trainee's staff number) and ``batch`` (a session's place
    among its course's sessions) are wanted for a batch plan's moves."""
    out: dict[str, set[int]] = {}
    for entry in entries:
        for trainee, *sessions in _plan_changes(entry):
            for who in ("trainee", "staff_no"):
                out.setdefault(who, set()).add(trainee)
            for where in ("session", "batch"):
                out.setdefault(where, set()).update(s for s in sessions if s is not None)
        kind = ENTITY_KINDS.get(entry.entity)
        number = _id(entry.entity_id)
        if kind is not None and number is not None:
            out.setdefault(kind, set()).add(number)
        pair = _session_result(entry)
        if pair is not None:
            out.setdefault("session", set()).add(pair[0])
            out.setdefault("trainee", set()).add(pair[1])
        for side in (entry.before, entry.after):
            for key, value in (side or {}).items():
                if key in FIELD_KINDS:
                    out.setdefault(FIELD_KINDS[key], set()).update(_field_ids(value))
    return out


def entity_name(entry: Entry, names: Names) -> str | None:
    """The name of an entry's object, or None when it has none (or no longer exists)."""
    pair = _session_result(entry)
    if pair is not None:
        session = names.get("session", {}).get(pair[0])
        trainee = names.get("trainee", {}).get(pair[1])
        found = [n for n in (session, trainee) if n]
        return " · ".join(found) or None
    kind = ENTITY_KINDS.get(entry.entity)
    number = _id(entry.entity_id)
    if kind is None or number is None:
        return None
    return names.get(kind, {}).get(number) or None


def field_names(entry: Entry, names: Names) -> dict[str, dict[str, str]]:
    """Per id field of the entry's before / after: each id it holds → its name (ids without a
    name left out). A session result names its session and trainee here too."""
    out: dict[str, dict[str, str]] = {}
    pair = _session_result(entry)
    if pair is not None:
        for key, kind, number in (
            ("session_id", "session", pair[0]),
            ("trainee_id", "trainee", pair[1]),
        ):
            name = names.get(kind, {}).get(number)
            if name:
                out.setdefault(key, {})[str(number)] = name
    for side in (entry.before, entry.after):
        for key, value in (side or {}).items():
            field_kind = FIELD_KINDS.get(key)
            if field_kind is None:
                continue
            for number in _field_ids(value):
                found = names.get(field_kind, {}).get(number)
                if found:
                    out.setdefault(key, {})[str(number)] = found
    return out


def _batch(session: int | None, names: Names) -> dict[str, Any] | None:
    if session is None:
        return None
    number = names.get("batch", {}).get(session)
    return {
        "session_id": session,
        "title": names.get("session", {}).get(session),
        "batch": int(number) if number and number.isdigit() else None,
    }


def plan_moves(entry: Entry, names: Names) -> list[dict[str, Any]]:
    """A batch plan's move or swap as people read it: per trainee moved, the name and staff
    number (None when no longer found) and the batch before and after (None when it had none);
    an empty list for any other entry."""
    return [
        {
            "trainee_id": trainee,
            "name": names.get("trainee", {}).get(trainee),
            "staff_no": names.get("staff_no", {}).get(trainee),
            "from": _batch(before, names),
            "to": _batch(after, names),
        }
        for trainee, before, after in _plan_changes(entry)
    ]
