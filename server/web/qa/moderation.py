"""Moderation and on air: the store around ``QuestionBoard``'s moderator actions. No HTTP.

Every action takes the session's lock (``interaction.service.lock``), restores a board over
the question acted on, the question on air (putting one on air answers it) and, for a merge,
the target with both questions' voters; the board decides (the state table, "one on air",
merge carrying votes and askers, edit cleaning and re-flagging, pin and edit that change
nothing) and the events are stored here, one writer per event kind.
"""

from __future__ import annotations

import contextlib
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Conflict, NotFound
from server.core.qa import (
    OnAirChanged,
    QaEvent,
    QuestionAction,
    QuestionBoard,
    QuestionEdited,
    QuestionPinned,
    QuestionsMerged,
    QuestionState,
    QuestionStateChanged,
)
from server.core.qa_views import (
    PUBLIC_STATES,
    ViewerRole,
)
from server.core.roles import Principal
from server.core.text import SensitiveWords
from server.store.models import utcnow
from server.store.qa_models import OnAirInterval, QaSettings, QaState, QuestionRow, QuestionVote
from server.web.interaction.service import (
    Services,
    insert_of,
    lock,
    log_event,
    not_ended,
    session_status,
)
from server.web.qa.service import (
    core_question,
    question_view,
    screen_view,
    see_identity,
    sensitive_words,
)

ACTIONS = (
    "approve",
    "reject",
    "edit",
    "merge",
    "pin",
    "unpin",
    "send-back",
    "on-air",
    "answered",
    "archive",
)
_PUBLIC = {s.value for s in PUBLIC_STATES}


async def _locked_question(db: AsyncSession, question_id: int) -> tuple[QuestionRow, QaState]:
    session_id = await db.scalar(
        select(QuestionRow.session_id).where(QuestionRow.id == question_id)
    )
    if session_id is None:
        raise NotFound("question.not_found", f"There is no question with id {question_id}.")
    slot = await lock(db, int(session_id))
    row = await db.get_one(QuestionRow, question_id, populate_existing=True)
    return row, slot


async def _voters(db: AsyncSession, question_id: int) -> dict[int, Any]:
    rows = await db.execute(
        select(QuestionVote.trainee_id, QuestionVote.created_at).where(
            QuestionVote.question_id == question_id
        )
    )
    return {int(t): at for t, at in rows.all()}


class _Store:
    """Writes one action's events: the rows it loaded, by id."""

    def __init__(
        self,
        db: AsyncSession,
        slot: QaState,
        rows: dict[int, QuestionRow],
        votes: dict[int, dict[int, Any]],
        who: str,
    ) -> None:
        self.db, self.slot, self.rows, self.votes, self.who = db, slot, rows, votes, who
        self.now = utcnow()

    def log(self, kind: str, row: QuestionRow, data: dict[str, Any]) -> None:
        log_event(self.db, row.session_id, kind, self.who, data, row.id, self.now)

    async def store(self, board: QuestionBoard, events: list[QaEvent]) -> None:
        into = {e.source_id: int(e.target_id) for e in events if isinstance(e, QuestionsMerged)}
        # the state changes first: a merge is logged as the move, then what it carried
        for event in sorted(events, key=lambda e: isinstance(e, QuestionsMerged)):
            if isinstance(event, QuestionStateChanged):
                self.moved(event, into.get(event.question_id))
            elif isinstance(event, QuestionEdited):
                row = self.rows[int(event.question_id)]
                row.text, row.flags, row.updated_at = event.edit.after, list(event.flags), self.now
                data = {"before": event.edit.before, "after": row.text, "flags": row.flags}
                self.log("question_edited", row, data)
            elif isinstance(event, QuestionPinned):
                row = self.rows[int(event.question_id)]
                row.pinned = event.pinned
                self.log("question_pin" if event.pinned else "question_unpin", row, {})
            elif isinstance(event, QuestionsMerged):
                await self.merged(board, event)
            elif isinstance(event, OnAirChanged):
                await self.on_air_changed(event)
        await self.db.flush()

    def moved(self, event: QuestionStateChanged, into: int | None) -> None:
        row = self.rows[int(event.question_id)]
        row.state, row.updated_at = event.after.value, self.now
        data: dict[str, Any] = {
            "action": event.action.value,
            "before": event.before.value,
            "after": event.after.value,
        }
        if into is not None:
            data["into"] = into
        self.log("question_" + event.action.value, row, data)

    async def merged(self, board: QuestionBoard, event: QuestionsMerged) -> None:
        source, target = self.rows[int(event.source_id)], self.rows[int(event.target_id)]
        decided = board.get(event.target_id)
        source.merged_into_id = target.id
        target.also_asked_by = sorted(int(t) for t in decided.also_asked_by)
        voted = self.votes[source.id]
        carried = [
            {"question_id": target.id, "trainee_id": int(t), "created_at": voted[int(t)]}
            for t in decided.votes
            if int(t) not in self.votes[target.id]
        ]
        added = 0
        if carried:
            result = await self.db.execute(
                insert_of(self.db, QuestionVote).values(carried).on_conflict_do_nothing()
            )
            added = int(getattr(result, "rowcount", 0) or 0)
        if added:
            await self.db.execute(
                update(QuestionRow)
                .where(QuestionRow.id == target.id)
                .values(vote_count=QuestionRow.vote_count + added)
            )
        self.log("questions_merged", source, {"into": target.id, "votes": added})
        await self.db.flush()
        await self.db.refresh(target, ["vote_count"])

    async def on_air_changed(self, event: OnAirChanged) -> None:
        if event.previous is not None:
            await self.db.execute(
                update(OnAirInterval)
                .where(
                    OnAirInterval.question_id == int(event.previous),
                    OnAirInterval.ended_at.is_(None),
                )
                .values(ended_at=self.now)
            )
        self.slot.on_air_question_id = None if event.current is None else int(event.current)
        if event.current is not None:
            self.db.add(
                OnAirInterval(
                    session_id=self.slot.session_id,
                    question_id=int(event.current),
                    started_at=self.now,
                    started_by=self.who,
                )
            )


