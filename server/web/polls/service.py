"""Polls and quizzes: the store around ``server.core.quiz.LivePoll``. No HTTP here.

Each decision rebuilds the poll from its row and its answers (``LivePoll.restore``), asks the
core (launch, answer, close: the state table, the deadline, one answer per trainee, the
choices, the score, the tally) and stores what it decided. Launching and closing take the
session's lock; an answer takes the trainee's own lock (``interaction.service``), so "one
answer per trainee" is decided over answers nobody else adds for that trainee meanwhile.
Quiz scores are the ``score`` of the trainee's answer rows: 0/1 all-or-nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import quiz as quiz_core
from server.core import roles
from server.core.errors import NotFound
from server.core.roles import Actor, Principal
from server.store.models import Trainee, utcnow
from server.store.qa_models import PollAnswerRow, PollRow
from server.web.db import iso
from server.web.interaction.service import (
    Services,
    agent_site,
    attendance,
    lock,
    lock_trainee,
    log_event,
    not_ended,
    session_status,
)
from server.web.resources import load


def spec_of(row: PollRow) -> quiz_core.PollSpec:
    return quiz_core.PollSpec(
        str(row.id),
        row.prompt,
        tuple(row.options),
        quiz_core.ChoiceMode(row.mode),
        None if row.correct is None else frozenset(row.correct),
    )


def _at(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, tz=UTC)


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


async def _restore(db: AsyncSession, row: PollRow, *, answers: bool = True) -> quiz_core.LivePoll:
    """The core's poll over the stored row (and, for the tally, every answer)."""
    stored: list[tuple[str, str, list[int]]] = []
    if answers:
        found = await db.execute(
            select(PollAnswerRow.trainee_id, PollAnswerRow.site_id, PollAnswerRow.choices).where(
                PollAnswerRow.poll_id == row.id
            )
        )
        stored = [(str(t), str(s), list(c)) for t, s, c in found.all()]
    return quiz_core.LivePoll.restore(
        str(row.session_id),
        spec_of(row),
        quiz_core.PollState(row.state),
        opened_at=_ts(row.opened_at),
        deadline=_ts(row.deadline),
        answers=stored,
    )


def tally_view(poll: quiz_core.LivePoll, now: datetime) -> dict[str, Any]:
    """The tally as of ``now``; of a closed quiz also how many answered correctly
    (``correct``), which an open quiz keeps to itself (with the counts per option it would tell
    the answer). Closed is the poll's own state at ``now`` (a deadline passed closes it)."""
    tally = poll.tally(with_correct=poll.state(now.timestamp()) is quiz_core.PollState.CLOSED)
    view: dict[str, Any] = {
        "answers": tally.answers,
        "per_option": list(tally.per_option),
        "per_site": {site: list(counts) for site, counts in tally.per_site.items()},
    }
    if tally.correct is not None:
        view["correct"] = tally.correct
    return view


def poll_view(row: PollRow, poll: quiz_core.LivePoll, now: datetime, staff: bool) -> dict[str, Any]:
    state = poll.state(now.timestamp())
    reveal = staff or state is quiz_core.PollState.CLOSED
    return {
        "id": row.id,
        "session_id": row.session_id,
        "prompt": row.prompt,
        "options": list(row.options),
        "mode": row.mode,
        "is_quiz": row.correct is not None,
        "correct": row.correct if reveal else None,
        "state": state.value,
        "time_limit": row.time_limit,
        "opened_at": iso(row.opened_at),
        "deadline": iso(row.deadline),
        "closed_at": iso(row.closed_at),
    }


async def create_poll(
    svc: Services, who: Principal, session_id: int, data: dict[str, Any]
) -> dict[str, Any]:
    correct = data.get("correct")
    spec = quiz_core.PollSpec(
        "new",
        data["prompt"],
        tuple(data["options"]),
        quiz_core.ChoiceMode(data.get("mode", "single")),
        None if correct is None else frozenset(correct),
    )
    async with svc.sessions() as db, db.begin():
        await session_status(db, session_id)
        row = PollRow(
            session_id=session_id,
            prompt=spec.prompt,
            options=list(spec.options),
            mode=spec.mode.value,
            correct=None if spec.correct is None else sorted(spec.correct),
            state=quiz_core.PollState.DRAFT.value,
            created_by=who.label,
        )
        db.add(row)
        await db.flush()
        log_event(
            db, session_id, "poll_created", who.label, {"poll_id": row.id, "prompt": row.prompt}
        )
        poll = await _restore(db, row, answers=False)
        return poll_view(row, poll, utcnow(), True)


