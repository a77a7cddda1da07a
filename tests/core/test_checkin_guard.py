"""QR tokens, rooms, the back-off on wrong codes, site check-in times and the screen cookie.

Plain synchronous tests: the rules are pure (``server.core.checkin_guard``)."""

from __future__ import annotations

import pytest

from server.core.checkin import WINDOW_SECONDS, current_code
from server.core.checkin_guard import (
    BASE_DELAY,
    FORGET_AFTER,
    FREE_FAILURES,
    MAX_DELAY,
    SCREEN_DAYS,
    SCREEN_MAX_DAYS,
    SESSION_LIMIT,
    SESSION_WINDOW,
    Attempts,
    after_failure,
    after_success,
    ancestors_of,
    backoff_delay,
    check_site_checkin_time,
    check_site_may_mark,
    checkin_site,
    counts_as_guess,
    derive_key,
    qr_token,
    retry_after,
    screen_mac,
    screen_token,
    screen_token_due_for_renewal,
    screen_token_valid,
    session_after_failure,
    session_newly_paused,
    should_alert,
    trainee_rooms,
    typed_code_sites,
    verify_qr_token,
)
from server.core.errors import DomainError, InvalidInput, RateLimited

KEY = derive_key("a-server-secret-key", "checkin")
T0 = 1_716_000_000.0  # the start of a window
HOUR = 3600.0


def _code(exc_info: pytest.ExceptionInfo[DomainError]) -> str:
    return exc_info.value.code


# ---------------------------------------------------------------------------------------------
# QR tokens
# ---------------------------------------------------------------------------------------------


def test_a_qr_token_names_its_site_and_window_and_is_accepted_for_two_windows() -> None:
    token = qr_token(KEY, "7", "42", T0 + 3)
    assert token.startswith("cr2:7:42:")
    assert verify_qr_token(KEY, token, "42", T0 + 3).site_id == "7"
    assert verify_qr_token(KEY, token, "42", T0 + WINDOW_SECONDS + 29).window == int(T0 // 30)
    with pytest.raises(DomainError) as info:
        verify_qr_token(KEY, token, "42", T0 + 2 * WINDOW_SECONDS)
    assert _code(info) == "checkin.code_expired"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda t: t.replace("cr2:7:", "cr2:8:"), "signature"),  # another site, same MAC
        (lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"), "signature"),
        (lambda t: t.rsplit(":", 1)[0] + ":" + "A" * 22, "signature"),
        (lambda t: "cr1:7:42:123456", "malformed"),
        (lambda t: t + "x", "malformed"),
        (lambda t: "", "malformed"),
    ],
)
def test_a_forged_or_altered_token_is_refused(change: object, reason: str) -> None:
    token = qr_token(KEY, "7", "42", T0)
    assert callable(change)
    with pytest.raises(InvalidInput) as info:
        verify_qr_token(KEY, change(token), "42", T0)
    assert info.value.code == "checkin.qr_invalid"
    assert info.value.details == {"reason": reason}


def test_a_token_for_another_session_or_a_later_window_is_refused() -> None:
    with pytest.raises(InvalidInput) as info:
        verify_qr_token(KEY, qr_token(KEY, "7", "43", T0), "42", T0)
    assert info.value.details == {"reason": "other_session"}
    with pytest.raises(InvalidInput) as info:
        verify_qr_token(KEY, qr_token(KEY, "7", "42", T0 + 60), "42", T0)
    assert info.value.details == {"reason": "future"}


def test_a_token_made_with_another_server_key_is_refused() -> None:
    other = derive_key("another-install", "checkin")
    with pytest.raises(InvalidInput):
        verify_qr_token(KEY, qr_token(other, "7", "42", T0), "42", T0)


# ---------------------------------------------------------------------------------------------
# Rooms
# ---------------------------------------------------------------------------------------------


def test_the_home_site_is_the_room_when_it_takes_part() -> None:
    rooms = trainee_rooms(
        home_site_id="3", home_ancestors=("2", "1"), record_site_id=None, participating=["1", "3"]
    )
    assert rooms == ("3",)


def test_else_the_nearest_site_above_the_home_that_takes_part() -> None:
    parents: dict[str, str | None] = {"1": None, "2": "1", "3": "2", "4": "3"}
    assert ancestors_of(parents, "4") == ("3", "2", "1")
    rooms = trainee_rooms(
        home_site_id="4",
        home_ancestors=ancestors_of(parents, "4"),
        record_site_id=None,
        participating=["1", "2"],
    )
    assert rooms == ("2",)


def test_the_room_of_the_record_counts_too_and_no_room_means_qr_only() -> None:
    rooms = trainee_rooms(
        home_site_id="9", home_ancestors=(), record_site_id="5", participating=["5", "6"]
    )
    assert rooms == ("5",)
    none = trainee_rooms(
        home_site_id=None, home_ancestors=(), record_site_id=None, participating=["5"]
    )
    assert none == ()
    with pytest.raises(DomainError) as info:
        typed_code_sites(none, ["5"], any_room=False)
    assert _code(info) == "checkin.no_room"


