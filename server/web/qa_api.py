"""Interview-style Q&A across all sites (访谈式教学): questions, votes, on air, the floor,
polls and quizzes, the needs survey, feedback and the session's interaction log.

The rules live in the pure core (``server.core.qa``, ``floor``, ``quiz``, ``text``); SQL is
the truth (``server.store.qa_models``), so any number of server processes may serve a session.

Decisions (documented here once):

* **Who may act**: a trainee acts in a session only with an attendance record in it (they
  checked in, or staff marked them present): ``qa.not_checked_in`` (403) otherwise. A site
  agent acts for its room only in a session its site takes part in (``qa.other_site``).
  Moderation (approve, reject, edit, merge, pin, send back, on air, answered, archive) is for
  moderators, operators and admins; granting and revoking the floor for operators and admins.
* **Text is stored as the core cleans it** (``server.core.text.clean_question_text``): zero-width
  characters stripped, line ends unified, surrounding blanks trimmed. It is refused, with the
  core's codes, when it is empty, longer than 500 characters (after cleaning), or carries bidi
  overrides or control characters (``question.bad_characters``). HTML is just text.
* **Serialisation**: every change of a session's questions, on-air slot or floor first takes
  the session's ``qa_state`` row lock (UPDATE first), so "at most one on air" and "one site
  holds the floor" hold across processes. Votes do not take it: a vote is a row with primary
  key (question, trainee) inserted with ON CONFLICT DO NOTHING, and ``vote_count`` moves by
  one in the same transaction only when a row was inserted or deleted: exact under
  concurrency. Merging carries votes the same way (INSERT ... SELECT, count += inserted).
* **Rate limit**: per trainee and session, ``rate_limit`` questions per ``rate_window`` s
  (default 3 per 60 s), counted from the stored questions under a per-trainee row lock (the
  trainee's attendance record), so two phones cannot both slip through; 429 + Retry-After.
* **Auto-approval** is on by default (per-session setting); a question containing a word of
  the global or the session's sensitive-word list waits in ``submitted`` for a moderator.
* **Floor expiry**: the granting process sets a timer for the deadline; any read or change of
  the floor also applies an expiry that is due (lazy), so a grant expires even when the
  process that granted it died. ``floor_returned`` is published either way, once.
* **Live**: on air and floor changes go through ``Live.announce`` (session topic and every
  participating site's agent); other changes go to the session topic only and carry only what
  a trainee may see (public view; a question waiting for screening is announced by id only).
* **Quiz scores** are the ``score`` of the trainee's answer rows (``qa_poll_answers``): 0/1
  all-or-nothing, listed per trainee.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import Integer, delete, func, literal, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import floor as floor_core
from server.core import roles
from server.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from server.core.qa import (
    ANONYMOUS_ACTOR,
    OPEN_STATES,
    PUBLIC_STATES,
    Question,
    QuestionAction,
    QuestionState,
    ViewerRole,
    is_visible,
    next_state,
    public_view,
)
from server.core.roles import Actor, Principal
from server.core.text import SensitiveWords, clean_question_text, clean_user_text
from server.core.validation import Bool, Float, Int, List, Map, Optional, Str, validate
from server.store.models import utcnow
from server.store.qa_models import (
    FloorGrantRow,
    FloorRequestRow,
    OnAirInterval,
    QaSettings,
    QaState,
    QaWordList,
    QuestionRow,
    QuestionVote,
)
from server.web import media_api
from server.web.api import Endpoint, Param, Registry
from server.web.interaction.service import Services, lock_trainee, open_attendance
from server.web.interaction.service import agent_site as _agent_site
from server.web.interaction.service import attendance as _attendance
from server.web.interaction.service import insert_ignore as _insert_ignore
from server.web.interaction.service import insert_of as _insert
from server.web.interaction.service import iso as _iso
from server.web.interaction.service import lock as _lock
from server.web.interaction.service import log_event as _log
from server.web.interaction.service import not_ended as _not_ended
from server.web.interaction.service import session_status as _session_status
from server.web.interaction.service import site_ids as _site_ids
from server.web.keys import LIVE, SESSIONS, TIMERS, principal
from server.web.resources import PAGE_PARAMS, load, page_params, path_id, read_json

log = logging.getLogger("server.qa")

ID = Int(1, 2**31 - 1)
GLOBAL_WORDS = "global"
DEFAULTS = {"moderators_see_identity": False, "auto_approve": True, "rate_limit": 3}
DEFAULT_RATE_WINDOW = 60
_S = QuestionState
_A = QuestionAction
_MODERATORS = roles.STAFF
_IN_SESSION = roles.STAFF | roles.TRAINEES | roles.AGENTS
_ASKERS = roles.TRAINEES | roles.AGENTS


def _body(fields: dict[str, Any], required: set[str]) -> Map:
    return Map(fields, frozenset(required), extra="reject", absent="omit")


def _viewer(who: Principal) -> ViewerRole:
    if who.actor in roles.STAFF:
        return ViewerRole.MODERATOR
    return ViewerRole.TRAINEE if who.actor is Actor.TRAINEE else ViewerRole.SCREEN


# --------------------------------------------------------------------------------------------
# Sessions, locks, who may act
# --------------------------------------------------------------------------------------------


async def _sensitive_words(db: AsyncSession, settings: QaSettings | None) -> SensitiveWords:
    stored = await db.scalar(select(QaWordList.words).where(QaWordList.key == GLOBAL_WORDS))
    words = list(stored or [])
    if settings is not None:
        words += list(settings.sensitive_words or [])
    return SensitiveWords(words)


# --------------------------------------------------------------------------------------------
# Live
# --------------------------------------------------------------------------------------------


async def _publish(app: web.Application, session_id: int, kind: str, data: dict[str, Any]) -> None:
    await Services(app[SESSIONS], app[LIVE]).publish(session_id, kind, data)


async def _announce(app: web.Application, session_id: int, kind: str, data: dict[str, Any]) -> None:
    await Services(app[SESSIONS], app[LIVE]).announce(session_id, kind, data)


# --------------------------------------------------------------------------------------------
# Questions: views
# --------------------------------------------------------------------------------------------


def _core_question(row: QuestionRow) -> Question:
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
    """What this viewer may see (the identity rules are ``server.core.qa.public_view``)."""
    view = public_view(
        _core_question(row),
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
        "created_at": _iso(row.created_at),
        "merged_into": row.merged_into_id,
        "original_text": view.original_text,
        "flags": list(view.flags),
    }


def _screen(row: QuestionRow) -> dict[str, Any]:
    """The public view: what the session topic may carry."""
    return question_view(row, ViewerRole.SCREEN, False)


async def _see_identity(db: AsyncSession, session_id: int) -> bool:
    settings = await db.get(QaSettings, session_id)
    return bool(settings.moderators_see_identity) if settings is not None else False


# --------------------------------------------------------------------------------------------
# Questions: submit, list, vote
# --------------------------------------------------------------------------------------------

SUBMIT_BODY = _body(
    {
        "text": Str(max_len=20_000, raw=True),
        "addressed_to": Optional(Str(max_len=200)),
        "anonymous": Bool(),
        "client_id": Str(min_len=1, max_len=64, pattern=r"[A-Za-z0-9][A-Za-z0-9_.:-]*"),
    },
    {"text"},
)


def check_question_text(text: str) -> str:
    """The text to store: cleaned by the core's rule (see the module doc)."""
    return clean_question_text(text)


