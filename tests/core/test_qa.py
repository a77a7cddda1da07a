from __future__ import annotations

from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import Conflict, DomainError, InvalidInput, NotFound, RateLimited
from server.core.qa import (
    ORDERINGS,
    TRANSITIONS,
    OnAirChanged,
    OnAirInterval,
    QuestionAction,
    QuestionBoard,
    QuestionEdit,
    QuestionEdited,
    QuestionOrder,
    QuestionPinned,
    QuestionsMerged,
    QuestionState,
    QuestionStateChanged,
    QuestionSubmitted,
    VoteChange,
    VoteChanged,
    check_rate,
    vote_changes,
)
from server.core.text import SensitiveWords

S = QuestionState
A = QuestionAction
MOD = "mod-1"


def board(**kwargs: object) -> QuestionBoard:
    return QuestionBoard("s1", **kwargs)  # type: ignore[arg-type]


def submitted(b: QuestionBoard, qid: str, now: float = 0.0, asker: str | None = None) -> None:
    b.submit(qid, site_id="site-a", text=f"问题 {qid}", now=now, asker=asker)


def approved(b: QuestionBoard, qid: str, now: float = 0.0, asker: str | None = None) -> None:
    submitted(b, qid, now, asker)
    b.approve(qid, by=MOD, now=now)


def on_air(b: QuestionBoard, qid: str, now: float = 0.0) -> None:
    approved(b, qid, now)
    b.put_on_air(qid, by=MOD, now=now)


# --- the transition table ---------------------------------------------------------------------


def test_archived_is_final() -> None:
    moves = [after for (before, _), after in TRANSITIONS.items() if before is S.ARCHIVED]
    assert set(moves) <= {S.ARCHIVED}


# --- submit -----------------------------------------------------------------------------------


def test_submit_stores_a_submitted_question_and_reports_it() -> None:
    b = board()
    events = b.submit(
        "q1",
        site_id="beilun",
        text="  请问嘉宾如何做好基层工作？ ",
        now=10.0,
        asker="t1",
        addressed_to="guest-1",
        anonymous=True,
    )
    q = b.get("q1")
    assert q.state is S.SUBMITTED
    assert (q.text, q.original_text) == ("请问嘉宾如何做好基层工作？",) * 2
    assert (q.asker, q.site_id, q.addressed_to, q.anonymous) == ("t1", "beilun", "guest-1", True)
    assert q.created_at == 10.0 and q.votes == set() and q.merged_into is None
    assert events == [
        QuestionSubmitted(
            "s1", "q1", "beilun", "t1", True, "guest-1", "请问嘉宾如何做好基层工作？", (), 10.0
        )
    ]


def test_submit_refuses_bad_text_with_question_codes() -> None:
    with pytest.raises(InvalidInput) as info:
        board().submit("q1", site_id="a", text="   ", now=0.0, asker="t1")
    assert info.value.code == "question.empty"


def test_submitting_the_same_id_twice_is_refused() -> None:
    b = board()
    submitted(b, "q1")
    with pytest.raises(Conflict) as info:
        submitted(b, "q1")
    assert info.value.code == "question.duplicate_id"


def test_unknown_question_is_not_found() -> None:
    with pytest.raises(NotFound) as info:
        board().approve("nope", by=MOD, now=0.0)
    assert info.value.code == "question.not_found"


def test_auto_approve_approves_a_clean_question_at_submit() -> None:
    b = board(auto_approve=True)
    events = b.submit("q1", site_id="a", text="一个普通问题", now=5.0, asker="t1")
    assert b.get("q1").state is S.APPROVED
    assert events[1] == QuestionStateChanged(
        "s1", "q1", A.APPROVE, S.SUBMITTED, S.APPROVED, None, 5.0
    )


def test_a_sensitive_word_holds_an_auto_approved_session_question_for_moderation() -> None:
    b = board(auto_approve=True, sensitive_words=SensitiveWords(["敏感词"]))
    events = b.submit("q1", site_id="a", text="里面有敏 感词", now=0.0, asker="t1")
    q = b.get("q1")
    assert q.state is S.SUBMITTED
    assert q.flags == ("敏感词",)
    assert len(events) == 1
    b.approve("q1", by=MOD, now=1.0)  # a moderator may still let it through
    assert b.get("q1").state is S.APPROVED


def test_sensitive_words_are_flagged_without_auto_approve_too() -> None:
    b = board(sensitive_words=SensitiveWords(["违规"]))
    b.submit("q1", site_id="a", text="违规吗", now=0.0)
    assert b.get("q1").flags == ("违规",)


