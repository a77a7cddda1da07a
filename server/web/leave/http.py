"""Leave (请假) over HTTP: the trainee asks and withdraws, the office or unit contact decides.

Routes are declared at the end, next to their handlers. The work is in ``service``; the rules
in ``server.core.leave``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.core import roles
from server.core.errors import NotFound
from server.core.leave import LeaveAction, LeaveState, flagged, may_ask_leave
from server.core.validation import Enum as OneOf
from server.core.validation import Int, List, Map, Str
from server.store.completion_models import LeaveRequestRow, UnitContact
from server.store.models import ClassSession, Course, OrgUnit, Trainee, User, utcnow
from server.web.api import Answer, Body, Param, Routes, id_param
from server.web.db import Sessions, iso, load_many
from server.web.keys import SESSIONS, principal
from server.web.leave import service
from server.web.resources import audit, load, path_id

ID = Int(1, 2**31 - 1)
ASK_DAYS_AHEAD = 45
ASK_LISTED = 12
MAX_LISTED = 500


def _body(fields: dict[str, Any], required: set[str]) -> Map:
    return Map(fields, frozenset(required), extra="reject", absent="omit")


ASK_BODY = _body(
    {"session_ids": List(ID, min_items=1, max_items=200), "reason": Str(max_len=2000)},
    {"session_ids", "reason"},
)
DECIDE_BODY = _body(
    {"decision": OneOf("approve", "refuse"), "note": Str(max_len=2000)}, {"decision"}
)
CONTACTS_BODY = _body({"user_ids": List(ID, max_items=100)}, {"user_ids"})


def _request_view(
    row: LeaveRequestRow, sessions: list[ClassSession], titles: dict[int, str]
) -> dict[str, Any]:
    return {
        "id": row.id,
        "trainee_id": row.trainee_id,
        "program_id": row.program_id,
        "state": row.state,
        "reason": row.reason,
        "note": row.note,
        "created_at": iso(row.created_at),
        "decided_at": iso(row.decided_at),
        "first_start": iso(row.first_start),
        "sessions": [
            {
                "id": s.id,
                "title": s.title or titles.get(s.course_id, ""),
                "starts_at": iso(s.starts_at),
                "ends_at": iso(s.ends_at),
            }
            for s in sessions
        ],
    }


async def _views(db: Any, rows: list[LeaveRequestRow]) -> list[dict[str, Any]]:
    by_request = await service.sessions_of(db, [r.id for r in rows])
    ids = sorted({s for ids in by_request.values() for s in ids})
    sessions = (
        {
            s.id: s
            for s in (await db.scalars(select(ClassSession).where(ClassSession.id.in_(ids)))).all()
        }
        if ids
        else {}
    )
    course_ids = {s.course_id for s in sessions.values()}
    titles = (
        dict(
            (
                await db.execute(select(Course.id, Course.title).where(Course.id.in_(course_ids)))
            ).all()
        )
        if course_ids
        else {}
    )
    return [
        _request_view(r, [sessions[s] for s in by_request[r.id] if s in sessions], titles)
        for r in rows
    ]


# --------------------------------------------------------------------------------------------
# The trainee
# --------------------------------------------------------------------------------------------


routes = Routes()
STATE_PARAM = Param(
    "state",
    {"type": "string", "enum": [*(s.value for s in LeaveState), "all"]},
    "which requests (default: requested)",
)
PROGRAM_PARAM = id_param("program_id", "one program only")


@routes.json("GET", "/api/v1/trainee/leave", roles.TRAINEES, "leave")
async def my_leave(request: web.Request) -> Answer:
    """List my leave requests and the coming sessions I may ask leave from

    My leave requests, and the coming sessions I may ask leave from."""
    who = principal(request)
    assert who.trainee_id is not None
    now = utcnow()
    async with request.app[SESSIONS]() as db:
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        rows = list(
            (
                await db.scalars(
                    select(LeaveRequestRow)
                    .where(LeaveRequestRow.trainee_id == trainee.id)
                    .order_by(LeaveRequestRow.first_start.desc(), LeaveRequestRow.id.desc())
                    .limit(100)
                )
            ).all()
        )
        views = await _views(db, rows)
        coming = await service.coming_sessions(
            db, trainee, now, now + timedelta(days=ASK_DAYS_AHEAD), limit=ASK_LISTED
        )
        attended = await service.checked_in(db, [s["id"] for s in coming], [trainee.id])
        coming = [
            s
            for s in coming
            if may_ask_leave(
                datetime.fromisoformat(s["ends_at"]).timestamp(),
                now=now.timestamp(),
                checked_in=(s["id"], trainee.id) in attended,
            )
        ]
        asked = {
            s["id"]
            for v in views
            if v["state"] in (LeaveState.REQUESTED.value, LeaveState.APPROVED.value)
            for s in v["sessions"]
        }
    return {
        "requests": views,
        "sessions": [{**s, "asked": s["id"] in asked} for s in coming],
    }


@routes.json_body("POST", "/api/v1/trainee/leave", roles.TRAINEES, "leave", ASK_BODY, status=201)
async def ask_leave(request: web.Request, data: Body) -> Answer:
    """Ask leave (请假) from sessions of one program, with a reason"""
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db, db.begin():
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        row = await service.ask(db, trainee, data["session_ids"], data["reason"])
        audit(db, who, "ask", "leave_request", row.id, None, {"state": row.state}, row.reason)
        view = (await _views(db, [row]))[0]
    return view


@routes.json("POST", "/api/v1/leave/{id}/withdraw", roles.TRAINEES, "leave")
async def withdraw_leave(request: web.Request) -> Answer:
    """Withdraw my leave request"""
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        row = await load(db, LeaveRequestRow, path_id(request, "leave request"), "leave request")
        if row.trainee_id != who.trainee_id:
            raise NotFound("leave_request.not_found", "There is no such leave request of yours.")
        before = row.state
        await service.change(db, row, LeaveAction.WITHDRAW, who.label)
        audit(db, who, "withdraw", "leave_request", row.id, {"state": before}, {"state": row.state})
        view = (await _views(db, [row]))[0]
    return view


# --------------------------------------------------------------------------------------------
# The training office and unit contacts
# --------------------------------------------------------------------------------------------


@routes.json("GET", "/api/v1/leave", roles.STAFF, "leave", query=(STATE_PARAM, PROGRAM_PARAM))
async def list_leave(request: web.Request) -> Answer:
    """List the leave requests I may decide, with the leave share before and after

    Requests the caller may decide (the office: all; a unit contact: their units), with
    each trainee's leave share before and after, and the program's limit flags."""
    who = principal(request)
    state = STATE_PARAM.parse(request, "requested")
    program_id = PROGRAM_PARAM.parse(request)
    async with request.app[SESSIONS]() as db:
        decider = await service.decider_for(db, who)
        query = (
            select(LeaveRequestRow, Trainee, OrgUnit)
            .join(Trainee, Trainee.id == LeaveRequestRow.trainee_id)
            .join(OrgUnit, OrgUnit.id == Trainee.org_unit_id)
            .order_by(LeaveRequestRow.first_start, LeaveRequestRow.id)
            .limit(MAX_LISTED)
        )
        if state != "all":
            query = query.where(LeaveRequestRow.state == state)
        if program_id is not None:
            query = query.where(LeaveRequestRow.program_id == program_id)
        if not decider.office:
            query = query.where(Trainee.org_unit_id.in_(sorted(decider.contact_of) or [0]))
        found = (await db.execute(query)).all()
        views = await _views(db, [r for r, _, _ in found])
        standings: dict[tuple[int, int], dict[str, Any]] = {}
        names: dict[int, str] = {}
        for program in sorted({r.program_id for r, _, _ in found}):
            names[program] = await service.program_name(db, program)
            for trainee_id, s in (await service.standings(db, program)).items():
                standings[(program, trainee_id)] = service.standing_view(s)
    items = [
        {
            **view,
            "trainee": {"id": t.id, "name": t.name, "staff_no": t.staff_no},
            "org_unit": {"id": u.id, "name": u.name},
            "program": names.get(r.program_id, ""),
            "may_decide": decider.may_decide(t.org_unit_id),
            "standing": standings.get((r.program_id, t.id)),
        }
        for (r, t, u), view in zip(found, views, strict=True)
    ]
    return {"office": decider.office, "items": items}


@routes.json_body("POST", "/api/v1/leave/{id}/decide", roles.STAFF, "leave", DECIDE_BODY)
async def decide_leave(request: web.Request, data: Body) -> Answer:
    """Approve or refuse a leave request (office: all; unit contact: own unit)"""
    who = principal(request)
    action = LeaveAction.APPROVE if data["decision"] == "approve" else LeaveAction.REFUSE
    async with request.app[SESSIONS]() as db, db.begin():
        row = await load(db, LeaveRequestRow, path_id(request, "leave request"), "leave request")
        trainee = await load(db, Trainee, row.trainee_id, "trainee")
        (await service.decider_for(db, who)).check(trainee.org_unit_id)
        before = row.state
        await service.change(db, row, action, who.label, data.get("note", ""))
        audit(
            db,
            who,
            action.value,
            "leave_request",
            row.id,
            {"state": before},
            {"state": row.state},
            row.note,
        )
        view = (await _views(db, [row]))[0]
    return view


@routes.json("GET", "/api/v1/programs/{id}/leave", roles.MANAGERS, "leave")
async def program_leave(request: web.Request) -> Answer:
    """Show a program's leave shares and who passes its limit (1/7), before and after

    A program's leave shares: who has passed its limit, or would if pending were approved."""
    program_id = path_id(request, "program")
    async with request.app[SESSIONS]() as db:
        settings = await service.settings_of(db, program_id)
        found = await service.standings(db, program_id)
        people = await load_many(db, Trainee, found)
    rows = sorted(found.values(), key=lambda s: (-s.share_after, s.trainee_id))
    flags = {s.trainee_id for s in flagged(rows)}
    return {
        "program_id": program_id,
        "limit": f"{settings.leave_limit_num}/{settings.leave_limit_den}",
        "items": [
            {
                "trainee_id": int(s.trainee_id),
                "name": people[int(s.trainee_id)].name,
                "staff_no": people[int(s.trainee_id)].staff_no,
                "flagged": s.trainee_id in flags,
                **service.standing_view(s),
            }
            for s in rows
            if int(s.trainee_id) in people
        ],
    }