async def _rate_check(
    db: AsyncSession, session_id: int, trainee_id: int, settings: QaSettings | None, now: datetime
) -> None:
    limit = settings.rate_limit if settings is not None else DEFAULTS["rate_limit"]
    window = settings.rate_window if settings is not None else DEFAULT_RATE_WINDOW
    since = now - timedelta(seconds=window)
    recent = (
        await db.scalars(
            select(QuestionRow.created_at)
            .where(
                QuestionRow.session_id == session_id,
                QuestionRow.asker_trainee_id == trainee_id,
                QuestionRow.created_at > since,
            )
            .order_by(QuestionRow.created_at)
        )
    ).all()
    if len(recent) >= int(limit):
        retry_after = (recent[0] - since).total_seconds()
        raise RateLimited(
            "question.rate_limited",
            f"You can ask {limit} questions per {window} seconds; "
            f"try again in {max(1, round(retry_after))} seconds.",
            {"retry_after": retry_after},
        )


async def submit_question(request: web.Request) -> web.Response:
    """A trainee (in the room) or a site agent (for its room) asks a question."""
    data = validate(SUBMIT_BODY, await read_json(request), path="body")
    text = check_question_text(data["text"])
    addressed = data.get("addressed_to")
    if addressed is not None:
        addressed = clean_user_text(
            addressed, max_len=100, code_prefix="question.addressed_to", what="guest's name"
        )
    who = principal(request)
    session_id = path_id(request, "session")
    now = utcnow()
    async with request.app[SESSIONS]() as db, db.begin():
        if who.actor is Actor.TRAINEE:
            assert who.trainee_id is not None
            record = await open_attendance(db, session_id, who.trainee_id)
            submitter, site_id, asker = f"trainee:{who.trainee_id}", record.site_id, who.trainee_id
        else:
            _not_ended(session_id, await _session_status(db, session_id))
            site_id = await _agent_site(db, session_id, who)
            submitter, asker, record = f"site:{site_id}", None, None
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
                view = question_view(prior, _viewer(who), False, who.trainee_id)
                return web.json_response({**view, "replayed": True})
        settings = await db.get(QaSettings, session_id)
        if record is not None and asker is not None:
            # The trainee's row lock: their submissions are counted one at a time.
            await lock_trainee(db, record)
            await _rate_check(db, session_id, asker, settings, now)
        flags = (await _sensitive_words(db, settings)).find(text)
        auto = settings.auto_approve if settings is not None else DEFAULTS["auto_approve"]
        state = _S.SUBMITTED
        if auto and not flags:
            state = next_state(_S.SUBMITTED, _A.APPROVE, "new")
        row = QuestionRow(
            session_id=session_id,
            site_id=site_id,
            asker_trainee_id=asker,
            submitter=submitter,
            client_id=client_id,
            addressed_to=addressed,
            anonymous=bool(data.get("anonymous", False)),
            text=text,
            original_text=text,
            state=state.value,
            flags=list(flags),
            pinned=False,
            vote_count=0,
            also_asked_by=[],
            created_at=now,
            updated_at=now,
        )
        db.add(row)
        await db.flush()
        _log(
            db,
            session_id,
            "question_submitted",
            ANONYMOUS_ACTOR if row.anonymous and asker is not None else who.label,
            {"text": text, "site_id": site_id, "flags": list(flags), "state": state.value},
            row.id,
            now,
        )
        view = question_view(row, _viewer(who), False, who.trainee_id)
    if state is _S.APPROVED:
        await _publish(request.app, session_id, "question_approved", _screen(row))
    else:
        await _publish(
            request.app, session_id, "question_submitted", {"id": row.id, "state": state.value}
        )
    return web.json_response({**view, "replayed": False}, status=201)


