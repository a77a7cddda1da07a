from __future__ import annotations

from typing import Any

import pytest

from server.core.errors import Conflict, InvalidInput
from server.core.quiz import (
    AnswerRecorded,
    ChoiceMode,
    FeedbackBook,
    LivePoll,
    NeedsSurvey,
    PollClosed,
    PollOpened,
    PollSpec,
    PollState,
    RatingSummary,
    Tally,
    TopicScore,
    summarize,
    total_scores,
)

OPTIONS = ("甲", "乙", "丙", "丁")


def single_quiz(correct: int = 1) -> LivePoll:
    return LivePoll("s1", PollSpec("p1", "哪一项正确？", OPTIONS, correct=frozenset({correct})))


def multi_quiz() -> LivePoll:
    spec = PollSpec("p2", "哪些正确？", OPTIONS, ChoiceMode.MULTIPLE, frozenset({0, 2}))
    return LivePoll("s1", spec)


def poll(mode: ChoiceMode = ChoiceMode.SINGLE) -> LivePoll:
    return LivePoll("s1", PollSpec("p3", "你更想学哪个？", OPTIONS, mode))


# --- the spec -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"options": ("only",)},
        {"options": OPTIONS, "correct": frozenset()},
        {"options": OPTIONS, "correct": frozenset({4})},
        {"options": OPTIONS, "correct": frozenset({0, 1})},  # single choice, two correct
    ],
)
def test_a_badly_set_up_question_is_refused(kwargs: dict[str, object]) -> None:
    with pytest.raises(InvalidInput) as info:
        PollSpec("p", "?", **kwargs)  # type: ignore[arg-type]
    assert info.value.code == "quiz.bad_spec"


def test_a_spec_with_correct_answers_is_a_quiz() -> None:
    assert single_quiz().spec.is_quiz
    assert not poll().spec.is_quiz


# --- running a poll ---------------------------------------------------------------------------


def test_launching_opens_the_poll_with_a_deadline() -> None:
    p = single_quiz()
    assert p.launch(now=100.0, time_limit=30.0) == [PollOpened("s1", "p1", 130.0, 100.0)]
    assert p.state(129.9) is PollState.OPEN
    assert p.state(130.0) is PollState.CLOSED


def test_a_poll_is_launched_once() -> None:
    p = single_quiz()
    p.launch(now=0.0)
    with pytest.raises(Conflict) as info:
        p.launch(now=1.0)
    assert info.value.code == "quiz.already_launched"


def test_a_time_limit_must_be_positive() -> None:
    with pytest.raises(InvalidInput) as info:
        single_quiz().launch(now=0.0, time_limit=0.0)
    assert info.value.code == "quiz.bad_time_limit"


def test_answers_before_launch_are_refused() -> None:
    with pytest.raises(Conflict) as info:
        single_quiz().answer("t1", [1], site_id="a", now=0.0)
    assert info.value.code == "quiz.not_open"


def test_an_answer_after_the_deadline_is_refused() -> None:
    p = single_quiz()
    p.launch(now=0.0, time_limit=30.0)
    p.answer("t1", [1], site_id="a", now=29.0)
    with pytest.raises(Conflict) as info:
        p.answer("t2", [1], site_id="a", now=30.0)
    assert info.value.code == "quiz.closed"
    assert p.tally().answers == 1


def test_an_answer_after_close_is_refused() -> None:
    p = poll()
    p.launch(now=0.0)
    assert p.close(now=5.0) == [PollClosed("s1", "p3", 5.0)]
    assert p.close(now=6.0) == []
    with pytest.raises(Conflict) as info:
        p.answer("t1", [0], site_id="a", now=6.0)
    assert info.value.code == "quiz.closed"


def test_tick_closes_the_poll_at_its_deadline() -> None:
    p = poll()
    p.launch(now=0.0, time_limit=10.0)
    assert p.tick(9.0) == []
    assert p.tick(12.0) == [PollClosed("s1", "p3", 10.0)]
    assert p.tick(13.0) == []
    assert p.close(now=14.0) == []


