"""Leave (请假): states, who decides, absent → on leave, the leave share and the 1/7 rule."""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import pytest

from server.core.errors import Conflict, DomainError, Forbidden, InvalidInput
from server.core.leave import (
    Decider,
    LeaveAction,
    LeaveState,
    apply_leave,
    check_sessions,
    clean_reason,
    course_hours,
    decision_note,
    flagged,
    leave_limit,
    leave_standing,
    may_ask_leave,
    next_state,
)
from server.core.ledger import (
    AttendanceStatus,
    LedgerRules,
    LedgerSession,
    attendance_status,
    session_result,
)

RULES = LedgerRules()
H = 3600.0
DAY = 86400.0


def _session(n: int, course: str | None = None, hours: float = 3.0) -> LedgerSession:
    start = 1_800_000_000.0 + n * DAY
    return LedgerSession(f"s{n}", course or f"c{n}", start, start + hours * H)


def test_a_request_is_approved_refused_or_withdrawn_and_then_final() -> None:
    first = _session(1).start
    now = first - DAY
    for state, action, after in [
        (LeaveState.REQUESTED, LeaveAction.APPROVE, LeaveState.APPROVED),
        (LeaveState.REQUESTED, LeaveAction.REFUSE, LeaveState.REFUSED),
        (LeaveState.REQUESTED, LeaveAction.WITHDRAW, LeaveState.WITHDRAWN),
        (LeaveState.APPROVED, LeaveAction.WITHDRAW, LeaveState.WITHDRAWN),
    ]:
        assert next_state(state, action, now=now, first_session_start=first) is after
    for state in (LeaveState.REFUSED, LeaveState.WITHDRAWN):
        for action in LeaveAction:
            with pytest.raises(Conflict) as info:
                next_state(state, action, now=now, first_session_start=first)
            assert info.value.code == "leave.not_allowed"
    with pytest.raises(Conflict):
        next_state(LeaveState.APPROVED, LeaveAction.REFUSE, now=now, first_session_start=first)


def test_a_refusal_must_give_its_reason_an_approval_need_not() -> None:
    assert decision_note(LeaveAction.APPROVE, "") == ""
    assert (
        decision_note(LeaveAction.REFUSE, "  该周为结业考核，不能请假 ")
        == "该周为结业考核，不能请假"
    )
    for blank in ("", "   "):
        with pytest.raises(InvalidInput) as info:
            decision_note(LeaveAction.REFUSE, blank)
        assert info.value.code == "leave.refuse_reason_required"


def test_an_approved_leave_cannot_be_withdrawn_once_it_started() -> None:
    first = _session(1).start
    with pytest.raises(Conflict) as info:
        next_state(LeaveState.APPROVED, LeaveAction.WITHDRAW, now=first, first_session_start=first)
    assert info.value.code == "leave.already_started"


def test_the_office_decides_for_everyone_a_unit_contact_for_their_unit_only() -> None:
    office = Decider(office=True)
    contact = Decider(office=False, contact_of=frozenset({7, 8}))
    nobody = Decider(office=False)
    assert office.may_decide(1) and office.may_decide(7)
    assert contact.may_decide(7) and contact.may_decide(8) and not contact.may_decide(9)
    assert not nobody.may_decide(7)
    with pytest.raises(Forbidden) as info:
        contact.check(9)
    assert info.value.code == "leave.not_your_unit"


def test_sessions_of_a_request_are_checked() -> None:
    a, b = _session(1), _session(2)
    assert check_sessions([b, a, a], now=a.start - 1) == (a, b)
    for bad, code in (([], "leave.sessions_required"), ([a, b], "leave.session_over")):
        with pytest.raises(InvalidInput) as info:
            check_sessions(bad, now=a.end + 1)
        assert info.value.code == code
    many = [_session(n) for n in range(201)]
    with pytest.raises(InvalidInput) as info:
        check_sessions(many, now=0)
    assert info.value.code == "leave.too_many_sessions"
    # running, not checked in to: still asked; checked in to: refused, by session
    assert check_sessions([a], now=a.start + 60, checked_in=frozenset({"s2"})) == (a,)
    with pytest.raises(InvalidInput) as info:
        check_sessions([a, b], now=a.start + 60, checked_in=frozenset({"s1"}))
    assert info.value.code == "leave.session_attended"
    assert info.value.details == {"session_ids": ["s1"]}


