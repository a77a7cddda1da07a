"""Polls and quizzes during a session, the needs survey before a program, feedback after.

Decisions:

* A poll or quiz question is one ``PollSpec``; it is a quiz when it has correct answers.
  ``LivePoll`` launches it with an optional time limit; an answer at or after the deadline, or
  after ``close``, is refused with ``quiz.closed``.
* One answer per trainee: a second answer is REFUSED (``quiz.already_answered``), so live
  tallies only grow and nobody changes a quiz answer after seeing the room's tally.
* The store is the truth: a server rebuilds a poll per decision with ``LivePoll.restore`` from
  its stored row and answers (the tally needs every answer anyway), asks it, and persists the
  events; an open poll past its deadline counts as closed without a write.
* Quiz scoring is all-or-nothing: 1 point when the chosen options equal the correct ones,
  else 0 (also for multiple choice; no partial credit). ``total_scores`` adds several up.
* Needs survey: a trainee ranks some or all topics (best first). Borda count over the n topics:
  the i-th ranked topic (from 0) gets n-1-i points, unranked ones 0. Ties are broken by more
  first choices, then by the topic order the survey was set up with. A second response from a
  trainee replaces the first (the survey runs for days; people change their minds).
* Feedback: one entry per trainee per session (a second replaces the first); every rating an
  integer 1-5 (``feedback.rating_out_of_range`` otherwise).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from server.core.errors import Conflict, InvalidInput
from server.core.text import clean_user_text
from server.core.transitions import transition

# --- polls and quizzes ------------------------------------------------------------------------


class ChoiceMode(StrEnum):
    SINGLE = "single"
    MULTIPLE = "multiple"


class PollState(StrEnum):
    DRAFT = "draft"
    OPEN = "open"
    CLOSED = "closed"


class PollAction(StrEnum):
    LAUNCH = "launch"
    ANSWER = "answer"
    CLOSE = "close"


_P = PollState
_PA = PollAction

#: The one transition table of a live poll.
TRANSITIONS: dict[tuple[PollState, PollAction], PollState] = {
    (_P.DRAFT, _PA.LAUNCH): _P.OPEN,
    (_P.OPEN, _PA.ANSWER): _P.OPEN,
    (_P.OPEN, _PA.CLOSE): _P.CLOSED,
    (_P.CLOSED, _PA.CLOSE): _P.CLOSED,  # closing twice changes nothing
}

_REFUSALS: dict[tuple[PollState, PollAction], tuple[str, str]] = {
    (_P.DRAFT, _PA.ANSWER): ("quiz.not_open", "This question has not started yet; wait for it."),
    (_P.CLOSED, _PA.ANSWER): ("quiz.closed", "Time is up for this question; answers are closed."),
    (_P.OPEN, _PA.LAUNCH): ("quiz.already_launched", "This question is already running."),
    (_P.CLOSED, _PA.LAUNCH): ("quiz.already_launched", "This question has already run."),
}


def next_state(state: PollState, action: PollAction, poll_id: str) -> PollState:
    return transition(
        TRANSITIONS,
        state,
        action,
        refusal=(
            "quiz.bad_transition",
            f"Cannot {action.value} poll {poll_id}: it is {state.value}.",
        ),
        refusals=_REFUSALS,
        details={"poll_id": poll_id},
    )


def _bad_spec(message: str) -> InvalidInput:
    return InvalidInput("quiz.bad_spec", message)


@dataclass(frozen=True, slots=True)
class PollSpec:
    """One poll/quiz question. Options are referred to by index; ``correct`` makes it a quiz."""

    poll_id: str
    prompt: str
    options: tuple[str, ...]
    mode: ChoiceMode = ChoiceMode.SINGLE
    correct: frozenset[int] | None = None

    def __post_init__(self) -> None:
        if len(self.options) < 2:
            raise _bad_spec("Give at least two options.")
        if self.correct is not None:
            if not self.correct or not all(0 <= i < len(self.options) for i in self.correct):
                raise _bad_spec("Mark correct answers among the options.")
            if self.mode is ChoiceMode.SINGLE and len(self.correct) != 1:
                raise _bad_spec("A single-choice quiz has exactly one correct answer.")

    @property
    def is_quiz(self) -> bool:
        return self.correct is not None


def check_choices(spec: PollSpec, choices: Iterable[int]) -> frozenset[int]:
    """The chosen option indexes, checked against the spec (``quiz.*`` errors)."""
    listed = list(choices)
    chosen = frozenset(listed)
    n = len(spec.options)
    if not chosen:
        raise InvalidInput("quiz.no_choice", "Choose an option before sending.")
    if len(chosen) != len(listed) or not all(
        isinstance(i, int) and not isinstance(i, bool) and 0 <= i < n for i in listed
    ):
        raise InvalidInput(
            "quiz.bad_option", "Choose among the options shown.", {"choices": listed}
        )
    if spec.mode is ChoiceMode.SINGLE and len(chosen) > 1:
        raise InvalidInput("quiz.single_choice", "Choose only one option.")
    return chosen


def score_of(spec: PollSpec, chosen: frozenset[int]) -> int:
    """All-or-nothing quiz score of one answer (see the module doc)."""
    if spec.correct is None:
        raise Conflict("quiz.not_a_quiz", "This is a poll without correct answers; no scores.")
    return int(chosen == spec.correct)


@dataclass(frozen=True, slots=True)
class PollOpened:
    session_id: str
    poll_id: str
    deadline: float | None
    at: float


@dataclass(frozen=True, slots=True)
class AnswerRecorded:
    session_id: str
    poll_id: str
    trainee_id: str
    site_id: str
    choices: frozenset[int]
    answers: int  # answers so far
    at: float


@dataclass(frozen=True, slots=True)
class PollClosed:
    session_id: str
    poll_id: str
    at: float


PollEvent = PollOpened | AnswerRecorded | PollClosed


@dataclass(frozen=True, slots=True)
class Tally:
    answers: int
    per_option: tuple[int, ...]  # trainees who chose each option
    per_site: Mapping[str, tuple[int, ...]]
    correct: int | None = None  # a quiz: trainees whose answer scored (None for a poll)


class LivePoll:
    """One poll or quiz question run live in a session."""

    def __init__(self, session_id: str, spec: PollSpec) -> None:
        self.session_id = session_id
        self.spec = spec
        self._state = PollState.DRAFT
        self.opened_at: float | None = None
        self.deadline: float | None = None
        self._answers: dict[str, frozenset[int]] = {}
        self._per_option = [0] * len(spec.options)
        self._per_site: dict[str, list[int]] = {}

    @classmethod
    def restore(
        cls,
        session_id: str,
        spec: PollSpec,
        state: PollState,
        *,
        opened_at: float | None = None,
        deadline: float | None = None,
        answers: Iterable[tuple[str, str, Iterable[int]]] = (),
    ) -> LivePoll:
        """Rebuild a poll from the store: its state, times and ``(trainee, site, choices)``
        answers (taken as they were stored: they were checked when given)."""
        poll = cls(session_id, spec)
        poll._state, poll.opened_at, poll.deadline = state, opened_at, deadline
        for trainee_id, site_id, choices in answers:
            poll._record(trainee_id, site_id, frozenset(choices))
        return poll

    def state(self, now: float) -> PollState:
        """The state as of ``now`` (an OPEN poll past its deadline counts as CLOSED)."""
        if self._state is _P.OPEN and self.deadline is not None and now >= self.deadline:
            return _P.CLOSED
        return self._state

    def launch(self, *, now: float, time_limit: float | None = None) -> list[PollEvent]:
        if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
            raise InvalidInput(
                "quiz.bad_time_limit", "Give a time limit of more than 0 seconds, or none."
            )
        self._state = next_state(self._state, _PA.LAUNCH, self.spec.poll_id)
        self.opened_at = now
        self.deadline = None if time_limit is None else now + time_limit
        return [PollOpened(self.session_id, self.spec.poll_id, self.deadline, now)]

    def answer(
        self, trainee_id: str, choices: Iterable[int], *, site_id: str, now: float
    ) -> list[PollEvent]:
        next_state(self.state(now), _PA.ANSWER, self.spec.poll_id)
        if trainee_id in self._answers:
            raise Conflict(
                "quiz.already_answered",
                "You have already answered this question.",
                {"poll_id": self.spec.poll_id},
            )
        chosen = self._check_choices(choices)
        self._record(trainee_id, site_id, chosen)
        return [
            AnswerRecorded(
                self.session_id,
                self.spec.poll_id,
                trainee_id,
                site_id,
                chosen,
                len(self._answers),
                now,
            )
        ]

    def _check_choices(self, choices: Iterable[int]) -> frozenset[int]:
        return check_choices(self.spec, choices)

    def _record(self, trainee_id: str, site_id: str, chosen: frozenset[int]) -> None:
        self._answers[trainee_id] = chosen
        site = self._per_site.setdefault(site_id, [0] * len(self.spec.options))
        for i in chosen:
            self._per_option[i] += 1
            site[i] += 1

    def close(self, *, now: float) -> list[PollEvent]:
        """Close now; closing a closed poll returns no events."""
        expired = self.tick(now)
        if expired:
            return expired
        before = self._state
        self._state = next_state(before, _PA.CLOSE, self.spec.poll_id)
        return [] if before is _P.CLOSED else [PollClosed(self.session_id, self.spec.poll_id, now)]

    def tick(self, now: float) -> list[PollEvent]:
        """Close the poll if its deadline has come; ``PollClosed.at`` is the deadline."""
        if self._state is _P.OPEN and self.state(now) is _P.CLOSED:
            self._state = _P.CLOSED
            assert self.deadline is not None
            return [PollClosed(self.session_id, self.spec.poll_id, self.deadline)]
        return []

    def answer_of(self, trainee_id: str) -> frozenset[int] | None:
        return self._answers.get(trainee_id)

    def tally(self, with_correct: bool = True) -> Tally:
        """The counts; ``with_correct=False`` leaves ``correct`` out (None): it scores every
        answer, which the per-answer tally of an open quiz does not need."""
        return Tally(
            answers=len(self._answers),
            per_option=tuple(self._per_option),
            per_site={site: tuple(counts) for site, counts in self._per_site.items()},
            correct=sum(self.scores().values()) if with_correct and self.spec.is_quiz else None,
        )

    def score(self, trainee_id: str) -> int:
        """1 if the trainee's answer equals the correct set, else 0 (also when unanswered)."""
        return score_of(self.spec, self._answers.get(trainee_id, frozenset()))

    def scores(self) -> dict[str, int]:
        """Score of every trainee who answered."""
        return {t: self.score(t) for t in self._answers}