ORDERS = ("votes", "time")


async def list_questions(request: web.Request) -> web.Response:
    """A session's questions as this caller may see them, by votes (pinned first) or time."""
    who = principal(request)
    session_id = path_id(request, "session")
    order = request.query.get("order", "votes")
    state = request.query.get("state")
    if order not in ORDERS:
        raise InvalidInput("request.bad_query", "order must be votes or time.")
    if state is not None and state not in {s.value for s in QuestionState}:
        raise InvalidInput("request.bad_query", "state must be a question state.")
    limit, offset = page_params(request)
    viewer = _viewer(who)
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
        if who.actor is Actor.SITE_AGENT:
            await _agent_site(db, session_id, who)
        states = [state] if state else sorted(s.value for s in OPEN_STATES)
        query = select(QuestionRow).where(
            QuestionRow.session_id == session_id, QuestionRow.state.in_(states)
        )
        if viewer is not ViewerRole.MODERATOR:
            public = QuestionRow.state.in_(sorted(s.value for s in PUBLIC_STATES))
            if who.trainee_id is not None:
                query = query.where(or_(public, QuestionRow.asker_trainee_id == who.trainee_id))
            else:
                query = query.where(public)
        total = await db.scalar(select(func.count()).select_from(query.subquery()))
        if order == "votes":
            query = query.order_by(
                QuestionRow.pinned.desc(),
                QuestionRow.vote_count.desc(),
                QuestionRow.created_at,
                QuestionRow.id,
            )
        else:
            query = query.order_by(QuestionRow.created_at, QuestionRow.id)
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
        see = await _see_identity(db, session_id)
        tid = None if who.trainee_id is None else str(who.trainee_id)
        items = [
            question_view(r, viewer, see, who.trainee_id, r.id in voted)
            for r in rows
            if is_visible(_core_question(r), viewer, tid)
        ]
    return web.json_response({"items": items, "total": total, "limit": limit, "offset": offset})


async def get_question(request: web.Request) -> web.Response:
    who = principal(request)
    viewer = _viewer(who)
    async with request.app[SESSIONS]() as db:
        row = await load(db, QuestionRow, path_id(request, "question"), "question")
        if who.actor is Actor.SITE_AGENT:
            await _agent_site(db, row.session_id, who)
        tid = None if who.trainee_id is None else str(who.trainee_id)
        if not is_visible(_core_question(row), viewer, tid):
            raise NotFound("question.not_found", f"There is no question with id {row.id}.")
        voted = False
        if who.trainee_id is not None:
            voted = await db.get(QuestionVote, (row.id, who.trainee_id)) is not None
        view = question_view(
            row, viewer, await _see_identity(db, row.session_id), who.trainee_id, voted
        )
    return web.json_response(view)


