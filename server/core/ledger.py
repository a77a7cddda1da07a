"""Credit-hour ledger (学时 / 学分): attended time, class hours, yearly progress, corrections.

Attended time is the union of a trainee's stays in the room, clipped to the session window and
to the time their site actually received the broadcast. Which window: the run, not the plan
(:mod:`server.core.session_run`). Class hours, credits, lateness and
early leave follow :class:`LedgerRules`. Operator corrections leave an :class:`AuditEntry` in
an append-only :class:`AuditTrail`.

Pure: times are float seconds since the epoch (UTC), passed in by the caller.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from enum import StrEnum
from types import MappingProxyType

from server.core.completion import HonourCandidate as HonourCandidate
from server.core.completion import HonourEntry as HonourEntry
from server.core.completion import honour_list as honour_list
from server.core.errors import InvalidInput

# --------------------------------------------------------------------------------------------
# Interval arithmetic
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Interval:
    """A closed time interval ``[start, end]`` with ``start <= end``."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end)):
            raise InvalidInput("ledger.interval_invalid", "Interval bounds must be finite.")
        if self.start > self.end:
            raise InvalidInput(
                "ledger.interval_invalid",
                "An interval must start before it ends.",
                {"start": self.start, "end": self.end},
            )

    @property
    def length(self) -> float:
        return self.end - self.start


IntervalLike = Interval | tuple[float, float]


def as_interval(value: IntervalLike) -> Interval:
    return value if isinstance(value, Interval) else Interval(value[0], value[1])


def union(*groups: Iterable[IntervalLike]) -> tuple[Interval, ...]:
    """The union of all intervals as sorted, disjoint, non-touching, non-empty intervals."""
    items = sorted(
        interval for group in groups for interval in map(as_interval, group) if interval.length > 0
    )
    merged: list[Interval] = []
    for interval in items:
        if merged and interval.start <= merged[-1].end:
            last = merged[-1]
            merged[-1] = Interval(last.start, max(last.end, interval.end))
        else:
            merged.append(interval)
    return tuple(merged)


def intersect(a: Iterable[IntervalLike], b: Iterable[IntervalLike]) -> tuple[Interval, ...]:
    """The intersection of two sets of intervals, normalised like :func:`union`."""
    left, right = union(a), union(b)
    result: list[Interval] = []
    i = j = 0
    while i < len(left) and j < len(right):
        start = max(left[i].start, right[j].start)
        end = min(left[i].end, right[j].end)
        if start < end:
            result.append(Interval(start, end))
        if left[i].end < right[j].end:
            i += 1
        else:
            j += 1
    return tuple(result)


def clip(intervals: Iterable[IntervalLike], start: float, end: float) -> tuple[Interval, ...]:
    """The parts of ``intervals`` inside ``[start, end]``."""
    return intersect(intervals, (Interval(start, end),))


def total_length(intervals: Iterable[IntervalLike]) -> float:
    """Seconds covered by the union of ``intervals`` (overlaps count once)."""
    return sum(interval.length for interval in union(intervals))