def total_scores(polls: Iterable[LivePoll]) -> dict[str, int]:
    """Sum of quiz scores per trainee over several quiz questions (polls are skipped)."""
    totals: dict[str, int] = {}
    for poll in polls:
        if poll.spec.is_quiz:
            for trainee, points in poll.scores().items():
                totals[trainee] = totals.get(trainee, 0) + points
    return totals


# --- needs survey (需求调研) ------------------------------------------------------------------

NEEDS_TEXT_MAX_LEN = 2000


@dataclass(frozen=True, slots=True)
class SurveyResponse:
    trainee_id: str
    org_unit: str
    ranking: tuple[str, ...]
    needs_text: str
    submitted_at: float


@dataclass(frozen=True, slots=True)
class TopicScore:
    topic: str
    points: int
    first_choices: int
    mentions: int  # respondents who ranked it at all


class NeedsSurvey:
    """Trainees rank topics and describe their needs before a program."""

    def __init__(self, survey_id: str, topics: Sequence[str]) -> None:
        if not topics or len(set(topics)) != len(topics):
            raise InvalidInput(
                "survey.bad_topics", "Give the survey at least one topic, each once."
            )
        self.survey_id = survey_id
        self.topics = tuple(topics)
        self._order = {t: i for i, t in enumerate(self.topics)}
        self._responses: dict[str, SurveyResponse] = {}

    def submit(
        self,
        trainee_id: str,
        *,
        org_unit: str,
        ranking: Sequence[str],
        needs_text: str = "",
        now: float,
    ) -> SurveyResponse:
        """Record (or replace) a trainee's response."""
        unknown = [t for t in ranking if t not in self._order]
        if unknown:
            raise InvalidInput(
                "survey.unknown_topic", "Rank only the topics listed.", {"topics": unknown}
            )
        if len(set(ranking)) != len(ranking):
            raise InvalidInput("survey.duplicate_topic", "Rank each topic at most once.")
        text = clean_user_text(
            needs_text,
            max_len=NEEDS_TEXT_MAX_LEN,
            code_prefix="survey.needs_text",
            allow_empty=True,
            what="needs",
        )
        if not ranking and not text:
            raise InvalidInput("survey.empty", "Rank at least one topic or describe your needs.")
        response = SurveyResponse(trainee_id, org_unit, tuple(ranking), text, now)
        self._responses[trainee_id] = response
        return response

    def responses(self, org_unit: str | None = None) -> list[SurveyResponse]:
        return [r for r in self._responses.values() if org_unit in (None, r.org_unit)]

    def ranked_needs(self, org_unit: str | None = None) -> list[TopicScore]:
        """Borda ranking of the topics for one org unit (or everyone), best first."""
        n = len(self.topics)
        points = dict.fromkeys(self.topics, 0)
        firsts = dict.fromkeys(self.topics, 0)
        mentions = dict.fromkeys(self.topics, 0)
        for r in self.responses(org_unit):
            for position, topic in enumerate(r.ranking):
                points[topic] += n - 1 - position
                mentions[topic] += 1
            if r.ranking:
                firsts[r.ranking[0]] += 1
        scores = [TopicScore(t, points[t], firsts[t], mentions[t]) for t in self.topics]
        scores.sort(key=lambda s: (-s.points, -s.first_choices, self._order[s.topic]))
        return scores

    def ranked_needs_by_org_unit(self) -> dict[str, list[TopicScore]]:
        units = sorted({r.org_unit for r in self._responses.values()})
        return {unit: self.ranked_needs(unit) for unit in units}

    def needs_texts(self, org_unit: str | None = None) -> list[str]:
        return [r.needs_text for r in self.responses(org_unit) if r.needs_text]