async def _vote(request: web.Request, cast: bool) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    question_id = path_id(request, "question")
    changed = False
    async with request.app[SESSIONS]() as db, db.begin():
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
        _not_ended(session_id, await _session_status(db, session_id))
        await _attendance(db, session_id, who.trainee_id)
        next_state(state, _A.VOTE if cast else _A.WITHDRAW_VOTE, str(question_id))
        if cast:
            changed = bool(
                await _insert_ignore(
                    db,
                    QuestionVote,
                    {
                        "question_id": question_id,
                        "trainee_id": who.trainee_id,
                        "created_at": utcnow(),
                    },
                )
            )
        else:
            result = await db.execute(
                delete(QuestionVote).where(
                    QuestionVote.question_id == question_id,
                    QuestionVote.trainee_id == who.trainee_id,
                )
            )
            changed = bool(getattr(result, "rowcount", 0))
        if changed:
            step = 1 if cast else -1
            count = await db.scalar(
                update(QuestionRow)
                .where(QuestionRow.id == question_id)
                .values(vote_count=QuestionRow.vote_count + step)
                .returning(QuestionRow.vote_count)
            )
            _log(
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
        await _publish(
            request.app,
            session_id,
            "question_votes",
            {"question_id": question_id, "vote_count": body["vote_count"]},
        )
    return web.json_response(body)


async def upvote(request: web.Request) -> web.Response:
    """Upvote a question: once per trainee; a second upvote changes nothing."""
    return await _vote(request, True)


async def withdraw_vote(request: web.Request) -> web.Response:
    return await _vote(request, False)


# --------------------------------------------------------------------------------------------
# Moderation and on air
# --------------------------------------------------------------------------------------------

EDIT_BODY = _body({"text": Str(max_len=20_000, raw=True)}, {"text"})
MERGE_BODY = _body({"into": ID}, {"into"})


async def _locked_question(db: AsyncSession, question_id: int) -> tuple[QuestionRow, QaState]:
    session_id = await db.scalar(
        select(QuestionRow.session_id).where(QuestionRow.id == question_id)
    )
    if session_id is None:
        raise NotFound("question.not_found", f"There is no question with id {question_id}.")
    state = await _lock(db, int(session_id))
    row = (
        await db.scalars(
            select(QuestionRow)
            .where(QuestionRow.id == question_id)
            .execution_options(populate_existing=True)
        )
    ).one()
    return row, state


def _move(
    db: AsyncSession,
    row: QuestionRow,
    action: QuestionAction,
    who: str,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> None:
    before = QuestionState(row.state)
    after = next_state(before, action, str(row.id))
    row.state = after.value
    row.updated_at = now
    data = {"action": action.value, "before": before.value, "after": after.value, **(extra or {})}
    _log(db, row.session_id, "question_" + action.value, who, data, row.id, now)


async def _end_on_air(db: AsyncSession, question_id: int, now: datetime) -> None:
    await db.execute(
        update(OnAirInterval)
        .where(OnAirInterval.question_id == question_id, OnAirInterval.ended_at.is_(None))
        .values(ended_at=now)
    )


async def _moderate(request: web.Request, action: str) -> web.Response:
    who = principal(request)
    question_id = path_id(request, "question")
    data: dict[str, Any] = {}
    if action == "edit":
        data = validate(EDIT_BODY, await read_json(request), path="body")
        check_question_text(data["text"])
    elif action == "merge":
        data = validate(MERGE_BODY, await read_json(request), path="body")
    now = utcnow()
    live: list[tuple[str, dict[str, Any], bool]] = []  # (kind, data, announce to agents)
    async with request.app[SESSIONS]() as db, db.begin():
        row, slot = await _locked_question(db, question_id)
        session_id = row.session_id
        _not_ended(session_id, await _session_status(db, session_id))
        if action == "approve":
            _move(db, row, _A.APPROVE, who.label, now)
            live.append(("question_approved", {}, False))
        elif action == "reject":
            _move(db, row, _A.REJECT, who.label, now)
            live.append(("question_state", {}, False))
        elif action == "archive":
            _move(db, row, _A.ARCHIVE, who.label, now)
            live.append(("question_state", {}, False))
        elif action in ("pin", "unpin"):
            pinned = action == "pin"
            next_state(QuestionState(row.state), _A.PIN if pinned else _A.UNPIN, str(row.id))
            if row.pinned != pinned:
                row.pinned = pinned
                _log(db, session_id, "question_" + action, who.label, {}, row.id, now)
                live.append(("question_updated", {}, False))
        elif action == "edit":
            next_state(QuestionState(row.state), _A.EDIT, str(row.id))
            if data["text"] != row.text:
                before = row.text
                row.text = data["text"]
                settings = await db.get(QaSettings, session_id)
                row.flags = list((await _sensitive_words(db, settings)).find(row.text))
                row.updated_at = now
                _log(
                    db,
                    session_id,
                    "question_edited",
                    who.label,
                    {"before": before, "after": row.text, "flags": row.flags},
                    row.id,
                    now,
                )
                live.append(("question_updated", {}, False))
        elif action == "merge":
            await _merge(db, row, data["into"], who.label, now, live)
        elif action == "on-air":
            next_state(QuestionState(row.state), _A.PUT_ON_AIR, str(row.id))
            previous = slot.on_air_question_id
            if previous is not None and previous != row.id:
                prev = await db.get(QuestionRow, previous)
                if prev is not None and prev.state == _S.ON_AIR.value:
                    _move(db, prev, _A.MARK_ANSWERED, who.label, now)
                await _end_on_air(db, previous, now)
            _move(db, row, _A.PUT_ON_AIR, who.label, now)
            slot.on_air_question_id = row.id
            db.add(
                OnAirInterval(
                    session_id=session_id, question_id=row.id, started_at=now, started_by=who.label
                )
            )
            live.append(("question_on_air", {"previous": previous}, True))
        elif action in ("answered", "send-back"):
            was_on_air = row.state == _S.ON_AIR.value
            _move(
                db, row, _A.MARK_ANSWERED if action == "answered" else _A.SEND_BACK, who.label, now
            )
            if was_on_air:
                slot.on_air_question_id = None
                await _end_on_air(db, row.id, now)
                live.append(("question_off_air", {}, True))
            else:
                live.append(("question_state", {}, False))
        else:  # pragma: no cover - the registry only declares the actions above
            raise AssertionError(action)
        await db.flush()
        see = await _see_identity(db, session_id)
        view = question_view(row, ViewerRole.MODERATOR, see)
        public = _screen(row)
    for kind, extra, to_agents in live:
        payload: dict[str, Any]
        if kind == "question_state" or row.state not in {s.value for s in PUBLIC_STATES}:
            payload = {"id": row.id, "state": row.state, **extra}
        else:
            payload = {**public, **extra}
        if to_agents:
            await _announce(request.app, session_id, kind, {"question": payload, **extra})
        else:
            await _publish(request.app, session_id, kind, payload)
    return web.json_response(view)


async def _merge(
    db: AsyncSession,
    source: QuestionRow,
    target_id: int,
    who: str,
    now: datetime,
    live: list[tuple[str, dict[str, Any], bool]],
) -> None:
    if target_id == source.id:
        raise InvalidInput(
            "question.merge_into_self",
            "Choose a different question to merge this one into.",
            {"question_id": source.id},
        )
    target = await db.get(QuestionRow, target_id)
    if target is None or target.session_id != source.session_id:
        raise NotFound(
            "question.not_found", f"There is no question {target_id} in this session to merge into."
        )
    next_state(QuestionState(target.state), _A.ABSORB, str(target.id))
    _move(db, source, _A.MERGE, who, now, {"into": target.id})
    carried = (
        _insert(db, QuestionVote)
        .from_select(
            ["question_id", "trainee_id", "created_at"],
            select(
                literal(target.id, Integer),
                QuestionVote.trainee_id,
                QuestionVote.created_at,
            ).where(QuestionVote.question_id == source.id),
        )
        .on_conflict_do_nothing()
    )
    added = int(getattr(await db.execute(carried), "rowcount", 0) or 0)
    if added:
        await db.execute(
            update(QuestionRow)
            .where(QuestionRow.id == target.id)
            .values(vote_count=QuestionRow.vote_count + added)
        )
    askers = set(target.also_asked_by or []) | set(source.also_asked_by or [])
    if source.asker_trainee_id is not None:
        askers.add(source.asker_trainee_id)
    askers.discard(target.asker_trainee_id)
    target.also_asked_by = sorted(askers)
    source.merged_into_id = target.id
    _log(
        db,
        source.session_id,
        "questions_merged",
        who,
        {"into": target.id, "votes": added},
        source.id,
        now,
    )
    await db.flush()
    await db.refresh(target, ["vote_count"])
    live.append(
        ("question_merged", {"into": target.id, "into_vote_count": target.vote_count}, False)
    )


async def on_air(request: web.Request) -> web.Response:
    """The question on air now and the history of what was on air, with times."""
    who = principal(request)
    session_id = path_id(request, "session")
    viewer = _viewer(who)
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
        if who.actor is Actor.SITE_AGENT:
            await _agent_site(db, session_id, who)
        slot = await db.get(QaState, session_id)
        see = await _see_identity(db, session_id)
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
            "started_at": _iso(i.started_at),
            "ended_at": _iso(i.ended_at),
            "seconds": None
            if i.ended_at is None
            else round((i.ended_at - i.started_at).total_seconds(), 3),
        }
        for i, text in intervals
    ]
    return web.json_response({"session_id": session_id, "current": current, "history": history})