def test_closing_after_the_deadline_reports_the_deadline() -> None:
    p = poll()
    p.launch(now=0.0, time_limit=10.0)
    assert p.close(now=12.0) == [PollClosed("s1", "p3", 10.0)]


def test_closing_a_poll_that_never_ran_is_refused() -> None:
    with pytest.raises(Conflict) as info:
        poll().close(now=0.0)
    assert info.value.code == "quiz.bad_transition"


def test_a_second_answer_from_the_same_trainee_is_refused() -> None:
    p = single_quiz()
    p.launch(now=0.0)
    events = p.answer("t1", [1], site_id="a", now=1.0)
    assert events == [AnswerRecorded("s1", "p1", "t1", "a", frozenset({1}), 1, 1.0)]
    with pytest.raises(Conflict) as info:
        p.answer("t1", [2], site_id="a", now=2.0)
    assert info.value.code == "quiz.already_answered"
    assert p.answer_of("t1") == frozenset({1})


@pytest.mark.parametrize(
    ("choices", "code"),
    [
        ([], "quiz.no_choice"),
        ([4], "quiz.bad_option"),
        ([-1], "quiz.bad_option"),
        ([True], "quiz.bad_option"),
        ([1, 1], "quiz.bad_option"),
        ([0, 1], "quiz.single_choice"),
    ],
)
def test_invalid_choices_are_refused(choices: list[int], code: str) -> None:
    p = single_quiz()
    p.launch(now=0.0)
    with pytest.raises(InvalidInput) as info:
        p.answer("t1", choices, site_id="a", now=1.0)
    assert info.value.code == code
    assert p.tally().answers == 0


def test_live_tallies_count_per_option_and_per_site() -> None:
    p = poll(ChoiceMode.MULTIPLE)
    p.launch(now=0.0)
    p.answer("t1", [0, 1], site_id="beilun", now=1.0)
    p.answer("t2", [1], site_id="beilun", now=1.0)
    p.answer("t3", [1, 3], site_id="yinzhou", now=1.0)
    tally = p.tally()
    assert tally.answers == 3
    assert tally.per_option == (1, 3, 0, 1)
    assert dict(tally.per_site) == {"beilun": (1, 2, 0, 0), "yinzhou": (0, 1, 0, 1)}


# --- scores -----------------------------------------------------------------------------------


def test_single_choice_quiz_scores_one_for_the_right_option() -> None:
    p = single_quiz(correct=2)
    p.launch(now=0.0)
    p.answer("right", [2], site_id="a", now=1.0)
    p.answer("wrong", [0], site_id="a", now=1.0)
    assert p.scores() == {"right": 1, "wrong": 0}
    assert p.score("absent") == 0


def test_multiple_choice_scores_all_or_nothing() -> None:
    p = multi_quiz()  # correct: {0, 2}
    p.launch(now=0.0)
    p.answer("exact", [2, 0], site_id="a", now=1.0)
    p.answer("partial", [0], site_id="a", now=1.0)
    p.answer("extra", [0, 1, 2], site_id="a", now=1.0)
    assert p.scores() == {"exact": 1, "partial": 0, "extra": 0}


def test_a_quiz_tally_counts_the_answers_that_scored_and_a_poll_has_none() -> None:
    q = multi_quiz()  # correct: {0, 2}
    q.launch(now=0.0)
    q.answer("exact", [2, 0], site_id="a", now=1.0)
    q.answer("partial", [0], site_id="a", now=1.0)
    q.answer("also", [0, 2], site_id="b", now=1.0)
    assert q.tally().correct == 2
    survey = poll()
    survey.launch(now=0.0)
    survey.answer("t1", [0], site_id="a", now=1.0)
    assert survey.tally().correct is None


def test_a_poll_has_no_scores() -> None:
    p = poll()
    with pytest.raises(Conflict) as info:
        p.score("t1")
    assert info.value.code == "quiz.not_a_quiz"


