"""Check-in codes, check-in rules and the attendance record."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from server.core.checkin import (
    ATTENDANCE_TRANSITIONS,
    CODE_DIGITS,
    EXPIRED_LOOKBACK_WINDOWS,
    WINDOW_SECONDS,
    AttendanceEvent,
    AttendanceKind,
    AttendanceRecord,
    AttendanceState,
    CheckinOutcome,
    OutOfBatchRule,
    SessionStatus,
    StaySource,
    attendance_transition,
    code_for_window,
    current_code,
    decide_checkin,
    normalize_code,
    verify_code,
    window_index,
)
from server.core.errors import Conflict, InvalidInput, RuleViolation
from tests.core.helpers import raises_code

SECRET = b"0123456789abcdef-test-secret"
SITE = "site-beilun"
SESSION = "sess-2024-05-18-am"
T0 = 1_716_000_000.0  # a multiple of 30: the start of a window
WINDOW = int(T0 // WINDOW_SECONDS)


# ---------------------------------------------------------------------------------------------
# Rotating codes
# ---------------------------------------------------------------------------------------------


def test_shown_code_is_six_ascii_digits_with_window_and_expiry() -> None:
    shown = current_code(SECRET, SITE, SESSION, T0 + 7.5)
    assert len(shown.code) == CODE_DIGITS and shown.code.isascii() and shown.code.isdigit()
    assert shown.window == WINDOW
    assert shown.rotates_at == T0 + 30
    assert shown.expires_at == T0 + 60


def test_code_is_hmac_sha256_of_site_session_and_window_truncated_like_hotp() -> None:
    message = (
        b"cr1"
        + len(SITE).to_bytes(4, "big")
        + SITE.encode()
        + len(SESSION).to_bytes(4, "big")
        + SESSION.encode()
        + WINDOW.to_bytes(8, "big", signed=True)
    )
    digest = hmac.new(SECRET, message, hashlib.sha256).digest()
    offset = digest[-1] & 0x0F
    expected = (int.from_bytes(digest[offset : offset + 4], "big") & 0x7FFFFFFF) % 1_000_000
    assert code_for_window(SECRET, SITE, SESSION, WINDOW) == f"{expected:06d}"


def test_code_is_stable_within_a_window_and_rotates_at_the_boundary() -> None:
    first = current_code(SECRET, SITE, SESSION, T0).code
    assert current_code(SECRET, SITE, SESSION, T0 + 29.999).code == first
    codes = {current_code(SECRET, SITE, SESSION, T0 + 30 * i).code for i in range(20)}
    assert len(codes) >= 18  # rotates (a rare 1-in-a-million repeat is tolerated)


def test_code_depends_on_secret_site_and_session() -> None:
    base = code_for_window(SECRET, SITE, SESSION, WINDOW)
    others = {
        code_for_window(b"another-secret-of-16-bytes", SITE, SESSION, WINDOW),
        code_for_window(SECRET, "site-zhenhai", SESSION, WINDOW),
        code_for_window(SECRET, SITE, "sess-2024-05-18-pm", WINDOW),
    }
    assert base not in others


def test_code_of_the_current_window_is_accepted() -> None:
    code = current_code(SECRET, SITE, SESSION, T0).code
    assert verify_code(SECRET, SITE, SESSION, code, T0 + 10) == WINDOW


def test_code_of_the_previous_window_is_still_accepted() -> None:
    code = current_code(SECRET, SITE, SESSION, T0).code
    assert verify_code(SECRET, SITE, SESSION, code, T0 + 59.9) == WINDOW


@pytest.mark.parametrize("windows_back", [2, 5, EXPIRED_LOOKBACK_WINDOWS])
def test_code_two_to_ten_windows_old_is_expired(windows_back: int) -> None:
    code = code_for_window(SECRET, SITE, SESSION, WINDOW - windows_back)
    assume_fresh = {code_for_window(SECRET, SITE, SESSION, WINDOW - b) for b in (0, 1)}
    assert code not in assume_fresh
    error = raises_code(
        "checkin.code_expired", lambda: verify_code(SECRET, SITE, SESSION, code, T0 + 1)
    )
    assert isinstance(error, InvalidInput)
    assert "code the screen shows now" in error.message


def test_code_older_than_the_lookback_is_invalid_not_expired() -> None:
    code = code_for_window(SECRET, SITE, SESSION, WINDOW - EXPIRED_LOOKBACK_WINDOWS - 1)
    recent = {code_for_window(SECRET, SITE, SESSION, WINDOW - b) for b in range(11)}
    assert code not in recent
    raises_code("checkin.code_invalid", lambda: verify_code(SECRET, SITE, SESSION, code, T0))


def test_forged_code_is_invalid() -> None:
    recent = {code_for_window(SECRET, SITE, SESSION, WINDOW - b) for b in range(11)}
    forged = next(f"{n:06d}" for n in range(1_000_000) if f"{n:06d}" not in recent)
    error = raises_code(
        "checkin.code_invalid", lambda: verify_code(SECRET, SITE, SESSION, forged, T0)
    )
    assert error.details == {"reason": "no_match"}


def test_code_of_another_site_is_invalid_for_this_site() -> None:
    other = current_code(SECRET, "site-zhenhai", SESSION, T0).code
    assume_distinct = {code_for_window(SECRET, SITE, SESSION, WINDOW - b) for b in range(11)}
    assert other not in assume_distinct
    raises_code("checkin.code_invalid", lambda: verify_code(SECRET, SITE, SESSION, other, T0))


def test_code_from_the_future_is_invalid() -> None:
    future = code_for_window(SECRET, SITE, SESSION, WINDOW + 1)
    recent = {code_for_window(SECRET, SITE, SESSION, WINDOW - b) for b in range(11)}
    assert future not in recent
    raises_code("checkin.code_invalid", lambda: verify_code(SECRET, SITE, SESSION, future, T0))


@pytest.mark.parametrize("typed", ["12345", "1234567", "12a456", "", "      "])
def test_malformed_code_is_invalid_with_a_hint(typed: str) -> None:
    error = raises_code("checkin.code_invalid", lambda: normalize_code(typed))
    assert error.details == {"reason": "malformed"}
    assert "6 digits" in error.message


def test_typed_code_tolerates_spaces_dashes_and_full_width_digits() -> None:
    code = current_code(SECRET, SITE, SESSION, T0).code
    full_width = "".join(chr(ord("０") + int(d)) for d in code)
    for typed in (f" {code[:3]} {code[3:]} ", f"{code[:3]}-{code[3:]}", full_width):
        assert normalize_code(typed) == code
        assert verify_code(SECRET, SITE, SESSION, typed, T0) == WINDOW


def test_short_secret_is_refused() -> None:
    raises_code("checkin.secret_too_short", lambda: current_code(b"short", SITE, SESSION, T0))


@pytest.mark.parametrize("bad_id", ["", "a:b", "has space", "x" * 65, "课堂"])
def test_ids_that_cannot_travel_in_a_qr_payload_are_refused(bad_id: str) -> None:
    raises_code("checkin.id_invalid", lambda: current_code(SECRET, bad_id, SESSION, T0))


def test_non_finite_time_is_refused() -> None:
    raises_code("checkin.time_invalid", lambda: current_code(SECRET, SITE, SESSION, float("nan")))


@settings(max_examples=200, deadline=None)
@given(
    now=st.floats(min_value=0, max_value=4e9, allow_nan=False),
    offset=st.floats(min_value=0, max_value=2 * WINDOW_SECONDS, exclude_max=True),
)
def test_shown_code_is_accepted_until_it_expires(now: float, offset: float) -> None:
    shown = current_code(SECRET, SITE, SESSION, now)
    later = shown.window * WINDOW_SECONDS + offset
    assume(window_index(later) - shown.window in (0, 1))  # float rounding at the very edge
    assert later < shown.expires_at
    assert verify_code(SECRET, SITE, SESSION, shown.code, later) == shown.window


@settings(max_examples=200, deadline=None)
@given(
    window=st.integers(min_value=0, max_value=200_000_000),
    back=st.integers(min_value=2, max_value=EXPIRED_LOOKBACK_WINDOWS),
)
def test_old_codes_are_always_expired_never_accepted(window: int, back: int) -> None:
    now = float(window * WINDOW_SECONDS)
    old = code_for_window(SECRET, SITE, SESSION, window - back)
    assume(old not in {code_for_window(SECRET, SITE, SESSION, window - b) for b in (0, 1)})
    with pytest.raises(InvalidInput) as info:
        verify_code(SECRET, SITE, SESSION, old, now)
    assert info.value.code == "checkin.code_expired"


# ---------------------------------------------------------------------------------------------
# Check-in rules
# ---------------------------------------------------------------------------------------------

SITES = frozenset({"main", SITE, "site-zhenhai"})


def _decide(**overrides: Any) -> CheckinOutcome:
    arguments: dict[str, Any] = {
        "session_id": SESSION,
        "session_status": SessionStatus.LIVE,
        "participating_site_ids": SITES,
        "code_site_id": SITE,
        "on_roster": True,
        "planned_session_id": SESSION,
        "out_of_batch_rule": OutOfBatchRule.MAKEUP,
    }
    arguments.update(overrides)
    return decide_checkin(**arguments)


def test_planned_trainee_at_a_participating_site_checks_in_regularly() -> None:
    outcome = _decide()
    assert outcome == decide_checkin(
        session_id=SESSION,
        session_status=SessionStatus.LIVE,
        participating_site_ids=SITES,
        code_site_id=SITE,
        on_roster=True,
        planned_session_id=SESSION,
        out_of_batch_rule=OutOfBatchRule.REFUSE,
    )
    assert outcome.kind is AttendanceKind.REGULAR
    assert outcome.message == "Checked in."


@pytest.mark.parametrize("status", [SessionStatus.SCHEDULED, SessionStatus.ENDED])
def test_check_in_outside_a_live_session_is_refused(status: SessionStatus) -> None:
    error = raises_code("checkin.session_not_live", lambda: _decide(session_status=status))
    assert isinstance(error, RuleViolation) and error.rule == "session_live"
    assert error.details["status"] == status.value


def test_not_started_and_ended_sessions_have_different_messages() -> None:
    started = raises_code(
        "checkin.session_not_live", lambda: _decide(session_status=SessionStatus.SCHEDULED)
    )
    ended = raises_code(
        "checkin.session_not_live", lambda: _decide(session_status=SessionStatus.ENDED)
    )
    assert "not started" in started.message and "ended" in ended.message


def test_code_of_a_site_not_in_the_session_is_wrong_site() -> None:
    error = raises_code("checkin.wrong_site", lambda: _decide(code_site_id="site-yinzhou"))
    assert error.details == {"session_id": SESSION, "site_id": "site-yinzhou"}


def test_trainee_not_on_roster_is_refused() -> None:
    error = raises_code("checkin.not_on_roster", lambda: _decide(on_roster=False))
    assert "training office" in error.message


def test_trainee_of_another_batch_gets_makeup_attendance_when_rule_is_makeup() -> None:
    outcome = _decide(planned_session_id="sess-2024-05-19-am")
    assert outcome.kind is AttendanceKind.MAKEUP
    assert "make-up" in outcome.message
    assert outcome.planned_session_id == "sess-2024-05-19-am"


def test_trainee_in_no_batch_gets_makeup_attendance_when_rule_is_makeup() -> None:
    outcome = _decide(planned_session_id=None)
    assert outcome.kind is AttendanceKind.MAKEUP


def test_trainee_of_another_batch_is_refused_when_rule_is_refuse() -> None:
    error = raises_code(
        "checkin.out_of_batch",
        lambda: _decide(planned_session_id="sess-other", out_of_batch_rule=OutOfBatchRule.REFUSE),
    )
    assert isinstance(error, RuleViolation) and error.rule == "batch_plan"
    assert "your own batch" in error.message


def test_trainee_in_no_batch_is_told_so_when_rule_is_refuse() -> None:
    error = raises_code(
        "checkin.out_of_batch",
        lambda: _decide(planned_session_id=None, out_of_batch_rule=OutOfBatchRule.REFUSE),
    )
    assert "not planned into any batch" in error.message


def test_rules_are_checked_in_order_live_site_roster_batch() -> None:
    everything_wrong = {
        "session_status": SessionStatus.ENDED,
        "code_site_id": "elsewhere",
        "on_roster": False,
        "planned_session_id": None,
        "out_of_batch_rule": OutOfBatchRule.REFUSE,
    }
    expected = [
        ("session_status", "checkin.session_not_live"),
        ("code_site_id", "checkin.wrong_site"),
        ("on_roster", "checkin.not_on_roster"),
        ("planned_session_id", "checkin.out_of_batch"),
    ]
    fixed: dict[str, object] = {}
    for name, code in expected:
        raises_code(code, lambda: _decide(**{**everything_wrong, **fixed}))
        fixed[name] = {
            "session_status": SessionStatus.LIVE,
            "code_site_id": SITE,
            "on_roster": True,
            "planned_session_id": SESSION,
        }[name]
    assert _decide(**{**everything_wrong, **fixed}).kind is AttendanceKind.REGULAR


# ---------------------------------------------------------------------------------------------
# Attendance record
# ---------------------------------------------------------------------------------------------


def _record() -> AttendanceRecord:
    return AttendanceRecord.new("t-1001", SESSION, SITE)


def test_new_record_is_out_with_no_stays() -> None:
    record = _record()
    assert record.state is AttendanceState.OUT and record.stays == () and not record.is_in
    assert record.kind is AttendanceKind.REGULAR


def test_leaving_and_coming_back_keeps_one_record_with_a_gap() -> None:
    record = _record().check_in(T0).check_out(T0 + 600).check_in(T0 + 900).check_out(T0 + 1800)
    assert record.spans(T0 + 3600) == ((T0, T0 + 600), (T0 + 900, T0 + 1800))
    assert record.state is AttendanceState.OUT
    assert all(stay.source is StaySource.TRAINEE for stay in record.stays)


def test_check_in_while_in_is_idempotent() -> None:
    record = _record().check_in(T0)
    assert record.check_in(T0 + 120) is record
    assert record.stays[0].start == T0


def test_check_out_while_out_is_not_checked_in() -> None:
    error = raises_code("checkin.not_checked_in", lambda: _record().check_out(T0))
    assert isinstance(error, Conflict)
    assert error.details == {"event": "check_out", "state": "out"}
    checked_out = _record().check_in(T0).check_out(T0 + 60)
    raises_code("checkin.not_checked_in", lambda: checked_out.check_out(T0 + 70))


def test_check_out_before_check_in_time_is_refused() -> None:
    raises_code("checkin.time_invalid", lambda: _record().check_in(T0).check_out(T0 - 1))


def test_records_are_immutable_and_operations_return_new_records() -> None:
    empty = _record()
    checked_in = empty.check_in(T0)
    assert empty.stays == () and checked_in.stays != ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        checked_in.state = AttendanceState.OUT  # type: ignore[misc]


def test_close_at_session_end_closes_the_open_stay() -> None:
    record = _record().check_in(T0).close_at(T0 + 5400)
    assert record.state is AttendanceState.CLOSED
    assert record.stays[-1].end == T0 + 5400
    assert record.close_at(T0 + 9999) is record


def test_close_of_a_record_that_checked_in_after_the_end_gives_an_empty_stay() -> None:
    record = _record().check_in(T0 + 100).close_at(T0)
    assert record.spans(T0) == ((T0 + 100, T0 + 100),)


def test_close_of_a_checked_out_record_keeps_its_stays() -> None:
    record = _record().check_in(T0).check_out(T0 + 60)
    assert record.close_at(T0 + 5400).stays == record.stays


def test_closed_record_refuses_check_in_and_out_naming_event_and_state() -> None:
    closed = _record().check_in(T0).close_at(T0 + 5400)
    error = raises_code("checkin.record_closed", lambda: closed.check_in(T0 + 5500))
    assert "check_in" in error.message and "closed" in error.message
    raises_code("checkin.record_closed", lambda: closed.check_out(T0 + 5500))


def test_spans_of_an_open_stay_run_until_the_given_time() -> None:
    assert _record().check_in(T0).spans(T0 + 300) == ((T0, T0 + 300),)


def test_staff_mark_present_opens_a_stay_and_keeps_who_and_why() -> None:
    record = _record().mark_present(
        by="staff-07", reason="  Phone battery dead  ", now=T0 + 300, start=T0
    )
    assert record.state is AttendanceState.IN
    assert record.stays[-1].source is StaySource.STAFF and record.stays[-1].start == T0
    mark = record.manual[-1]
    assert (mark.by, mark.reason, mark.at, mark.start, mark.end) == (
        "staff-07",
        "Phone battery dead",
        T0 + 300,
        T0,
        None,
    )


def test_staff_mark_while_in_extends_the_stay_back_to_the_marked_start() -> None:
    record = _record().check_in(T0 + 600)
    marked = record.mark_present(by="staff-07", reason="Arrived on time", now=T0 + 700, start=T0)
    assert marked.spans(T0 + 900) == ((T0, T0 + 600), (T0 + 600, T0 + 900))
    assert marked.is_in and marked.open_stay == record.open_stay
    later = record.mark_present(by="staff-07", reason="Seen in room", now=T0 + 700, start=T0 + 650)
    assert later.stays == record.stays and len(later.manual) == 1


def test_staff_mark_of_a_span_after_the_session_is_kept() -> None:
    closed = _record().close_at(T0 + 5400)
    corrected = closed.mark_present(
        by="operator-1", reason="Signed paper sheet", now=T0 + 6000, start=T0, end=T0 + 5400
    )
    assert corrected.state is AttendanceState.CLOSED
    assert corrected.spans(T0 + 5400) == ((T0, T0 + 5400),)
    assert corrected.stays[0].source is StaySource.STAFF


def test_staff_span_while_in_keeps_the_open_stay_last() -> None:
    record = _record().check_in(T0 + 1200)
    marked = record.mark_present(by="s", reason="r", now=T0 + 1300, start=T0, end=T0 + 600)
    assert marked.open_stay == record.open_stay and marked.stays[-1] == record.stays[-1]
    assert marked.check_out(T0 + 1500).spans(T0) == ((T0, T0 + 600), (T0 + 1200, T0 + 1500))


def test_staff_open_mark_on_a_closed_record_is_refused() -> None:
    closed = _record().close_at(T0)
    raises_code(
        "checkin.record_closed",
        lambda: closed.mark_present(by="s", reason="r", now=T0 + 1, start=T0),
    )


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_staff_mark_needs_a_reason(reason: str) -> None:
    raises_code(
        "checkin.reason_required",
        lambda: _record().mark_present(by="staff-07", reason=reason, now=T0, start=T0),
    )


def test_staff_mark_needs_who() -> None:
    raises_code(
        "checkin.staff_required",
        lambda: _record().mark_present(by=" ", reason="ok", now=T0, start=T0),
    )


@pytest.mark.parametrize(("start", "end"), [(T0 + 10, None), (T0, T0 + 10), (T0 - 10, T0 - 20)])
def test_staff_mark_in_the_future_or_inverted_is_refused(start: float, end: float | None) -> None:
    raises_code(
        "checkin.time_invalid",
        lambda: _record().mark_present(by="s", reason="r", now=T0, start=start, end=end),
    )


def test_transition_table_covers_every_state_and_refuses_the_rest() -> None:
    legal = set(ATTENDANCE_TRANSITIONS)
    for state in AttendanceState:
        for event in AttendanceEvent:
            if (state, event) in legal:
                assert attendance_transition(state, event) is ATTENDANCE_TRANSITIONS[(state, event)]
            else:
                with pytest.raises(Conflict) as info:
                    attendance_transition(state, event)
                assert info.value.details == {"event": event.value, "state": state.value}
    assert (AttendanceState.OUT, AttendanceEvent.CHECK_OUT) not in legal
    assert (AttendanceState.CLOSED, AttendanceEvent.CHECK_IN) not in legal


events = st.lists(
    st.tuples(st.sampled_from(["in", "out"]), st.integers(min_value=0, max_value=600)),
    max_size=30,
)


@settings(max_examples=200, deadline=None)
@given(events)
def test_any_sequence_of_check_ins_and_outs_keeps_one_ordered_record(
    steps: list[tuple[str, int]],
) -> None:
    record = _record()
    now = T0
    for action, delay in steps:
        now += delay
        if action == "in":
            record = record.check_in(now)
        elif record.is_in:
            record = record.check_out(now)
        else:
            with pytest.raises(Conflict):
                record.check_out(now)
    spans = record.close_at(now).spans(now)
    assert all(start <= end for start, end in spans)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in pairwise(spans))
    assert sum(1 for stay in record.stays if stay.end is None) == (1 if record.is_in else 0)


def test_a_session_without_its_own_out_of_batch_rule_gets_the_server_default() -> None:
    from server.core.checkin import DEFAULT_OUT_OF_BATCH, effective_out_of_batch_rule

    assert DEFAULT_OUT_OF_BATCH is OutOfBatchRule.MAKEUP
    assert effective_out_of_batch_rule(None) is OutOfBatchRule.MAKEUP
    assert effective_out_of_batch_rule("") is OutOfBatchRule.MAKEUP
    assert effective_out_of_batch_rule("refuse") is OutOfBatchRule.REFUSE
    assert effective_out_of_batch_rule(None, OutOfBatchRule.REFUSE) is OutOfBatchRule.REFUSE
    with pytest.raises(ValueError):
        effective_out_of_batch_rule("sometimes")
