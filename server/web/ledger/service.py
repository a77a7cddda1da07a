"""The ledger's service: session results, transcripts, the honour list and corrections.

What other features build on:

* :func:`compute_result` — one trainee's result for one session (record, then corrections).
* :func:`year_results` — every result of a calendar year (of one trainee or of everyone), as
  :class:`YearResult` rows; :func:`transcript` and :func:`honour_board` are built on it.
* :func:`correct` — an operator's correction, kept in the audit log.

No aiohttp here: callers pass the session factory (``app[SESSIONS]``) or an open session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import selfstudy as selfstudy_rules
from server.core.completion import HonourCandidate, honour_list
from server.core.leave import apply_leave
from server.core.ledger import (
    AuditValue,
    LedgerRules,
    SessionResult,
    apply_corrections,
    correct_result,
    result_entity,
    yearly_progress,
)
from server.core.roles import Principal
from server.core.session_run import judge
from server.store.attendance_models import AttendanceRecordRow, RecordKind
from server.store.models import AuditEntry, ClassSession, Course, Trainee, utcnow
from server.web.checkin.records import record_of, to_core
from server.web.db import CHUNK, Sessions, audit, iso, load, load_many, transaction
from server.web.leave.service import on_leave
from server.web.selfstudy import service as selfstudy
from server.web.session_window import session_times

CORRECTION_ENTITY = "session_result"
"""The audit-log entity of a correction; its id is ``<session>/<trainee>``."""

Corrections = Mapping[str, Sequence[Mapping[str, AuditValue]]]
"""Stored corrections by result key (:func:`result_key`), oldest first."""


class YearResult(NamedTuple):
    """One attendance record of the year and the result it earned."""

    result: SessionResult
    session: ClassSession
    course: Course
    record: AttendanceRecordRow


def result_key(session_id: int, trainee_id: int) -> str:
    return f"{session_id}/{trainee_id}"


def rules_for(courses: Iterable[Course]) -> LedgerRules:
    """The ledger rules with these courses' credits."""
    return LedgerRules(course_credits={str(c.id): float(c.credits) for c in courses})


def this_year(zone: tzinfo) -> int:
    return utcnow().astimezone(zone).year


def year_window(year: int, zone: tzinfo) -> tuple[datetime, datetime]:
    """The calendar year in the deployment's time zone, as a UTC [start, end) pair."""
    return (
        datetime(year, 1, 1, tzinfo=zone).astimezone(UTC),
        datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC),
    )


def compute_result(
    session: ClassSession,
    trainee_id: int,
    row: AttendanceRecordRow | None,
    rules: LedgerRules,
    now: datetime,
    corrections: Sequence[Mapping[str, AuditValue]] = (),
    site_online: Sequence[tuple[float, float]] | None = None,
    on_leave: bool = False,
) -> SessionResult:
    """A trainee's result for a session: presence from the record, then the corrections, then
    approved leave (请假 instead of 缺勤, ``server.core.leave.apply_leave``).

    ``site_online``: the intervals the trainee's site received the broadcast (None = all of
    the session).
    """
    until = (session.ended_at or now).timestamp()
    presence = to_core(row).spans(until) if row is not None else ()
    result = judge(
        session_times(session),
        str(trainee_id),
        presence,
        rules=rules,
        now=now.timestamp(),
        site_online=site_online,
        makeup=row is not None and row.kind is RecordKind.MAKEUP,
    )
    return apply_leave(apply_corrections(result, corrections), on_leave)