_PLAIN_ACTIONS = {
    "approve": QuestionBoard.approve,
    "reject": QuestionBoard.reject,
    "archive": QuestionBoard.archive,
    "pin": QuestionBoard.pin,
    "unpin": QuestionBoard.unpin,
    "on-air": QuestionBoard.put_on_air,
    "answered": QuestionBoard.mark_answered,
    "send-back": QuestionBoard.send_back,
}
"""The moderation actions that take nothing but the question (the board holds each rule)."""


def _decide(
    board: QuestionBoard, action: str, question: str, by: str, now: float, data: dict[str, Any]
) -> list[QaEvent]:
    """Ask the board (the one place each action's rule is)."""
    if action == "edit":
        return board.edit(question, data["text"], by=by, now=now)
    if action == "merge":
        return board.merge(question, str(data["into"]), by=by, now=now)
    return _PLAIN_ACTIONS[action](board, question, by=by, now=now)


def _live_message(events: list[QaEvent], row: QuestionRow) -> tuple[str, dict[str, Any], bool]:
    """The one live message of an action: (kind, extra fields, also to the sites' agents)."""
    for event in events:
        if isinstance(event, OnAirChanged):
            if event.current is None:
                return "question_off_air", {}, True
            previous = None if event.previous is None else int(event.previous)
            return "question_on_air", {"previous": previous}, True
    for event in events:
        if isinstance(event, QuestionsMerged):
            target = int(event.target_id)
            return "question_merged", {"into": target}, False
    if any(isinstance(e, QuestionEdited | QuestionPinned) for e in events):
        return "question_updated", {}, False
    if row.state == QuestionState.APPROVED.value and any(
        isinstance(e, QuestionStateChanged) and e.action is QuestionAction.APPROVE for e in events
    ):
        return "question_approved", {}, False
    return "question_state", {}, False


async def moderate(
    svc: Services, who: Principal, question_id: int, action: str, data: dict[str, Any]
) -> dict[str, Any]:
    """One moderator action on a question; returns the question as moderators see it."""
    async with svc.sessions() as db, db.begin():
        row, slot = await _locked_question(db, question_id)
        session_id = row.session_id
        not_ended(session_id, await session_status(db, session_id))
        rows = {row.id: row}
        votes: dict[int, dict[int, Any]] = {}
        if slot.on_air_question_id is not None and slot.on_air_question_id != row.id:
            current = await db.get(QuestionRow, slot.on_air_question_id)
            if current is not None and current.state == QuestionState.ON_AIR.value:
                rows[current.id] = current
        if action == "merge" and data["into"] != row.id:
            target = await db.get(QuestionRow, data["into"])
            if target is None or target.session_id != session_id:
                raise NotFound(
                    "question.not_found",
                    f"There is no question {data['into']} in this session to merge into.",
                )
            rows[target.id] = target
            votes = {row.id: await _voters(db, row.id), target.id: await _voters(db, target.id)}
        words = SensitiveWords(())
        if action == "edit":
            words = await sensitive_words(db, await db.get(QaSettings, session_id))
        board = QuestionBoard.restore(
            str(session_id),
            [core_question(r, votes.get(r.id, ())) for r in rows.values()],
            sensitive_words=words,
        )
        store = _Store(db, slot, rows, votes, who.label)
        events = _decide(board, action, str(row.id), who.label, store.now.timestamp(), data)
        await store.store(board, events)
        view = question_view(row, ViewerRole.MODERATOR, await see_identity(db, session_id))
        public = screen_view(row)
    if not events:
        return view
    kind, extra, to_agents = _live_message(events, row)
    if kind == "question_merged":
        extra["into_vote_count"] = rows[extra["into"]].vote_count
    payload: dict[str, Any]
    if kind == "question_state" or row.state not in _PUBLIC:
        payload = {"id": row.id, "state": row.state, **extra}
    else:
        payload = {**public, **extra}
    if to_agents:
        await svc.announce(session_id, kind, {"question": payload, **extra})
    else:
        await svc.publish(session_id, kind, payload)
    return view


async def answer_on_air(svc: Services, who: Principal, session_id: int) -> None:
    """A session that ends takes its question off the air: the one on air is marked answered
    by the board's own rule, as if the moderator had pressed 已回答 (screens and agents are
    told ``question_off_air``)."""
    async with svc.sessions() as db:
        slot = await db.get(QaState, session_id)
        question_id = None if slot is None else slot.on_air_question_id
    if question_id is not None:
        # answered, sent back or ended in the meantime: nothing is left on the air
        with contextlib.suppress(Conflict):
            await moderate(svc, who, question_id, "answered", {})
