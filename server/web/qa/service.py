"""Questions: the store around ``server.core.qa.QuestionBoard``. No HTTP here.

The board decides (text, sensitive-word flags, auto-approval, the rate limit, the state table,
a second vote changing nothing); SQL is the truth, so any number of server processes may serve
a session. Each decision restores a board over what it needs (``QuestionBoard.restore``: the
questions it touches and the asker's recent submissions, never the whole session) and this
module stores the events. Decisions (documented here once):

* **Text is stored as the core cleans it** (``server.core.text.clean_question_text``): zero-width
  characters stripped, line ends unified, surrounding blanks trimmed; refused with the core's
  codes when empty, longer than 500 characters, or carrying bidi overrides or control
  characters. HTML is just text.
* **Rate limit** (the board's): per trainee and session, ``rate_limit`` questions per
  ``rate_window`` s (default 3 per 60 s), over the trainee's stored questions, decided under the
  trainee's own row lock so two phones cannot both slip through; 429 + Retry-After.
* **Votes**: a vote is a row (question, trainee); the board decides whether a vote changes
  anything (``vote_changes``) under the trainee's row lock, and ``vote_count`` moves by one in
  the same transaction: exact under concurrency without the session lock.
* **Auto-approval** is on by default (per-session setting); a question containing a word of
  the global or the session's sensitive-word list waits in ``submitted`` for a moderator.
* **Live**: changes go to the session topic and carry only what a trainee may see (public view;
  a question waiting for screening is announced by id only); on-air changes also to the agents.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import roles
from server.core.errors import InvalidInput, NotFound
from server.core.qa import (
    OPEN_STATES,
    ORDERINGS,
    Question,
    QuestionBoard,
    QuestionOrder,
    QuestionState,
    vote_changes,
)
from server.core.qa_views import (
    ANONYMOUS_ACTOR,
    PUBLIC_STATES,
    ViewerRole,
    is_visible,
    public_view,
)
from server.core.roles import Actor, Principal
from server.core.text import SensitiveWords
from server.store.models import utcnow
from server.store.qa_models import (
    OnAirInterval,
    QaSettings,
    QaState,
    QaWordList,
    QuestionRow,
    QuestionVote,
)
from server.web.db import iso
from server.web.interaction.service import (
    Services,
    agent_site,
    attendance,
    lock_trainee,
    log_event,
    not_ended,
    open_attendance,
    session_status,
)

GLOBAL_WORDS = "global"
DEFAULTS: dict[str, Any] = {
    "moderators_see_identity": False,
    "auto_approve": True,
    "rate_limit": 3,
    "rate_window": 60,
}
ORDERS = tuple(o.value for o in QuestionOrder)

# --- settings ---------------------------------------------------------------------------------


def setting(settings: QaSettings | None, name: str) -> Any:
    return DEFAULTS[name] if settings is None else getattr(settings, name)


async def sensitive_words(db: AsyncSession, settings: QaSettings | None) -> SensitiveWords:
    stored = await db.scalar(select(QaWordList.words).where(QaWordList.key == GLOBAL_WORDS))
    words = list(stored or [])
    if settings is not None:
        words += list(settings.sensitive_words or [])
    return SensitiveWords(words)


async def see_identity(db: AsyncSession, session_id: int) -> bool:
    return bool(setting(await db.get(QaSettings, session_id), "moderators_see_identity"))


# --- views ------------------------------------------------------------------------------------


def viewer_of(who: Principal) -> ViewerRole:
    if who.actor in roles.STAFF:
        return ViewerRole.MODERATOR
    return ViewerRole.TRAINEE if who.actor is Actor.TRAINEE else ViewerRole.SCREEN


def core_question(row: QuestionRow, votes: Iterable[int] = ()) -> Question:
    """The core's question from its row (with its voters when a decision counts them)."""
    return Question(
        id=str(row.id),
        session_id=str(row.session_id),
        asker=None if row.asker_trainee_id is None else str(row.asker_trainee_id),
        site_id=str(row.site_id),
        text=row.text,
        original_text=row.original_text,
        created_at=row.created_at.timestamp(),
        seq=row.id,
        addressed_to=row.addressed_to,
        anonymous=row.anonymous,
        state=QuestionState(row.state),
        flags=tuple(row.flags or ()),
        pinned=row.pinned,
        votes={str(v) for v in votes},
        also_asked_by={str(t) for t in row.also_asked_by or ()},
        merged_into=None if row.merged_into_id is None else str(row.merged_into_id),
    )


