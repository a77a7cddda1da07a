"""Questions in an interview-style session (访谈式教学): submit, screen, vote, put on air (上屏).

Trainees in every site's room submit and upvote questions; moderators screen them; one
question at a time is on air on every screen. ``QuestionBoard`` holds one session's questions;
every mutator returns the domain events for the I/O layer to persist and fan out.

Decisions:

* Putting a question on air while another is on air moves the current one to ANSWERED (the
  moderator moves on; refusing would force two clicks for the common case). The events say so.
* The rate limit counts accepted submissions of a trainee in a sliding window (default 3 per
  60 s); questions without an asker (typed by site staff for the whole room) are not limited.
* The store is the truth: a server builds a board per decision with ``QuestionBoard.restore``
  over only what that decision needs (the questions it touches, with their voters when it
  counts votes, and the asker's recent submission times), asks it, and persists the events.
  Holding every question of a session in memory per request would cost too much, and the
  board never needs the others: each rule looks at the questions it names (and the one on air).
* With ``auto_approve`` a question is approved at submit unless a sensitive word flags it;
  flagged questions wait in SUBMITTED for a moderator.
* Upvote is idempotent (a second upvote changes nothing and returns no events); withdrawing a
  vote that was not cast likewise. Votes are accepted while APPROVED or ON_AIR.
* Merging carries votes (set union: a voter of both counts once) and askers to the target; the
  source goes to ARCHIVED with ``merged_into`` set.
* Actions that keep the state (edit, pin, vote...) are in the same table as self-loops, so one
  table says what may happen in each state.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field
from enum import StrEnum

from server.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from server.core.text import QUESTION_MAX_LEN, SensitiveWords, clean_question_text
from server.core.transitions import transition


class QuestionState(StrEnum):
    SUBMITTED = "submitted"
    APPROVED = "approved"
    REJECTED = "rejected"
    ON_AIR = "on_air"
    ANSWERED = "answered"
    ARCHIVED = "archived"


class QuestionAction(StrEnum):
    APPROVE = "approve"
    REJECT = "reject"
    PUT_ON_AIR = "put_on_air"
    MARK_ANSWERED = "mark_answered"
    ARCHIVE = "archive"
    SEND_BACK = "send_back"
    MERGE = "merge"  # this question is a duplicate and is merged into another
    ABSORB = "absorb"  # another question is merged into this one
    EDIT = "edit"
    PIN = "pin"
    UNPIN = "unpin"
    VOTE = "vote"
    WITHDRAW_VOTE = "withdraw_vote"


_S = QuestionState
_A = QuestionAction

_LIVE = (_S.SUBMITTED, _S.APPROVED, _S.ON_AIR, _S.ANSWERED)

#: The one transition table: (state, action) -> next state. Missing pairs are illegal.
TRANSITIONS: dict[tuple[QuestionState, QuestionAction], QuestionState] = {
    (_S.SUBMITTED, _A.APPROVE): _S.APPROVED,
    (_S.SUBMITTED, _A.REJECT): _S.REJECTED,
    (_S.APPROVED, _A.PUT_ON_AIR): _S.ON_AIR,
    (_S.ON_AIR, _A.MARK_ANSWERED): _S.ANSWERED,
    (_S.ANSWERED, _A.ARCHIVE): _S.ARCHIVED,
    (_S.REJECTED, _A.ARCHIVE): _S.ARCHIVED,
    (_S.ON_AIR, _A.SEND_BACK): _S.APPROVED,
    (_S.APPROVED, _A.SEND_BACK): _S.SUBMITTED,
    (_S.SUBMITTED, _A.MERGE): _S.ARCHIVED,
    (_S.APPROVED, _A.MERGE): _S.ARCHIVED,
    # actions that keep the state
    **{(s, _A.ABSORB): s for s in _LIVE},
    **{(s, _A.PIN): s for s in _LIVE},
    **{(s, _A.UNPIN): s for s in QuestionState},
    **{(s, _A.EDIT): s for s in (_S.SUBMITTED, _S.APPROVED, _S.ON_AIR)},
    **{(s, _A.VOTE): s for s in (_S.APPROVED, _S.ON_AIR)},
    **{(s, _A.WITHDRAW_VOTE): s for s in (_S.APPROVED, _S.ON_AIR)},
}

_VERBS: dict[QuestionAction, str] = {
    _A.APPROVE: "approve",
    _A.REJECT: "reject",
    _A.PUT_ON_AIR: "put on air",
    _A.MARK_ANSWERED: "mark as answered",
    _A.ARCHIVE: "archive",
    _A.SEND_BACK: "send back",
    _A.MERGE: "merge away",
    _A.ABSORB: "merge a duplicate into",
    _A.EDIT: "edit",
    _A.PIN: "pin",
    _A.UNPIN: "unpin",
    _A.VOTE: "vote for",
    _A.WITHDRAW_VOTE: "withdraw a vote from",
}


def check_rate(times: Iterable[float], now: float, *, limit: int, window: float) -> None:
    """The rate limit: refuse (``question.rate_limited``, with ``retry_after`` seconds) when
    ``limit`` of the asker's submission ``times`` fall in the ``window`` seconds before ``now``."""
    inside = sorted(t for t in times if t > now - window)
    if len(inside) >= limit:
        retry_after = inside[0] + window - now
        raise RateLimited(
            "question.rate_limited",
            f"You can ask {limit} questions per {window:g} seconds; "
            f"try again in {max(1, round(retry_after))} seconds.",
            {"retry_after": retry_after},
        )