# --- rate limit -------------------------------------------------------------------------------


def test_a_fourth_question_within_sixty_seconds_is_rate_limited_with_retry_after() -> None:
    b = board()
    for i, t in enumerate([0.0, 10.0, 20.0]):
        submitted(b, f"q{i}", now=t, asker="t1")
    with pytest.raises(RateLimited) as info:
        submitted(b, "q3", now=30.0, asker="t1")
    assert info.value.code == "question.rate_limited"
    assert info.value.details == {"retry_after": 30.0}
    assert len(b) == 3


def test_the_rate_window_slides() -> None:
    b = board()
    for i, t in enumerate([0.0, 10.0, 20.0]):
        submitted(b, f"q{i}", now=t, asker="t1")
    submitted(b, "q3", now=60.0, asker="t1")  # the one at 0 left the window
    with pytest.raises(RateLimited) as info:
        submitted(b, "q4", now=65.0, asker="t1")
    assert info.value.details == {"retry_after": 5.0}


def test_rate_limit_is_per_trainee_and_configurable() -> None:
    b = board(rate_limit=1, rate_window=10.0)
    submitted(b, "q1", asker="t1")
    submitted(b, "q2", asker="t2")
    with pytest.raises(RateLimited):
        submitted(b, "q3", now=9.0, asker="t1")
    submitted(b, "q4", now=10.0, asker="t1")


def test_refused_questions_do_not_use_up_the_rate_limit() -> None:
    b = board()
    for i in range(5):
        with pytest.raises(InvalidInput):
            b.submit(f"bad{i}", site_id="a", text="", now=0.0, asker="t1")
    for i in range(3):
        submitted(b, f"q{i}", asker="t1")


def test_questions_without_an_asker_are_not_rate_limited() -> None:
    b = board()
    for i in range(10):
        submitted(b, f"q{i}", asker=None)
    assert len(b) == 10


# --- moderation and the life cycle ------------------------------------------------------------


def test_a_question_goes_from_submitted_to_archived() -> None:
    b = board()
    submitted(b, "q1")
    b.approve("q1", by=MOD, now=1.0)
    b.put_on_air("q1", by=MOD, now=2.0)
    b.mark_answered("q1", by=MOD, now=3.0)
    events = b.archive("q1", by=MOD, now=4.0)
    assert b.get("q1").state is S.ARCHIVED
    assert events == [QuestionStateChanged("s1", "q1", A.ARCHIVE, S.ANSWERED, S.ARCHIVED, MOD, 4.0)]


def test_a_rejected_question_can_only_be_archived() -> None:
    b = board()
    submitted(b, "q1")
    b.reject("q1", by=MOD, now=1.0)
    with pytest.raises(Conflict) as info:
        b.approve("q1", by=MOD, now=2.0)
    assert info.value.details["state"] == "rejected"
    assert info.value.details["action"] == "approve"
    b.archive("q1", by=MOD, now=2.0)
    assert b.get("q1").state is S.ARCHIVED


def test_approving_twice_is_a_bad_transition() -> None:
    b = board()
    approved(b, "q1")
    with pytest.raises(Conflict) as info:
        b.approve("q1", by=MOD, now=1.0)
    assert info.value.code == "question.bad_transition"
    assert "approved" in info.value.message


def test_only_an_approved_question_goes_on_air() -> None:
    b = board()
    submitted(b, "q1")
    with pytest.raises(Conflict):
        b.put_on_air("q1", by=MOD, now=1.0)
    assert b.on_air is None


def test_putting_another_question_on_air_answers_the_current_one() -> None:
    b = board()
    on_air(b, "q1", now=1.0)
    approved(b, "q2", now=2.0)
    events = b.put_on_air("q2", by=MOD, now=5.0)
    assert b.get("q1").state is S.ANSWERED
    assert b.on_air is b.get("q2")
    assert events == [
        QuestionStateChanged("s1", "q1", A.MARK_ANSWERED, S.ON_AIR, S.ANSWERED, MOD, 5.0),
        QuestionStateChanged("s1", "q2", A.PUT_ON_AIR, S.APPROVED, S.ON_AIR, MOD, 5.0),
        OnAirChanged("s1", "q1", "q2", 5.0),
    ]


def test_a_refused_put_on_air_leaves_the_current_question_on_air() -> None:
    b = board()
    on_air(b, "q1")
    submitted(b, "q2")
    with pytest.raises(Conflict):
        b.put_on_air("q2", by=MOD, now=1.0)
    with pytest.raises(Conflict):
        b.put_on_air("q1", by=MOD, now=1.0)  # already on air
    assert b.on_air is b.get("q1")
    assert b.on_air_history == (OnAirInterval("q1", 0.0, None),)


