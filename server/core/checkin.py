"""Check-in (签到): rotating site codes, the check-in rules and the attendance record.

A site's screen shows a short code that changes every 30 seconds. A trainee types it (or scans
the QR code, a signed token of the same window: ``server.core.checkin_guard``) on a phone; the
server verifies it, decides whether the check-in is regular or make-up attendance, and keeps
ONE attendance record per trainee and session with the intervals the trainee was in the room.

Pure: the caller passes the time (``now``: float seconds since the epoch, UTC) and the secret.
"""

from __future__ import annotations

import hmac
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from server.core.errors import Conflict, InvalidInput, RuleViolation
from server.core.sessions import SessionStatus

# --------------------------------------------------------------------------------------------
# Rotating codes
# --------------------------------------------------------------------------------------------

WINDOW_SECONDS = 30
"""A code is shown for one window of this many seconds."""

CODE_DIGITS = 6
"""Codes are this many decimal digits: typeable on a phone's number pad."""

ACCEPTED_WINDOWS = 2
"""A code is accepted in its own window and the next one (so a code read at the last second
of its window still works)."""

EXPIRED_LOOKBACK_WINDOWS = 10
"""How many windows back a code is still recognised, to answer "expired" instead of "invalid"."""

MIN_SECRET_BYTES = 16

CODE_TAG = "cr1"
"""Version tag in the HMAC message of the codes (the QR carries a signed token instead:
``server.core.checkin_guard``)."""

_ID_PATTERN = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_CODE_PATTERN = re.compile(rf"[0-9]{{{CODE_DIGITS}}}")


@dataclass(frozen=True, slots=True)
class ShownCode:
    """What a site's screen shows: the code, its window index and when it stops being accepted.

    ``rotates_at`` is when the screen should show the next code; ``expires_at`` is when this
    code stops being accepted (the end of the following window).
    """

    code: str
    window: int
    rotates_at: float
    expires_at: float


def window_index(now: float) -> int:
    """The index of the 30-second window containing ``now``: ``floor(now / 30)``."""
    _require_finite(now, "now")
    return math.floor(now / WINDOW_SECONDS)


def code_for_window(secret: bytes, site_id: str, session_id: str, window: int) -> str:
    """The code of one (site, session, window): HMAC-SHA256 truncated to 6 digits (RFC 4226)."""
    return _code(secret, _code_prefix(secret, site_id, session_id), window)


def _code_prefix(secret: bytes, site_id: str, session_id: str) -> bytes:
    """Validate the inputs and build the window-independent part of the HMAC message."""
    _require_secret(secret)
    _require_id(site_id, "site_id")
    _require_id(session_id, "session_id")
    return CODE_TAG.encode("ascii") + _length_prefixed(site_id) + _length_prefixed(session_id)


def _code(secret: bytes, prefix: bytes, window: int) -> str:
    digest = hmac.digest(secret, prefix + window.to_bytes(8, "big", signed=True), "sha256")
    offset = digest[-1] & 0x0F
    number = int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(number % 10**CODE_DIGITS).zfill(CODE_DIGITS)


def current_code(secret: bytes, site_id: str, session_id: str, now: float) -> ShownCode:
    """The code a site's screen must show at ``now`` for this session."""
    window = window_index(now)
    return ShownCode(
        code=code_for_window(secret, site_id, session_id, window),
        window=window,
        rotates_at=float((window + 1) * WINDOW_SECONDS),
        expires_at=float((window + ACCEPTED_WINDOWS) * WINDOW_SECONDS),
    )


def normalize_code(entered: str) -> str:
    """The 6 ASCII digits of what a trainee typed.

    Full-width digits (from a Chinese input method) are folded to ASCII; spaces and dashes
    (the screen may show ``123 456``) are dropped. Raises ``checkin.code_invalid`` if what is
    left is not exactly 6 digits.
    """
    folded = unicodedata.normalize("NFKC", entered)
    compact = "".join(ch for ch in folded if not ch.isspace() and ch != "-")
    if not _CODE_PATTERN.fullmatch(compact):
        raise InvalidInput(
            "checkin.code_invalid",
            f"Enter the {CODE_DIGITS} digits shown on the classroom screen.",
            {"reason": "malformed"},
        )
    return compact