# --------------------------------------------------------------------------------------------
# The floor
# --------------------------------------------------------------------------------------------

GRANT_BODY = _body({"site_id": ID, "time_limit": Optional(Float(1, 86_400))}, {"site_id"})


async def _floor(
    db: AsyncSession, session_id: int
) -> tuple[floor_core.FloorControl, FloorGrantRow | None]:
    requests = (
        await db.scalars(
            select(FloorRequestRow)
            .where(FloorRequestRow.session_id == session_id, FloorRequestRow.outcome == "pending")
            .order_by(FloorRequestRow.raised_at, FloorRequestRow.id)
        )
    ).all()
    grant = await db.scalar(
        select(FloorGrantRow)
        .where(FloorGrantRow.session_id == session_id, FloorGrantRow.ended_at.is_(None))
        .order_by(FloorGrantRow.id.desc())
        .limit(1)
    )
    holder = None
    if grant is not None:
        holder = floor_core.FloorHolder(
            str(grant.site_id),
            grant.granted_at.timestamp(),
            None if grant.deadline is None else grant.deadline.timestamp(),
        )
    control = floor_core.FloorControl.restore(
        str(session_id),
        [floor_core.FloorRequest(str(r.site_id), r.raised_at.timestamp(), r.id) for r in requests],
        holder,
    )
    return control, grant


def _at(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, tz=UTC)


