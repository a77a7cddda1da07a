"""Group commit for trainee check-ins: many check-ins, one transaction, each its own answer.

A burst of check-ins (a whole classroom typing the code on the screen within seconds) used to
be one transaction of about twelve sequential round trips each, serialised on the store
(SQLite has one connection). Here, per process, check-ins that arrive while a group is being
written wait in a queue and form the next group, written by one task:

* four reads for the whole group, inside its transaction: the stored answers of its client
  ids (idempotency); the sessions' status, participating sites, newest published batch plan
  and out-of-batch rule (one statement); the trainees' plan slots and elective registrations
  (one statement); their existing attendance records. Nothing is cached across groups, so a
  plan, a setting, a session's start or end made by another process or straight in the
  database is seen by the very next group: no invalidation to get wrong, and the cost of
  these reads is shared by the whole group instead of paid by every check-in;
* each check-in is decided by the pure rules (``server.core.checkin``) in arrival order; a
  refused one gets its own error and changes nothing, the others go on;
* one multi-row INSERT … RETURNING for the new records (and an UPDATE per record that
  already existed), one multi-row INSERT for the stored answers, one COMMIT; only then is
  each caller answered ("acknowledged means durable").

If the group's write fails on a constraint (a concurrent writer in another process, or a site
agent's outbox marking the same trainee present), nothing of the group is kept and every
check-in of it is retried alone by the one-transaction-per-check-in path, which already
handles those races; other store errors go to every caller of the group (503).

When nothing is being written, a check-in starts a group at once: no added latency when idle.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from server.core.checkin import (
    OutOfBatchRule,
    decide_checkin,
    effective_out_of_batch_rule,
    roster_standing,
)
from server.core.errors import Conflict, DomainError, NotFound
from server.core.sessions import SessionStatus
from server.store.attendance_models import (
    AttendanceRecordRow,
    BatchAssignment,
    BatchPlan,
    CheckinRequest,
    ElectiveRegistration,
    PlanStatus,
    RegistrationStatus,
    SessionSettings,
)
from server.store.models import ClassSession, session_sites
from server.web.checkin.guard import AttemptBook, prove_site, rooms, site_parents
from server.web.checkin.records import (
    checkin_answer,
    new_row,
    record_kind,
    store_core,
    to_core,
)

log = logging.getLogger("server.web.checkin")

MAX_GROUP = 256
CLOSE_GRACE = 5.0  # seconds a stopping server gives the queued check-ins to commit
"""Check-ins written in one transaction at most (bounds the IN lists and the transaction)."""


@dataclass(slots=True)
class CheckinItem:
    """One trainee's check-in: the validated body, who, where and when."""

    data: dict[str, Any]
    trainee_id: int
    home_site_id: int | None
    session_id: int
    now: datetime
    future: asyncio.Future[dict[str, Any]] = field(init=False)