def question_view(
    row: QuestionRow,
    viewer: ViewerRole,
    see_identity: bool,
    viewer_trainee: int | None = None,
    voted: bool = False,
) -> dict[str, Any]:
    """What this viewer may see (the identity rules are ``server.core.qa_views.public_view``)."""
    view = public_view(
        core_question(row),
        viewer,
        see_identity,
        None if viewer_trainee is None else str(viewer_trainee),
    )
    view = replace(view, vote_count=row.vote_count, voted_by_me=voted)
    return {
        "id": row.id,
        "session_id": row.session_id,
        "state": view.state.value,
        "text": view.text,
        "site_id": row.site_id,
        "addressed_to": view.addressed_to,
        "anonymous": view.anonymous,
        "asker_trainee_id": None if view.asker is None else int(view.asker),
        "is_mine": view.is_mine,
        "pinned": view.pinned,
        "vote_count": view.vote_count,
        "voted_by_me": view.voted_by_me,
        "also_asked_count": view.also_asked_count,
        "edited": row.text != row.original_text,
        "created_at": iso(row.created_at),
        "merged_into": row.merged_into_id,
        "original_text": view.original_text,
        "flags": list(view.flags),
    }


def screen_view(row: QuestionRow) -> dict[str, Any]:
    """The public view: what the session topic may carry."""
    return question_view(row, ViewerRole.SCREEN, False)


# --- submit -----------------------------------------------------------------------------------


async def _recent_submissions(
    db: AsyncSession, session_id: int, trainee_id: int, limit: int
) -> list[float]:
    """The trainee's last ``limit`` submission times: all the rate limit can count."""
    times = await db.scalars(
        select(QuestionRow.created_at)
        .where(QuestionRow.session_id == session_id, QuestionRow.asker_trainee_id == trainee_id)
        .order_by(QuestionRow.created_at.desc())
        .limit(limit)
    )
    return [t.timestamp() for t in times]


