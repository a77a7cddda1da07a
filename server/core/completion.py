"""Completing a program (结业): what it needs, who met it and why not, and the honour list.

Decisions:

* A program states its requirements (:class:`Requirements`): class hours (live, plus
  self-study when the program counts it), the share of its sessions attended, a quiz pass mark
  (percent of the program's quiz questions answered right; a program without quiz questions
  has nothing to pass), an accepted write-up (学用成果), and the leave limit (a trainee over
  the program's leave limit does not complete: the regulations dismiss them). Every
  requirement is optional; a program with none is completed by everyone listed in it.
* :func:`evaluate` answers completed or not AND every requirement missed with what was needed
  and what the trainee has, so the office can tell a trainee exactly what is left.
* The honour list (学习标兵) is ranked here too, ONE home: most class hours, then quiz score,
  then staff number; with a program's requirements only trainees who completed are eligible.
* A certificate shows the trainee's name masked on the public verification page
  (:func:`mask_name`): the first character kept (and the last of a name of 3+ characters).
* Staff may revoke a certificate (撤销), with a reason (:func:`check_revoke_reason`); a revoked
  certificate is not valid: the public check says so and its PDF is not given out
  (:func:`check_not_revoked`). Revoking is once: a revoked certificate stays revoked.

Pure: no I/O.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from fractions import Fraction

from server.core.errors import Conflict, InvalidInput

VERIFY_CODE_RE = re.compile(r"[A-Z2-7]{16}")
"""Certificate verification codes: 16 base32 characters (80 random bits)."""


class Missing(StrEnum):
    HOURS = "hours"
    ATTENDANCE = "attendance"
    QUIZ = "quiz"
    WRITEUP = "writeup"
    LEAVE = "leave"
    REQUIREMENTS = "requirements"
    """The program has no requirements set: nobody can complete it yet."""


@dataclass(frozen=True, slots=True)
class Requirements:
    """What completing a program needs. ``None`` / ``False``: not required."""

    min_hours: float | None = None
    count_self_study: bool = False
    """Self-study hours count toward ``min_hours``."""
    min_attendance_share: float | None = None
    """Share (0..1] of the trainee's expected sessions attended (leave excuses an absence,
    it is not attendance)."""
    quiz_pass_mark: float | None = None
    """Percent (0..100] of the program's quiz questions answered right."""
    writeup_required: bool = False
    leave_limit: Fraction = Fraction(1, 7)

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.min_hours is not None and not (
            math.isfinite(self.min_hours) and self.min_hours >= 0
        ):
            problems.append("min_hours must be >= 0")
        share = self.min_attendance_share
        if share is not None and not 0 < share <= 1:
            problems.append("min_attendance_share must be in (0, 1]")
        mark = self.quiz_pass_mark
        if mark is not None and not 0 < mark <= 100:
            problems.append("quiz_pass_mark must be in (0, 100]")
        if not 0 < self.leave_limit <= 1:
            problems.append("leave_limit must be in (0, 1]")
        if problems:
            raise InvalidInput(
                "completion.rules_invalid",
                "Fix the completion requirements: " + "; ".join(problems),
            )

    @property
    def is_set(self) -> bool:
        """At least one requirement is stated (hours, attendance, quiz mark or write-up)."""
        return (
            self.min_hours is not None
            or self.min_attendance_share is not None
            or self.quiz_pass_mark is not None
            or self.writeup_required
        )


@dataclass(frozen=True, slots=True)
class TraineeFacts:
    """What the store knows of one trainee in one program."""

    trainee_id: str
    live_hours: float = 0.0
    self_study_hours: float = 0.0
    sessions_expected: int = 0
    sessions_attended: int = 0
    quiz_questions: int = 0
    quiz_correct: int = 0
    writeup_accepted: bool = False
    leave_over_limit: bool = False

    @property
    def attendance_share(self) -> float:
        if self.sessions_expected <= 0:
            return 1.0
        return self.sessions_attended / self.sessions_expected

    @property
    def quiz_percent(self) -> float | None:
        if self.quiz_questions <= 0:
            return None
        return round(self.quiz_correct / self.quiz_questions * 100, 1)

    def hours(self, requirements: Requirements) -> float:
        extra = self.self_study_hours if requirements.count_self_study else 0.0
        return self.live_hours + extra


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One requirement missed: what was needed and what the trainee has."""

    what: Missing
    needed: float
    has: float


@dataclass(frozen=True, slots=True)
class Completion:
    trainee_id: str
    completed: bool
    hours: float
    """Hours that count toward the program (live, plus self-study when it counts)."""
    missing: tuple[Shortfall, ...]


def evaluate(requirements: Requirements, facts: TraineeFacts) -> Completion:
    """Whether a trainee completed a program, and every requirement they missed. Without
    any requirement set nobody completes: the one shortfall is ``Missing.REQUIREMENTS``."""
    missing: list[Shortfall] = []
    hours = facts.hours(requirements)
    if not requirements.is_set:
        missing.append(Shortfall(Missing.REQUIREMENTS, 1, 0))
    if requirements.min_hours is not None and hours + 1e-9 < requirements.min_hours:
        missing.append(Shortfall(Missing.HOURS, requirements.min_hours, hours))
    share = requirements.min_attendance_share
    if share is not None and facts.attendance_share + 1e-9 < share:
        missing.append(Shortfall(Missing.ATTENDANCE, share, round(facts.attendance_share, 4)))
    mark = requirements.quiz_pass_mark
    percent = facts.quiz_percent
    if mark is not None and percent is not None and percent + 1e-9 < mark:
        missing.append(Shortfall(Missing.QUIZ, mark, percent))
    if requirements.writeup_required and not facts.writeup_accepted:
        missing.append(Shortfall(Missing.WRITEUP, 1, 0))
    if facts.leave_over_limit:
        missing.append(Shortfall(Missing.LEAVE, float(requirements.leave_limit), 1))
    return Completion(facts.trainee_id, not missing, hours, tuple(missing))


def evaluate_all(
    requirements: Requirements, facts: Iterable[TraineeFacts]
) -> tuple[Completion, ...]:
    return tuple(evaluate(requirements, f) for f in facts)


# --------------------------------------------------------------------------------------------
# The honour list (学习标兵)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HonourCandidate:
    trainee_id: str
    staff_number: str
    class_hours: float
    quiz_score: float = 0.0
    completed: bool = True
    """Met the program's requirements (always True for the yearly list without a program)."""