async def change_poll(
    svc: Services,
    who: Principal,
    poll_id: int,
    action: quiz_core.PollAction,
    time_limit: float | None = None,
) -> dict[str, Any]:
    """Launch or close a poll (the core decides); announced to every site."""
    now = utcnow()
    async with svc.sessions() as db, db.begin():
        session_id = await db.scalar(select(PollRow.session_id).where(PollRow.id == poll_id))
        if session_id is None:
            raise NotFound("poll.not_found", f"There is no poll with id {poll_id}.")
        await lock(db, int(session_id))
        row = await load(db, PollRow, poll_id, "poll")
        await db.refresh(row)
        poll = await _restore(db, row)
        if action is quiz_core.PollAction.LAUNCH:
            events = poll.launch(now=now.timestamp(), time_limit=time_limit)
            not_ended(row.session_id, await session_status(db, row.session_id))
            row.time_limit = time_limit
            kind = "poll_opened"
        else:
            events = poll.close(now=now.timestamp())
            kind = "poll_closed"
        for event in events:
            if isinstance(event, quiz_core.PollOpened):
                row.opened_at, row.deadline = now, _at(event.deadline)
            elif isinstance(event, quiz_core.PollClosed):
                row.closed_at = _at(event.at)
        row.state = poll.state(now.timestamp()).value
        log_event(db, row.session_id, kind, who.label, {"poll_id": row.id})
        await db.flush()
        public = poll_view(row, poll, now, False)
        tally = tally_view(poll, now)
        view = {**poll_view(row, poll, now, True), "tally": tally}
    await svc.announce(
        row.session_id,
        kind,
        {"poll": public, **({"tally": tally} if kind == "poll_closed" else {})},
    )
    return view


async def answer_poll(
    svc: Services, who: Principal, poll_id: int, choices: list[int]
) -> dict[str, Any]:
    """A trainee in the room answers once (the core decides); the live tally is published."""
    assert who.trainee_id is not None
    now = utcnow()
    async with svc.sessions() as db, db.begin():
        row = await load(db, PollRow, poll_id, "poll")
        record = await attendance(db, row.session_id, who.trainee_id)
        await lock_trainee(db, record)
        poll = await _restore(db, row)
        trainee = str(who.trainee_id)
        poll.answer(trainee, choices, site_id=str(record.site_id), now=now.timestamp())
        chosen = sorted(poll.answer_of(trainee) or ())
        db.add(
            PollAnswerRow(
                poll_id=row.id,
                trainee_id=who.trainee_id,
                session_id=row.session_id,
                site_id=record.site_id,
                choices=chosen,
                score=poll.score(trainee) if poll.spec.is_quiz else None,
                at=now,
            )
        )
        log_event(
            db,
            row.session_id,
            "poll_answered",
            who.label,
            {"poll_id": row.id, "choices": chosen, "site_id": record.site_id},
        )
        tally = tally_view(poll, now)
    await svc.publish(row.session_id, "poll_tally", {"poll_id": row.id, **tally})
    return {"poll_id": row.id, "choices": chosen, "answers": tally["answers"]}


async def show_poll(svc: Services, who: Principal, poll_id: int) -> dict[str, Any]:
    """A poll with its live tally (and the caller's own answer, for a trainee)."""
    staff = who.actor in roles.STAFF
    async with svc.sessions() as db:
        row = await load(db, PollRow, poll_id, "poll")
        if who.actor is Actor.SITE_AGENT:
            await agent_site(db, row.session_id, who)
        poll = await _restore(db, row)
    now = utcnow()
    view = {**poll_view(row, poll, now, staff), "tally": tally_view(poll, now)}
    if who.trainee_id is not None:
        mine = poll.answer_of(str(who.trainee_id))
        view["my_choices"] = None if mine is None else sorted(mine)
    return view


async def list_polls(svc: Services, who: Principal, session_id: int) -> list[dict[str, Any]]:
    """A session's polls; trainees and sites do not see drafts. A trainee's copy has each
    poll's ``my_choices`` (their own answer, null before they answered), so that a reloaded
    phone shows what they chose."""
    staff = who.actor in roles.STAFF
    now = utcnow()
    async with svc.sessions() as db:
        await session_status(db, session_id)
        rows = (
            await db.scalars(
                select(PollRow).where(PollRow.session_id == session_id).order_by(PollRow.id)
            )
        ).all()
        views = [
            poll_view(r, await _restore(db, r, answers=False), now, staff)
            for r in rows
            if staff or r.state != quiz_core.PollState.DRAFT.value
        ]
        if who.trainee_id is None:
            return views
        found = await db.execute(
            select(PollAnswerRow.poll_id, PollAnswerRow.choices).where(
                PollAnswerRow.session_id == session_id,
                PollAnswerRow.trainee_id == who.trainee_id,
            )
        )
        mine: dict[int, list[int]] = {poll_id: list(c) for poll_id, c in found.all()}
    return [{**v, "my_choices": mine.get(v["id"])} for v in views]


async def quiz_scores(svc: Services, trainee_id: int) -> dict[str, Any]:
    async with svc.sessions() as db:
        await load(db, Trainee, trainee_id, "trainee")
        rows = (
            await db.execute(
                select(PollAnswerRow, PollRow.prompt)
                .join(PollRow, PollRow.id == PollAnswerRow.poll_id)
                .where(PollAnswerRow.trainee_id == trainee_id, PollAnswerRow.score.is_not(None))
                .order_by(PollAnswerRow.at)
            )
        ).all()
    items = [
        {
            "poll_id": a.poll_id,
            "session_id": a.session_id,
            "prompt": prompt,
            "choices": a.choices,
            "score": a.score,
            "at": iso(a.at),
        }
        for a, prompt in rows
    ]
    return {
        "trainee_id": trainee_id,
        "items": items,
        "total": sum(int(i["score"] or 0) for i in items),
        "quizzes": len(items),
    }
