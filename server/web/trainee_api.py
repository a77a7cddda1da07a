"""What the trainee's phone lists for the trainee: electives open for registration (with the
seats left and the trainee's place), needs surveys to answer, and the sessions the trainee
attended and may give feedback on. Registering, answering and giving feedback use the existing
endpoints (electives, ledger, server/web/qa); these are the read-only lists the phone page needs."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import or_, select

from server.core import roles
from server.store.attendance_models import (
    AttendanceRecordRow,
    ElectiveRegistration,
    RegistrationStatus,
    SessionSettings,
)
from server.store.models import ClassSession, Course, Program, SessionStatus, utcnow
from server.store.qa_models import FeedbackRow, NeedsResponseRow, NeedsSurveyRow
from server.web.api import Endpoint, Registry
from server.web.db import rows_by
from server.web.keys import SESSIONS, principal

FEEDBACK_DAYS = 60
"""Feedback is asked for sessions of the last two months."""


def _session(s: ClassSession, course: Course | None) -> dict[str, Any]:
    return {
        "session_id": s.id,
        "title": s.title or (course.title if course else ""),
        "course_title": course.title if course else "",
        "lecturer": course.lecturer if course else "",
        "credits": course.credits if course else 0,
        "starts_at": s.starts_at.isoformat(),
        "ends_at": s.ends_at.isoformat(),
        "status": s.status.value,
    }


async def electives(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db:
        mine = await rows_by(
            db,
            ElectiveRegistration,
            "session_id",
            ElectiveRegistration.trainee_id == who.trainee_id,
            ElectiveRegistration.status != RegistrationStatus.CANCELLED,
        )
        found = (
            await db.execute(
                select(ClassSession, Course, SessionSettings)
                .join(SessionSettings, SessionSettings.session_id == ClassSession.id)
                .join(Course, Course.id == ClassSession.course_id)
                .where(ClassSession.status != SessionStatus.ENDED)
                .where(
                    or_(
                        SessionSettings.registration_open.is_(True),
                        ClassSession.id.in_(list(mine)),
                    )
                )
                .order_by(ClassSession.starts_at, ClassSession.id)
                .limit(200)
            )
        ).all()
        counts: Counter[tuple[int, str]] = Counter()
        ids = [s.id for s, _, _ in found]
        for session_id, status in (
            await db.execute(
                select(ElectiveRegistration.session_id, ElectiveRegistration.status).where(
                    ElectiveRegistration.session_id.in_(ids)
                )
            )
        ).all():
            counts[(session_id, RegistrationStatus(status).value)] += 1
    items = []
    for session, course, settings in found:
        reg = mine.get(session.id)
        registered = counts[(session.id, "registered")]
        items.append(
            {
                **_session(session, course),
                "capacity": settings.capacity,
                "registration_open": bool(settings.registration_open),
                "registered": registered,
                "waitlisted": counts[(session.id, "waitlisted")],
                "seats_left": None
                if settings.capacity is None
                else max(0, settings.capacity - registered),
                "my_status": reg.status.value if reg else None,
                "my_position": reg.position if reg else None,
            }
        )
    return web.json_response({"items": items})


async def surveys(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db:
        rows = (
            await db.execute(
                select(NeedsSurveyRow, Program)
                .join(Program, Program.id == NeedsSurveyRow.program_id)
                .order_by(Program.year.desc(), Program.id)
            )
        ).all()
        answers = await rows_by(
            db, NeedsResponseRow, "program_id", NeedsResponseRow.trainee_id == who.trainee_id
        )
    items = []
    for survey, program in rows:
        mine = answers.get(program.id)
        items.append(
            {
                "program_id": program.id,
                "program": program.name,
                "year": program.year,
                "topics": list(survey.topics),
                "answered": mine is not None,
                "my_ranking": list(mine.ranking) if mine else None,
                "my_needs_text": mine.needs_text if mine else "",
            }
        )
    return web.json_response({"items": items})


async def feedback_due(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    since = utcnow() - timedelta(days=FEEDBACK_DAYS)
    async with request.app[SESSIONS]() as db:
        found = (
            await db.execute(
                select(ClassSession, Course, FeedbackRow)
                .join(AttendanceRecordRow, AttendanceRecordRow.session_id == ClassSession.id)
                .join(Course, Course.id == ClassSession.course_id)
                .outerjoin(
                    FeedbackRow,
                    (FeedbackRow.session_id == ClassSession.id)
                    & (FeedbackRow.trainee_id == who.trainee_id),
                )
                .where(AttendanceRecordRow.trainee_id == who.trainee_id)
                # offered only once the session is over, never while it is still running
                .where(ClassSession.status == SessionStatus.ENDED)
                .where(ClassSession.starts_at >= since)
                .order_by(ClassSession.starts_at.desc(), ClassSession.id)
                .limit(50)
            )
        ).all()
    items = [
        {
            **_session(session, course),
            "given": fb is not None,
            "my_rating": fb.course_rating if fb else None,
            "my_lecturer_rating": (fb.lecturer_ratings or {}).get(course.lecturer) if fb else None,
            "my_comment": fb.comment if fb else "",
        }
        for session, course, fb in found
    ]
    return web.json_response({"items": items})


def register(registry: Registry) -> None:
    for path, handler, summary in (
        ("electives", electives, "List the electives open for registration and my place in each"),
        ("surveys", surveys, "List the needs surveys and whether I answered"),
        ("feedback", feedback_due, "List the sessions I attended recently and my feedback"),
    ):
        registry.add(
            Endpoint("GET", f"/api/v1/trainee/{path}", handler, roles.TRAINEES, summary, "trainee")
        )