async def submit(
    svc: Services, who: Principal, session_id: int, data: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """A trainee (in the room) or a site agent (for its room) asks; (view, replayed)."""
    now = utcnow()
    async with svc.sessions() as db, db.begin():
        record = None
        if who.actor is Actor.TRAINEE:
            assert who.trainee_id is not None
            record = await open_attendance(db, session_id, who.trainee_id)
            submitter, site_id, asker = f"trainee:{who.trainee_id}", record.site_id, who.trainee_id
        else:
            not_ended(session_id, await session_status(db, session_id))
            site_id = await agent_site(db, session_id, who)
            submitter, asker = f"site:{site_id}", None
        client_id = data.get("client_id")
        if client_id is not None:
            prior = await db.scalar(
                select(QuestionRow).where(
                    QuestionRow.session_id == session_id,
                    QuestionRow.submitter == submitter,
                    QuestionRow.client_id == client_id,
                )
            )
            if prior is not None:
                return question_view(prior, viewer_of(who), False, who.trainee_id), True
        settings = await db.get(QaSettings, session_id)
        limit = int(setting(settings, "rate_limit"))
        recent: dict[str, list[float]] = {}
        if record is not None and asker is not None:
            await lock_trainee(db, record)  # their submissions are counted one at a time
            recent[str(asker)] = await _recent_submissions(db, session_id, asker, limit)
        board = QuestionBoard.restore(
            str(session_id),
            recent=recent,
            auto_approve=bool(setting(settings, "auto_approve")),
            sensitive_words=await sensitive_words(db, settings),
            rate_limit=limit,
            rate_window=float(setting(settings, "rate_window")),
        )
        board.submit(
            "new",
            site_id=str(site_id),
            text=data["text"],
            now=now.timestamp(),
            asker=None if asker is None else str(asker),
            addressed_to=data.get("addressed_to"),
            anonymous=bool(data.get("anonymous", False)),
        )
        decided = board.get("new")
        row = QuestionRow(
            session_id=session_id,
            site_id=site_id,
            asker_trainee_id=asker,
            submitter=submitter,
            client_id=client_id,
            addressed_to=decided.addressed_to,
            anonymous=decided.anonymous,
            text=decided.text,
            original_text=decided.original_text,
            state=decided.state.value,
            flags=list(decided.flags),
            pinned=False,
            vote_count=0,
            also_asked_by=[],
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        await db.flush()
        log_event(
            db,
            session_id,
            "question_submitted",
            ANONYMOUS_ACTOR if row.anonymous and asker is not None else who.label,
            {"text": row.text, "site_id": site_id, "flags": row.flags, "state": row.state},
            row.id,
            now,
        )
        view = question_view(row, viewer_of(who), False, who.trainee_id)
    if decided.state is QuestionState.APPROVED:
        await svc.publish(session_id, "question_approved", screen_view(row))
    else:
        await svc.publish(session_id, "question_submitted", {"id": row.id, "state": row.state})
    return view, False


# --- read -------------------------------------------------------------------------------------


async def list_questions(
    svc: Services,
    who: Principal,
    session_id: int,
    order: str,
    state: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    """A session's questions as this caller may see them, by votes (pinned first) or time."""
    if order not in ORDERS:
        raise InvalidInput("request.bad_query", "order must be votes or time.")
    if state is not None and state not in {s.value for s in QuestionState}:
        raise InvalidInput("request.bad_query", "state must be a question state.")
    viewer = viewer_of(who)
    async with svc.sessions() as db:
        await session_status(db, session_id)
        if who.actor is Actor.SITE_AGENT:
            await agent_site(db, session_id, who)
        states = [state] if state else sorted(s.value for s in OPEN_STATES)
        query = select(QuestionRow).where(
            QuestionRow.session_id == session_id, QuestionRow.state.in_(states)
        )
        if viewer is not ViewerRole.MODERATOR:
            # the page is cut in SQL, so it is narrowed there to what the core lets them see
            public = QuestionRow.state.in_(sorted(s.value for s in PUBLIC_STATES))
            if who.trainee_id is not None:
                query = query.where(or_(public, QuestionRow.asker_trainee_id == who.trainee_id))
            else:
                query = query.where(public)
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        query = query.order_by(*_columns(QuestionOrder(order)))
        rows = (await db.scalars(query.limit(limit).offset(offset))).all()
        voted: set[int] = set()
        if who.trainee_id is not None and rows:
            voted = set(
                (
                    await db.scalars(
                        select(QuestionVote.question_id).where(
                            QuestionVote.trainee_id == who.trainee_id,
                            QuestionVote.question_id.in_([r.id for r in rows]),
                        )
                    )
                ).all()
            )
        see = await see_identity(db, session_id)
    tid = None if who.trainee_id is None else str(who.trainee_id)
    items = [
        question_view(r, viewer, see, who.trainee_id, r.id in voted)
        for r in rows
        if is_visible(core_question(r), viewer, tid)
    ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


_COLUMNS: dict[str, Any] = {
    "pinned": QuestionRow.pinned,
    "vote_count": QuestionRow.vote_count,
    "created_at": QuestionRow.created_at,
    "seq": QuestionRow.id,
}


def _columns(order: QuestionOrder) -> list[Any]:
    """The core's ``ORDERINGS`` as SQL (the page is cut in SQL)."""
    return [
        _COLUMNS[name].desc() if descending else _COLUMNS[name]
        for name, descending in ORDERINGS[order]
    ]


async def show_question(svc: Services, who: Principal, question_id: int) -> dict[str, Any]:
    viewer = viewer_of(who)
    async with svc.sessions() as db:
        row = await db.get(QuestionRow, question_id)
        tid = None if who.trainee_id is None else str(who.trainee_id)
        if row is not None and who.actor is Actor.SITE_AGENT:
            await agent_site(db, row.session_id, who)
        if row is None or not is_visible(core_question(row), viewer, tid):
            raise NotFound("question.not_found", f"There is no question with id {question_id}.")
        voted = False
        if who.trainee_id is not None:
            voted = await db.get(QuestionVote, (row.id, who.trainee_id)) is not None
        return question_view(
            row, viewer, await see_identity(db, row.session_id), who.trainee_id, voted
        )


async def approved_questions(db: AsyncSession, session_id: int) -> list[QuestionRow]:
    """The questions waiting to go on air (for the moderator's one queue)."""
    rows = await db.scalars(
        select(QuestionRow).where(
            QuestionRow.session_id == session_id,
            QuestionRow.state == QuestionState.APPROVED.value,
        )
    )
    return list(rows.all())


async def on_air(svc: Services, who: Principal, session_id: int) -> dict[str, Any]:
    """The question on air now and the history of what was on air, with times."""
    viewer = viewer_of(who)
    async with svc.sessions() as db:
        await session_status(db, session_id)
        if who.actor is Actor.SITE_AGENT:
            await agent_site(db, session_id, who)
        slot = await db.get(QaState, session_id)
        see = await see_identity(db, session_id)
        current = None
        if slot is not None and slot.on_air_question_id is not None:
            row = await db.get(QuestionRow, slot.on_air_question_id)
            if row is not None:
                current = question_view(row, viewer, see, who.trainee_id)
        intervals = (
            await db.execute(
                select(OnAirInterval, QuestionRow.text)
                .join(QuestionRow, QuestionRow.id == OnAirInterval.question_id)
                .where(OnAirInterval.session_id == session_id)
                .order_by(OnAirInterval.started_at, OnAirInterval.id)
            )
        ).all()
    history = [
        {
            "question_id": i.question_id,
            "text": text,
            "started_at": iso(i.started_at),
            "ended_at": iso(i.ended_at),
            "seconds": None if i.ended_at is None else _seconds(i.started_at, i.ended_at),
        }
        for i, text in intervals
    ]
    return {"session_id": session_id, "current": current, "history": history}


def _seconds(start: datetime, end: datetime) -> float:
    return round((end - start).total_seconds(), 3)


# --- votes ------------------------------------------------------------------------------------


async def vote(svc: Services, who: Principal, question_id: int, cast: bool) -> dict[str, Any]:
    """Cast or withdraw the trainee's vote: once; a second upvote changes nothing."""
    assert who.trainee_id is not None
    async with svc.sessions() as db, db.begin():
        found = (
            await db.execute(
                select(QuestionRow.session_id, QuestionRow.state).where(
                    QuestionRow.id == question_id
                )
            )
        ).first()
        if found is None:
            raise NotFound("question.not_found", f"There is no question with id {question_id}.")
        session_id, state = int(found[0]), QuestionState(found[1])
        not_ended(session_id, await session_status(db, session_id))
        await lock_trainee(db, await attendance(db, session_id, who.trainee_id))
        voted = await db.get(QuestionVote, (question_id, who.trainee_id)) is not None
        changed = vote_changes(state, voted, cast=cast, question_id=str(question_id))
        if changed:
            if cast:
                db.add(
                    QuestionVote(
                        question_id=question_id, trainee_id=who.trainee_id, created_at=utcnow()
                    )
                )
                await db.flush()
            else:
                await db.execute(
                    delete(QuestionVote).where(
                        QuestionVote.question_id == question_id,
                        QuestionVote.trainee_id == who.trainee_id,
                    )
                )
            count = await db.scalar(
                update(QuestionRow)
                .where(QuestionRow.id == question_id)
                .values(vote_count=QuestionRow.vote_count + (1 if cast else -1))
                .returning(QuestionRow.vote_count)
            )
            log_event(
                db,
                session_id,
                "vote_cast" if cast else "vote_withdrawn",
                who.label,
                {"vote_count": count},
                question_id,
            )
        else:
            count = await db.scalar(
                select(QuestionRow.vote_count).where(QuestionRow.id == question_id)
            )
    body = {
        "question_id": question_id,
        "vote_count": int(count or 0),
        "voted_by_me": cast,
        "changed": changed,
    }
    if changed:
        await svc.publish(
            session_id,
            "question_votes",
            {"question_id": question_id, "vote_count": body["vote_count"]},
        )
    return body
