"""Attendance records: database rows <-> the pure core's records, and their JSON view.

Shared by the check-in service, the group-commit writer (``writer``), the ledger and session
end (``close_open_records``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import (
    AttendanceKind,
    AttendanceRecord,
    AttendanceState,
    CheckinOutcome,
    ManualPresence,
    Stay,
    StaySource,
)
from server.store.attendance_models import AttendanceRecordRow, RecordKind
from server.store.models import utcnow
from server.web.db import fields, find, iso


def at(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def to_core(row: AttendanceRecordRow) -> AttendanceRecord:
    return AttendanceRecord(
        trainee_id=str(row.trainee_id),
        session_id=str(row.session_id),
        site_id=str(row.site_id),
        kind=AttendanceKind.MAKEUP if row.kind is RecordKind.MAKEUP else AttendanceKind.REGULAR,
        state=AttendanceState(row.state),
        stays=tuple(
            Stay(
                float(s["start"]),
                None if s["end"] is None else float(s["end"]),
                StaySource(s["source"]),
            )
            for s in row.stays or []
        ),
        manual=tuple(
            ManualPresence(
                by=str(m["by"]),
                reason=str(m["reason"]),
                at=float(m["at"]),
                start=float(m["start"]),
                end=None if m["end"] is None else float(m["end"]),
            )
            for m in row.manual or []
        ),
    )


def store_core(row: AttendanceRecordRow, record: AttendanceRecord) -> None:
    row.state = record.state.value
    row.stays = [{"start": s.start, "end": s.end, "source": s.source.value} for s in record.stays]
    row.manual = [
        {"by": m.by, "reason": m.reason, "at": m.at, "start": m.start, "end": m.end}
        for m in record.manual
    ]
    row.first_in = at(min(s.start for s in record.stays)) if record.stays else None
    ends = [s.end for s in record.stays if s.end is not None]
    row.last_out = at(max(ends)) if ends and record.open_stay is None else None
    row.closed = record.state is AttendanceState.CLOSED
    if record.manual:
        row.manual_reason = record.manual[-1].reason
        row.manual_by = record.manual[-1].by
    row.updated_at = utcnow()


def new_row(
    trainee_id: int, session_id: int, site_id: int, kind: RecordKind
) -> AttendanceRecordRow:
    return AttendanceRecordRow(
        trainee_id=trainee_id,
        session_id=session_id,
        site_id=site_id,
        kind=kind,
        state=AttendanceState.OUT.value,
        stays=[],
        manual=[],
        manual_reason="",
        manual_by="",
        closed=False,
    )


def record_view(row: AttendanceRecordRow) -> dict[str, Any]:
    return {
        **fields(row, "id", "trainee_id", "session_id", "site_id"),
        "kind": row.kind.value,
        "state": row.state,
        "checked_in": row.state == AttendanceState.IN.value,
        "first_in": iso(row.first_in),
        "last_out": iso(row.last_out),
        "stays": [
            {
                "start": iso(at(s["start"])),
                "end": iso(at(s["end"])),
                "source": s["source"],
            }
            for s in row.stays or []
        ],
        "manual": [
            {
                "by": m["by"],
                "reason": m["reason"],
                "at": iso(at(m["at"])),
                "start": iso(at(m["start"])),
                "end": iso(at(m["end"])),
            }
            for m in row.manual or []
        ],
        "closed": row.closed,
    }


async def close_open_records(db: AsyncSession, session_id: int, ended_at: datetime) -> int:
    """Close every open attendance record of a session at its end; returns how many.

    Call it from ``end_session`` in the same transaction that marks the session ended, so a
    crash cannot leave an ended session with trainees still "in the room".
    """
    rows = (
        await db.scalars(
            select(AttendanceRecordRow).where(
                AttendanceRecordRow.session_id == session_id,
                AttendanceRecordRow.closed.is_(False),
            )
        )
    ).all()
    end = ended_at.timestamp()
    for row in rows:
        store_core(row, to_core(row).close_at(end))
    await db.flush()
    return len(rows)


async def record_of(
    db: AsyncSession, session_id: int, trainee_id: int
) -> AttendanceRecordRow | None:
    return await find(db, AttendanceRecordRow, session_id=session_id, trainee_id=trainee_id)


def record_kind(kind: AttendanceKind) -> RecordKind:
    """The stored kind of a new record made by a check-in of this kind."""
    return RecordKind.MAKEUP if kind is AttendanceKind.MAKEUP else RecordKind.REGULAR


def checkin_answer(
    client_id: str, outcome: CheckinOutcome, row: AttendanceRecordRow
) -> dict[str, Any]:
    """The answer to an accepted check-in (stored with its client id for replays)."""
    return {
        "client_id": client_id,
        "kind": outcome.kind.value,
        "message": outcome.message,
        "planned_session_id": None
        if outcome.planned_session_id is None
        else int(outcome.planned_session_id),
        "record": record_view(row),
        "replayed": False,
    }