def test_total_scores_add_up_quiz_questions_and_skip_polls() -> None:
    q1, q2, survey = single_quiz(correct=1), multi_quiz(), poll()
    for p in (q1, q2, survey):
        p.launch(now=0.0)
    q1.answer("t1", [1], site_id="a", now=1.0)
    q1.answer("t2", [1], site_id="a", now=1.0)
    q2.answer("t1", [0, 2], site_id="a", now=1.0)
    q2.answer("t2", [0], site_id="a", now=1.0)
    survey.answer("t3", [0], site_id="a", now=1.0)
    assert total_scores([q1, q2, survey]) == {"t1": 2, "t2": 1}


# --- needs survey -----------------------------------------------------------------------------

TOPICS = ["economy", "law", "rural", "digital"]


def survey() -> NeedsSurvey:
    return NeedsSurvey("n1", TOPICS)


def test_borda_count_ranks_common_needs_per_org_unit() -> None:
    s = survey()
    s.submit("t1", org_unit="beilun", ranking=["law", "rural", "economy", "digital"], now=0.0)
    s.submit("t2", org_unit="beilun", ranking=["rural", "law"], now=0.0)
    s.submit("t3", org_unit="beilun", ranking=["rural"], now=0.0)
    s.submit("t4", org_unit="yinzhou", ranking=["digital"], now=0.0)
    assert s.ranked_needs("beilun") == [
        TopicScore("rural", 2 + 3 + 3, 2, 3),
        TopicScore("law", 3 + 2, 1, 2),
        TopicScore("economy", 1, 0, 1),
        TopicScore("digital", 0, 0, 1),
    ]
    by_unit = s.ranked_needs_by_org_unit()
    assert list(by_unit) == ["beilun", "yinzhou"]
    assert by_unit["yinzhou"][0] == TopicScore("digital", 3, 1, 1)
    assert s.ranked_needs()[0].topic == "rural"


def test_ties_break_by_first_choices_then_by_topic_order() -> None:
    s = survey()
    s.submit("t1", org_unit="u", ranking=["digital", "economy", "law", "rural"], now=0.0)
    s.submit("t2", org_unit="u", ranking=["law", "rural", "economy"], now=0.0)
    # law 1+3=4; digital 3 with one first choice beats economy 2+1=3 with none; rural 0+2=2
    assert [t.topic for t in s.ranked_needs("u")] == ["law", "digital", "economy", "rural"]
    empty = survey().ranked_needs()
    assert [t.topic for t in empty] == TOPICS  # all zero: the order the survey was set up with


def test_a_second_response_replaces_the_first() -> None:
    s = survey()
    s.submit("t1", org_unit="u", ranking=["law"], needs_text="想学法治", now=0.0)
    s.submit("t1", org_unit="u", ranking=["rural"], now=1.0)
    assert len(s.responses()) == 1
    assert s.ranked_needs()[0] == TopicScore("rural", 3, 1, 1)
    assert s.needs_texts() == []


def test_needs_text_is_cleaned_and_kept_per_org_unit() -> None:
    s = survey()
    s.submit("t1", org_unit="u1", ranking=[], needs_text="  乡村振兴案例 \u200b", now=0.0)
    s.submit("t2", org_unit="u2", ranking=["law"], now=0.0)
    assert s.needs_texts("u1") == ["乡村振兴案例"]
    assert s.needs_texts("u2") == []