# --------------------------------------------------------------------------------------------
# Rules
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerRules:
    """The training office's credit-hour rules. Defaults follow the sources."""

    late_after_minutes: float = 10.0
    """Arriving more than this many minutes after the start is "late"."""
    early_leave_minutes: float = 10.0
    """Leaving more than this many minutes before the end is "left early"."""
    minutes_per_class_hour: float = 45.0
    """Attended minutes worth one class hour (学时)."""
    steps_per_class_hour: int = 2
    """Class hours are rounded DOWN to 1/steps of an hour: 2 = half hours (1, 2 or 4)."""
    min_attendance_share: float | None = None
    """Share (0..1] of the receivable time a trainee must attend to earn anything; None = any."""
    course_credits: Mapping[str, float] = field(default_factory=dict)
    """Credits (学分) earned by attending a course, by course id; unknown courses give 0."""
    yearly_required_hours: float = 32.0
    """Class hours every trainee must earn in a calendar year."""
    count_each_course_once: bool = False
    """If True, a course attended several times in a year counts once (its best result)."""
    calendar_utc_offset_hours: float = 8.0
    """The calendar year is taken in this UTC offset (China Standard Time, no DST)."""
    calendar_zone: tzinfo | None = None
    """The deployment's time zone; when set it decides the calendar year instead."""

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.late_after_minutes < 0 or self.early_leave_minutes < 0:
            problems.append("lateness and early-leave thresholds must be >= 0")
        if not self.minutes_per_class_hour > 0:
            problems.append("minutes_per_class_hour must be > 0")
        if self.steps_per_class_hour not in (1, 2, 4):
            problems.append("steps_per_class_hour must be 1, 2 or 4")
        share = self.min_attendance_share
        if share is not None and not 0 < share <= 1:
            problems.append("min_attendance_share must be in (0, 1]")
        if any(not credits >= 0 for credits in self.course_credits.values()):
            problems.append("course credits must be >= 0")
        if not self.yearly_required_hours >= 0:
            problems.append("yearly_required_hours must be >= 0")
        if problems:
            raise InvalidInput(
                "ledger.rules_invalid", "Fix the credit-hour rules: " + "; ".join(problems)
            )
        object.__setattr__(self, "course_credits", MappingProxyType(dict(self.course_credits)))

    def class_hours(self, attended_seconds: float) -> float:
        """Class hours for attended time, rounded down to the configured step.

        Time is first rounded to whole milliseconds so that float noise in epoch arithmetic
        cannot push 45:00 down to 44:59.999.
        """
        attended_ms = max(0, round(attended_seconds * 1000))
        hour_ms = round(self.minutes_per_class_hour * 60_000)
        steps = attended_ms * self.steps_per_class_hour // hour_ms
        return steps / self.steps_per_class_hour

    def year_of(self, at: float) -> int:
        """The calendar year of an instant in the configured UTC offset."""
        zone = self.calendar_zone or timezone(timedelta(hours=self.calendar_utc_offset_hours))
        return datetime.fromtimestamp(at, tz=UTC).astimezone(zone).year


# --------------------------------------------------------------------------------------------
# Session results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LedgerSession:
    """The session a result is about: its course and its scheduled window."""

    session_id: str
    course_id: str
    start: float
    end: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.start) and math.isfinite(self.end) and self.start < self.end):
            raise InvalidInput(
                "ledger.session_window_invalid",
                "A session must have a finite start before its end.",
                {"start": self.start, "end": self.end},
            )

    @property
    def length_seconds(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, slots=True)
class SessionResult:
    """One trainee's result for one session."""

    trainee_id: str
    session_id: str
    course_id: str
    session_start: float
    attended_minutes: float
    """Minutes in the room, inside the session window, while the site received the broadcast."""
    receivable_minutes: float
    """Minutes of the session window the trainee's site received the broadcast."""
    late: bool
    left_early: bool
    class_hours: float
    credits: float
    makeup: bool
    absent: bool
    """No presence at all inside the session window."""
    credited: bool
    """Earned class hours (> 0) and met the minimum attendance share, if any."""
    corrected: bool = False
    final: bool = True
    """False while the session has not ended: not absent, not left early, hours so far."""
    on_leave: bool = False
    """Approved leave (请假) for a session the trainee missed: not absent (缺勤); see
    :func:`server.core.leave.apply_leave`."""


def session_result(
    session: LedgerSession,
    trainee_id: str,
    presence: Iterable[IntervalLike],
    *,
    rules: LedgerRules,
    site_online: Iterable[IntervalLike] | None = None,
    makeup: bool = False,
) -> SessionResult:
    """Compute a trainee's result for a session.

    ``presence``: the trainee's stays (e.g. ``AttendanceRecord.spans(session.end)``).
    ``site_online``: when the trainee's site received the broadcast; None = the whole session.
    Late / left early are judged on presence only (a broadcast outage does not make anyone
    late); attended time and class hours also require the site to be online.
    """
    window = (Interval(session.start, session.end),)
    receivable = window if site_online is None else intersect(window, site_online)
    in_room = intersect(window, presence)
    attended = intersect(in_room, receivable)
    attended_seconds = total_length(attended)
    receivable_seconds = total_length(receivable)
    absent = not in_room
    late = not absent and in_room[0].start > session.start + rules.late_after_minutes * 60
    left_early = not absent and in_room[-1].end < session.end - rules.early_leave_minutes * 60
    share = attended_seconds / receivable_seconds if receivable_seconds > 0 else 0.0
    meets_share = rules.min_attendance_share is None or share >= rules.min_attendance_share
    class_hours = rules.class_hours(attended_seconds) if meets_share else 0.0
    credited = class_hours > 0
    return SessionResult(
        trainee_id=trainee_id,
        session_id=session.session_id,
        course_id=session.course_id,
        session_start=session.start,
        attended_minutes=attended_seconds / 60,
        receivable_minutes=receivable_seconds / 60,
        late=late,
        left_early=left_early,
        class_hours=class_hours,
        credits=rules.course_credits.get(session.course_id, 0.0) if credited else 0.0,
        makeup=makeup,
        absent=absent,
        credited=credited,
    )