def vote_changes(state: QuestionState, voted: bool, *, cast: bool, question_id: str) -> bool:
    """Whether casting (or withdrawing) a vote changes anything: votes are taken while the
    question is APPROVED or ON_AIR (``question.bad_transition`` otherwise); a second upvote,
    or withdrawing a vote that was not cast, changes nothing."""
    next_state(state, _A.VOTE if cast else _A.WITHDRAW_VOTE, question_id)
    return voted is not cast


def next_state(state: QuestionState, action: QuestionAction, question_id: str) -> QuestionState:
    """Look ``(state, action)`` up in ``TRANSITIONS``; raise ``question.bad_transition``."""
    return transition(
        TRANSITIONS,
        state,
        action,
        refusal=(
            "question.bad_transition",
            f"Cannot {_VERBS[action]} question {question_id}: it is {state.value}. "
            "Refresh the list and try again.",
        ),
        details={"question_id": question_id},
    )


# --- the question -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionEdit:
    editor: str
    at: float
    before: str
    after: str


@dataclass(slots=True, eq=False)
class Question:
    """One question. Owned and mutated only by its ``QuestionBoard``: read, do not write."""

    id: str
    session_id: str
    asker: str | None
    site_id: str
    text: str
    original_text: str
    created_at: float
    seq: int
    addressed_to: str | None = None
    anonymous: bool = False
    state: QuestionState = QuestionState.SUBMITTED
    flags: tuple[str, ...] = ()
    pinned: bool = False
    votes: set[str] = field(default_factory=set)
    also_asked_by: set[str] = field(default_factory=set)
    merged_into: str | None = None
    edits: list[QuestionEdit] = field(default_factory=list)

    @property
    def vote_count(self) -> int:
        return len(self.votes)


# --- events -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class QuestionSubmitted:
    session_id: str
    question_id: str
    site_id: str
    asker: str | None
    anonymous: bool
    addressed_to: str | None
    text: str
    flags: tuple[str, ...]
    at: float


@dataclass(frozen=True, slots=True)
class QuestionStateChanged:
    session_id: str
    question_id: str
    action: QuestionAction
    before: QuestionState
    after: QuestionState
    by: str | None  # moderator id; None when the board decided (auto-approve)
    at: float


@dataclass(frozen=True, slots=True)
class QuestionEdited:
    session_id: str
    question_id: str
    edit: QuestionEdit
    flags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class QuestionsMerged:
    session_id: str
    source_id: str
    target_id: str
    by: str
    at: float