def test_leave_is_offered_for_sessions_not_over_and_not_checked_in_to() -> None:
    a = _session(1)
    assert may_ask_leave(a.end, now=a.start - DAY, checked_in=False)
    assert may_ask_leave(a.end, now=a.start + 60, checked_in=False)  # late: may still ask
    assert not may_ask_leave(a.end, now=a.start + 60, checked_in=True)
    assert not may_ask_leave(a.end, now=a.end, checked_in=False)


def test_a_reason_is_required_and_cleaned() -> None:
    assert clean_reason("  家中有事\r\n需请假 ") == "家中有事\n需请假"
    for bad, code in (("   ", "leave_reason.empty"), ("x" * 501, "leave_reason.too_long")):
        with pytest.raises(DomainError) as info:
            clean_reason(bad)
        assert info.value.code == code


def test_approved_leave_turns_absent_into_on_leave_and_keeps_attended_time() -> None:
    session = _session(1)
    absent = session_result(session, "t1", (), rules=RULES)
    assert absent.absent and not absent.on_leave
    excused = apply_leave(absent, True)
    assert not excused.absent and excused.on_leave and excused.class_hours == 0
    assert apply_leave(absent, False) == absent
    came = session_result(session, "t1", [(session.start, session.end)], rules=RULES)
    assert apply_leave(came, True) == came  # came anyway: present, with the hours
    not_yet = dataclasses.replace(absent, absent=False, final=False)
    assert apply_leave(not_yet, True).on_leave  # before the end: on leave, not "pending"
    status = attendance_status(excused, expected=True, has_record=False)
    assert status is AttendanceStatus.LEAVE


def test_hours_count_each_course_once_at_its_longest_session() -> None:
    # 3 h = 180 min = 4 class hours of 45 min; a second batch of the same course counts once
    batch_a, batch_b = _session(1, "c1"), _session(2, "c1", hours=1.5)
    other = _session(3, "c3")
    assert course_hours([batch_a, batch_b, other], RULES) == 8.0


def test_the_one_seventh_rule_before_and_after_pending_requests() -> None:
    program = [_session(n) for n in range(7)]  # 7 courses × 4 class hours = 28
    exactly = leave_standing("t1", program[:1], [], program, rules=RULES)
    assert exactly.share_before == round(1 / 7, 4)
    assert not exactly.over_before  # exactly 1/7 is not PAST the limit
    pushed = leave_standing("t2", program[:1], program[1:2], program, rules=RULES)
    assert not pushed.over_before and pushed.over_after and pushed.pushed_over
    assert pushed.approved_hours == 4 and pushed.pending_hours == 4
    over = leave_standing("t3", program[:2], [], program, rules=RULES)
    assert over.over_before and over.over_after and not over.pushed_over
    both = leave_standing("t4", program[:1], program[:1], program, rules=RULES)
    assert both.pending_hours == 0  # a session in both counts once, as approved
    assert [s.trainee_id for s in flagged([exactly, pushed, over, both])] == ["t2", "t3"]


def test_the_limit_is_a_setting_per_program() -> None:
    program = [_session(n) for n in range(7)]
    strict = leave_limit(1, 10)
    assert strict == Fraction(1, 10)
    assert leave_standing("t", program[:1], [], program, rules=RULES, limit=strict).over_before
    for n, d in ((0, 7), (8, 7), (1, 0)):
        with pytest.raises(InvalidInput):
            leave_limit(n, d)


def test_a_program_without_hours_flags_nobody() -> None:
    standing = leave_standing("t", [], [], [], rules=RULES)
    assert standing.share_before == 0 and not standing.over_after