async def _store_floor_events(
    db: AsyncSession, session_id: int, events: Iterable[floor_core.FloorEvent], who: str
) -> list[tuple[str, dict[str, Any]]]:
    """Persist the core's floor events; return (kind, data) to announce."""
    out: list[tuple[str, dict[str, Any]]] = []
    data: dict[str, Any]
    for event in events:
        site_id = int(event.site_id)
        at = _at(event.at)
        if isinstance(event, floor_core.FloorRequested):
            db.add(
                FloorRequestRow(
                    session_id=session_id, site_id=site_id, raised_at=at, outcome="pending"
                )
            )
            kind, data = "floor_requested", {"site_id": site_id, "at": _iso(at)}
        elif isinstance(event, floor_core.FloorWithdrawn):
            await _close_request(db, session_id, site_id, "withdrawn", at)
            kind, data = "floor_withdrawn", {"site_id": site_id, "at": _iso(at)}
        elif isinstance(event, floor_core.FloorGranted):
            await _close_request(db, session_id, site_id, "granted", at)
            deadline = None if event.deadline is None else _at(event.deadline)
            db.add(
                FloorGrantRow(
                    session_id=session_id,
                    site_id=site_id,
                    granted_at=at,
                    deadline=deadline,
                    granted_by=who,
                )
            )
            kind = "floor_granted"
            data = {
                "site_id": site_id,
                "at": _iso(at),
                "deadline": _iso(deadline),
                "seconds": None if event.deadline is None else round(event.deadline - event.at, 3),
            }
        else:
            await db.execute(
                update(FloorGrantRow)
                .where(
                    FloorGrantRow.session_id == session_id,
                    FloorGrantRow.site_id == site_id,
                    FloorGrantRow.ended_at.is_(None),
                )
                .values(ended_at=at, end_reason=event.reason.value)
            )
            kind = "floor_returned"
            data = {"site_id": site_id, "at": _iso(at), "reason": event.reason.value}
        _log(db, session_id, kind, who, data, None, at)
        out.append((kind, data))
    await db.flush()
    return out


async def _close_request(
    db: AsyncSession, session_id: int, site_id: int, outcome: str, at: datetime
) -> None:
    await db.execute(
        update(FloorRequestRow)
        .where(
            FloorRequestRow.session_id == session_id,
            FloorRequestRow.site_id == site_id,
            FloorRequestRow.outcome == "pending",
        )
        .values(outcome=outcome, closed_at=at)
    )


def _floor_view(session_id: int, control: floor_core.FloorControl, now: float) -> dict[str, Any]:
    holder = control.holder
    return {
        "session_id": session_id,
        "holder": None
        if holder is None
        else {
            "site_id": int(holder.site_id),
            "granted_at": _iso(_at(holder.granted_at)),
            "deadline": None if holder.deadline is None else _iso(_at(holder.deadline)),
            "remaining_seconds": None
            if holder.remaining(now) is None
            else round(holder.remaining(now) or 0.0, 3),
        },
        "requests": [
            {"site_id": int(r.site_id), "raised_at": _iso(_at(r.raised_at))}
            for r in control.requests()
        ],
    }


async def _floor_change(
    app: web.Application, session_id: int, who: Principal | None, how: str, data: dict[str, Any]
) -> dict[str, Any]:
    """One floor change in a locked transaction; announces its events; returns the view."""
    now = utcnow().timestamp()
    label = who.label if who is not None else "system:floor-timer"
    async with app[SESSIONS]() as db, db.begin():
        if how != "tick":
            _not_ended(session_id, await _session_status(db, session_id))
        await _lock(db, session_id)
        control, _grant = await _floor(db, session_id)
        if how == "raise":
            events = control.raise_hand(str(data["site_id"]), now=now)
        elif how == "lower":
            events = control.lower_hand(str(data["site_id"]), now=now)
        elif how == "grant":
            events = control.grant(
                str(data["site_id"]), now=now, time_limit=data.get("time_limit"), by=label
            )
        elif how == "revoke":
            events = control.revoke(now=now)
        else:
            events = control.tick(now)
        announced = await _store_floor_events(db, session_id, events, label)
        view = _floor_view(session_id, control, now)
    for kind, payload in announced:
        await _announce(app, session_id, kind, payload)
        await media_api.floor_changed(app, session_id, kind, payload)
        if kind == "floor_granted" and payload["seconds"] is not None:
            _schedule_expiry(app, session_id, float(payload["seconds"]))
    return view


def _schedule_expiry(app: web.Application, session_id: int, delay: float) -> None:
    app[TIMERS].later(delay + 0.05, lambda: _expire(app, session_id), "floor expiry")


async def _expire(app: web.Application, session_id: int) -> None:
    try:
        await _floor_change(app, session_id, None, "tick", {})
    except Exception:  # the next read of the floor applies the expiry (lazy)
        log.warning("floor expiry failed; a later read applies it", exc_info=True)