def test_mark_answered_takes_the_question_off_air() -> None:
    b = board()
    on_air(b, "q1", now=1.0)
    events = b.mark_answered("q1", by=MOD, now=9.0)
    assert b.on_air is None
    assert events[-1] == OnAirChanged("s1", "q1", None, 9.0)
    with pytest.raises(Conflict):
        b.mark_answered("q1", by=MOD, now=9.0)


def test_send_back_from_air_returns_to_approved_and_then_to_submitted() -> None:
    b = board()
    on_air(b, "q1", now=1.0)
    events = b.send_back("q1", by=MOD, now=2.0)
    assert b.get("q1").state is S.APPROVED
    assert b.on_air is None
    assert events[-1] == OnAirChanged("s1", "q1", None, 2.0)
    assert b.send_back("q1", by=MOD, now=3.0) == [
        QuestionStateChanged("s1", "q1", A.SEND_BACK, S.APPROVED, S.SUBMITTED, MOD, 3.0)
    ]
    with pytest.raises(Conflict):
        b.send_back("q1", by=MOD, now=4.0)


def test_on_air_history_records_each_spell_with_times() -> None:
    b = board()
    on_air(b, "q1", now=10.0)
    approved(b, "q2", now=11.0)
    b.put_on_air("q2", by=MOD, now=20.0)
    b.send_back("q2", by=MOD, now=25.0)
    b.put_on_air("q2", by=MOD, now=30.0)
    assert b.on_air_history == (
        OnAirInterval("q1", 10.0, 20.0),
        OnAirInterval("q2", 20.0, 25.0),
        OnAirInterval("q2", 30.0, None),
    )


# --- edit -------------------------------------------------------------------------------------


def test_a_moderator_edit_keeps_the_original_and_records_the_edit() -> None:
    b = board(sensitive_words=SensitiveWords(["违规"]))
    b.submit("q1", site_id="a", text="错字违规的问题", now=0.0, asker="t1")
    events = b.edit("q1", "  改正后的问题 ", by=MOD, now=5.0)
    q = b.get("q1")
    assert q.text == "改正后的问题"
    assert q.original_text == "错字违规的问题"
    assert q.flags == ()
    record = QuestionEdit(MOD, 5.0, "错字违规的问题", "改正后的问题")
    assert q.edits == [record]
    assert events == [QuestionEdited("s1", "q1", record, ())]
    b.edit("q1", "第二次修改", by="mod-2", now=6.0)
    assert q.original_text == "错字违规的问题"
    assert [e.before for e in q.edits] == ["错字违规的问题", "改正后的问题"]


def test_an_edit_to_the_same_text_changes_nothing() -> None:
    b = board()
    submitted(b, "q1")
    assert b.edit("q1", "问题 q1", by=MOD, now=1.0) == []
    assert b.get("q1").edits == []


def test_an_edit_is_cleaned_like_a_question() -> None:
    b = board()
    submitted(b, "q1")
    with pytest.raises(InvalidInput) as info:
        b.edit("q1", "x" * 501, by=MOD, now=1.0)
    assert info.value.code == "question.too_long"


def test_an_answered_question_cannot_be_edited() -> None:
    b = board()
    on_air(b, "q1")
    b.mark_answered("q1", by=MOD, now=1.0)
    with pytest.raises(Conflict) as info:
        b.edit("q1", "new", by=MOD, now=2.0)
    assert info.value.details["action"] == "edit"


# --- votes ------------------------------------------------------------------------------------


def test_upvote_is_one_per_trainee_and_idempotent() -> None:
    b = board()
    approved(b, "q1")
    assert b.upvote("q1", "t1", now=1.0) == [VoteChanged("s1", "q1", 1, VoteChange.CAST, "t1", 1.0)]
    assert b.upvote("q1", "t1", now=2.0) == []
    b.upvote("q1", "t2", now=3.0)
    assert b.get("q1").vote_count == 2


def test_withdrawing_a_vote_lowers_the_count_once() -> None:
    b = board()
    approved(b, "q1")
    b.upvote("q1", "t1", now=1.0)
    assert b.withdraw_vote("q1", "t1", now=2.0) == [
        VoteChanged("s1", "q1", 0, VoteChange.WITHDRAWN, "t1", 2.0)
    ]
    assert b.withdraw_vote("q1", "t1", now=3.0) == []
    assert b.get("q1").vote_count == 0


