"""The needs survey before a program and feedback after a session: the store around
``server.core.quiz.NeedsSurvey`` and ``FeedbackBook`` (they check, rank and summarise; the rows
are what they accepted). No HTTP here."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import quiz as quiz_core
from server.core import roles
from server.core.errors import NotFound
from server.core.roles import Principal
from server.store.models import ClassSession, Course, Program, Trainee, utcnow
from server.store.qa_models import FeedbackRow, NeedsResponseRow, NeedsSurveyRow
from server.web.db import get_or_add
from server.web.interaction.service import Services, attendance, log_event
from server.web.resources import load


async def put_survey(
    svc: Services, who: Principal, program_id: int, topics: list[str]
) -> dict[str, Any]:
    quiz_core.NeedsSurvey(str(program_id), topics)  # checks the topics
    async with svc.sessions() as db, db.begin():
        await load(db, Program, program_id, "program")
        row = await get_or_add(db, NeedsSurveyRow, {"program_id": program_id}, created_by=who.label)
        row.topics = topics
    return {"program_id": program_id, "topics": topics}


async def _survey(
    db: AsyncSession, program_id: int
) -> tuple[NeedsSurveyRow, quiz_core.NeedsSurvey]:
    await load(db, Program, program_id, "program")
    row = await db.get(NeedsSurveyRow, program_id)
    if row is None:
        raise NotFound("survey.not_found", "This program has no needs survey yet.")
    return row, quiz_core.NeedsSurvey(str(program_id), row.topics)


async def respond_survey(
    svc: Services, who: Principal, program_id: int, ranking: list[str], needs_text: str
) -> dict[str, Any]:
    assert who.trainee_id is not None
    async with svc.sessions() as db, db.begin():
        _row, survey = await _survey(db, program_id)
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        response = survey.submit(
            str(trainee.id),
            org_unit=str(trainee.org_unit_id),
            ranking=ranking,
            needs_text=needs_text,
            now=utcnow().timestamp(),
        )
        existing = await get_or_add(
            db, NeedsResponseRow, {"program_id": program_id, "trainee_id": trainee.id}
        )
        existing.org_unit_id = trainee.org_unit_id
        existing.ranking = list(response.ranking)
        existing.needs_text = response.needs_text
        existing.submitted_at = utcnow()
    return {"program_id": program_id, "ranking": list(response.ranking)}


def _scores(scores: Sequence[quiz_core.TopicScore]) -> list[dict[str, Any]]:
    return [
        {
            "topic": s.topic,
            "points": s.points,
            "first_choices": s.first_choices,
            "mentions": s.mentions,
        }
        for s in scores
    ]


async def show_survey(svc: Services, who: Principal, program_id: int) -> dict[str, Any]:
    """The topics; for staff also the ranked needs, overall and per org unit."""
    async with svc.sessions() as db:
        row, survey = await _survey(db, program_id)
        if who.actor not in roles.STAFF:
            return {"program_id": program_id, "topics": row.topics}
        responses = (
            await db.scalars(
                select(NeedsResponseRow).where(NeedsResponseRow.program_id == program_id)
            )
        ).all()
    for r in responses:
        survey.submit(
            str(r.trainee_id),
            org_unit=str(r.org_unit_id),
            ranking=list(r.ranking),
            needs_text=r.needs_text,
            now=r.submitted_at.timestamp(),
        )
    return {
        "program_id": program_id,
        "topics": row.topics,
        "responses": len(responses),
        "ranked": _scores(survey.ranked_needs()),
        "by_org_unit": {
            unit: _scores(scores) for unit, scores in survey.ranked_needs_by_org_unit().items()
        },
        "needs_texts": survey.needs_texts(),
    }


async def submit_feedback(
    svc: Services, who: Principal, session_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    assert who.trainee_id is not None
    async with svc.sessions() as db, db.begin():
        course_id = await db.scalar(
            select(ClassSession.course_id).where(ClassSession.id == session_id)
        )
        if course_id is None:
            raise NotFound("session.not_found", f"There is no session with id {session_id}.")
        await attendance(db, session_id, who.trainee_id)
        entry = quiz_core.FeedbackBook().submit(
            str(who.trainee_id),
            session_id=str(session_id),
            course_id=str(course_id),
            course_rating=data["course_rating"],
            lecturer_ratings=data.get("lecturer_ratings", {}),
            comment=data.get("comment", ""),
            now=utcnow().timestamp(),
        )
        row = await get_or_add(
            db, FeedbackRow, {"session_id": session_id, "trainee_id": who.trainee_id}
        )
        row.course_rating = entry.course_rating
        row.lecturer_ratings = dict(entry.lecturer_ratings)
        row.comment = entry.comment
        row.submitted_at = utcnow()
        log_event(db, session_id, "feedback", who.label, {"course_rating": entry.course_rating})
    return {
        "session_id": session_id,
        "course_rating": entry.course_rating,
        "lecturer_ratings": dict(entry.lecturer_ratings),
        "comment": entry.comment,
    }


def _summary(s: quiz_core.RatingSummary) -> dict[str, Any]:
    return {
        "count": s.count,
        "mean": None if s.mean is None else round(s.mean, 3),
        "distribution": list(s.distribution),
    }


async def feedback_summary(svc: Services, session_id: int) -> dict[str, Any]:
    async with svc.sessions() as db:
        session = await load(db, ClassSession, session_id, "session")
        course = await db.get(Course, session.course_id)
        rows = (
            await db.scalars(select(FeedbackRow).where(FeedbackRow.session_id == session_id))
        ).all()
    book = quiz_core.FeedbackBook()
    for r in rows:
        book.submit(
            str(r.trainee_id),
            session_id=str(session_id),
            course_id=str(session.course_id),
            course_rating=r.course_rating,
            lecturer_ratings=r.lecturer_ratings or {},
            comment=r.comment,
            now=r.submitted_at.timestamp(),
        )
    lecturers = sorted({name for r in rows for name in (r.lecturer_ratings or {})})
    return {
        "session_id": session_id,
        "course_id": session.course_id,
        "course_title": course.title if course else "",
        "course": _summary(book.course_summary(str(session.course_id))),
        "lecturers": {name: _summary(book.lecturer_summary(name)) for name in lecturers},
        "comments": book.comments(str(session.course_id)),
    }
