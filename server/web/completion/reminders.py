"""Reminders (我的待办) over HTTP: a trainee's due list, the office's not-done export.

The rule of what is due is ``server.core.reminders``; this module gathers its facts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import roles
from server.core.leave import LeaveState
from server.core.reminders import (
    CourseDue,
    DueItem,
    DueKind,
    LeaveNote,
    UpcomingSession,
    due_items,
    outstanding_rows,
)
from server.store.completion_models import LeaveRequestRow, WriteupRow
from server.store.models import ClassSession, OrgUnit, Program, ProgramUnit, Trainee, utcnow
from server.store.selfstudy_models import SelfStudyCourse
from server.web import exports
from server.web.api import Answer, Param, Routes, id_param
from server.web.completion import service
from server.web.exports import CSV, XLSX
from server.web.keys import SESSIONS, principal
from server.web.leave import service as leave_service
from server.web.resources import load, path_id
from server.web.selfstudy import service as selfstudy
from server.web.session_roster import expected_trainees

AHEAD_DAYS = 120
FORMAT = Param("format", {"type": "string", "enum": ["xlsx", "csv"]}, "file format (xlsx)")
UNIT = id_param("org_unit_id", "one unit only")
KIND_ZH = {
    DueKind.LIVE: "集中授课",
    DueKind.SELF_STUDY: "自学课程",
    DueKind.WRITEUP: "学用成果",
    DueKind.LEAVE: "请假",
}
STATE_ZH = {
    "not_submitted": "未提交",
    "submitted": "待评阅",
    "needs_revision": "退回修改",
}


async def self_study_due(
    db: AsyncSession, program_id: int, trainee_ids: list[int]
) -> dict[int, list[CourseDue]]:
    """Self-study courses of the program open now and not finished, per trainee
    (``server.web.selfstudy``: its enrolment and completion rules)."""
    of_program = set(
        (
            await db.scalars(
                select(SelfStudyCourse.id)
                .join(ProgramUnit, ProgramUnit.id == SelfStudyCourse.unit_id)
                .where(ProgramUnit.program_id == program_id)
            )
        ).all()
    )
    out: dict[int, list[CourseDue]] = {}
    for trainee_id in trainee_ids:
        out[trainee_id] = [
            CourseDue(
                c["course_id"],
                c["title"],
                float(c["share"]),
                datetime.fromisoformat(c["closes_at"]).timestamp() if c["closes_at"] else None,
            )
            for c in await selfstudy.unwatched_due(db, trainee_id)
            if c["course_id"] in of_program
        ]
    return out


async def _program_coming(
    db: AsyncSession, program_id: int, now: datetime
) -> list[tuple[ClassSession, set[int]]]:
    """The program's sessions not over yet (next AHEAD_DAYS), each with who is expected."""
    sessions = [
        s
        for s in await leave_service.program_sessions(db, program_id)
        if s.ends_at > now and s.starts_at < now + timedelta(days=AHEAD_DAYS)
    ]
    return [(s, await expected_trainees(db, s)) for s in sessions]


async def due_by_trainee(
    db: AsyncSession, program: Program, trainees: Sequence[Trainee], now: datetime
) -> dict[int, tuple[DueItem, ...]]:
    """Every given trainee's due items in the program, from a handful of queries for all of
    them (who is expected is asked once per coming session, not once per trainee)."""
    ids = [t.id for t in trainees]
    coming = await _program_coming(db, program.id, now)
    leave = await leave_service.on_leave(db, [s.id for s, _ in coming], ids)
    attended = await leave_service.checked_in(db, [s.id for s, _ in coming], ids)
    settings = await leave_service.settings_of(db, program.id)
    writeups = dict(
        (
            await db.execute(
                select(WriteupRow.trainee_id, WriteupRow.state).where(
                    WriteupRow.program_id == program.id, WriteupRow.trainee_id.in_(ids)
                )
            )
        ).all()
    )
    requests: dict[int, list[LeaveNote]] = {}
    for r in (
        await db.scalars(
            select(LeaveRequestRow).where(
                LeaveRequestRow.program_id == program.id,
                LeaveRequestRow.trainee_id.in_(ids),
                LeaveRequestRow.state != LeaveState.WITHDRAWN.value,
            )
        )
    ).all():
        requests.setdefault(r.trainee_id, []).append(
            LeaveNote(r.id, r.state, r.first_start.timestamp())
        )
    courses = await self_study_due(db, program.id, ids)
    out: dict[int, tuple[DueItem, ...]] = {}
    for trainee in trainees:
        upcoming = []
        for session, expected in coming:
            if trainee.id not in expected:
                continue
            room = next((x for x in session.sites if x.id == trainee.home_site_id), None)
            room = room or (session.sites[0] if session.sites else None)
            upcoming.append(
                UpcomingSession(
                    session.id,
                    session.title,
                    session.starts_at.timestamp(),
                    session.ends_at.timestamp(),
                    room.name if room is not None else "",
                    ended=session.ended_at is not None,
                    checked_in=(session.id, trainee.id) in attended,
                )
            )
        out[trainee.id] = due_items(
            now=now.timestamp(),
            upcoming=upcoming,
            on_leave=frozenset(s for s, t in leave if t == trainee.id),
            courses=courses.get(trainee.id, []),
            writeup_required=bool(settings.writeup_required),
            writeup_state=writeups.get(trainee.id),
            program_id=program.id,
            leave=requests.get(trainee.id, []),
        )
    return out