def verify_code(secret: bytes, site_id: str, session_id: str, code: str, now: float) -> int:
    """Check a code entered at ``now``; return the window it was shown in.

    Accepted: the code of the current or the previous window. Raises ``checkin.code_expired``
    for a code of an older window (up to 10 windows back) and ``checkin.code_invalid`` for
    anything else. Every candidate is compared in constant time, and all of them are compared
    whatever the outcome.
    """
    entered = normalize_code(code).encode("ascii")
    current = window_index(now)
    prefix = _code_prefix(secret, site_id, session_id)
    accepted: int | None = None
    expired = False
    for back in range(EXPIRED_LOOKBACK_WINDOWS + 1):
        window = current - back
        candidate = _code(secret, prefix, window).encode("ascii")
        matches = hmac.compare_digest(entered, candidate)
        if matches and back < ACCEPTED_WINDOWS and accepted is None:
            accepted = window
        elif matches and back >= ACCEPTED_WINDOWS:
            expired = True
    if accepted is not None:
        return accepted
    if expired:
        raise InvalidInput(
            "checkin.code_expired",
            "This code has expired. Enter the code the screen shows now.",
        )
    raise InvalidInput(
        "checkin.code_invalid",
        "This code is not valid for this session. Check the classroom screen and try again.",
        {"reason": "no_match"},
    )


# --------------------------------------------------------------------------------------------
# Check-in rules
# --------------------------------------------------------------------------------------------


class OutOfBatchRule(StrEnum):
    """What to do when a trainee checks in to a session of a batch they are not planned into."""

    MAKEUP = "makeup"
    """Keep the check-in as make-up attendance (补课)."""
    REFUSE = "refuse"
    """Refuse it: the trainee must attend with their own batch."""


DEFAULT_OUT_OF_BATCH = OutOfBatchRule.MAKEUP
"""What a check-in outside one's batch becomes when the session sets no rule."""


def effective_out_of_batch_rule(
    stored: str | None, default: OutOfBatchRule = DEFAULT_OUT_OF_BATCH
) -> OutOfBatchRule:
    """The session's out-of-batch rule: the one it sets, else the server default."""
    return OutOfBatchRule(stored) if stored else default


class AttendanceKind(StrEnum):
    REGULAR = "regular"
    MAKEUP = "makeup"


@dataclass(frozen=True, slots=True)
class CheckinOutcome:
    kind: AttendanceKind
    message: str
    planned_session_id: str | None


def decide_checkin(
    *,
    session_id: str,
    session_status: SessionStatus,
    participating_site_ids: frozenset[str],
    code_site_id: str,
    on_roster: bool,
    planned_session_id: str | None,
    out_of_batch_rule: OutOfBatchRule,
) -> CheckinOutcome:
    """Decide a check-in attempt whose code has already been verified for ``code_site_id``.

    Checks, in this order: the session is live (``checkin.session_not_live``); the code's site
    takes part in the session (``checkin.wrong_site``); the trainee is on the roster
    (``checkin.not_on_roster``); the trainee is planned into this session's batch, else make-up
    attendance or ``checkin.out_of_batch`` by ``out_of_batch_rule``. ``planned_session_id`` is
    the session of the trainee's batch slot, None if they are planned into none.
    """
    if session_status is not SessionStatus.LIVE:
        message = (
            "The session has not started yet. Check in when the broadcast begins."
            if session_status is SessionStatus.SCHEDULED
            else "The session has ended; check-in is closed. Ask the site staff if you attended."
        )
        raise RuleViolation(
            "checkin.session_not_live",
            message,
            rule="session_live",
            details={"session_id": session_id, "status": session_status.value},
        )
    if code_site_id not in participating_site_ids:
        raise RuleViolation(
            "checkin.wrong_site",
            "This classroom is not taking part in the session. Check in at your own classroom.",
            rule="site_participation",
            details={"session_id": session_id, "site_id": code_site_id},
        )
    if not on_roster:
        raise RuleViolation(
            "checkin.not_on_roster",
            "You are not on the roster of this training. Ask the training office to add you.",
            rule="roster",
            details={"session_id": session_id},
        )
    if planned_session_id == session_id:
        return CheckinOutcome(
            kind=AttendanceKind.REGULAR,
            message="Checked in.",
            planned_session_id=planned_session_id,
        )
    if out_of_batch_rule is OutOfBatchRule.REFUSE:
        message = (
            "You are not planned into any batch of this course. Ask the training office."
            if planned_session_id is None
            else "This session is for another batch. Attend the session of your own batch."
        )
        raise RuleViolation(
            "checkin.out_of_batch",
            message,
            rule="batch_plan",
            details={"session_id": session_id, "planned_session_id": planned_session_id},
        )
    return CheckinOutcome(
        kind=AttendanceKind.MAKEUP,
        message="Checked in as make-up attendance: you are not planned into this batch.",
        planned_session_id=planned_session_id,
    )


