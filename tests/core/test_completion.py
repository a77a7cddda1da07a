"""Completing a program: requirements, what is missing, the honour list, name masking."""

from __future__ import annotations

from fractions import Fraction

import pytest

from server.core.completion import (
    HonourCandidate,
    Missing,
    Requirements,
    TraineeFacts,
    check_can_issue,
    check_not_revoked,
    check_revoke_reason,
    check_verify_code,
    evaluate,
    honour_list,
    mask_name,
    program_honour_candidates,
)
from server.core.errors import Conflict, InvalidInput
from server.core.ledger import honour_list as ledger_honour_list


def test_a_program_without_requirements_is_completed_by_nobody() -> None:
    """A certificate says 经考核合格: with no bar stated, nobody has met it."""
    zero = TraineeFacts("t")
    busy = TraineeFacts(
        "u", live_hours=40, sessions_expected=4, sessions_attended=4, writeup_accepted=True
    )
    for rules in (Requirements(), Requirements(count_self_study=True, leave_limit=Fraction(1, 5))):
        assert not rules.is_set
        for facts in (zero, busy):
            done = evaluate(rules, facts)
            assert not done.completed
            assert [m.what for m in done.missing] == [Missing.REQUIREMENTS]
        with pytest.raises(Conflict) as info:
            check_can_issue(rules)
        assert info.value.code == "completion.rules_unset"
    for one in (
        Requirements(min_hours=0),
        Requirements(min_attendance_share=0.8),
        Requirements(quiz_pass_mark=60),
        Requirements(writeup_required=True),
    ):
        assert one.is_set
        check_can_issue(one)
        assert evaluate(one, busy).completed


def test_every_missed_requirement_is_named_with_needed_and_has() -> None:
    rules = Requirements(
        min_hours=12, min_attendance_share=0.8, quiz_pass_mark=60, writeup_required=True
    )
    facts = TraineeFacts(
        "t",
        live_hours=10,
        self_study_hours=4,
        sessions_expected=5,
        sessions_attended=3,
        quiz_questions=10,
        quiz_correct=5,
        writeup_accepted=False,
        leave_over_limit=True,
    )
    result = evaluate(rules, facts)
    assert not result.completed
    missing = {m.what: m for m in result.missing}
    assert set(missing) == set(Missing) - {Missing.REQUIREMENTS}
    assert (missing[Missing.HOURS].needed, missing[Missing.HOURS].has) == (12, 10)
    assert missing[Missing.ATTENDANCE].has == 0.6
    assert missing[Missing.QUIZ].has == 50.0


def test_self_study_counts_only_when_the_program_says_so() -> None:
    facts = TraineeFacts("t", live_hours=10, self_study_hours=4)
    assert not evaluate(Requirements(min_hours=12), facts).completed
    counted = evaluate(Requirements(min_hours=12, count_self_study=True), facts)
    assert counted.completed and counted.hours == 14


def test_a_program_without_quiz_questions_has_no_pass_mark_to_meet() -> None:
    assert evaluate(Requirements(quiz_pass_mark=60), TraineeFacts("t")).completed
    exactly = TraineeFacts("t", quiz_questions=5, quiz_correct=3)
    assert evaluate(Requirements(quiz_pass_mark=60), exactly).completed


def test_requirements_are_checked() -> None:
    for bad in (
        {"min_hours": -1},
        {"min_attendance_share": 0},
        {"quiz_pass_mark": 101},
        {"leave_limit": Fraction(0)},
    ):
        with pytest.raises(InvalidInput) as info:
            Requirements(**bad)  # type: ignore[arg-type]
        assert info.value.code == "completion.rules_invalid"


def test_the_honour_list_has_one_home_and_leaves_out_who_did_not_complete() -> None:
    assert ledger_honour_list is honour_list
    rules = Requirements(min_hours=8)
    results = [
        evaluate(rules, TraineeFacts("a", live_hours=20)),
        evaluate(rules, TraineeFacts("b", live_hours=30, leave_over_limit=True)),
        evaluate(rules, TraineeFacts("c", live_hours=9)),
        evaluate(rules, TraineeFacts("d", live_hours=4)),
    ]
    candidates = program_honour_candidates(results, {"a": "2", "c": "1"}, {"c": 90.0})
    ranked = honour_list(candidates, top_n=10)
    assert [e.candidate.trainee_id for e in ranked] == ["a", "c"]
    assert [e.rank for e in ranked] == [1, 2]
    yearly = honour_list([HonourCandidate("x", "1", 5)], top_n=1)
    assert yearly[0].candidate.completed


def test_names_are_masked_on_the_public_page() -> None:
    assert mask_name("张三") == "张*"
    assert mask_name("王小明") == "王*明"
    assert mask_name("欧阳娜娜") == "欧**娜"
    assert mask_name("Li Wei") == "L*****"
    assert mask_name("李") == "*"
    assert mask_name("") == ""


def test_verification_codes_are_16_base32_characters() -> None:
    assert check_verify_code("abcd-efgh 2345 6723") == "ABCDEFGH23456723"
    for bad in ("ABC", "ABCDEFGH2345672", "ABCDEFGH234567231", "ABCDEFGH23456781"):
        with pytest.raises(InvalidInput) as info:
            check_verify_code(bad)
        assert info.value.code == "certificate.code_invalid"


def test_revoking_needs_a_reason_and_a_revoked_certificate_is_refused() -> None:
    assert check_revoke_reason("  学时记录有误  ") == "学时记录有误"
    for bad in ("", "  ", "x", "长" * 501):
        with pytest.raises(InvalidInput) as info:
            check_revoke_reason(bad)
        assert info.value.code == "certificate.reason_invalid"
    check_not_revoked(False)
    with pytest.raises(Conflict) as refused:
        check_not_revoked(True)
    assert refused.value.code == "certificate.revoked"
