"""Completing a program in the store: its requirements, each trainee's facts, certificates.

The rules are ``server.core.completion``; this module gathers the facts they judge: live hours
from the ledger (the same results the reports show), self-study hours (``self_study``), quiz
answers, the write-up, and the leave standing (``server.web.leave.service``).
"""

from __future__ import annotations

import secrets
from base64 import b32encode
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.completion import (
    Completion,
    Requirements,
    TraineeFacts,
    check_can_issue,
    evaluate,
)
from server.store.attendance_models import AttendanceRecordRow
from server.store.completion_models import CertificateRow, ProgramSettings, WriteupRow
from server.store.models import Course, Program, Trainee, session_sites, utcnow
from server.store.qa_models import PollAnswerRow, PollRow
from server.web.db import CHUNK, load_many
from server.web.leave import service as leave_service
from server.web.ledger import service as ledger
from server.web.selfstudy import service as selfstudy
from server.web.session_roster import expected_trainees


def requirements_of(settings: ProgramSettings) -> Requirements:
    return Requirements(
        min_hours=settings.min_hours,
        count_self_study=bool(settings.count_self_study),
        min_attendance_share=settings.min_attendance_share,
        quiz_pass_mark=settings.quiz_pass_mark,
        writeup_required=bool(settings.writeup_required),
        leave_limit=Fraction(settings.leave_limit_num or 1, settings.leave_limit_den or 7),
    )


def settings_view(settings: ProgramSettings) -> dict[str, Any]:
    return {
        "program_id": settings.program_id,
        "leave_limit": f"{settings.leave_limit_num or 1}/{settings.leave_limit_den or 7}",
        "min_hours": settings.min_hours,
        "count_self_study": bool(settings.count_self_study),
        "min_attendance_share": settings.min_attendance_share,
        "quiz_pass_mark": settings.quiz_pass_mark,
        "writeup_required": bool(settings.writeup_required),
    }


async def self_study_hours(
    db: AsyncSession, program_id: int, trainee_ids: Iterable[int]
) -> dict[int, float]:
    """Credited self-study hours per trainee in the program (``server.web.selfstudy``)."""
    found = await selfstudy.credited_hours(db, program_id=program_id, trainee_ids=list(trainee_ids))
    return {t: credit.class_hours for t, credit in found.items()}


@dataclass(frozen=True, slots=True)
class ProgramFacts:
    program: Program
    requirements: Requirements
    trainees: dict[int, Trainee]
    facts: dict[int, TraineeFacts]
    first_live_end: float | None
    """When the program's first session ended (None: none has)."""


async def _quiz(
    db: AsyncSession, session_ids: list[int]
) -> tuple[dict[int, int], dict[int, dict[int, int]]]:
    """Quiz questions per session, and per trainee: session → right answers."""
    if not session_ids:
        return {}, {}
    polls = (
        await db.execute(
            select(PollRow.session_id, func.count())
            .where(PollRow.session_id.in_(session_ids), PollRow.correct.is_not(None))
            .group_by(PollRow.session_id)
        )
    ).all()
    answers = (
        await db.execute(
            select(PollAnswerRow.trainee_id, PollAnswerRow.session_id, PollAnswerRow.score)
            .join(PollRow, PollRow.id == PollAnswerRow.poll_id)
            .where(PollAnswerRow.session_id.in_(session_ids), PollRow.correct.is_not(None))
        )
    ).all()
    right: dict[int, dict[int, int]] = {}
    for trainee_id, session_id, score in answers:
        per = right.setdefault(trainee_id, {})
        per[session_id] = per.get(session_id, 0) + int(score or 0)
    return {s: int(n) for s, n in polls}, right


async def program_facts(db: AsyncSession, program: Program) -> ProgramFacts:
    """Every trainee expected at a session of the program (or with a record), and their facts.
    Only sessions that have ended count toward expected sessions and hours."""
    settings = await leave_service.settings_of(db, program.id)
    requirements = requirements_of(settings)
    sessions = await leave_service.program_sessions(db, program.id)
    now = utcnow()
    ended = [s for s in sessions if (s.ended_at or s.ends_at) <= now]
    ended_ids = [s.id for s in ended]
    expected: dict[int, set[int]] = {}
    for session in sessions:
        for trainee_id in await expected_trainees(db, session):
            expected.setdefault(trainee_id, set()).add(session.id)
    records: dict[tuple[int, int], AttendanceRecordRow] = {}
    for i in range(0, len(ended_ids), CHUNK):
        for record in (
            await db.scalars(
                select(AttendanceRecordRow).where(
                    AttendanceRecordRow.session_id.in_(ended_ids[i : i + CHUNK])
                )
            )
        ).all():
            records[(record.session_id, record.trainee_id)] = record
            expected.setdefault(record.trainee_id, set())
    people = await _trainees(db, expected)
    courses = await load_many(db, Course, {s.course_id for s in sessions})
    rules = ledger.rules_for(courses.values())
    keys = [ledger.result_key(s, t) for s, t in records]
    fixes = await ledger.corrections(db, keys)
    leave = await leave_service.on_leave(db, ended_ids)
    standings = await leave_service.standings(db, program.id)
    quiz_count, quiz_right = await _quiz(db, ended_ids)
    study = await self_study_hours(db, program.id, people)
    accepted = set(
        (
            await db.scalars(
                select(WriteupRow.trainee_id).where(
                    WriteupRow.program_id == program.id, WriteupRow.state == "accepted"
                )
            )
        ).all()
    )
    facts: dict[int, TraineeFacts] = {}
    for trainee_id in people:
        hours = 0.0
        attended = 0
        mine = [s for s in ended if s.id in expected[trainee_id] or (s.id, trainee_id) in records]
        for session in mine:
            row = records.get((session.id, trainee_id))
            result = ledger.compute_result(
                session,
                trainee_id,
                row,
                rules,
                now,
                fixes.get(ledger.result_key(session.id, trainee_id), ()),
                on_leave=(session.id, trainee_id) in leave,
            )
            hours += result.class_hours
            attended += int(result.credited)
        standing = standings.get(trainee_id)
        facts[trainee_id] = TraineeFacts(
            trainee_id=str(trainee_id),
            live_hours=hours,
            self_study_hours=study.get(trainee_id, 0.0),
            sessions_expected=len(mine),
            sessions_attended=attended,
            quiz_questions=sum(quiz_count.get(s.id, 0) for s in mine),
            quiz_correct=sum(quiz_right.get(trainee_id, {}).values()),
            writeup_accepted=trainee_id in accepted,
            leave_over_limit=standing is not None and standing.over_before,
        )
    ends = [(s.ended_at or s.ends_at).timestamp() for s in ended]
    return ProgramFacts(program, requirements, people, facts, min(ends) if ends else None)