def roster_standing(
    *,
    session_id: str,
    plan_published: bool,
    assigned_session_id: str | None,
    registered: bool,
    home_site_id: str | None,
    participating_site_ids: frozenset[str],
) -> tuple[bool, str | None]:
    """(on the roster, planned session for the out-of-batch rule) of a trainee in a session.

    On the roster: a published plan of the course assigns the trainee to any of its sessions
    (``assigned_session_id``), or they are registered for the session as an elective, or their
    home site takes part. Without a published plan, or with an elective registration, the
    trainee counts as planned into this session.
    """
    home = home_site_id is not None and home_site_id in participating_site_ids
    on_roster = assigned_session_id is not None or registered or home
    if not plan_published or registered:
        return on_roster, session_id
    return on_roster, assigned_session_id


def match_code(
    secret: bytes, candidates: Sequence[str], session_id: str, code: str, now: float
) -> str:
    """The site among ``candidates`` whose current code ``code`` is.

    A malformed code fails at once; else an expired match wins over a plain mismatch, and
    with no match at all the first candidate's error is raised.
    """
    expired: InvalidInput | None = None
    first: InvalidInput | None = None
    for site in candidates:
        try:
            verify_code(secret, site, session_id, code, now)
            return site
        except InvalidInput as exc:
            if exc.details and exc.details.get("reason") == "malformed":
                raise
            if exc.code == "checkin.code_expired" and expired is None:
                expired = exc
            first = first or exc
    if expired is not None:
        raise expired
    if first is not None:
        raise first
    raise InvalidInput(
        "checkin.code_invalid", "This code is not valid for this session.", {"reason": "no_site"}
    )


# --------------------------------------------------------------------------------------------
# Attendance record: one per trainee and session, with intervals and gaps
# --------------------------------------------------------------------------------------------


class AttendanceState(StrEnum):
    OUT = "out"
    """Not in the room (never checked in, or checked out)."""
    IN = "in"
    """In the room: the last stay is open."""
    CLOSED = "closed"
    """The session is over; only staff corrections (closed spans) may be added."""


class AttendanceEvent(StrEnum):
    CHECK_IN = "check_in"
    CHECK_OUT = "check_out"
    MARK_PRESENT = "mark_present"
    """Staff: the trainee is here from a given time on (open-ended)."""
    MARK_SPAN = "mark_span"
    """Staff: the trainee was here from a given time to a given time."""
    CLOSE = "close"


ATTENDANCE_TRANSITIONS: dict[tuple[AttendanceState, AttendanceEvent], AttendanceState] = {
    (AttendanceState.OUT, AttendanceEvent.CHECK_IN): AttendanceState.IN,
    (AttendanceState.IN, AttendanceEvent.CHECK_IN): AttendanceState.IN,
    (AttendanceState.IN, AttendanceEvent.CHECK_OUT): AttendanceState.OUT,
    (AttendanceState.OUT, AttendanceEvent.MARK_PRESENT): AttendanceState.IN,
    (AttendanceState.IN, AttendanceEvent.MARK_PRESENT): AttendanceState.IN,
    (AttendanceState.OUT, AttendanceEvent.MARK_SPAN): AttendanceState.OUT,
    (AttendanceState.IN, AttendanceEvent.MARK_SPAN): AttendanceState.IN,
    (AttendanceState.CLOSED, AttendanceEvent.MARK_SPAN): AttendanceState.CLOSED,
    (AttendanceState.OUT, AttendanceEvent.CLOSE): AttendanceState.CLOSED,
    (AttendanceState.IN, AttendanceEvent.CLOSE): AttendanceState.CLOSED,
    (AttendanceState.CLOSED, AttendanceEvent.CLOSE): AttendanceState.CLOSED,
}
"""The one transition table of the attendance record; a missing pair is illegal."""