def test_a_cycle_in_the_site_tree_ends_the_walk() -> None:
    assert ancestors_of({"1": "2", "2": "1"}, "1") == ("2", "1")


def test_any_room_opens_every_site_but_tries_the_trainees_own_first() -> None:
    assert typed_code_sites(("3",), ["1", "2", "3"], any_room=True) == ("3", "1", "2")
    assert typed_code_sites(("3",), ["1", "2", "3"], any_room=False) == ("3",)


def test_a_site_marks_only_trainees_expected_in_its_room() -> None:
    check_site_may_mark("3", ("3",), any_room=False)
    check_site_may_mark("4", ("3",), any_room=True)
    with pytest.raises(DomainError) as info:
        check_site_may_mark("4", ("3",), any_room=False)
    assert _code(info) == "attendance.not_expected_here"


# ---------------------------------------------------------------------------------------------
# Back-off
# ---------------------------------------------------------------------------------------------


def test_the_back_off_schedule() -> None:
    assert [backoff_delay(f) for f in range(FREE_FAILURES)] == [0.0] * FREE_FAILURES
    assert backoff_delay(FREE_FAILURES) == BASE_DELAY
    assert backoff_delay(FREE_FAILURES + 1) == 2 * BASE_DELAY
    assert backoff_delay(FREE_FAILURES + 20) == MAX_DELAY


def test_free_failures_then_a_wait_then_success_forgets() -> None:
    state = Attempts()
    now = T0
    for _ in range(FREE_FAILURES - 1):
        state = after_failure(state, now)
        assert retry_after(state, now) == 0
    state = after_failure(state, now)
    assert retry_after(state, now) == BASE_DELAY and should_alert(state)
    assert retry_after(state, now + BASE_DELAY) == 0
    state = after_success(state)
    assert state.failures == 0 and state.total == FREE_FAILURES and retry_after(state, now) == 0


def test_failures_are_forgotten_after_an_hour_without_any() -> None:
    state = Attempts()
    for _ in range(FREE_FAILURES + 3):
        state = after_failure(state, T0)
    state = after_failure(state, T0 + FORGET_AFTER + 1)
    assert state.failures == 1 and retry_after(state, T0 + FORGET_AFTER + 1) == 0


def test_a_guesser_gets_few_tries_in_a_three_hour_session() -> None:
    """The allowed guess rate of docs/security.md: a guesser who always waits exactly as long
    as told gets this many wrong codes in three hours."""
    state, now, tries = Attempts(), T0, 0
    while now < T0 + 3 * HOUR:
        now += retry_after(state, now)
        state = after_failure(state, now)
        tries += 1
    assert tries == 45  # 5 free, then after 10, 20, 40, 80, 160 s, then one per 300 s
    # each try matches at most the 2 accepted windows of 2 rooms out of a million codes
    assert tries * 4 / 1_000_000 < 0.0002


def test_the_session_pauses_typed_codes_for_the_rest_of_a_busy_minute() -> None:
    state = Attempts()
    for i in range(SESSION_LIMIT - 1):
        state = session_after_failure(state, T0 + i * 0.01)
    assert retry_after(state, T0 + 6) == 0
    state = session_after_failure(state, T0 + 6)
    assert retry_after(state, T0 + 6) == pytest.approx(SESSION_WINDOW - 6)
    later = session_after_failure(state, T0 + SESSION_WINDOW + 1)
    assert later.failures == 1 and later.total == SESSION_LIMIT + 1


def test_a_blocked_trainee_is_refused_before_any_code_is_compared_but_the_qr_still_works() -> None:
    blocked = Attempts(failures=FREE_FAILURES, blocked_until=T0 + 10)
    right = current_code(KEY, "3", "42", T0).code
    with pytest.raises(RateLimited) as info:
        checkin_site(
            KEY, "42", code=right, qr=None, site_hint=None, rooms=("3",), participating=["3"],
            any_room=False, trainee=blocked, session=Attempts(), now=T0,
        )  # fmt: skip
    assert info.value.code == "checkin.too_many_attempts"
    assert info.value.details == {"retry_after": 10, "scope": "trainee"}
    site = checkin_site(
        KEY, "42", code=None, qr=qr_token(KEY, "3", "42", T0), site_hint=None, rooms=(),
        participating=["3"], any_room=False, trainee=blocked, session=blocked, now=T0,
    )  # fmt: skip
    assert site == "3"