async def program_trainees(db: AsyncSession, program_id: int) -> dict[int, Trainee]:
    """Who is in a program: expected at one of its sessions, or with a record at one."""
    sessions = await leave_service.program_sessions(db, program_id)
    ids: set[int] = set()
    for session in sessions:
        ids |= await expected_trainees(db, session)
    session_ids = [s.id for s in sessions]
    for i in range(0, len(session_ids), CHUNK):
        ids |= set(
            (
                await db.scalars(
                    select(AttendanceRecordRow.trainee_id).where(
                        AttendanceRecordRow.session_id.in_(session_ids[i : i + CHUNK])
                    )
                )
            ).all()
        )
    return await _trainees(db, ids)


async def _trainees(db: AsyncSession, ids: Iterable[int]) -> dict[int, Trainee]:
    wanted = sorted(ids)
    out: dict[int, Trainee] = {}
    for i in range(0, len(wanted), CHUNK):
        for t in (
            await db.scalars(select(Trainee).where(Trainee.id.in_(wanted[i : i + CHUNK])))
        ).all():
            out[t.id] = t
    return out


def completions(found: ProgramFacts) -> dict[int, Completion]:
    return {t: evaluate(found.requirements, f) for t, f in found.facts.items()}


def new_code() -> str:
    """An unguessable verification code: 16 base32 characters, 80 random bits."""
    return b32encode(secrets.token_bytes(10)).decode("ascii")


async def issue_certificates(
    db: AsyncSession, found: ProgramFacts, who: str
) -> list[CertificateRow]:
    """A certificate for every trainee who completed and has none yet; none at all while the
    program has no requirements set (``completion.rules_unset``)."""
    check_can_issue(found.requirements)
    have = set(
        (
            await db.scalars(
                select(CertificateRow.trainee_id).where(
                    CertificateRow.program_id == found.program.id
                )
            )
        ).all()
    )
    issued: list[CertificateRow] = []
    for trainee_id, done in sorted(completions(found).items()):
        if not done.completed or trainee_id in have:
            continue
        row = CertificateRow(
            code=new_code(),
            trainee_id=trainee_id,
            program_id=found.program.id,
            trainee_name=found.trainees[trainee_id].name,
            program_name=found.program.name,
            hours=done.hours,
            issued_at=utcnow(),
            issued_by=who,
        )
        db.add(row)
        issued.append(row)
    await db.flush()
    return issued


async def trainee_programs(db: AsyncSession, trainee: Trainee) -> list[Program]:
    """Programs with a session the trainee is expected at or attended, newest year first."""
    ids: set[int] = set(
        (
            await db.scalars(
                select(AttendanceRecordRow.session_id).where(
                    AttendanceRecordRow.trainee_id == trainee.id
                )
            )
        ).all()
    )
    if trainee.home_site_id is not None:
        ids |= set(
            (
                await db.scalars(
                    select(session_sites.c.session_id).where(
                        session_sites.c.site_id == trainee.home_site_id
                    )
                )
            ).all()
        )
    programs = (
        set((await leave_service.program_of_sessions(db, sorted(ids))).values()) if ids else set()
    )
    if not programs:
        return []
    return list(
        (
            await db.scalars(
                select(Program)
                .where(Program.id.in_(programs))
                .order_by(Program.year.desc(), Program.id.desc())
            )
        ).all()
    )


async def first_live_end(db: AsyncSession, program_id: int) -> float | None:
    sessions = await leave_service.program_sessions(db, program_id)
    now = utcnow()
    ends = [(s.ended_at or s.ends_at) for s in sessions if (s.ended_at or s.ends_at) <= now]
    return min(ends).timestamp() if ends else None


async def certificate_count(db: AsyncSession, trainee_id: int) -> int:
    """The trainee's valid certificates (a revoked one no longer counts)."""
    count = await db.scalar(
        select(func.count())
        .select_from(CertificateRow)
        .where(CertificateRow.trainee_id == trainee_id, CertificateRow.revoked_at.is_(None))
    )
    return int(count or 0)
