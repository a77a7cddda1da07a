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


def wanted(entries: Iterable[Entry]) -> dict[str, set[int]]:
    """Per kind, the ids the entries name: their objects' and their id fields'."""
    out: dict[str, set[int]] = {}
    for entry in entries:
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