@dataclass(frozen=True, slots=True)
class HonourEntry:
    rank: int
    candidate: HonourCandidate


def honour_list(
    candidates: Iterable[HonourCandidate], top_n: int, *, min_class_hours: float = 0.0
) -> tuple[HonourEntry, ...]:
    """The honour list (学习标兵): the top ``top_n`` candidates who completed.

    Order: class hours desc, quiz score desc, staff number asc (as strings), trainee id asc.
    Candidates equal on class hours and quiz score share a rank, and the next rank skips as
    many places (1, 1, 1, 4 ...): staff number and id only fix the order they are listed in.
    The list is cut after ``top_n`` entries, except that everyone tied with the last entry
    stays on it (并列: a top ten may list eleven; nobody equal in merit is left out by staff
    number). Candidates below ``min_class_hours`` or who did not complete are left out.
    """
    if top_n < 0:
        raise InvalidInput("ledger.top_n_invalid", "The honour list size must be >= 0.")
    pool = list(candidates)
    ids = [c.trainee_id for c in pool]
    if len(set(ids)) != len(ids):
        raise InvalidInput(
            "ledger.duplicate_candidate", "Each trainee may appear once on the honour list."
        )
    eligible = [c for c in pool if c.completed and c.class_hours >= min_class_hours]
    eligible.sort(key=lambda c: (-c.class_hours, -c.quiz_score, c.staff_number, c.trainee_id))
    out: list[HonourEntry] = []
    for place, c in enumerate(eligible, start=1):
        prev = out[-1] if out else None
        tied = prev is not None and _merit(prev.candidate) == _merit(c)
        if place > top_n and not tied:
            break
        out.append(HonourEntry(rank=prev.rank if tied and prev else place, candidate=c))
    return tuple(out)


def _merit(c: HonourCandidate) -> tuple[float, float]:
    """What the honour list ranks on (to the hundredth: hours are sums of floats)."""
    return round(c.class_hours, 2), round(c.quiz_score, 2)


def program_honour_candidates(
    completions: Iterable[Completion], staff_numbers: dict[str, str], quiz: dict[str, float]
) -> list[HonourCandidate]:
    """Honour candidates of a program from its completion results (hours that count)."""
    return [
        HonourCandidate(
            c.trainee_id,
            staff_numbers.get(c.trainee_id, ""),
            c.hours,
            quiz.get(c.trainee_id, 0.0),
            c.completed,
        )
        for c in completions
    ]


# --------------------------------------------------------------------------------------------
# Certificates
# --------------------------------------------------------------------------------------------


def check_can_issue(requirements: Requirements) -> None:
    """Certificates need the program's requirements set: ``completion.rules_unset``."""
    if not requirements.is_set:
        raise Conflict(
            "completion.rules_unset",
            "Set the program's completion requirements first: without them nobody has "
            "completed it and no certificate can be issued.",
        )


def mask_name(name: str) -> str:
    """A name as the public page shows it: 张三 → 张*, 欧阳娜娜 → 欧**娜, Li Wei → L*****."""
    text = name.strip()
    if len(text) <= 1:
        return "*" if text else ""
    if len(text) == 2 or " " in text:
        return text[0] + "*" * (len(text) - 1)
    return text[0] + "*" * (len(text) - 2) + text[-1]


def check_verify_code(code: str) -> str:
    """A verification code as typed (case and spaces forgiven); ``certificate.code_invalid``."""
    clean = code.replace(" ", "").replace("-", "").upper()
    if not VERIFY_CODE_RE.fullmatch(clean):
        raise InvalidInput(
            "certificate.code_invalid", "A verification code is 16 letters and digits."
        )
    return clean


REVOKE_REASON_MAX = 500


def check_revoke_reason(reason: str) -> str:
    """Why a certificate is revoked, trimmed: 2..500 characters (``certificate.reason_invalid``)."""
    text = reason.strip()
    if not 2 <= len(text) <= REVOKE_REASON_MAX:
        raise InvalidInput(
            "certificate.reason_invalid",
            f"Say why the certificate is revoked (2 to {REVOKE_REASON_MAX} characters).",
        )
    return text


def check_not_revoked(revoked: bool) -> None:
    """A revoked certificate is not handed out again nor revoked twice: ``certificate.revoked``."""
    if revoked:
        raise Conflict(
            "certificate.revoked", "This certificate has been revoked; it is no longer valid."
        )