@dataclass(frozen=True, slots=True)
class QuestionPinned:
    session_id: str
    question_id: str
    pinned: bool
    by: str
    at: float


class VoteChange(StrEnum):
    CAST = "cast"
    WITHDRAWN = "withdrawn"
    MERGED = "merged"  # votes of a merged duplicate were carried over


@dataclass(frozen=True, slots=True)
class VoteChanged:
    session_id: str
    question_id: str
    count: int
    change: VoteChange
    voter: str | None  # None for MERGED
    at: float


@dataclass(frozen=True, slots=True)
class OnAirChanged:
    session_id: str
    previous: str | None
    current: str | None
    at: float


QaEvent = (
    QuestionSubmitted
    | QuestionStateChanged
    | QuestionEdited
    | QuestionsMerged
    | QuestionPinned
    | VoteChanged
    | OnAirChanged
)


@dataclass(frozen=True, slots=True)
class OnAirInterval:
    """A question's time on air; ``ended_at`` is None while it is still on air."""

    question_id: str
    started_at: float
    ended_at: float | None


class QuestionOrder(StrEnum):
    VOTES = "votes"  # pinned first, then votes descending, then oldest first
    TIME = "time"  # oldest first


#: The one definition of each list order: (field of ``Question``, descending), most significant
#: first. The board sorts by it; a store that pages in SQL orders its columns by it.
ORDERINGS: dict[QuestionOrder, tuple[tuple[str, bool], ...]] = {
    QuestionOrder.VOTES: (
        ("pinned", True),
        ("vote_count", True),
        ("created_at", False),
        ("seq", False),
    ),
    QuestionOrder.TIME: (("created_at", False), ("seq", False)),
}


def order_key(order: QuestionOrder) -> Callable[[Question], tuple[float, ...]]:
    """The sort key of ``ORDERINGS[order]``."""
    fields = ORDERINGS[order]
    return lambda q: tuple(
        -float(getattr(q, name)) if descending else float(getattr(q, name))
        for name, descending in fields
    )


#: States listed by default: everything not yet archived.
OPEN_STATES = frozenset(QuestionState) - {QuestionState.ARCHIVED}


# --- the board --------------------------------------------------------------------------------


