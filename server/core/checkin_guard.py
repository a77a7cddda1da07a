"""What makes a check-in hard to fake: signed QR tokens, the rooms a trainee may check in to,
the back-off on wrong codes, the time bounds of a site's own check-ins and the screen cookie.

* **QR token** (``cr2:<site>:<session>:<window>:<mac>``): the QR on a site's screen carries an
  HMAC-SHA256 (128 bits kept, base64url) of the site, the session and the 30-second window,
  keyed by the server's check-in key. It is accepted in its own window and the next one, like
  the typed code, and cannot be guessed: scanning it proves the phone saw that screen.
* **Typed codes** (6 digits, guessable in principle) are checked only against the trainee's
  own rooms (:func:`trainee_rooms`: the home site if it takes part, else the nearest taking
  part above it in the site tree, plus the room of their attendance record), unless the
  operator opened every room of the session (setting ``any_room``).
* **Back-off** (:func:`after_failure`, :func:`retry_after`): per trainee and session, the first
  :data:`FREE_FAILURES` wrong codes cost nothing, then each one blocks typed codes for
  10 s, 20 s, 40 s ... up to :data:`MAX_DELAY`; a success or an hour without failures forgets
  them. Per session, more than :data:`SESSION_LIMIT` wrong codes in a minute pause typed codes
  for the rest of that minute (the QR still works).
* **A site's own check-ins** (agent outbox, ``attendance/mark`` by a site) must lie within the
  session's time (:func:`check_site_checkin_time`).
* **Screen cookie** ``scr1.<site>.<exp>.<mac>``: the MAC is keyed by the server's key AND the
  site's stored secret hash (a database dump alone cannot forge one, a new site secret signs
  every screen out), and an expiry further than :data:`SCREEN_MAX_DAYS` ahead is refused.

Pure: the caller passes ``now`` (float seconds since the epoch) and the keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from server.core.checkin import ACCEPTED_WINDOWS, match_code, window_index
from server.core.errors import DomainError, InvalidInput, RateLimited, RuleViolation
from server.core.throttle import Policy, lock_seconds


def derive_key(secret_key: str, purpose: str) -> bytes:
    """A key for one purpose (``checkin``, ``screen``) derived from the server's secret key,
    so any secret length works and the raw key never signs anything itself."""
    return hashlib.sha256(f"classroom-{purpose}\x00{secret_key}".encode()).digest()


# --------------------------------------------------------------------------------------------
# Signed QR tokens
# --------------------------------------------------------------------------------------------

QR_TOKEN_PREFIX = "cr2"
TOKEN_MAC_BYTES = 16
"""128 bits of HMAC-SHA256: guessing one is hopeless at any request rate."""

_TOKEN_PATTERN = re.compile(
    r"cr2:([A-Za-z0-9_.\-]{1,64}):([A-Za-z0-9_.\-]{1,64}):(-?[0-9]{1,15}):([A-Za-z0-9_\-]{22})"
)


@dataclass(frozen=True, slots=True)
class QrToken:
    site_id: str
    session_id: str
    window: int


def _token_mac(key: bytes, site_id: str, session_id: str, window: int) -> str:
    message = "\x00".join(("classroom-qr-v2", site_id, session_id, str(window))).encode()
    digest = hmac.digest(key, message, "sha256")[:TOKEN_MAC_BYTES]
    return base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


def qr_token(key: bytes, site_id: str, session_id: str, now: float) -> str:
    """The QR text a site's screen shows at ``now``."""
    window = window_index(now)
    mac = _token_mac(key, site_id, session_id, window)
    return f"{QR_TOKEN_PREFIX}:{site_id}:{session_id}:{window}:{mac}"


def _qr_invalid(reason: str) -> InvalidInput:
    return InvalidInput(
        "checkin.qr_invalid",
        "This is not a valid check-in QR code. Scan the code on the classroom screen now.",
        {"reason": reason},
    )


