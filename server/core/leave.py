"""Leave (请假): a trainee's request to miss sessions, who decides it, and the 1/7 rule.

Decisions:

* A request covers one or more sessions of ONE program (a session, or a part of the program:
  the sessions of a unit or a date range are picked by the caller). It goes
  ``requested`` → ``approved`` | ``refused`` | ``withdrawn``; an approved leave may still be
  withdrawn by the trainee before its first session starts; refused and withdrawn are final.
* Who decides: the training office (operators, admins) for every trainee; a unit's contact
  (联络员, a user named contact of an org unit) only for trainees of that unit. A trainee never
  decides their own request.
* An approved leave turns a session's "absent" (缺勤) into "on leave" (请假) — in the ledger
  result (:func:`apply_leave`), hence in the reports, the transcript and the Excel files. A
  trainee who came anyway keeps the time they attended: leave never takes hours away.
* Hours: a session counts the class hours of its planned window (``LedgerRules.class_hours``);
  a course held several times (staggered batches) counts once, at its longest session, both in
  the program's hours and in a trainee's leave hours.
* The leave share is leave hours / program hours. The rule (a setting per program, default 1/7,
  from the cadre-training regulations) is passed when the share EXCEEDS the limit. Flags are
  given "before" (approved leave only) and "after" (approved + pending requests), so the
  deciding person sees who a pending request would push over the limit.

Pure: no I/O; times are float seconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from fractions import Fraction

from server.core.errors import Conflict, Forbidden, InvalidInput
from server.core.ledger import LedgerRules, LedgerSession, SessionResult
from server.core.text import clean_user_text
from server.core.transitions import transition

REASON_MAX_LEN = 500
NOTE_MAX_LEN = 500
MAX_SESSIONS = 200
DEFAULT_LIMIT = Fraction(1, 7)


class LeaveState(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class LeaveAction(StrEnum):
    APPROVE = "approve"
    REFUSE = "refuse"
    WITHDRAW = "withdraw"


_NEXT: dict[tuple[LeaveState, LeaveAction], LeaveState] = {
    (LeaveState.REQUESTED, LeaveAction.APPROVE): LeaveState.APPROVED,
    (LeaveState.REQUESTED, LeaveAction.REFUSE): LeaveState.REFUSED,
    (LeaveState.REQUESTED, LeaveAction.WITHDRAW): LeaveState.WITHDRAWN,
    (LeaveState.APPROVED, LeaveAction.WITHDRAW): LeaveState.WITHDRAWN,
}


def next_state(
    state: LeaveState, action: LeaveAction, *, now: float, first_session_start: float
) -> LeaveState:
    """The state after ``action``; ``leave.not_allowed`` (409) when the request is past it.

    An approved leave can be withdrawn only before its first session starts (afterwards the
    office has already planned without the trainee)."""
    after = transition(
        _NEXT,
        state,
        action,
        refusal=("leave.not_allowed", f"A {state.value} leave request cannot be {action.value}d."),
    )
    if state is LeaveState.APPROVED and now >= first_session_start:
        raise Conflict(
            "leave.already_started",
            "The leave has started: ask the training office to change it.",
        )
    return after


def clean_reason(reason: str) -> str:
    """The stored reason; ``leave_reason.empty`` / ``.too_long`` / ``.bad_characters``."""
    return clean_user_text(
        reason, max_len=REASON_MAX_LEN, code_prefix="leave_reason", what="reason for leave"
    )


def clean_note(note: str) -> str:
    return clean_user_text(
        note, max_len=NOTE_MAX_LEN, code_prefix="leave_note", allow_empty=True, what="note"
    )


def decision_note(action: LeaveAction, note: str) -> str:
    """The approver's note, stored and shown to the trainee. A refusal must give its reason
    (``leave.refuse_reason_required``): an office tells the trainee why; approval may be bare."""
    cleaned = clean_note(note)
    if action is LeaveAction.REFUSE and not cleaned:
        raise InvalidInput(
            "leave.refuse_reason_required",
            "Give the reason for refusing: the trainee reads it with the decision.",
        )
    return cleaned


def may_ask_leave(end: float, *, now: float, checked_in: bool) -> bool:
    """Whether a session is offered to a trainee for leave: it is not over, and they have not
    checked in to it (a session they attend is not one they miss)."""
    return end > now and not checked_in


def check_sessions(
    sessions: Iterable[LedgerSession], *, now: float, checked_in: frozenset[str] = frozenset()
) -> tuple[LedgerSession, ...]:
    """The sessions a trainee may ask leave from: at least one, at most ``MAX_SESSIONS``, none
    already over (leave is asked beforehand; a missed session is the office's correction) and
    none the trainee has checked in to (``checked_in``: session ids)."""
    chosen = tuple(sorted(set(sessions), key=lambda s: (s.start, s.session_id)))
    if not chosen:
        raise InvalidInput("leave.sessions_required", "Choose the sessions you will miss.")
    if len(chosen) > MAX_SESSIONS:
        raise InvalidInput(
            "leave.too_many_sessions", f"Ask leave for at most {MAX_SESSIONS} sessions at once."
        )
    over = [s.session_id for s in chosen if s.end <= now]
    if over:
        raise InvalidInput(
            "leave.session_over",
            "A session you chose is already over; leave is asked beforehand.",
            {"session_ids": over},
        )
    attended = [s.session_id for s in chosen if s.session_id in checked_in]
    if attended:
        raise InvalidInput(
            "leave.session_attended",
            "You have checked in to a session you chose; leave is for sessions you miss.",
            {"session_ids": attended},
        )
    return chosen


# --------------------------------------------------------------------------------------------
# Who decides
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decider:
    """Who wants to decide: the training office, or the contact of some org units."""

    office: bool
    contact_of: frozenset[int] = frozenset()

    def may_decide(self, trainee_org_unit: int) -> bool:
        return self.office or trainee_org_unit in self.contact_of

    def check(self, trainee_org_unit: int) -> None:
        """``leave.not_your_unit`` (403) when this person may not decide for the trainee."""
        if not self.may_decide(trainee_org_unit):
            raise Forbidden(
                "leave.not_your_unit",
                "Only the training office or the contact of the trainee's unit decides this.",
            )


# --------------------------------------------------------------------------------------------
# Hours and the ledger
# --------------------------------------------------------------------------------------------


def session_hours(session: LedgerSession, rules: LedgerRules) -> float:
    """The class hours a session is worth: its planned window under the rules."""
    return rules.class_hours(session.length_seconds)


def course_hours(sessions: Iterable[LedgerSession], rules: LedgerRules) -> float:
    """Hours of a set of sessions, each course counted once (at its longest session)."""
    best: dict[str, float] = {}
    for session in sessions:
        hours = session_hours(session, rules)
        best[session.course_id] = max(best.get(session.course_id, 0.0), hours)
    return sum(best.values())


def apply_leave(result: SessionResult, on_leave: bool) -> SessionResult:
    """A result with approved leave: "absent" (or, before the end, not yet there) becomes
    "on leave"; a trainee who came anyway keeps the result they earned."""
    if not on_leave or result.attended_minutes > 0 or not (result.absent or not result.final):
        return result
    return replace(result, absent=False, on_leave=True)


# --------------------------------------------------------------------------------------------
# The leave share and the 1/7 rule
# --------------------------------------------------------------------------------------------


def leave_limit(numerator: int, denominator: int) -> Fraction:
    """A program's limit as an exact fraction; ``leave.limit_invalid`` unless 0 < n/d <= 1."""
    if denominator <= 0 or numerator <= 0 or numerator > denominator:
        raise InvalidInput(
            "leave.limit_invalid",
            "The leave limit must be a fraction between 0 and 1, e.g. 1/7.",
            {"numerator": numerator, "denominator": denominator},
        )
    return Fraction(numerator, denominator)


@dataclass(frozen=True, slots=True)
class LeaveStanding:
    """One trainee's leave against the program's limit, before and after pending requests."""

    trainee_id: str
    approved_hours: float
    pending_hours: float
    program_hours: float
    share_before: float
    """Approved leave hours / program hours (0..1+, 4 decimals)."""
    share_after: float
    """(Approved + pending) / program hours."""
    over_before: bool
    over_after: bool

    @property
    def pushed_over(self) -> bool:
        """Approving the pending requests would pass the limit."""
        return self.over_after and not self.over_before


def _over(hours: float, program_hours: float, limit: Fraction) -> bool:
    if program_hours <= 0:
        return False
    return Fraction(hours) > Fraction(program_hours) * limit


def _share(hours: float, program_hours: float) -> float:
    return round(hours / program_hours, 4) if program_hours > 0 else 0.0


def leave_standing(
    trainee_id: str,
    approved: Iterable[LedgerSession],
    pending: Iterable[LedgerSession],
    program_sessions: Iterable[LedgerSession],
    *,
    rules: LedgerRules,
    limit: Fraction = DEFAULT_LIMIT,
) -> LeaveStanding:
    """A trainee's leave share of a program. ``approved`` / ``pending``: the sessions of their
    approved / pending leave requests (a session in both counts once, as approved)."""
    program = course_hours(program_sessions, rules)
    before_sessions = set(approved)
    after_sessions = before_sessions | set(pending)
    before = course_hours(before_sessions, rules)
    after = course_hours(after_sessions, rules)
    return LeaveStanding(
        trainee_id=trainee_id,
        approved_hours=before,
        pending_hours=after - before,
        program_hours=program,
        share_before=_share(before, program),
        share_after=_share(after, program),
        over_before=_over(before, program, limit),
        over_after=_over(after, program, limit),
    )


def flagged(standings: Iterable[LeaveStanding]) -> tuple[LeaveStanding, ...]:
    """Who has passed the limit, or would with their pending requests: most leave first."""
    hits = [s for s in standings if s.over_before or s.over_after]
    return tuple(sorted(hits, key=lambda s: (-s.share_after, s.trainee_id)))


def on_leave_keys(
    approved: Mapping[str, Iterable[str]],
) -> frozenset[tuple[str, str]]:
    """``(session_id, trainee_id)`` pairs with approved leave, from trainee → session ids."""
    return frozenset((sid, tid) for tid, sids in approved.items() for sid in sids)