# --------------------------------------------------------------------------------------------
# Yearly progress and the honour list (学习标兵)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class YearlyProgress:
    trainee_id: str
    year: int
    class_hours: float
    credits: float
    required_hours: float
    percent: float
    """Share of the requirement earned, 0..100 (capped), one decimal."""
    remaining_hours: float
    met: bool
    sessions_counted: int


def yearly_progress(
    trainee_id: str, year: int, results: Iterable[SessionResult], rules: LedgerRules
) -> YearlyProgress:
    """Sum a trainee's class hours and credits of sessions held in ``year``.

    Raises ``ledger.duplicate_result`` if a session appears twice for the trainee.
    """
    own = [
        r for r in results if r.trainee_id == trainee_id and rules.year_of(r.session_start) == year
    ]
    seen: set[str] = set()
    for result in own:
        if result.session_id in seen:
            raise InvalidInput(
                "ledger.duplicate_result",
                "A session result was given twice; pass one result per trainee and session.",
                {"trainee_id": trainee_id, "session_id": result.session_id},
            )
        seen.add(result.session_id)
    counted = _best_per_course(own) if rules.count_each_course_once else own
    hours = sum(r.class_hours for r in counted)
    required = rules.yearly_required_hours
    percent = 100.0 if required == 0 else min(100.0, round(hours / required * 100, 1))
    return YearlyProgress(
        trainee_id=trainee_id,
        year=year,
        class_hours=hours,
        credits=sum(r.credits for r in counted),
        required_hours=required,
        percent=percent,
        remaining_hours=max(0.0, required - hours),
        met=hours >= required,
        sessions_counted=sum(1 for r in counted if r.credited),
    )


def _best_per_course(results: list[SessionResult]) -> list[SessionResult]:
    best: dict[str, SessionResult] = {}
    for result in results:
        current = best.get(result.course_id)
        if current is None or (result.class_hours, result.credits) > (
            current.class_hours,
            current.credits,
        ):
            best[result.course_id] = result
    return list(best.values())


# The honour list (学习标兵) has its one home in server.core.completion (imported above): the
# same rules as completing a program; the yearly list ranks with it too.


# --------------------------------------------------------------------------------------------
# Corrections and the audit trail
# --------------------------------------------------------------------------------------------

AuditValue = str | int | float | bool | None
"""Audit entries hold scalars only, so that an entry is immutable all the way down."""


@dataclass(frozen=True, slots=True)
class EntityRef:
    kind: str
    id: str


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One correction: who changed what, when, from what to what, and why. Immutable."""

    who: str
    when: float
    entity: EntityRef
    before: Mapping[str, AuditValue]
    after: Mapping[str, AuditValue]
    why: str

    def __post_init__(self) -> None:
        if not self.who.strip():
            raise InvalidInput("ledger.actor_required", "Say who makes the correction.")
        if not self.why.strip():
            raise InvalidInput("ledger.reason_required", "Give a reason for the correction.")
        if not math.isfinite(self.when):
            raise InvalidInput("ledger.time_invalid", "The correction time must be finite.")
        for side in (self.before, self.after):
            for key, value in side.items():
                if not isinstance(value, str | int | float | bool | None):
                    raise InvalidInput(
                        "ledger.audit_value_invalid",
                        "Audit values must be text, numbers, booleans or empty.",
                        {"field": key},
                    )
        object.__setattr__(self, "who", self.who.strip())
        object.__setattr__(self, "why", self.why.strip())
        object.__setattr__(self, "before", MappingProxyType(dict(self.before)))
        object.__setattr__(self, "after", MappingProxyType(dict(self.after)))


class AuditTrail:
    """An append-only list of audit entries. ``append`` is the only mutator."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Iterable[AuditEntry] = ()) -> None:
        self._entries: list[AuditEntry] = []
        for entry in entries:
            self.append(entry)

    def append(self, entry: AuditEntry) -> None:
        if not isinstance(entry, AuditEntry):
            raise InvalidInput("ledger.audit_entry_invalid", "Only audit entries can be added.")
        self._entries.append(entry)

    @property
    def entries(self) -> tuple[AuditEntry, ...]:
        return tuple(self._entries)

    def for_entity(self, entity: EntityRef) -> tuple[AuditEntry, ...]:
        return tuple(e for e in self._entries if e.entity == entity)

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[AuditEntry]:
        return iter(tuple(self._entries))


