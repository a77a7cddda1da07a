"""The floor (发言权): which remote site may speak to everyone, and who is waiting for it.

A site raises its hand for the whole room; the operator grants the floor to one site, with an
optional time limit that every screen counts down (``deadline``); revoking it or the deadline
passing (``tick``) returns the floor to the main classroom.

Decisions:

* Granting while another site holds the floor is REFUSED with ``floor.busy``: the operator
  revokes first, so no site is cut off mid-sentence by a stray click.
* Every method first applies an expiry that ``now`` has reached (checks are made against that
  state before anything changes, so a refusal never swallows an expiry event), and a late
  ``tick`` never lets an expired holder block a grant. ``FloorReturned.at`` for an expiry is
  the deadline itself.
* The operator may grant the floor to a site that did not raise its hand; a pending request of
  the granted site is consumed.
* Lowering a hand that is not raised, lowering while holding the floor, and revoking when
  nobody holds it change nothing and return no events (double taps and races with expiry).
* ``moderator_queue`` merges pending floor requests with APPROVED questions into the one queue
  the moderator works through: by time raised (question: submitted), floor requests before
  questions at the same instant, then by sequence.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from server.core.errors import Conflict, InvalidInput
from server.core.qa import Question, QuestionBoard, QuestionState
from server.core.transitions import transition


class SiteFloorState(StrEnum):
    IDLE = "idle"
    REQUESTED = "requested"
    HOLDING = "holding"


class FloorAction(StrEnum):
    RAISE = "raise"
    LOWER = "lower"
    GRANT = "grant"
    REVOKE = "revoke"
    EXPIRE = "expire"


_F = SiteFloorState
_FA = FloorAction

#: The one transition table for a site: (state, action) -> next state.
TRANSITIONS: dict[tuple[SiteFloorState, FloorAction], SiteFloorState] = {
    (_F.IDLE, _FA.RAISE): _F.REQUESTED,
    (_F.REQUESTED, _FA.LOWER): _F.IDLE,
    (_F.IDLE, _FA.LOWER): _F.IDLE,  # nothing to withdraw
    (_F.HOLDING, _FA.LOWER): _F.HOLDING,  # the operator revokes, not the site
    (_F.IDLE, _FA.GRANT): _F.HOLDING,
    (_F.REQUESTED, _FA.GRANT): _F.HOLDING,
    (_F.HOLDING, _FA.REVOKE): _F.IDLE,
    (_F.HOLDING, _FA.EXPIRE): _F.IDLE,
}

#: Specific codes and messages for illegal pairs a user can cause.
_REFUSALS: dict[tuple[SiteFloorState, FloorAction], tuple[str, str]] = {
    (_F.REQUESTED, _FA.RAISE): (
        "floor.already_requested",
        "This site's hand is already raised; wait for the operator or lower it.",
    ),
    (_F.HOLDING, _FA.RAISE): (
        "floor.already_holding",
        "This site already has the floor; speak now.",
    ),
}


def next_state(state: SiteFloorState, action: FloorAction, site_id: str) -> SiteFloorState:
    return transition(
        TRANSITIONS,
        state,
        action,
        refusal=("floor.bad_transition", f"Cannot {action.value} the floor for site {site_id}."),
        refusals=_REFUSALS,
        details={"site_id": site_id},
    )


class ReturnReason(StrEnum):
    REVOKED = "revoked"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class FloorRequest:
    site_id: str
    raised_at: float
    seq: int


@dataclass(frozen=True, slots=True)
class FloorHolder:
    site_id: str
    granted_at: float
    deadline: float | None

    def remaining(self, now: float) -> float | None:
        """Seconds left for the countdown; None when there is no time limit."""
        return None if self.deadline is None else max(0.0, self.deadline - now)


@dataclass(frozen=True, slots=True)
class FloorRequested:
    session_id: str
    site_id: str
    at: float


@dataclass(frozen=True, slots=True)
class FloorWithdrawn:
    session_id: str
    site_id: str
    at: float


@dataclass(frozen=True, slots=True)
class FloorGranted:
    session_id: str
    site_id: str
    deadline: float | None
    by: str | None
    at: float


@dataclass(frozen=True, slots=True)
class FloorReturned:
    session_id: str
    site_id: str
    reason: ReturnReason
    at: float


FloorEvent = FloorRequested | FloorWithdrawn | FloorGranted | FloorReturned


class FloorControl:
    """The floor of one session: the pending requests and the one holder (or none)."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        self._requests: dict[str, FloorRequest] = {}
        self._holder: FloorHolder | None = None
        self._seq = 0

    @classmethod
    def restore(
        cls,
        session_id: str,
        requests: list[FloorRequest],
        holder: FloorHolder | None,
    ) -> FloorControl:
        """Rebuild the floor from stored requests and holder (the store is the truth)."""
        floor = cls(session_id)
        floor._requests = {r.site_id: r for r in requests}
        floor._holder = holder
        floor._seq = max((r.seq for r in requests), default=0)
        return floor

    # -- reading --

    @property
    def holder(self) -> FloorHolder | None:
        """Who holds the floor as of the last call; call ``tick(now)`` to apply expiry."""
        return self._holder

    def requests(self) -> list[FloorRequest]:
        """Pending requests in the order raised (time, then sequence)."""
        return sorted(self._requests.values(), key=lambda r: (r.raised_at, r.seq))

    def state_of(self, site_id: str, now: float | None = None) -> SiteFloorState:
        """The site's state; with ``now``, as if ``tick(now)`` had run."""
        holder = self._holder if now is None else self._live_holder(now)
        if holder is not None and holder.site_id == site_id:
            return _F.HOLDING
        return _F.REQUESTED if site_id in self._requests else _F.IDLE

    def _live_holder(self, now: float) -> FloorHolder | None:
        holder = self._holder
        if holder is None or holder.deadline is None or now < holder.deadline:
            return holder
        return None

    # -- sites --

    def raise_hand(self, site_id: str, *, now: float) -> list[FloorEvent]:
        next_state(self.state_of(site_id, now), _FA.RAISE, site_id)
        events = self.tick(now)
        self._seq += 1
        self._requests[site_id] = FloorRequest(site_id, now, self._seq)
        events.append(FloorRequested(self.session_id, site_id, now))
        return events

    def lower_hand(self, site_id: str, *, now: float) -> list[FloorEvent]:
        state = self.state_of(site_id, now)
        after = next_state(state, _FA.LOWER, site_id)
        events = self.tick(now)
        if after is not state:
            del self._requests[site_id]
            events.append(FloorWithdrawn(self.session_id, site_id, now))
        return events

    # -- the operator --

    def grant(
        self,
        site_id: str,
        *,
        now: float,
        time_limit: float | None = None,
        by: str | None = None,
    ) -> list[FloorEvent]:
        """Give ``site_id`` the floor, for ``time_limit`` seconds if given."""
        if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
            raise InvalidInput(
                "floor.bad_time_limit",
                "Give a time limit of more than 0 seconds, or none.",
                {"time_limit": time_limit},
            )
        holder = self._live_holder(now)
        if holder is not None:
            raise Conflict(
                "floor.busy",
                f"Site {holder.site_id} has the floor; take it back first.",
                {"holder": holder.site_id, "site_id": site_id},
            )
        next_state(self.state_of(site_id, now), _FA.GRANT, site_id)
        events = self.tick(now)
        self._requests.pop(site_id, None)
        deadline = None if time_limit is None else now + time_limit
        self._holder = FloorHolder(site_id, now, deadline)
        events.append(FloorGranted(self.session_id, site_id, deadline, by, now))
        return events

    def revoke(self, *, now: float) -> list[FloorEvent]:
        """Return the floor to the main classroom (an expiry already due wins)."""
        events = self.tick(now)
        holder = self._holder
        if holder is None:
            return events
        next_state(_F.HOLDING, _FA.REVOKE, holder.site_id)
        self._holder = None
        events.append(FloorReturned(self.session_id, holder.site_id, ReturnReason.REVOKED, now))
        return events

    def tick(self, now: float) -> list[FloorEvent]:
        """Apply the deadline: return the floor if ``now`` has reached it."""
        holder = self._holder
        if holder is None or self._live_holder(now) is not None:
            return []
        next_state(_F.HOLDING, _FA.EXPIRE, holder.site_id)
        self._holder = None
        assert holder.deadline is not None  # only a holder with a deadline expires
        return [
            FloorReturned(self.session_id, holder.site_id, ReturnReason.EXPIRED, holder.deadline)
        ]


