"""The attendance reports (service): a session's, and an org unit's over a date range.

:func:`session_report` is what the report endpoint, the export command and the org-unit report
read: one dict with the totals, the groups by org unit and by site and one row a trainee
(:func:`build_session_report` makes it from loaded rows, without I/O).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.ledger import LedgerRules, attendance_status
from server.core.session_run import start_offset_minutes
from server.core.trees import subtree
from server.store.attendance_models import AttendanceRecordRow
from server.store.models import ClassSession, Course, OrgUnit, Site, Trainee, utcnow
from server.web.db import Sessions, iso, load, load_many, rows_by, transaction
from server.web.leave.service import on_leave
from server.web.ledger.service import (
    Corrections,
    compute_result,
    corrections,
    result_key,
    rules_for,
)
from server.web.presence import reported_sites, site_timelines
from server.web.rollcall import service as rollcall_service
from server.web.session_roster import expected_trainees
from server.web.session_window import session_times, session_window, window_bounds

COUNTS = ("expected", "present", "absent", "makeup", "pending", "late", "left_early", "leave")
"""The counters of a report's groups and totals."""


def build_session_report(
    session: ClassSession,
    trainees: Mapping[int, Trainee],
    expected: set[int],
    records: Mapping[int, AttendanceRecordRow],
    unit_names: Mapping[int, str],
    site_names: Mapping[int, str],
    rules: LedgerRules,
    now: datetime,
    fixes: Corrections,
    presence_site_online: Mapping[int, Sequence[tuple[float, float]]] | None = None,
    leave: frozenset[tuple[int, int]] = frozenset(),
) -> dict[str, Any]:
    """Expected vs present vs absent by org unit and by site, late and left early.

    ``presence_site_online``: per site, the intervals it received the broadcast; None means
    every site received all of it.
    """
    people: list[dict[str, Any]] = []
    for tid in sorted(expected | set(records)):
        trainee = trainees.get(tid)
        if trainee is None:
            continue
        row = records.get(tid)
        site_id = row.site_id if row is not None else trainee.home_site_id
        online = (
            presence_site_online.get(site_id)
            if presence_site_online is not None and site_id is not None
            else None
        )
        result = compute_result(
            session,
            tid,
            row,
            rules,
            now,
            fixes.get(result_key(session.id, tid), ()),
            online,
            on_leave=(session.id, tid) in leave,
        )
        status = attendance_status(result, expected=tid in expected, has_record=row is not None)
        people.append(
            {
                "trainee_id": tid,
                "name": trainee.name,
                "staff_no": trainee.staff_no,
                "org_unit_id": trainee.org_unit_id,
                "org_unit": unit_names.get(trainee.org_unit_id, ""),
                "site_id": site_id,
                "site": site_names.get(site_id, "") if site_id is not None else "",
                "expected": tid in expected,
                "status": status.value,
                "kind": row.kind.value if row is not None else "",
                "first_in": iso(row.first_in) if row is not None else None,
                "last_out": iso(row.last_out) if row is not None else None,
                "attended_minutes": round(result.attended_minutes, 2),
                "late": result.late,
                "left_early": result.left_early,
                "class_hours": result.class_hours,
                "corrected": result.corrected,
            }
        )

    def tally(key: str, name_key: str) -> list[dict[str, Any]]:
        groups: dict[Any, dict[str, Any]] = {}
        for p in people:
            g = groups.setdefault(
                p[key],
                {key: p[key], "name": p[name_key], **dict.fromkeys(COUNTS, 0), "absentees": []},
            )
            _count(g, p)
            if p["status"] == "absent":
                g["absentees"].append(
                    {"trainee_id": p["trainee_id"], "name": p["name"], "staff_no": p["staff_no"]}
                )
        return [groups[k] for k in sorted(groups, key=lambda k: (k is None, k or 0))]

    totals = Counter(p["status"] for p in people)
    times = session_times(session)
    window = session_window(session, now)
    return {
        "session_id": session.id,
        "title": session.title,
        "status": session.status.value,
        "phase": window.phase.value,
        "starts_at": iso(session.starts_at),
        "ends_at": iso(session.ends_at),
        "started_at": iso(session.started_at),
        "ended_at": iso(session.ended_at),
        "start_offset_minutes": (
            None
            if times.started_at is None
            else start_offset_minutes(times.scheduled_start, times.started_at)
        ),
        "totals": {
            "expected": sum(1 for p in people if p["expected"]),
            "present": totals["present"],
            "absent": totals["absent"],
            "makeup": totals["makeup"],
            "pending": totals["pending"],
            "leave": totals["leave"],
            "late": sum(1 for p in people if p["late"]),
            "left_early": sum(1 for p in people if p["left_early"]),
        },
        "by_org_unit": tally("org_unit_id", "org_unit"),
        "by_site": tally("site_id", "site"),
        "late": [{"trainee_id": p["trainee_id"], "name": p["name"]} for p in people if p["late"]],
        "left_early": [
            {"trainee_id": p["trainee_id"], "name": p["name"]} for p in people if p["left_early"]
        ],
        "roll_calls": [],
        "site_outages": [],
        "trainees": people,
    }