# --- feedback after a session -----------------------------------------------------------------

COMMENT_MAX_LEN = 1000
RATING_MIN, RATING_MAX = 1, 5


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    trainee_id: str
    session_id: str
    course_id: str
    course_rating: int
    lecturer_ratings: Mapping[str, int]
    comment: str
    submitted_at: float


@dataclass(frozen=True, slots=True)
class RatingSummary:
    count: int
    mean: float | None  # None when nobody rated
    distribution: tuple[int, int, int, int, int]  # how many gave 1, 2, 3, 4, 5


def _check_rating(value: object, what: str) -> int:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not (RATING_MIN <= value <= RATING_MAX)
    ):
        raise InvalidInput(
            "feedback.rating_out_of_range",
            f"Rate {what} with a whole number from {RATING_MIN} to {RATING_MAX}.",
            {"rating": repr(value), "for": what},
        )
    return value


def summarize(ratings: Iterable[int]) -> RatingSummary:
    dist = [0] * (RATING_MAX - RATING_MIN + 1)
    for r in ratings:
        dist[r - RATING_MIN] += 1
    count = sum(dist)
    total = sum((i + RATING_MIN) * c for i, c in enumerate(dist))
    d1, d2, d3, d4, d5 = dist
    return RatingSummary(count, total / count if count else None, (d1, d2, d3, d4, d5))