Fallback = Callable[[CheckinItem], Awaitable[dict[str, Any]]]
Alerts = Callable[[list[dict[str, Any]]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class _Prior:
    """A stored answer to a client id."""

    trainee_id: int
    session_id: int
    response: dict[str, Any]


@dataclass(frozen=True, slots=True)
class _SessionContext:
    """What a check-in needs to know about its session, read once per group."""

    id: int
    status: SessionStatus
    site_ids: tuple[int, ...]  # participating, in id order
    plan_id: int | None  # the newest published batch plan of the course
    rule: OutOfBatchRule
    any_room: bool  # the operator accepts typed codes of any room of the session


async def _session_contexts(
    db: AsyncSession, session_ids: set[int], default_rule: OutOfBatchRule
) -> dict[int, _SessionContext]:
    """The sessions' status, sites, published plan and out-of-batch rule in one statement."""
    newest_plan = (
        select(func.max(BatchPlan.id))
        .where(BatchPlan.course_id == ClassSession.course_id)
        .where(BatchPlan.status == PlanStatus.PUBLISHED)
        .correlate(ClassSession)
        .scalar_subquery()
    )
    rows = await db.execute(
        select(
            ClassSession.id,
            ClassSession.status,
            newest_plan,
            SessionSettings.out_of_batch_rule,
            SessionSettings.any_room,
            session_sites.c.site_id,
        )
        .outerjoin(SessionSettings, SessionSettings.session_id == ClassSession.id)
        .outerjoin(session_sites, session_sites.c.session_id == ClassSession.id)
        .where(ClassSession.id.in_(session_ids))
    )
    found: dict[int, tuple[SessionStatus, int | None, str | None, bool, list[int]]] = {}
    for session_id, status, plan_id, rule, any_room, site_id in rows:
        entry = found.setdefault(session_id, (status, plan_id, rule, bool(any_room), []))
        if site_id is not None:
            entry[4].append(site_id)
    return {
        session_id: _SessionContext(
            id=session_id,
            status=status,
            site_ids=tuple(sorted(sites)),
            plan_id=plan_id,
            rule=effective_out_of_batch_rule(rule, default_rule),
            any_room=any_room,
        )
        for session_id, (status, plan_id, rule, any_room, sites) in found.items()
    }


def _retrieve(future: asyncio.Future[dict[str, Any]]) -> None:
    if not future.cancelled():
        future.exception()


class CheckinWriter:
    """Per-process group-commit writer; one group in flight at a time."""

    def __init__(
        self,
        sessions: async_sessionmaker[Any],
        secret: bytes,
        default_rule: OutOfBatchRule,
        fallback: Fallback,
        max_group: int = MAX_GROUP,
        on_alerts: Alerts | None = None,
    ) -> None:
        self._sessions = sessions
        self._secret = secret
        self._default_rule = default_rule
        self._fallback = fallback
        self._on_alerts = on_alerts
        self._max_group = max_group
        self._queue: list[CheckinItem] = []
        self._task: asyncio.Task[None] | None = None
        self.groups = 0  # written so far, for tests and diagnostics
        self.largest_group = 0
        self.fallbacks = 0  # groups retried check-in by check-in after a conflict
        self.closed = False

    async def submit(self, item: CheckinItem) -> dict[str, Any]:
        """Queue a check-in; return its answer once committed, or raise its own error."""
        if self.closed:
            raise RuntimeError("the check-in writer is closed (the server is stopping)")
        item.future = asyncio.get_running_loop().create_future()
        item.future.add_done_callback(_retrieve)  # a caller that left leaves no warning
        self._queue.append(item)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._drain(), name="checkin-writer")
        # Shielded: a caller that goes away does not cancel the group it is part of.
        return await asyncio.shield(item.future)

    async def close(self, grace: float = CLOSE_GRACE) -> None:
        """Take no more check-ins; write those already queued (for up to ``grace`` seconds),
        then cancel the writing and what is left: their callers see the request cancelled."""
        self.closed = True
        task = self._task
        if task is not None and not task.done():
            try:
                await asyncio.wait_for(asyncio.shield(task), grace)
            except TimeoutError:
                log.warning("check-in writer still busy after %.0f s; cancelling it", grace)
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for item in self._queue:
            item.future.cancel()
        self._queue.clear()

    async def _drain(self) -> None:
        while self._queue:
            group, self._queue = (
                self._queue[: self._max_group],
                self._queue[self._max_group :],
            )
            self.groups += 1
            self.largest_group = max(self.largest_group, len(group))
            try:
                await self._write_group(group)
            except IntegrityError:
                await self._one_by_one(group)
            except Exception as exc:  # store unavailable etc.: every caller gets it
                for item in group:
                    if not item.future.done():
                        item.future.set_exception(exc)

    async def _one_by_one(self, group: list[CheckinItem]) -> None:
        log.info("check-in group conflicted; writing its %d check-ins one by one", len(group))
        self.fallbacks += 1
        for item in group:
            try:
                answer = await self._fallback(item)
            except Exception as exc:
                if not item.future.done():
                    item.future.set_exception(exc)
            else:
                if not item.future.done():
                    item.future.set_result(answer)

    async def _write_group(self, group: list[CheckinItem]) -> None:
        outcomes: list[dict[str, Any] | BaseException] = []
        async with self._sessions() as db, db.begin():
            book = AttemptBook(db)
            outcomes = await self._decide_group(db, book, group)
        # Committed: only now is anyone answered.
        for item, outcome in zip(group, outcomes, strict=True):
            if item.future.done():
                continue
            if isinstance(outcome, BaseException):
                item.future.set_exception(outcome)
            else:
                item.future.set_result(outcome)
        if book.alerts and self._on_alerts is not None:
            await self._on_alerts(book.alerts)

    async def _decide_group(
        self, db: AsyncSession, book: AttemptBook, group: list[CheckinItem]
    ) -> list[dict[str, Any] | BaseException]:
        client_ids = {i.data["client_id"] for i in group}
        priors = {
            row.client_id: _Prior(row.trainee_id, row.session_id, row.response)
            for row in await db.execute(
                select(
                    CheckinRequest.client_id,
                    CheckinRequest.trainee_id,
                    CheckinRequest.session_id,
                    CheckinRequest.response,
                ).where(CheckinRequest.client_id.in_(client_ids))
            )
        }
        fresh = [i for i in group if i.data["client_id"] not in priors]
        contexts: dict[int, _SessionContext] = {}
        assigned: dict[tuple[int, int], int] = {}  # (plan, trainee) -> session of the slot
        registered: set[tuple[int, int]] = set()  # (session, trainee)
        records: dict[tuple[int, int], AttendanceRecordRow] = {}
        parents: dict[str, str | None] = {}
        if fresh:
            session_ids = {i.session_id for i in fresh}
            trainee_ids = {i.trainee_id for i in fresh}
            contexts = await _session_contexts(db, session_ids, self._default_rule)
            plan_ids = {c.plan_id for c in contexts.values() if c.plan_id is not None}
            roster = select(
                literal(0).label("plan_id"),
                ElectiveRegistration.trainee_id,
                ElectiveRegistration.session_id,
            ).where(
                ElectiveRegistration.session_id.in_(session_ids),
                ElectiveRegistration.trainee_id.in_(trainee_ids),
                ElectiveRegistration.status == RegistrationStatus.REGISTERED,
            )
            if plan_ids:  # plan slots and elective registrations in one statement
                slots = select(
                    BatchAssignment.plan_id, BatchAssignment.trainee_id, BatchAssignment.session_id
                ).where(
                    BatchAssignment.plan_id.in_(plan_ids),
                    BatchAssignment.trainee_id.in_(trainee_ids),
                )
                rows = await db.execute(union_all(roster, slots))
            else:
                rows = await db.execute(roster)
            for plan_id, trainee_id, session_id in rows:
                if plan_id == 0:
                    registered.add((session_id, trainee_id))
                else:
                    assigned[(plan_id, trainee_id)] = session_id
            records = {
                (r.session_id, r.trainee_id): r
                for r in (
                    await db.scalars(
                        select(AttendanceRecordRow).where(
                            AttendanceRecordRow.session_id.in_(session_ids),
                            AttendanceRecordRow.trainee_id.in_(trainee_ids),
                        )
                    )
                ).all()
            }
            await book.load(session_ids, trainee_ids)
            if any(
                i.session_id in contexts and i.home_site_id not in contexts[i.session_id].site_ids
                for i in fresh
            ):
                parents = await site_parents(db)

        # Decide each check-in in arrival order; a refusal touches nothing.
        decided: list[tuple[CheckinItem, AttendanceRecordRow, Any] | None] = []
        outcomes: list[dict[str, Any] | BaseException | None] = []
        accepted: dict[str, CheckinItem] = {}  # client id -> the check-in of this group using it
        for item in group:
            cid = item.data["client_id"]
            prior = priors.get(cid)
            first = accepted.get(cid)
            owner: tuple[int, int] | None = None
            if prior is not None:
                owner = (prior.trainee_id, prior.session_id)
            elif first is not None:
                owner = (first.trainee_id, first.session_id)
            if owner is not None:
                if owner != (item.trainee_id, item.session_id):
                    outcomes.append(
                        Conflict(
                            "checkin.client_id_reused",
                            "This check-in id was used for another check-in; make a new one.",
                        )
                    )
                elif prior is not None:
                    outcomes.append({**prior.response, "replayed": True})
                else:
                    outcomes.append(None)  # answered with the first one's answer below
                decided.append(None)
                continue
            try:
                decided.append(
                    self._decide_one(
                        db, book, item, contexts, assigned, registered, records, parents
                    )
                )
                accepted[cid] = item
                outcomes.append(None)
            except DomainError as exc:
                decided.append(None)
                outcomes.append(exc)
            except Exception as exc:  # a bug met by one check-in fails that one alone
                log.exception("check-in %s could not be decided", cid)
                decided.append(None)
                outcomes.append(exc)
        if not accepted:
            return [o if o is not None else AssertionError("undecided") for o in outcomes]
        await self._before_write(db)
        await db.flush()  # new records get their ids (one INSERT … RETURNING), others UPDATE
        answers: dict[str, dict[str, Any]] = {}
        stored: list[dict[str, Any]] = []
        for index, entry in enumerate(decided):
            if entry is None:
                continue
            item, row, outcome = entry
            response = checkin_answer(item.data["client_id"], outcome, row)
            answers[item.data["client_id"]] = response
            outcomes[index] = response
            stored.append(
                {
                    "client_id": item.data["client_id"],
                    "trainee_id": item.trainee_id,
                    "session_id": item.session_id,
                    "record_id": row.id,
                    "response": response,
                }
            )
        await db.execute(insert(CheckinRequest), stored)  # one multi-row INSERT
        final: list[dict[str, Any] | BaseException] = []
        for item, outcome in zip(group, outcomes, strict=True):
            if outcome is None:  # a repeat, within the group, of an accepted client id
                outcome = {**answers[item.data["client_id"]], "replayed": True}
            final.append(outcome)
        return final

    async def _before_write(self, db: AsyncSession) -> None:
        """Nothing; a seam for tests to put a concurrent writer between the read and the write."""

    def _decide_one(
        self,
        db: AsyncSession,
        book: AttemptBook,
        item: CheckinItem,
        contexts: dict[int, _SessionContext],
        assigned: dict[tuple[int, int], int],
        registered: set[tuple[int, int]],
        records: dict[tuple[int, int], AttendanceRecordRow],
        parents: dict[str, str | None],
    ) -> tuple[CheckinItem, AttendanceRecordRow, Any]:
        session = contexts.get(item.session_id)
        if session is None:
            raise NotFound("session.not_found", f"There is no session with id {item.session_id}.")
        participating = [str(s) for s in session.site_ids]
        sites = frozenset(participating)
        ts = item.now.timestamp()
        data = item.data
        home = None if item.home_site_id is None else str(item.home_site_id)
        key = (session.id, item.trainee_id)
        row = records.get(key)
        site = prove_site(
            book,
            self._secret,
            session_id=session.id,
            trainee_id=item.trainee_id,
            data=data,
            room=rooms(
                home_site_id=item.home_site_id,
                record_site_id=None if row is None else row.site_id,
                participating=session.site_ids,
                parents=parents,
                any_room=session.any_room,
            ),
            participating=session.site_ids,
            now=ts,
        )
        slot = None if session.plan_id is None else assigned.get((session.plan_id, item.trainee_id))
        on_roster, planned = roster_standing(
            session_id=str(session.id),
            plan_published=session.plan_id is not None,
            assigned_session_id=None if slot is None else str(slot),
            registered=(session.id, item.trainee_id) in registered,
            home_site_id=home,
            participating_site_ids=sites,
        )
        outcome = decide_checkin(
            session_id=str(session.id),
            session_status=session.status,
            participating_site_ids=sites,
            code_site_id=site,
            on_roster=on_roster,
            planned_session_id=planned,
            out_of_batch_rule=session.rule,
        )
        if row is None:
            row = new_row(item.trainee_id, session.id, int(site), record_kind(outcome.kind))
            record = to_core(row).check_in(ts)  # may refuse: then nothing is added
            db.add(row)
            records[key] = row
        else:
            record = to_core(row).check_in(ts)
        store_core(row, record)
        return item, row, outcome