class QuestionBoard:
    """All questions of one session, the on-air slot and the on-air history."""

    def __init__(
        self,
        session_id: str,
        *,
        auto_approve: bool = False,
        sensitive_words: SensitiveWords | None = None,
        rate_limit: int = 3,
        rate_window: float = 60.0,
        max_len: int = QUESTION_MAX_LEN,
    ) -> None:
        if rate_limit < 1 or rate_window <= 0:
            raise ValueError("rate_limit must be >= 1 and rate_window > 0")
        self.session_id = session_id
        self.auto_approve = auto_approve
        self.sensitive_words = sensitive_words or SensitiveWords(())
        self.rate_limit = rate_limit
        self.rate_window = rate_window
        self.max_len = max_len
        self._questions: dict[str, Question] = {}
        self._recent: dict[str, deque[float]] = {}
        self._on_air: str | None = None
        self._history: list[OnAirInterval] = []

    @classmethod
    def restore(
        cls,
        session_id: str,
        questions: Iterable[Question] = (),
        *,
        recent: Mapping[str, Iterable[float]] | None = None,
        on_air_since: float = 0.0,
        auto_approve: bool = False,
        sensitive_words: SensitiveWords | None = None,
        rate_limit: int = 3,
        rate_window: float = 60.0,
    ) -> QuestionBoard:
        """A board over stored state (see the module doc): ``questions`` are the ones the
        decision touches, ``recent`` each asker's submission times; the question among them
        that is ON_AIR holds the on-air slot since ``on_air_since``."""
        board = cls(
            session_id,
            auto_approve=auto_approve,
            sensitive_words=sensitive_words,
            rate_limit=rate_limit,
            rate_window=rate_window,
        )
        for q in questions:
            board._questions[q.id] = q
            if q.state is _S.ON_AIR:
                board._on_air = q.id
                board._history = [OnAirInterval(q.id, on_air_since, None)]
        for asker, times in (recent or {}).items():
            board._recent[asker] = deque(sorted(times))
        return board

    # -- reading --

    def get(self, question_id: str) -> Question:
        try:
            return self._questions[question_id]
        except KeyError:
            raise NotFound(
                "question.not_found",
                f"Question {question_id} does not exist in this session; refresh the list.",
                {"question_id": question_id},
            ) from None

    def __len__(self) -> int:
        return len(self._questions)

    @property
    def on_air(self) -> Question | None:
        return None if self._on_air is None else self._questions[self._on_air]

    @property
    def on_air_history(self) -> tuple[OnAirInterval, ...]:
        return tuple(self._history)

    def questions(
        self,
        order: QuestionOrder = QuestionOrder.VOTES,
        states: Set[QuestionState] = OPEN_STATES,
    ) -> list[Question]:
        chosen = [q for q in self._questions.values() if q.state in states]
        chosen.sort(key=order_key(order))
        return chosen

    # -- trainees --

    def submit(
        self,
        question_id: str,
        *,
        site_id: str,
        text: str,
        now: float,
        asker: str | None = None,
        addressed_to: str | None = None,
        anonymous: bool = False,
    ) -> list[QaEvent]:
        if question_id in self._questions:
            raise Conflict(
                "question.duplicate_id",
                "This question was already received.",
                {"question_id": question_id},
            )
        recent = self._check_rate(asker, now)
        cleaned = clean_question_text(text, self.max_len)
        flags = self.sensitive_words.find(cleaned)
        q = Question(
            id=question_id,
            session_id=self.session_id,
            asker=asker,
            site_id=site_id,
            text=cleaned,
            original_text=cleaned,
            created_at=now,
            seq=len(self._questions),
            addressed_to=addressed_to,
            anonymous=anonymous,
            flags=flags,
        )
        self._questions[question_id] = q
        if recent is not None:
            recent.append(now)
        events: list[QaEvent] = [
            QuestionSubmitted(
                self.session_id, q.id, site_id, asker, anonymous, addressed_to, cleaned, flags, now
            )
        ]
        if self.auto_approve and not flags:
            events.append(self._move(q, _A.APPROVE, None, now))
        return events

    def _check_rate(self, asker: str | None, now: float) -> deque[float] | None:
        if asker is None:
            return None
        recent = self._recent.setdefault(asker, deque())
        while recent and recent[0] <= now - self.rate_window:
            recent.popleft()
        check_rate(recent, now, limit=self.rate_limit, window=self.rate_window)
        return recent

    def upvote(self, question_id: str, trainee_id: str, *, now: float) -> list[QaEvent]:
        q = self.get(question_id)
        if not vote_changes(q.state, trainee_id in q.votes, cast=True, question_id=q.id):
            return []
        q.votes.add(trainee_id)
        return [VoteChanged(self.session_id, q.id, len(q.votes), VoteChange.CAST, trainee_id, now)]

    def withdraw_vote(self, question_id: str, trainee_id: str, *, now: float) -> list[QaEvent]:
        q = self.get(question_id)
        if not vote_changes(q.state, trainee_id in q.votes, cast=False, question_id=q.id):
            return []
        q.votes.discard(trainee_id)
        return [
            VoteChanged(self.session_id, q.id, len(q.votes), VoteChange.WITHDRAWN, trainee_id, now)
        ]

    # -- moderators --

    def approve(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        return [self._move(self.get(question_id), _A.APPROVE, by, now)]

    def reject(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        return [self._move(self.get(question_id), _A.REJECT, by, now)]

    def archive(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        return [self._move(self.get(question_id), _A.ARCHIVE, by, now)]

    def edit(self, question_id: str, new_text: str, *, by: str, now: float) -> list[QaEvent]:
        """Replace the text (the original stays in ``original_text``); flags are recomputed."""
        q = self.get(question_id)
        next_state(q.state, _A.EDIT, q.id)
        cleaned = clean_question_text(new_text, self.max_len)
        if cleaned == q.text:
            return []
        record = QuestionEdit(editor=by, at=now, before=q.text, after=cleaned)
        q.edits.append(record)
        q.text = cleaned
        q.flags = self.sensitive_words.find(cleaned)
        return [QuestionEdited(self.session_id, q.id, record, q.flags)]

    def pin(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        return self._set_pin(question_id, True, by, now)

    def unpin(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        return self._set_pin(question_id, False, by, now)

    def _set_pin(self, question_id: str, pinned: bool, by: str, now: float) -> list[QaEvent]:
        q = self.get(question_id)
        next_state(q.state, _A.PIN if pinned else _A.UNPIN, q.id)
        if q.pinned == pinned:
            return []
        q.pinned = pinned
        return [QuestionPinned(self.session_id, q.id, pinned, by, now)]

    def merge(self, source_id: str, target_id: str, *, by: str, now: float) -> list[QaEvent]:
        """Merge duplicate ``source_id`` into ``target_id``."""
        if source_id == target_id:
            raise InvalidInput(
                "question.merge_into_self",
                "Choose a different question to merge this one into.",
                {"question_id": source_id},
            )
        source, target = self.get(source_id), self.get(target_id)
        next_state(source.state, _A.MERGE, source.id)
        next_state(target.state, _A.ABSORB, target.id)
        before = len(target.votes)
        target.votes |= source.votes
        askers = set(source.also_asked_by)
        if source.asker is not None:
            askers.add(source.asker)
        if target.asker is not None:
            askers.discard(target.asker)
        target.also_asked_by |= askers
        source.merged_into = target.id
        events: list[QaEvent] = [
            QuestionsMerged(self.session_id, source.id, target.id, by, now),
            self._move(source, _A.MERGE, by, now),
        ]
        if len(target.votes) != before:
            events.append(
                VoteChanged(
                    self.session_id, target.id, len(target.votes), VoteChange.MERGED, None, now
                )
            )
        return events

    def put_on_air(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        """Put an approved question on air; the one on air before, if any, becomes ANSWERED."""
        q = self.get(question_id)
        next_state(q.state, _A.PUT_ON_AIR, q.id)
        events: list[QaEvent] = []
        previous = self.on_air
        if previous is not None:
            events.append(self._move(previous, _A.MARK_ANSWERED, by, now))
        events.append(self._move(q, _A.PUT_ON_AIR, by, now))
        events.append(
            OnAirChanged(self.session_id, None if previous is None else previous.id, q.id, now)
        )
        return events

    def mark_answered(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        q = self.get(question_id)
        changed = self._move(q, _A.MARK_ANSWERED, by, now)
        return [changed, OnAirChanged(self.session_id, q.id, None, now)]

    def send_back(self, question_id: str, *, by: str, now: float) -> list[QaEvent]:
        """ON_AIR -> APPROVED (taken off air) or APPROVED -> SUBMITTED (back to screening)."""
        q = self.get(question_id)
        was_on_air = q.state is _S.ON_AIR
        events: list[QaEvent] = [self._move(q, _A.SEND_BACK, by, now)]
        if was_on_air:
            events.append(OnAirChanged(self.session_id, q.id, None, now))
        return events

    # -- the one place a state changes --

    def _move(
        self, q: Question, action: QuestionAction, by: str | None, now: float
    ) -> QuestionStateChanged:
        before = q.state
        after = next_state(before, action, q.id)
        if before is _S.ON_AIR and after is not _S.ON_AIR:
            self._on_air = None
            last = self._history[-1]
            self._history[-1] = OnAirInterval(last.question_id, last.started_at, now)
        if after is _S.ON_AIR and before is not _S.ON_AIR:
            self._on_air = q.id
            self._history.append(OnAirInterval(q.id, now, None))
        q.state = after
        return QuestionStateChanged(self.session_id, q.id, action, before, after, by, now)