async def _expire_if_due(app: web.Application, session_id: int) -> None:
    """Lazy expiry on read: only when an open grant's deadline has passed."""
    async with app[SESSIONS]() as db:
        due = await db.scalar(
            select(func.count()).where(
                FloorGrantRow.session_id == session_id,
                FloorGrantRow.ended_at.is_(None),
                FloorGrantRow.deadline <= utcnow(),
            )
        )
    if due:
        await _floor_change(app, session_id, None, "tick", {})


async def _hand(request: web.Request, action: str) -> web.Response:
    who = principal(request)
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
        site_id = await _agent_site(db, session_id, who)
    view = await _floor_change(request.app, session_id, who, action, {"site_id": site_id})
    return web.json_response(view)


async def raise_hand(request: web.Request) -> web.Response:
    """A site (its agent) asks for the floor for its room."""
    return await _hand(request, "raise")


async def lower_hand(request: web.Request) -> web.Response:
    """A site withdraws its request for the floor."""
    return await _hand(request, "lower")


async def grant_floor(request: web.Request) -> web.Response:
    """The operator gives one site the floor, optionally for a time limit (a countdown)."""
    data = validate(GRANT_BODY, await read_json(request), path="body")
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
        if data["site_id"] not in await _site_ids(db, session_id):
            raise Conflict(
                "floor.site_not_in_session",
                "This site is not taking part in the session; choose a participating site.",
                {"site_id": data["site_id"]},
            )
    view = await _floor_change(request.app, session_id, principal(request), "grant", data)
    return web.json_response(view)


async def revoke_floor(request: web.Request) -> web.Response:
    """Return the floor to the main classroom."""
    session_id = path_id(request, "session")
    view = await _floor_change(request.app, session_id, principal(request), "revoke", {})
    return web.json_response(view)


async def get_floor(request: web.Request) -> web.Response:
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
    await _expire_if_due(request.app, session_id)
    async with request.app[SESSIONS]() as db:
        control, _grant = await _floor(db, session_id)
    return web.json_response(_floor_view(session_id, control, utcnow().timestamp()))


async def moderator_queue(request: web.Request) -> web.Response:
    """ONE queue: pending floor requests and approved questions, in the order raised."""
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
    await _expire_if_due(request.app, session_id)
    async with request.app[SESSIONS]() as db:
        control, _grant = await _floor(db, session_id)
        rows = (
            await db.scalars(
                select(QuestionRow).where(
                    QuestionRow.session_id == session_id, QuestionRow.state == _S.APPROVED.value
                )
            )
        ).all()
        see = await _see_identity(db, session_id)
    by_id = {str(r.id): r for r in rows}
    queue = floor_core.merge_queue(control.requests(), [_core_question(r) for r in rows])
    items = []
    for item in queue:
        entry: dict[str, Any] = {
            "kind": item.kind.value,
            "site_id": int(item.site_id),
            "raised_at": _iso(_at(item.raised_at)),
        }
        if item.kind is floor_core.QueueItemKind.QUESTION:
            entry["question"] = question_view(by_id[item.ref], ViewerRole.MODERATOR, see)
        items.append(entry)
    return web.json_response({"session_id": session_id, "items": items})


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------

WORDS = List(Str(min_len=1, max_len=50), max_items=2000)
SETTINGS_BODY = _body(
    {
        "moderators_see_identity": Bool(),
        "auto_approve": Bool(),
        "rate_limit": Int(1, 1000),
        "rate_window": Int(1, 86_400),
        "sensitive_words": WORDS,
    },
    set(),
)
WORDS_BODY = _body({"words": WORDS}, {"words"})


def _settings_view(session_id: int, s: QaSettings | None) -> dict[str, Any]:
    return {
        "session_id": session_id,
        "moderators_see_identity": s.moderators_see_identity
        if s
        else DEFAULTS["moderators_see_identity"],
        "auto_approve": s.auto_approve if s else DEFAULTS["auto_approve"],
        "rate_limit": s.rate_limit if s else DEFAULTS["rate_limit"],
        "rate_window": s.rate_window if s else DEFAULT_RATE_WINDOW,
        "sensitive_words": list(s.sensitive_words or []) if s else [],
    }


async def get_qa_settings(request: web.Request) -> web.Response:
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db:
        await _session_status(db, session_id)
        return web.json_response(_settings_view(session_id, await db.get(QaSettings, session_id)))


async def put_qa_settings(request: web.Request) -> web.Response:
    data = validate(SETTINGS_BODY, await read_json(request), path="body")
    session_id = path_id(request, "session")
    async with request.app[SESSIONS]() as db, db.begin():
        await _session_status(db, session_id)
        row = await db.get(QaSettings, session_id)
        if row is None:
            row = QaSettings(
                session_id=session_id,
                moderators_see_identity=DEFAULTS["moderators_see_identity"],
                auto_approve=DEFAULTS["auto_approve"],
                rate_limit=DEFAULTS["rate_limit"],
                rate_window=DEFAULT_RATE_WINDOW,
                sensitive_words=[],
            )
            db.add(row)
        for key, value in data.items():
            setattr(row, key, value)
        await db.flush()
        view = _settings_view(session_id, row)
        _log(db, session_id, "qa_settings", principal(request).label, view)
    return web.json_response(view)