_REFUSALS: dict[AttendanceState, tuple[str, str]] = {
    AttendanceState.OUT: ("checkin.not_checked_in", "You are not checked in."),
    AttendanceState.IN: ("checkin.illegal_transition", "Not possible while checked in."),
    AttendanceState.CLOSED: (
        "checkin.record_closed",
        "The session is over. Ask the site staff to correct your attendance.",
    ),
}


def attendance_transition(state: AttendanceState, event: AttendanceEvent) -> AttendanceState:
    """The state after ``event``; raises a Conflict naming the event and the state if illegal."""
    try:
        return ATTENDANCE_TRANSITIONS[(state, event)]
    except KeyError:
        code, message = _REFUSALS[state]
        raise Conflict(
            code,
            f"{message} (event {event.value!r} in state {state.value!r})",
            {"event": event.value, "state": state.value},
        ) from None


class StaySource(StrEnum):
    TRAINEE = "trainee"
    """The trainee checked in with the code."""
    STAFF = "staff"
    """Site staff or an operator marked the trainee present."""


@dataclass(frozen=True, slots=True)
class Stay:
    """One interval in the room; ``end`` is None while the trainee is still in."""

    start: float
    end: float | None
    source: StaySource = StaySource.TRAINEE


@dataclass(frozen=True, slots=True)
class ManualPresence:
    """A staff marking kept in the record: who, when, why, and the time it covers."""

    by: str
    reason: str
    at: float
    start: float
    end: float | None