def verify_qr_token(key: bytes, text: str, session_id: str, now: float) -> QrToken:
    """The site and window of a scanned token for ``session_id``.

    Raises ``checkin.qr_invalid`` (not a token, forged, another session, a window not yet
    begun) or ``checkin.code_expired`` (a genuine token older than the accepted windows).
    """
    match = _TOKEN_PATTERN.fullmatch(text.strip())
    if match is None:
        raise _qr_invalid("malformed")
    site, session, raw_window, mac = match.groups()
    window = int(raw_window)
    if not hmac.compare_digest(mac, _token_mac(key, site, session, window)):
        raise _qr_invalid("signature")
    if session != session_id:
        raise _qr_invalid("other_session")
    current = window_index(now)
    if window > current:
        raise _qr_invalid("future")
    if window <= current - ACCEPTED_WINDOWS:
        raise InvalidInput(
            "checkin.code_expired",
            "This QR code has expired. Scan the code the screen shows now.",
        )
    return QrToken(site, session, window)


# --------------------------------------------------------------------------------------------
# Rooms: where a trainee is expected
# --------------------------------------------------------------------------------------------


def trainee_rooms(
    *,
    home_site_id: str | None,
    home_ancestors: Sequence[str],
    record_site_id: str | None,
    participating: Sequence[str],
) -> tuple[str, ...]:
    """The rooms of a session a trainee is expected in, most likely first.

    The home site if it takes part; else the nearest site above it (``home_ancestors``,
    nearest first) that takes part: the room the trainee's batch attends with. Plus the room
    of the trainee's attendance record of this session (checked in there with the QR).
    """
    taking_part = set(participating)
    rooms: list[str] = []
    if home_site_id is not None and home_site_id in taking_part:
        rooms.append(home_site_id)
    else:
        rooms.extend(next(([s] for s in home_ancestors if s in taking_part), []))
    if record_site_id is not None and record_site_id in taking_part and record_site_id not in rooms:
        rooms.append(record_site_id)
    return tuple(rooms)


def ancestors_of(parents: Mapping[str, str | None], site_id: str | None) -> tuple[str, ...]:
    """The sites above ``site_id`` in the site tree, nearest first (a cycle ends the walk)."""
    found: list[str] = []
    current = parents.get(site_id) if site_id is not None else None
    while current is not None and current not in found and len(found) < len(parents):
        found.append(current)
        current = parents.get(current)
    return tuple(found)


def typed_code_sites(
    rooms: Sequence[str], participating: Sequence[str], *, any_room: bool
) -> tuple[str, ...]:
    """The sites whose code a typed code is compared with: the trainee's rooms, or with the
    operator's ``any_room`` every site taking part (the rooms first). Raises
    ``checkin.no_room`` when there is none: only the QR of the room can check the trainee in."""
    sites = (
        tuple(rooms) + tuple(s for s in participating if s not in rooms)
        if any_room
        else tuple(rooms)
    )
    if not sites:
        raise RuleViolation(
            "checkin.no_room",
            "Your own classroom is not taking part in this session. Scan the QR code on the "
            "screen of the room you are in.",
            rule="typed_code_scope",
        )
    return sites


def checkin_site(
    key: bytes,
    session_id: str,
    *,
    code: str | None,
    qr: str | None,
    site_hint: str | None,
    rooms: Sequence[str],
    participating: Sequence[str],
    any_room: bool,
    trainee: Attempts,
    session: Attempts,
    now: float,
) -> str:
    """The site whose screen showed what the trainee sent.

    A scanned QR token is verified alone (it cannot be guessed, so no back-off applies). A
    typed code is refused with 429 while the trainee or the session is blocked, else compared
    with the codes of :func:`typed_code_sites` (narrowed to ``site_hint`` when given).
    """
    if qr is not None:
        return verify_qr_token(key, qr, session_id, now).site_id
    if code is None:
        raise InvalidInput(
            "checkin.code_required", "Send either the code from the screen or the scanned QR text."
        )
    for state, scope in ((trainee, "trainee"), (session, "session")):
        wait = retry_after(state, now)
        if wait > 0:
            raise too_many_attempts(wait, scope=scope)
    sites = typed_code_sites(rooms, participating, any_room=any_room)
    if site_hint is not None:
        sites = typed_code_sites([s for s in sites if s == site_hint], (), any_room=False)
    return match_code(key, sites, session_id, code, now)


def counts_as_guess(exc: DomainError) -> bool:
    """A refusal that counts as a wrong code for the back-off (a malformed entry does not)."""
    reason = exc.details.get("reason") if isinstance(exc.details, dict) else None
    return exc.code in FAILURE_CODES and reason != "malformed"