def _item_view(item: DueItem) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "ref": item.ref,
        "title": item.title,
        "when": None if item.when is None else datetime.fromtimestamp(item.when, UTC).isoformat(),
        "room": item.room,
        "state": item.state,
        "progress": item.progress,
        "actionable": item.actionable,
    }


routes = Routes()


@routes.json("GET", "/api/v1/trainee/todo", roles.TRAINEES, "completion")
async def my_todo(request: web.Request) -> Answer:
    """Show what I have to do: next live session and room, self-study, write-up, leave

    What I have to do in each of my programs: next live session and room, unwatched
    self-study, the write-up, and my leave requests' state."""
    who = principal(request)
    assert who.trainee_id is not None
    now = utcnow()
    async with request.app[SESSIONS]() as db:
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        programs = await service.trainee_programs(db, trainee)
        out = []
        for program in programs[:5]:
            items = (await due_by_trainee(db, program, [trainee], now))[trainee.id]
            out.append(
                {
                    "program": {"id": program.id, "name": program.name},
                    "items": [_item_view(i) for i in items],
                }
            )
        certificates = await service.certificate_count(db, trainee.id)
    return {"programs": out, "certificates": certificates}


@routes(
    "GET",
    "/api/v1/programs/{id}/outstanding",
    roles.MANAGERS,
    "Export, per unit, who has not done what in a program (XLSX or CSV)",
    "completion",
    query=(FORMAT, UNIT),
    produces=(XLSX, CSV),
)
async def outstanding(request: web.Request) -> web.Response:
    """Per unit, who has not done what in a program: XLSX (numbers as numbers, local time)."""
    program_id = path_id(request, "program")
    fmt = FORMAT.parse(request, "xlsx")
    unit_filter = UNIT.parse(request)
    zone = exports.zone_of(request)
    now = utcnow()
    async with request.app[SESSIONS]() as db:
        program = await load(db, Program, program_id, "program")
        trainees = await service.program_trainees(db, program.id)
        units = dict((await db.execute(select(OrgUnit.id, OrgUnit.name))).all())
        chosen = [
            t
            for t in sorted(trainees.values(), key=lambda t: t.staff_no)
            if unit_filter is None or t.org_unit_id == unit_filter
        ]
        due = await due_by_trainee(db, program, chosen, now)
        people = [(units.get(t.org_unit_id, ""), t.staff_no, t.name, due[t.id]) for t in chosen]
    rows = outstanding_rows(people)
    sheet = exports.Sheet(
        "待办",
        ["单位", "工号", "姓名", "事项", "内容", "时间", "进度(%)", "状态"],
        [
            [
                r.org_unit,
                r.staff_no,
                r.name,
                KIND_ZH[r.kind],
                r.title,
                exports.local(datetime.fromtimestamp(r.when, UTC), zone) if r.when else None,
                None if r.progress is None else round(r.progress * 100, 1),
                STATE_ZH.get(r.state, r.state),
            ]
            for r in rows
        ],
    )
    return await exports.download(f"program-{program_id}-outstanding", [sheet], fmt)


register = routes.register