async def _contacts(sessions: Sessions, unit_id: int) -> Answer:
    async with sessions() as db:
        await load(db, OrgUnit, unit_id, "org unit")
        users = (
            await db.execute(
                select(User.id, User.username, User.display_name)
                .join(UnitContact, UnitContact.user_id == User.id)
                .where(UnitContact.org_unit_id == unit_id)
                .order_by(User.id)
            )
        ).all()
    return {
        "org_unit_id": unit_id,
        "items": [{"id": i, "username": n, "display_name": d} for i, n, d in users],
    }


@routes.json("GET", "/api/v1/org-units/{id}/contacts", roles.MANAGERS, "leave")
async def get_contacts(request: web.Request) -> Answer:
    """List the unit's contacts, who decide its trainees' leave"""
    return await _contacts(request.app[SESSIONS], path_id(request, "org unit"))


@routes.json_body("PUT", "/api/v1/org-units/{id}/contacts", roles.MANAGERS, "leave", CONTACTS_BODY)
async def put_contacts(request: web.Request, data: Body) -> Answer:
    """Name the unit's contacts, who decide its trainees' leave

    The users who decide the leave of a unit's trainees (its contacts, 联络员)."""
    unit_id = path_id(request, "org unit")
    wanted = sorted(set(data["user_ids"]))
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, OrgUnit, unit_id, "org unit")
        known = set((await db.scalars(select(User.id).where(User.id.in_(wanted)))).all())
        missing = sorted(set(wanted) - known)
        if missing:
            raise NotFound("user.not_found", f"There is no user with id {missing[0]}.")
        current = set(
            (
                await db.scalars(
                    select(UnitContact.user_id).where(UnitContact.org_unit_id == unit_id)
                )
            ).all()
        )
        for user_id in current - set(wanted):
            row = await db.get(UnitContact, (user_id, unit_id))
            if row is not None:
                await db.delete(row)
        db.add_all(UnitContact(user_id=u, org_unit_id=unit_id) for u in set(wanted) - current)
        audit(
            db,
            principal(request),
            "update",
            "unit_contacts",
            unit_id,
            {"user_ids": sorted(current)},
            {"user_ids": wanted},
        )
    return await _contacts(request.app[SESSIONS], unit_id)


register = routes.register