def test_a_typed_code_is_compared_only_with_the_trainees_rooms() -> None:
    other = current_code(KEY, "4", "42", T0).code
    own = current_code(KEY, "3", "42", T0).code
    args = {"qr": None, "rooms": ("3",), "participating": ["3", "4"], "trainee": Attempts()}
    call = dict(args, session=Attempts(), now=T0, any_room=False, site_hint=None)
    assert checkin_site(KEY, "42", code=own, **call) == "3"  # type: ignore[arg-type]
    if other != own:
        with pytest.raises(InvalidInput) as info:
            checkin_site(KEY, "42", code=other, **call)  # type: ignore[arg-type]
        assert counts_as_guess(info.value)
        call["any_room"] = True
        assert checkin_site(KEY, "42", code=other, **call) == "4"  # type: ignore[arg-type]
    call["site_hint"] = "4"
    call["any_room"] = False
    with pytest.raises(DomainError) as info2:
        checkin_site(KEY, "42", code=own, **call)  # type: ignore[arg-type]
    assert info2.value.code == "checkin.no_room"


def test_a_malformed_entry_is_not_a_guess() -> None:
    with pytest.raises(InvalidInput) as info:
        checkin_site(
            KEY, "42", code="12 3", qr=None, site_hint=None, rooms=("3",), participating=["3"],
            any_room=False, trainee=Attempts(), session=Attempts(), now=T0,
        )  # fmt: skip
    assert info.value.code == "checkin.code_invalid" and not counts_as_guess(info.value)


# ---------------------------------------------------------------------------------------------
# A site's own check-ins
# ---------------------------------------------------------------------------------------------


def test_a_site_checkin_must_lie_within_the_session() -> None:
    times = {"starts_at": T0, "started_at": T0 + 600, "ended_at": T0 + 2 * HOUR}
    check_site_checkin_time(T0 - HOUR + 1, **times)  # type: ignore[arg-type]
    check_site_checkin_time(T0 + 2 * HOUR + 299, **times)  # type: ignore[arg-type]
    for taken in (T0 - 6 * 86400, T0 - HOUR - 1, T0 + 2 * HOUR + 301):
        with pytest.raises(DomainError) as info:
            check_site_checkin_time(taken, **times)  # type: ignore[arg-type]
        assert _code(info) == "checkin.outside_session"
    check_site_checkin_time(T0 + 30 * HOUR, starts_at=T0, started_at=T0, ended_at=None)


# ---------------------------------------------------------------------------------------------
# Screen cookie
# ---------------------------------------------------------------------------------------------

SCREEN_KEY = derive_key("a-server-secret-key", "screen")


def test_a_screen_cookie_is_valid_for_its_site_secret_and_server_key_only() -> None:
    token = screen_token(SCREEN_KEY, 5, "hash-of-secret", T0)
    assert screen_token_valid(SCREEN_KEY, token, "hash-of-secret", T0 + 86400)
    assert not screen_token_valid(SCREEN_KEY, token, "hash-of-new-secret", T0)
    assert not screen_token_valid(derive_key("other", "screen"), token, "hash-of-secret", T0)
    assert not screen_token_valid(SCREEN_KEY, token, "hash-of-secret", T0 + SCREEN_DAYS * 86400)
    assert not screen_token_due_for_renewal(token, T0 + 86400)
    assert screen_token_due_for_renewal(token, T0 + SCREEN_DAYS * 86400 / 2 + 1)


def test_a_cookie_forged_from_the_database_alone_is_refused() -> None:
    """The old MAC was keyed by the secret hash only: whoever read the sites table could sign."""
    import base64
    import hmac

    expires = int(T0 + 86400)
    old_mac = hmac.new(b"hash-of-secret", f"classroom-screen:v1:5:{expires}".encode(), "sha256")
    forged = f"scr1.5.{expires}.{base64.urlsafe_b64encode(old_mac.digest()).decode().rstrip('=')}"
    assert not screen_token_valid(SCREEN_KEY, forged, "hash-of-secret", T0)


def test_an_expiry_beyond_the_cap_is_refused_even_with_a_good_mac() -> None:
    far = int(T0 + (SCREEN_MAX_DAYS + 1) * 86400)
    token = f"scr1.5.{far}.{screen_mac(SCREEN_KEY, 'h', 'v1', 5, far)}"
    assert not screen_token_valid(SCREEN_KEY, token, "h", T0)
    year_5138 = 99_999_999_999
    token = f"scr1.5.{year_5138}.{screen_mac(SCREEN_KEY, 'h', 'v1', 5, year_5138)}"
    assert not screen_token_valid(SCREEN_KEY, token, "h", T0)
    for bad in ("scr1.5.x.y", "scr1.0.123.m", "scr1.5.1", "other"):
        assert not screen_token_valid(SCREEN_KEY, bad, "h", T0)


def test_the_console_is_told_once_when_the_session_pauses_typed_codes() -> None:
    state, told = Attempts(), 0
    for i in range(SESSION_LIMIT + 50):
        after = session_after_failure(state, T0 + i * 0.01)
        told += session_newly_paused(state, after, T0 + i * 0.01)
        state = after
    assert told == 1