def test_unscreened_questions_cannot_be_voted_for() -> None:
    b = board()
    submitted(b, "q1")
    with pytest.raises(Conflict) as info:
        b.upvote("q1", "t1", now=1.0)
    assert info.value.details == {"question_id": "q1", "state": "submitted", "action": "vote"}


# --- merge ------------------------------------------------------------------------------------


def test_merge_carries_votes_and_askers_and_archives_the_duplicate() -> None:
    b = board()
    approved(b, "target", asker="t1")
    approved(b, "dup", asker="t2")
    for voter in ["v1", "v2"]:
        b.upvote("target", voter, now=1.0)
    for voter in ["v2", "v3"]:
        b.upvote("dup", voter, now=1.0)
    events = b.merge("dup", "target", by=MOD, now=2.0)
    target, dup = b.get("target"), b.get("dup")
    assert target.votes == {"v1", "v2", "v3"}  # v2 voted for both and counts once
    assert target.also_asked_by == {"t2"}
    assert dup.state is S.ARCHIVED and dup.merged_into == "target"
    assert events == [
        QuestionsMerged("s1", "dup", "target", MOD, 2.0),
        QuestionStateChanged("s1", "dup", A.MERGE, S.APPROVED, S.ARCHIVED, MOD, 2.0),
        VoteChanged("s1", "target", 3, VoteChange.MERGED, None, 2.0),
    ]


def test_merge_chains_carry_earlier_askers_but_not_the_target_asker() -> None:
    b = board()
    for qid, asker in [("a", "t1"), ("b", "t2"), ("c", "t1")]:
        submitted(b, qid, asker=asker)
    b.merge("b", "c", by=MOD, now=1.0)
    b.merge("c", "a", by=MOD, now=2.0)
    assert b.get("a").also_asked_by == {"t2"}


def test_merging_into_itself_is_refused() -> None:
    b = board()
    approved(b, "q1")
    with pytest.raises(InvalidInput) as info:
        b.merge("q1", "q1", by=MOD, now=1.0)
    assert info.value.code == "question.merge_into_self"


def test_merging_into_an_archived_question_is_refused_and_changes_nothing() -> None:
    b = board()
    approved(b, "q1")
    submitted(b, "q2")
    b.reject("q2", by=MOD, now=0.0)
    b.upvote("q1", "v1", now=0.0)
    with pytest.raises(Conflict) as info:
        b.merge("q1", "q2", by=MOD, now=1.0)
    assert info.value.details["action"] == "absorb"
    assert b.get("q1").state is S.APPROVED and b.get("q1").merged_into is None


def test_a_question_on_air_cannot_be_merged_away() -> None:
    b = board()
    on_air(b, "q1")
    approved(b, "q2")
    with pytest.raises(Conflict):
        b.merge("q1", "q2", by=MOD, now=1.0)
    b.merge("q2", "q1", by=MOD, now=1.0)  # but a duplicate may join it
    assert b.get("q2").merged_into == "q1"


# --- pin and order ----------------------------------------------------------------------------


def test_list_by_votes_puts_pinned_first_then_votes_then_oldest() -> None:
    b = board()
    for i, qid in enumerate(["old", "new", "popular", "pinned"]):
        approved(b, qid, now=float(i))
    b.upvote("popular", "v1", now=5.0)
    b.upvote("popular", "v2", now=5.0)
    b.upvote("new", "v1", now=5.0)
    b.upvote("old", "v1", now=5.0)
    assert b.pin("pinned", by=MOD, now=6.0) == [QuestionPinned("s1", "pinned", True, MOD, 6.0)]
    assert [q.id for q in b.questions()] == ["pinned", "popular", "old", "new"]
    assert [q.id for q in b.questions(QuestionOrder.TIME)] == ["old", "new", "popular", "pinned"]
    assert b.pin("pinned", by=MOD, now=7.0) == []
    b.unpin("pinned", by=MOD, now=8.0)
    assert [q.id for q in b.questions()][-1] == "pinned"


def test_same_time_questions_keep_submission_order() -> None:
    b = board()
    for qid in ["z", "a", "m"]:
        approved(b, qid, now=1.0)
    assert [q.id for q in b.questions(QuestionOrder.TIME)] == ["z", "a", "m"]
    assert [q.id for q in b.questions()] == ["z", "a", "m"]


def test_archived_questions_are_left_out_unless_asked_for() -> None:
    b = board()
    submitted(b, "q1")
    b.reject("q1", by=MOD, now=0.0)
    b.archive("q1", by=MOD, now=0.0)
    assert b.questions() == []
    assert [q.id for q in b.questions(states={S.ARCHIVED})] == ["q1"]