@pytest.mark.parametrize(
    ("ranking", "text", "code"),
    [
        (["unknown"], "", "survey.unknown_topic"),
        (["law", "law"], "", "survey.duplicate_topic"),
        ([], "  ", "survey.empty"),
        ([], "x" * 2001, "survey.needs_text.too_long"),
        ([], "a\u202eb", "survey.needs_text.bad_characters"),
    ],
)
def test_bad_survey_responses_are_refused(ranking: list[str], text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        survey().submit("t1", org_unit="u", ranking=ranking, needs_text=text, now=0.0)
    assert info.value.code == code


@pytest.mark.parametrize("topics", [[], ["a", "a"]])
def test_a_survey_needs_distinct_topics(topics: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        NeedsSurvey("n", topics)
    assert info.value.code == "survey.bad_topics"


# --- feedback ---------------------------------------------------------------------------------


def test_feedback_is_aggregated_per_course_and_per_lecturer() -> None:
    book = FeedbackBook()
    book.submit(
        "t1",
        session_id="s1",
        course_id="c1",
        course_rating=5,
        lecturer_ratings={"l1": 5, "l2": 3},
        comment="很好",
        now=0.0,
    )
    book.submit(
        "t2", session_id="s1", course_id="c1", course_rating=4, lecturer_ratings={"l1": 4}, now=0.0
    )
    book.submit(
        "t1", session_id="s2", course_id="c2", course_rating=1, lecturer_ratings={"l1": 2}, now=0.0
    )
    assert book.course_summary("c1") == RatingSummary(2, 4.5, (0, 0, 0, 1, 1))
    assert book.course_summary("c2") == RatingSummary(1, 1.0, (1, 0, 0, 0, 0))
    assert book.lecturer_summary("l1") == RatingSummary(3, 11 / 3, (0, 1, 0, 1, 1))
    assert book.lecturer_summary("l2") == RatingSummary(1, 3.0, (0, 0, 1, 0, 0))
    assert book.comments("c1") == ["很好"]


def test_nothing_rated_has_no_mean() -> None:
    assert FeedbackBook().course_summary("c1") == RatingSummary(0, None, (0, 0, 0, 0, 0))
    assert summarize([]) == RatingSummary(0, None, (0, 0, 0, 0, 0))


def _feedback(book: FeedbackBook, **changed: Any) -> None:
    """t1's feedback on session s1 of course c1 (rated 3, no lecturer rated), as ``changed``."""
    fields: dict[str, Any] = {
        "session_id": "s1",
        "course_id": "c1",
        "course_rating": 3,
        "lecturer_ratings": {},
        "now": 0.0,
        **changed,
    }
    book.submit("t1", **fields)


def test_a_second_feedback_on_the_same_session_replaces_the_first() -> None:
    book = FeedbackBook()
    for rating in (1, 5):
        _feedback(book, course_rating=rating)
    assert book.course_summary("c1") == RatingSummary(1, 5.0, (0, 0, 0, 0, 1))


@pytest.mark.parametrize("bad", [0, 6, -1, 3.5, True, "5"])
def test_ratings_out_of_range_are_refused(bad: object) -> None:
    book = FeedbackBook()
    with pytest.raises(InvalidInput) as info:
        _feedback(book, course_rating=bad)
    assert info.value.code == "feedback.rating_out_of_range"
    with pytest.raises(InvalidInput) as info:
        _feedback(book, lecturer_ratings={"l1": bad})
    assert info.value.details["for"] == "lecturer l1"
    assert book.course_summary("c1").count == 0


def test_a_feedback_comment_is_cleaned() -> None:
    book = FeedbackBook()
    with pytest.raises(InvalidInput) as info:
        _feedback(book, comment="x" * 1001)
    assert info.value.code == "feedback.comment.too_long"


# --- a poll restored from the store (what the server runs) ------------------------------------


def test_a_restored_poll_refuses_a_second_answer_and_tallies_the_stored_ones() -> None:
    spec = PollSpec("p1", "几点开始？", ("9点", "10点"))
    p = LivePoll.restore(
        "s1", spec, PollState.OPEN, opened_at=0.0, deadline=60.0, answers=[("t1", "a", [0])]
    )
    with pytest.raises(Conflict) as info:
        p.answer("t1", [1], site_id="a", now=1.0)
    assert info.value.code == "quiz.already_answered"
    p.answer("t2", [1], site_id="b", now=2.0)
    assert p.tally() == Tally(2, (1, 1), {"a": (1, 0), "b": (0, 1)})


def test_a_restored_open_poll_past_its_deadline_is_closed_and_closes_at_the_deadline() -> None:
    p = LivePoll.restore("s1", single_quiz().spec, PollState.OPEN, opened_at=0.0, deadline=30.0)
    assert p.state(31.0) is PollState.CLOSED
    with pytest.raises(Conflict) as info:
        p.answer("t1", [1], site_id="a", now=31.0)
    assert info.value.code == "quiz.closed"
    assert p.close(now=40.0) == [PollClosed("s1", "p1", 30.0)]