@dataclass(frozen=True, slots=True)
class AttendanceRecord:
    """A trainee's attendance of one session. Immutable: every change returns a new record.

    ``stays`` are in the order they were added; at most the last one is open. Stays added by
    staff may overlap others; the ledger takes their union.
    """

    trainee_id: str
    session_id: str
    site_id: str
    kind: AttendanceKind
    state: AttendanceState = AttendanceState.OUT
    stays: tuple[Stay, ...] = ()
    manual: tuple[ManualPresence, ...] = ()

    @classmethod
    def new(
        cls,
        trainee_id: str,
        session_id: str,
        site_id: str,
        kind: AttendanceKind = AttendanceKind.REGULAR,
    ) -> AttendanceRecord:
        """An empty record (state OUT, no stays)."""
        return cls(trainee_id=trainee_id, session_id=session_id, site_id=site_id, kind=kind)

    @property
    def is_in(self) -> bool:
        return self.state is AttendanceState.IN

    @property
    def open_stay(self) -> Stay | None:
        if self.stays and self.stays[-1].end is None:
            return self.stays[-1]
        return None

    def check_in(self, now: float) -> AttendanceRecord:
        """Enter the room. Idempotent while in (returns the same record)."""
        _require_finite(now, "now")
        state = attendance_transition(self.state, AttendanceEvent.CHECK_IN)
        if self.state is AttendanceState.IN:
            return self
        return replace(self, state=state, stays=(*self.stays, Stay(now, None)))

    def check_out(self, now: float) -> AttendanceRecord:
        """Leave the room; raises ``checkin.not_checked_in`` when not in."""
        _require_finite(now, "now")
        state = attendance_transition(self.state, AttendanceEvent.CHECK_OUT)
        return replace(self, state=state, stays=self._close_open_stay(now, strict=True))

    def close_at(self, session_end: float) -> AttendanceRecord:
        """The session ended: close an open stay at ``session_end``. Idempotent."""
        _require_finite(session_end, "session_end")
        state = attendance_transition(self.state, AttendanceEvent.CLOSE)
        if self.state is AttendanceState.CLOSED:
            return self
        return replace(self, state=state, stays=self._close_open_stay(session_end, strict=False))

    def mark_present(
        self,
        *,
        by: str,
        reason: str,
        now: float,
        start: float,
        end: float | None = None,
    ) -> AttendanceRecord:
        """Staff mark the trainee present, with a reason kept in the record.

        ``end`` None: present from ``start`` on (the trainee is now in; not allowed once the
        record is closed). ``end`` given: present from ``start`` to ``end`` (allowed in any
        state, e.g. a correction after the session). Times may not lie after ``now``.
        """
        by, reason = _require_staff_and_reason(by, reason)
        for value, name in ((now, "now"), (start, "start")):
            _require_finite(value, name)
        if end is not None:
            _require_finite(end, "end")
        if start > now or (end is not None and not start <= end <= now):
            raise InvalidInput(
                "checkin.time_invalid",
                "Presence must start before it ends and may not lie in the future.",
                {"start": start, "end": end, "now": now},
            )
        mark = ManualPresence(by=by, reason=reason, at=now, start=start, end=end)
        event = AttendanceEvent.MARK_SPAN if end is not None else AttendanceEvent.MARK_PRESENT
        state = attendance_transition(self.state, event)
        stays = self._stays_with_marked(start, end)
        return replace(self, state=state, stays=stays, manual=(*self.manual, mark))

    def spans(self, until: float) -> tuple[tuple[float, float], ...]:
        """Every stay as a (start, end) pair; an open stay is taken to last ``until``."""
        return tuple(
            (stay.start, stay.end if stay.end is not None else max(stay.start, until))
            for stay in self.stays
        )

    def _close_open_stay(self, at: float, *, strict: bool) -> tuple[Stay, ...]:
        open_stay = self.open_stay
        if open_stay is None:
            return self.stays
        if strict and at < open_stay.start:
            raise InvalidInput(
                "checkin.time_invalid",
                "Check-out cannot be earlier than check-in.",
                {"check_in": open_stay.start, "check_out": at},
            )
        closed = replace(open_stay, end=max(at, open_stay.start))
        return (*self.stays[:-1], closed)

    def _stays_with_marked(self, start: float, end: float | None) -> tuple[Stay, ...]:
        open_stay = self.open_stay
        if end is None and open_stay is None:
            return (*self.stays, Stay(start, None, StaySource.STAFF))
        if end is None and open_stay is not None:
            if start >= open_stay.start:
                return self.stays
            end = open_stay.start
        marked = Stay(start, end, StaySource.STAFF)
        if open_stay is None:
            return (*self.stays, marked)
        return (*self.stays[:-1], marked, open_stay)


# --------------------------------------------------------------------------------------------
# Validation helpers
# --------------------------------------------------------------------------------------------


def _length_prefixed(value: str) -> bytes:
    raw = value.encode("utf-8")
    return len(raw).to_bytes(4, "big") + raw


def _require_finite(value: float, name: str) -> None:
    if not math.isfinite(value):
        raise InvalidInput("checkin.time_invalid", f"{name} must be a finite time.", {name: value})


def _require_secret(secret: bytes) -> None:
    if len(secret) < MIN_SECRET_BYTES:
        raise InvalidInput(
            "checkin.secret_too_short",
            f"The check-in secret must be at least {MIN_SECRET_BYTES} bytes.",
        )


def _require_id(value: str, name: str) -> None:
    if _ID_PATTERN.fullmatch(value) is None:
        raise InvalidInput(
            "checkin.id_invalid",
            f"{name} must be 1 to 64 letters, digits, '_', '.' or '-'.",
            {name: value},
        )


def _require_staff_and_reason(by: str, reason: str) -> tuple[str, str]:
    if not by.strip():
        raise InvalidInput("checkin.staff_required", "Say who marks the trainee present.")
    if not reason.strip():
        raise InvalidInput(
            "checkin.reason_required", "Give a reason for marking the trainee present."
        )
    return by.strip(), reason.strip()