# --- the moderator's one queue ----------------------------------------------------------------


class QueueItemKind(StrEnum):
    FLOOR_REQUEST = "floor_request"
    QUESTION = "question"


_KIND_RANK = {QueueItemKind.FLOOR_REQUEST: 0, QueueItemKind.QUESTION: 1}


@dataclass(frozen=True, slots=True)
class QueueItem:
    kind: QueueItemKind
    ref: str  # the site id of a floor request, the question id of a question
    site_id: str
    raised_at: float
    seq: int


def moderator_queue(floor: FloorControl, board: QuestionBoard) -> list[QueueItem]:
    """Pending floor requests and APPROVED questions in one list, in the order raised."""
    return merge_queue(floor.requests(), board.questions(states={QuestionState.APPROVED}))


def merge_queue(requests: Iterable[FloorRequest], approved: Iterable[Question]) -> list[QueueItem]:
    """The queue of ``moderator_queue`` from the pending requests and the APPROVED questions
    themselves (for a store that keeps them as rows)."""
    items = [
        QueueItem(QueueItemKind.FLOOR_REQUEST, r.site_id, r.site_id, r.raised_at, r.seq)
        for r in requests
    ]
    items += [
        QueueItem(QueueItemKind.QUESTION, q.id, q.site_id, q.created_at, q.seq)
        for q in approved
        if q.state is QuestionState.APPROVED
    ]
    items.sort(key=lambda i: (i.raised_at, _KIND_RANK[i.kind], i.seq))
    return items