async def corrections(db: AsyncSession, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
    """The stored corrections (their ``after`` values) of these results, oldest first."""
    wanted = list(keys)
    out: dict[str, list[dict[str, Any]]] = {}
    for i in range(0, len(wanted), CHUNK):
        rows = (
            await db.execute(
                select(AuditEntry.entity_id, AuditEntry.after)
                .where(
                    AuditEntry.entity == CORRECTION_ENTITY,
                    AuditEntry.action == "correct",
                    AuditEntry.entity_id.in_(wanted[i : i + CHUNK]),
                )
                .order_by(AuditEntry.id)
            )
        ).all()
        for key, after in rows:
            out.setdefault(key, []).append(after or {})
    return out


def result_view(
    result: SessionResult, session: ClassSession, course: Course | None
) -> dict[str, Any]:
    return {
        "session_id": session.id,
        "session_title": session.title,
        "course_id": session.course_id,
        "course_title": course.title if course else "",
        "starts_at": iso(session.starts_at),
        "attended_minutes": round(result.attended_minutes, 2),
        "class_hours": result.class_hours,
        "credits": result.credits,
        "late": result.late,
        "left_early": result.left_early,
        "makeup": result.makeup,
        "absent": result.absent,
        "on_leave": result.on_leave,
        "credited": result.credited,
        "corrected": result.corrected,
        "final": result.final,
    }


async def year_results(
    db: AsyncSession, year: int, zone: tzinfo, trainee_id: int | None = None
) -> list[YearResult]:
    """The results of the sessions that started in ``year`` (local calendar), in time order:
    one trainee's, or everyone's when ``trainee_id`` is None."""
    start, end = year_window(year, zone)
    query = (
        select(AttendanceRecordRow, ClassSession, Course)
        .join(ClassSession, ClassSession.id == AttendanceRecordRow.session_id)
        .join(Course, Course.id == ClassSession.course_id)
        .where(ClassSession.starts_at >= start, ClassSession.starts_at < end)
        .order_by(ClassSession.starts_at, ClassSession.id)
    )
    if trainee_id is not None:
        query = query.where(AttendanceRecordRow.trainee_id == trainee_id)
    rows = (await db.execute(query)).all()
    rules = rules_for({c.id: c for _, _, c in rows}.values())
    fixes = await corrections(db, (result_key(s.id, r.trainee_id) for r, s, _ in rows))
    leave = await on_leave(db, {s.id for _, s, _ in rows})
    now = utcnow()
    return [
        YearResult(
            compute_result(
                s,
                r.trainee_id,
                r,
                rules,
                now,
                fixes.get(key, ()),
                on_leave=(s.id, r.trainee_id) in leave,
            ),
            s,
            c,
            r,
        )
        for r, s, c in rows
        for key in (result_key(s.id, r.trainee_id),)
    ]


async def transcript(
    sessions: Sessions, trainee_id: int, year: int, zone: tzinfo, *, count_selfstudy: bool = True
) -> dict[str, Any]:
    """A trainee's session results of the year, the self-study courses apart, and the progress
    against the yearly hours (self-study counted toward them when ``count_selfstudy``)."""
    async with transaction(sessions) as db:
        trainee = await load(db, Trainee, trainee_id, "trainee")
        found = await year_results(db, year, zone, trainee_id)
        studied = await selfstudy.trainee_year(db, trainee_id, year, zone)
    rules = LedgerRules(calendar_zone=zone)
    progress = yearly_progress(str(trainee_id), year, [f.result for f in found], rules)
    year_hours = selfstudy_rules.year_hours(
        progress.class_hours,
        sum(c["class_hours"] for c in studied),
        progress.required_hours,
        count_selfstudy=count_selfstudy,
    )
    return {
        "trainee": {
            "id": trainee.id,
            "name": trainee.name,
            "staff_no": trainee.staff_no,
            "org_unit_id": trainee.org_unit_id,
        },
        "year": year,
        "results": [
            {**result_view(r, s, c), "kind": row.kind.value, "site_id": row.site_id}
            for r, s, c, row in found
        ],
        "selfstudy": studied,
        "progress": {
            "class_hours": year_hours.counted_hours,
            "live_hours": year_hours.live_hours,
            "selfstudy_hours": year_hours.selfstudy_hours,
            "counts_selfstudy": count_selfstudy,
            "credits": progress.credits,
            "required_hours": year_hours.required_hours,
            "percent": year_hours.percent,
            "remaining_hours": max(0.0, year_hours.required_hours - year_hours.counted_hours),
            "met": year_hours.met,
            "sessions_counted": progress.sessions_counted,
        },
    }


async def honour_board(
    sessions: Sessions, year: int, zone: tzinfo, top: int, min_hours: int
) -> dict[str, Any]:
    """The yearly honour list (学习标兵): most class hours first."""
    async with transaction(sessions) as db:
        hours: dict[int, float] = {}
        for found in await year_results(db, year, zone):
            tid = found.record.trainee_id
            hours[tid] = hours.get(tid, 0.0) + found.result.class_hours
        people = await load_many(db, Trainee, hours)
    entries = honour_list(
        [HonourCandidate(str(t), people[t].staff_no, float(h)) for t, h in hours.items()],
        top,
        min_class_hours=float(min_hours),
    )
    return {
        "year": year,
        "required_hours": LedgerRules().yearly_required_hours,
        "items": [
            {
                "rank": e.rank,
                "trainee_id": int(e.candidate.trainee_id),
                "name": people[int(e.candidate.trainee_id)].name,
                "staff_no": e.candidate.staff_number,
                "org_unit_id": people[int(e.candidate.trainee_id)].org_unit_id,
                "class_hours": e.candidate.class_hours,
            }
            for e in entries
        ],
    }


async def correct(
    sessions: Sessions,
    who: Principal,
    session_id: int,
    trainee_id: int,
    changes: Mapping[str, AuditValue],
    reason: str,
) -> dict[str, Any]:
    """An operator corrects a session result; the audit log keeps before, after and why."""
    now = utcnow()
    async with transaction(sessions, write=True) as db:
        session = await load(db, ClassSession, session_id, "session")
        course = await load(db, Course, session.course_id, "course")
        trainee = await load(db, Trainee, trainee_id, "trainee")
        row = await record_of(db, session_id, trainee.id)
        key = result_key(session_id, trainee.id)
        fixes = (await corrections(db, [key])).get(key, [])
        current = compute_result(session, trainee.id, row, rules_for([course]), now, fixes)
        corrected, entry = correct_result(
            current, changes, who=who.label, why=reason, now=now.timestamp()
        )
        audit(
            db,
            who,
            "correct",
            CORRECTION_ENTITY,
            result_entity(corrected).id,
            dict(entry.before),
            dict(entry.after),
            entry.why,
        )
    return {
        **result_view(corrected, session, course),
        "trainee_id": trainee.id,
        "reason": entry.why,
    }