def _count(acc: dict[str, Any], person: Mapping[str, Any]) -> None:
    """Add one trainee's report row to a group's (or a trainee's) counters."""
    acc["expected"] += int(person["expected"])
    acc[person["status"]] += 1
    acc["late"] += int(person["late"])
    acc["left_early"] += int(person["left_early"])


async def session_report(
    db: AsyncSession, session: ClassSession, only_units: set[int] | None = None
) -> dict[str, Any]:
    """A session's report (see the module doc); ``only_units``: the trainees of these org
    units only."""
    expected = await expected_trainees(db, session)
    records = await rows_by(
        db, AttendanceRecordRow, "trainee_id", AttendanceRecordRow.session_id == session.id
    )
    trainees = {
        t.id: t
        for t in (await load_many(db, Trainee, expected | set(records))).values()
        if only_units is None or t.org_unit_id in only_units
    }
    unit_names = {u: n for u, n in (await db.execute(select(OrgUnit.id, OrgUnit.name))).all()}
    site_names = {s: n for s, n in (await db.execute(select(Site.id, Site.name))).all()}
    course = await db.get(Course, session.course_id)
    fixes = await corrections(db, (result_key(session.id, t) for t in trainees))
    now = utcnow()
    timeline = await site_timelines(
        db, (s.id for s in session.sites), *window_bounds(session_window(session, now))
    )
    tracked = reported_sites(timeline)  # sites without an agent are taken as receiving it all
    report = build_session_report(
        session,
        trainees,
        {t for t in expected if t in trainees},
        {t: r for t, r in records.items() if t in trainees},
        unit_names,
        site_names,
        rules_for([course] if course else []),
        now,
        fixes,
        {site: timeline.online_intervals(site) for site in tracked},
        await on_leave(db, [session.id], trainees),
    )
    report["roll_calls"] = await rollcall_service.session_roll_calls(db, session.id)
    report["site_outages"] = [
        {
            "site_id": i.site_id,
            "site": site_names.get(int(i.site_id), ""),
            "from": _iso_ts(i.start),
            "to": _iso_ts(i.end),
            "minutes": round(i.duration / 60, 1),
        }
        for site in tracked
        for i in timeline.offline_intervals(site)
    ]
    return report


async def load_session_report(sessions: Sessions, session_id: int) -> dict[str, Any]:
    """The report of the session with this id (``session.not_found`` when there is none)."""
    async with transaction(sessions) as db:
        session = await load(db, ClassSession, session_id, "session")
        return await session_report(db, session)


def _iso_ts(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat()


@dataclass(frozen=True)
class UnitReport:
    """An org unit's attendance over a date range: its sessions' reports (restricted to the
    unit and its sub-units) and one row of counters a trainee."""

    unit: OrgUnit
    first: date
    last: date
    units: set[int]
    reports: list[dict[str, Any]]
    trainees: list[dict[str, Any]]

    def view(self) -> dict[str, Any]:
        return {
            "org_unit_id": self.unit.id,
            "name": self.unit.name,
            "from": self.first.isoformat(),
            "to": self.last.isoformat(),
            "org_unit_ids": sorted(self.units),
            "sessions": [
                {
                    "session_id": r["session_id"],
                    "title": r["title"],
                    "starts_at": r["starts_at"],
                    **r["totals"],
                }
                for r in self.reports
            ],
            "trainees": self.trainees,
        }


async def org_unit_report(
    sessions: Sessions, unit_id: int, first: date, last: date, zone: tzinfo
) -> UnitReport:
    """The report of an org unit (and its sub-units) for the days first..last (local)."""
    start = datetime(first.year, first.month, first.day, tzinfo=zone).astimezone(UTC)
    end = (datetime(last.year, last.month, last.day, tzinfo=zone) + timedelta(days=1)).astimezone(
        UTC
    )
    async with transaction(sessions) as db:
        unit = await load(db, OrgUnit, unit_id, "org unit")
        parents = {u: p for u, p in (await db.execute(select(OrgUnit.id, OrgUnit.parent_id))).all()}
        units = subtree(unit.id, parents)
        found = (
            await db.scalars(
                select(ClassSession)
                .where(ClassSession.starts_at >= start, ClassSession.starts_at < end)
                .order_by(ClassSession.starts_at, ClassSession.id)
            )
        ).all()
        reports = [await session_report(db, s, units) for s in found]
    people: dict[int, dict[str, Any]] = {}
    for report in reports:
        for p in report["trainees"]:
            acc = people.setdefault(
                p["trainee_id"],
                {
                    "trainee_id": p["trainee_id"],
                    "name": p["name"],
                    "staff_no": p["staff_no"],
                    "org_unit": p["org_unit"],
                    **dict.fromkeys(COUNTS, 0),
                    "class_hours": 0.0,
                },
            )
            _count(acc, p)
            acc["class_hours"] += p["class_hours"]
    return UnitReport(unit, first, last, units, reports, [people[k] for k in sorted(people)])