class FeedbackBook:
    """Feedback of trainees after sessions: ratings per course and per lecturer, comments."""

    def __init__(self) -> None:
        self._entries: dict[tuple[str, str], FeedbackEntry] = {}

    def submit(
        self,
        trainee_id: str,
        *,
        session_id: str,
        course_id: str,
        course_rating: int,
        lecturer_ratings: Mapping[str, int],
        comment: str = "",
        now: float,
    ) -> FeedbackEntry:
        """Record (or replace) a trainee's feedback on a session."""
        course = _check_rating(course_rating, "the course")
        lecturers = {
            lecturer: _check_rating(r, f"lecturer {lecturer}")
            for lecturer, r in lecturer_ratings.items()
        }
        text = clean_user_text(
            comment,
            max_len=COMMENT_MAX_LEN,
            code_prefix="feedback.comment",
            allow_empty=True,
            what="comment",
        )
        entry = FeedbackEntry(trainee_id, session_id, course_id, course, lecturers, text, now)
        self._entries[(trainee_id, session_id)] = entry
        return entry

    def course_summary(self, course_id: str) -> RatingSummary:
        return summarize(
            e.course_rating for e in self._entries.values() if e.course_id == course_id
        )

    def lecturer_summary(self, lecturer_id: str) -> RatingSummary:
        return summarize(
            e.lecturer_ratings[lecturer_id]
            for e in self._entries.values()
            if lecturer_id in e.lecturer_ratings
        )

    def comments(self, course_id: str) -> list[str]:
        return [e.comment for e in self._entries.values() if e.course_id == course_id and e.comment]