def test_a_rejected_question_cannot_be_pinned() -> None:
    b = board()
    submitted(b, "q1")
    b.reject("q1", by=MOD, now=0.0)
    with pytest.raises(Conflict):
        b.pin("q1", by=MOD, now=1.0)


# --- properties -------------------------------------------------------------------------------

TRAINEES = ["t1", "t2", "t3", "t4"]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(TRAINEES), st.booleans()), max_size=40))
def test_vote_count_is_the_trainees_whose_last_action_was_a_vote(
    actions: list[tuple[str, bool]],
) -> None:
    b = board()
    approved(b, "q1")
    last: dict[str, bool] = {}
    reported = 0
    for i, (trainee, vote) in enumerate(actions):
        act = b.upvote if vote else b.withdraw_vote
        for event in act("q1", trainee, now=float(i)):
            assert isinstance(event, VoteChanged)
            reported = event.count
        last[trainee] = vote
    expected = sum(1 for v in last.values() if v)
    assert b.get("q1").vote_count == expected
    assert reported == expected


QIDS = ["q0", "q1", "q2", "q3"]
OPS = ["approve", "reject", "put_on_air", "mark_answered", "send_back", "archive", "merge"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(OPS), st.sampled_from(QIDS), st.sampled_from(QIDS)),
        max_size=40,
    )
)
def test_at_most_one_question_is_ever_on_air(ops: list[tuple[str, str, str]]) -> None:
    b = board()
    for qid in QIDS:
        submitted(b, qid)
    for i, (op, qid, other) in enumerate(ops):
        now = float(i + 1)
        try:
            if op == "merge":
                b.merge(qid, other, by=MOD, now=now)
            else:
                getattr(b, op)(qid, by=MOD, now=now)
        except DomainError:
            pass
        live = [q.id for q in b.questions(states=set(S)) if q.state is S.ON_AIR]
        assert len(live) <= 1
        assert (b.on_air.id if b.on_air else None) == (live[0] if live else None)
        history = b.on_air_history
        assert all(h.ended_at is not None for h in history[:-1])
        if history:
            assert (history[-1].ended_at is None) == bool(live)
            if live:
                assert history[-1].question_id == live[0]
        for earlier, later in pairwise(history):
            assert earlier.ended_at is not None and earlier.ended_at <= later.started_at


# --- a board restored from the store (what the server runs) -----------------------------------


def test_a_restored_board_counts_the_askers_stored_submissions() -> None:
    b = QuestionBoard.restore("s1", recent={"t1": [0.0, 10.0, 20.0]})
    with pytest.raises(RateLimited) as info:
        submitted(b, "q4", now=30.0, asker="t1")
    assert info.value.details == {"retry_after": 30.0}
    submitted(b, "q5", now=30.0, asker="t2")


def test_a_restored_board_answers_the_stored_on_air_question_when_another_goes_on_air() -> None:
    live = board()
    on_air(live, "q1", now=1.0)
    approved(live, "q2", now=2.0)
    b = QuestionBoard.restore("s1", [live.get("q1"), live.get("q2")], on_air_since=1.0)
    events = b.put_on_air("q2", by=MOD, now=5.0)
    assert [e.after for e in events if isinstance(e, QuestionStateChanged)] == [
        S.ANSWERED,
        S.ON_AIR,
    ]
    assert events[-1] == OnAirChanged("s1", "q1", "q2", 5.0)
    assert b.on_air_history == (OnAirInterval("q1", 1.0, 5.0), OnAirInterval("q2", 5.0, None))


@pytest.mark.parametrize(
    ("voted", "cast", "changes"),
    [(False, True, True), (True, True, False), (True, False, True), (False, False, False)],
)
def test_a_vote_changes_something_only_once(voted: bool, cast: bool, changes: bool) -> None:
    assert vote_changes(S.APPROVED, voted, cast=cast, question_id="q1") is changes
    with pytest.raises(Conflict):
        vote_changes(S.SUBMITTED, voted, cast=cast, question_id="q1")


def test_the_rate_rule_counts_only_the_window_before_now() -> None:
    check_rate([0.0, 10.0, 20.0], 60.0, limit=3, window=60)
    with pytest.raises(RateLimited) as info:
        check_rate([10.0, 20.0, 30.0, 0.0], 60.0, limit=3, window=60)
    assert info.value.details == {"retry_after": 10.0}
    assert "3 questions per 60 seconds" in info.value.message


def test_every_list_order_names_fields_of_a_question() -> None:
    b = board()
    approved(b, "q1")
    q = b.get("q1")
    for order, fields in ORDERINGS.items():
        assert fields and all(hasattr(q, name) for name, _descending in fields), order