async def get_words(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db:
        row = await db.get(QaWordList, GLOBAL_WORDS)
    return web.json_response({"words": list(row.words) if row else []})


async def put_words(request: web.Request) -> web.Response:
    data = validate(WORDS_BODY, await read_json(request), path="body")
    async with request.app[SESSIONS]() as db, db.begin():
        row = await db.get(QaWordList, GLOBAL_WORDS)
        if row is None:
            row = QaWordList(key=GLOBAL_WORDS, words=[])
            db.add(row)
        row.words, row.updated_at = data["words"], utcnow()
    return web.json_response({"words": data["words"]})


# --------------------------------------------------------------------------------------------
# Declarations
# --------------------------------------------------------------------------------------------

MODERATION = (
    ("approve", "Approve a question", None),
    ("reject", "Reject a question", None),
    ("edit", "Edit a question's text (the original is kept)", EDIT_BODY),
    ("merge", "Merge a duplicate question into another", MERGE_BODY),
    ("pin", "Pin a question to the top", None),
    ("unpin", "Unpin a question", None),
    ("send-back", "Send a question back a step (off air, or back to screening)", None),
    ("on-air", "Put a question on air on every site's screen", None),
    ("answered", "Mark the question on air as answered", None),
    ("archive", "Archive an answered or rejected question", None),
)


def _moderation_handler(action: str) -> Any:
    async def handler(request: web.Request) -> web.Response:
        return await _moderate(request, action)

    handler.__name__ = f"moderate_{action.replace('-', '_')}"
    return handler


def register(registry: Registry) -> None:
    add = registry.add
    session = "/api/v1/sessions/{id}"
    question = "/api/v1/questions/{id}"
    order = Param("order", {"type": "string", "enum": list(ORDERS), "default": "votes"}, "sort")
    state = Param(
        "state", {"type": "string", "enum": sorted(s.value for s in QuestionState)}, "only this"
    )
    add(
        Endpoint(
            "POST",
            session + "/questions",
            submit_question,
            _ASKERS,
            "Ask a question (a checked-in trainee, or a site agent for its room)",
            "qa",
            body=SUBMIT_BODY,
            status=201,
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/questions",
            list_questions,
            _IN_SESSION,
            "List a session's questions by votes or time",
            "qa",
            query=(order, state, *PAGE_PARAMS),
        )
    )
    add(Endpoint("GET", question, get_question, _IN_SESSION, "Read a question", "qa"))
    add(Endpoint("POST", question + "/vote", upvote, roles.TRAINEES, "Upvote a question", "qa"))
    add(
        Endpoint(
            "DELETE",
            question + "/vote",
            withdraw_vote,
            roles.TRAINEES,
            "Withdraw one's upvote",
            "qa",
        )
    )
    for action, summary, body in MODERATION:
        add(
            Endpoint(
                "POST",
                f"{question}/{action}",
                _moderation_handler(action),
                _MODERATORS,
                summary,
                "qa",
                body=body,
            )
        )
    add(
        Endpoint(
            "GET",
            session + "/on-air",
            on_air,
            _IN_SESSION,
            "Show the question on air and the on-air history",
            "qa",
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/moderator-queue",
            moderator_queue,
            _MODERATORS,
            "Show the one queue of floor requests and approved questions",
            "qa",
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/qa-settings",
            get_qa_settings,
            _MODERATORS,
            "Show a session's Q&A settings",
            "qa",
        )
    )
    add(
        Endpoint(
            "PUT",
            session + "/qa-settings",
            put_qa_settings,
            roles.MANAGERS,
            "Change a session's Q&A settings",
            "qa",
            body=SETTINGS_BODY,
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/qa/sensitive-words",
            get_words,
            _MODERATORS,
            "Show the global sensitive-word list",
            "qa",
        )
    )
    add(
        Endpoint(
            "PUT",
            "/api/v1/qa/sensitive-words",
            put_words,
            roles.MANAGERS,
            "Replace the global sensitive-word list",
            "qa",
            body=WORDS_BODY,
        )
    )
    add(
        Endpoint(
            "GET",
            session + "/floor",
            get_floor,
            _IN_SESSION,
            "Show who holds the floor and who raised a hand",
            "floor",
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/floor/raise",
            raise_hand,
            roles.AGENTS,
            "Raise the site's hand for the floor",
            "floor",
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/floor/lower",
            lower_hand,
            roles.AGENTS,
            "Lower the site's hand",
            "floor",
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/floor/grant",
            grant_floor,
            roles.MANAGERS,
            "Give a site the floor, optionally with a time limit",
            "floor",
            body=GRANT_BODY,
        )
    )
    add(
        Endpoint(
            "POST",
            session + "/floor/revoke",
            revoke_floor,
            roles.MANAGERS,
            "Return the floor to the main classroom",
            "floor",
        )
    )