def check_site_may_mark(site_id: str, rooms: Sequence[str], *, any_room: bool) -> None:
    """A site marks present only trainees expected in its room (or any, if the operator opened
    every room); else ``attendance.not_expected_here``."""
    if any_room or site_id in rooms:
        return
    raise RuleViolation(
        "attendance.not_expected_here",
        "This trainee is not expected in this room. Ask the operator to mark them, or to allow "
        "check-in at any room for this session.",
        rule="site_room",
        details={"site_id": site_id},
    )


# --------------------------------------------------------------------------------------------
# Back-off on wrong codes
# --------------------------------------------------------------------------------------------

FREE_FAILURES = 5
"""Wrong codes a trainee may enter in a row before having to wait."""
BASE_DELAY = 10.0
"""The wait after the ``FREE_FAILURES``-th wrong code; doubled by each next one."""
MAX_DELAY = 300.0
FORGET_AFTER = 3600.0
"""Failures older than this (with none since) are forgotten."""
POLICY = Policy(free=FREE_FAILURES - 1, base=BASE_DELAY, max_lock=MAX_DELAY, forget=FORGET_AFTER)
"""The same back-off as sign-ins (``server.core.throttle``): the wait starts after the
``FREE_FAILURES``-th wrong code."""
ALERT_AFTER = 3
"""From this many wrong codes in a row on, each one is reported on the operator's console."""

SESSION_WINDOW = 60.0
SESSION_LIMIT = 600
"""Wrong codes per minute in one session after which typed codes pause for that minute."""

FAILURE_CODES = frozenset({"checkin.code_invalid", "checkin.code_expired", "checkin.qr_invalid"})
"""The refusals that count as a wrong guess (a malformed entry is a typing slip, not a guess:
it is refused before any code is compared)."""


@dataclass(frozen=True, slots=True)
class Attempts:
    """Wrong codes of one trainee in one session (or, for the session row, of everyone)."""

    failures: int = 0
    """In a row (trainee) or in the current minute (session)."""
    total: int = 0
    """Ever, for the console."""
    window_start: float = 0.0
    last_failure: float = 0.0
    blocked_until: float = 0.0


def backoff_delay(failures: int) -> float:
    """Seconds typed codes are blocked after ``failures`` wrong codes in a row."""
    return lock_seconds(POLICY, failures)


def retry_after(state: Attempts, now: float) -> float:
    """Seconds until typed codes are accepted again (0: now)."""
    return max(0.0, state.blocked_until - now)


def after_failure(state: Attempts, now: float) -> Attempts:
    """A trainee's state after one more wrong code at ``now``."""
    _require_finite(now)
    failures = 0 if now - state.last_failure > FORGET_AFTER else state.failures
    failures += 1
    return replace(
        state,
        failures=failures,
        total=state.total + 1,
        last_failure=now,
        blocked_until=now + backoff_delay(failures),
    )


def after_success(state: Attempts) -> Attempts:
    """A correct code forgets the wrong ones before it (the total stays for the console)."""
    return replace(state, failures=0, blocked_until=0.0)


def session_after_failure(state: Attempts, now: float) -> Attempts:
    """The session's state after one more wrong code at ``now`` (fixed one-minute windows)."""
    _require_finite(now)
    if now - state.window_start >= SESSION_WINDOW:
        state = replace(state, window_start=now, failures=0)
    failures = state.failures + 1
    blocked = state.window_start + SESSION_WINDOW if failures >= SESSION_LIMIT else 0.0
    return replace(
        state,
        failures=failures,
        total=state.total + 1,
        last_failure=now,
        blocked_until=max(state.blocked_until, blocked),
    )


def should_alert(state: Attempts) -> bool:
    """Report this trainee's wrong codes on the operator's console."""
    return state.failures >= ALERT_AFTER


def session_newly_paused(before: Attempts, after: Attempts, now: float) -> bool:
    """This wrong code paused the session's typed codes (report it once, not per code)."""
    return retry_after(before, now) == 0 and retry_after(after, now) > 0


def too_many_attempts(wait: float, *, scope: str) -> RateLimited:
    """The 429 answer: ``scope`` is ``trainee`` or ``session``; ``retry_after`` in seconds."""
    seconds = math.ceil(wait)
    message = (
        f"Too many wrong check-in codes. Wait {seconds} s, or scan the QR code on the screen."
        if scope == "trainee"
        else f"Too many wrong codes in this session. Wait {seconds} s, or scan the QR code."
    )
    return RateLimited(
        "checkin.too_many_attempts", message, {"retry_after": seconds, "scope": scope}
    )