CORRECTABLE_FIELDS: frozenset[str] = frozenset(
    {"attended_minutes", "late", "left_early", "class_hours", "credits", "makeup", "absent"}
)
_BOOL_FIELDS = frozenset({"late", "left_early", "makeup", "absent"})


def result_entity(result: SessionResult) -> EntityRef:
    return EntityRef("session_result", f"{result.session_id}/{result.trainee_id}")


def correct_result(
    result: SessionResult,
    changes: Mapping[str, AuditValue],
    *,
    who: str,
    why: str,
    now: float,
) -> tuple[SessionResult, AuditEntry]:
    """Apply an operator's correction to a session result; return it and its audit entry.

    Only :data:`CORRECTABLE_FIELDS` may change. ``credited`` follows the corrected class
    hours; the result is marked ``corrected``. Raises ``ledger.reason_required`` for an empty
    reason, ``ledger.correction_invalid`` for unknown fields or bad values and
    ``ledger.correction_empty`` if nothing would change.
    """
    if not why.strip():
        raise InvalidInput("ledger.reason_required", "Give a reason for the correction.")
    wanted = {name: _checked_correction(name, value) for name, value in changes.items()}
    current = {f.name: getattr(result, f.name) for f in fields(result)}
    changed = {name: value for name, value in wanted.items() if current[name] != value}
    if not changed:
        raise InvalidInput("ledger.correction_empty", "The correction changes nothing.")
    before = {name: current[name] for name in changed}
    corrected = _with_changes(result, changed)
    entry = AuditEntry(
        who=who, when=now, entity=result_entity(result), before=before, after=changed, why=why
    )
    return corrected, entry


def _with_changes(result: SessionResult, changes: Mapping[str, AuditValue]) -> SessionResult:
    """The result with corrected fields: marked ``corrected``, ``credited`` following the
    class hours."""
    corrected = replace(result, **changes, corrected=True)  # type: ignore[arg-type]
    return replace(corrected, credited=corrected.class_hours > 0)


def apply_corrections(
    result: SessionResult, corrections: Iterable[Mapping[str, AuditValue]]
) -> SessionResult:
    """Replay stored corrections (their ``after`` values, oldest first) on a computed result:
    the audit trail is the single source of the changes, so a result is always recomputed
    from the record and then corrected again, exactly as :func:`correct_result` did."""
    for after in corrections:
        result = _with_changes(result, after)
    return result


class AttendanceStatus(StrEnum):
    """A trainee's line in a session report."""

    PRESENT = "present"
    ABSENT = "absent"
    MAKEUP = "makeup"
    PENDING = "pending"
    """The session has not ended and there is no record yet: not absent (yet)."""
    LEAVE = "leave"
    """Approved leave (请假) and not there: not absent (see server.core.leave.apply_leave)."""


def attendance_status(
    result: SessionResult, *, expected: bool, has_record: bool
) -> AttendanceStatus:
    """How a report counts a trainee: absent, pending (not final and nothing recorded yet),
    make-up (came but was not expected, or checked in outside their batch), else present."""
    if result.on_leave:
        return AttendanceStatus.LEAVE
    if result.absent:
        return AttendanceStatus.ABSENT
    if not result.final and not has_record:
        return AttendanceStatus.PENDING
    if not expected or result.makeup:
        return AttendanceStatus.MAKEUP
    return AttendanceStatus.PRESENT


def _checked_correction(name: str, value: AuditValue) -> bool | float:
    if name not in CORRECTABLE_FIELDS:
        allowed = ", ".join(sorted(CORRECTABLE_FIELDS))
        raise InvalidInput(
            "ledger.correction_invalid",
            f"{name!r} cannot be corrected; correct one of: {allowed}.",
            {"field": name},
        )
    if name in _BOOL_FIELDS:
        if isinstance(value, bool):
            return value
        expected = "true or false"
    else:
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and value >= 0
        ):
            return float(value)
        expected = "a number >= 0"
    raise InvalidInput("ledger.correction_invalid", f"{name!r} needs {expected}.", {"field": name})