# --------------------------------------------------------------------------------------------
# A site's own check-ins (agent outbox, attendance/mark by a site): within the session's time
# --------------------------------------------------------------------------------------------

SITE_EARLY_SECONDS = 3600.0
"""A site may take check-ins this long before the session starts (people arrive early)."""
SITE_LATE_SECONDS = 300.0
"""And this long after it ends (clocks differ a little)."""


def check_site_checkin_time(
    taken: float, *, starts_at: float, started_at: float | None, ended_at: float | None
) -> None:
    """Raise ``checkin.outside_session`` unless ``taken`` lies in the session's time: from an
    hour before it was planned (or started, if earlier) to five minutes after it ended (no end
    while it is live)."""
    _require_finite(taken)
    opens = min(starts_at, started_at if started_at is not None else starts_at)
    opens -= SITE_EARLY_SECONDS
    closes = math.inf if ended_at is None else ended_at + SITE_LATE_SECONDS
    if not opens <= taken <= closes:
        raise RuleViolation(
            "checkin.outside_session",
            "This check-in was taken outside the session's time and cannot count.",
            rule="site_checkin_time",
            details={
                "taken": taken,
                "opens": opens,
                "closes": None if ended_at is None else closes,
            },
        )


# --------------------------------------------------------------------------------------------
# The site screen's cookie
# --------------------------------------------------------------------------------------------

SCREEN_PREFIX = "scr1."
SCREEN_DAYS = 60
"""A screen cookie is issued for this long (renewed when half of it is gone)."""
SCREEN_MAX_DAYS = 61
"""An expiry further ahead than this is refused (a clock a day fast still passes)."""


def screen_mac(
    server_key: bytes, secret_hash: str, purpose: str, site_id: int, expires: int
) -> str:
    """The MAC of a screen cookie: keyed by the server's key and the site's secret hash."""
    key = hmac.digest(server_key, b"classroom-screen-key\x00" + secret_hash.encode(), "sha256")
    digest = hmac.digest(key, f"classroom-screen:{purpose}:{site_id}:{expires}".encode(), "sha256")
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def screen_token(server_key: bytes, site_id: int, secret_hash: str, now: float) -> str:
    expires = int(now + SCREEN_DAYS * 86400)
    mac = screen_mac(server_key, secret_hash, "v1", site_id, expires)
    return f"{SCREEN_PREFIX}{site_id}.{expires}.{mac}"


def screen_parts(token: str) -> tuple[int, int, str] | None:
    """(site, expiry, mac) of a well-formed screen cookie, else None."""
    parts = token[len(SCREEN_PREFIX) :].split(".") if token.startswith(SCREEN_PREFIX) else []
    if len(parts) != 3 or not all(p.isascii() and p.isdigit() for p in parts[:2]):
        return None
    if len(parts[0]) > 10 or len(parts[1]) > 12:
        return None
    site_id = int(parts[0])
    if not 1 <= site_id <= 2**31 - 1:
        return None
    return site_id, int(parts[1]), parts[2]


def screen_token_valid(server_key: bytes, token: str, secret_hash: str, now: float) -> bool:
    """The cookie was signed for this site's current secret, has not expired, and its expiry
    is no further ahead than :data:`SCREEN_MAX_DAYS`."""
    parts = screen_parts(token)
    if parts is None:
        return False
    site_id, expires, mac = parts
    if not now < expires <= now + SCREEN_MAX_DAYS * 86400:
        return False
    return hmac.compare_digest(mac, screen_mac(server_key, secret_hash, "v1", site_id, expires))


def screen_token_due_for_renewal(token: str, now: float) -> bool:
    parts = screen_parts(token)
    return parts is not None and parts[1] - now < SCREEN_DAYS * 86400 / 2


def screen_csrf(token: str) -> str | None:
    """The CSRF token that goes with a screen cookie (derived, so nothing is stored)."""
    if not token.startswith(SCREEN_PREFIX):
        return None
    return hashlib.sha256(b"classroom-screen-csrf:" + token.encode()).hexdigest()[:32]


def _require_finite(value: float) -> None:
    if not math.isfinite(value):
        raise InvalidInput("checkin.time_invalid", "The time must be finite.", {"value": value})
