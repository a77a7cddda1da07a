"""Self-study courses (自学课程): crediting watched time, the 在吗？ presence check, credit.

A trainee's page plays the course video and sends a heartbeat every few seconds: where the
video is (``position``, media seconds), whether it is playing, whether the page is visible,
the playback rate, and the page's random device id. :func:`report` judges each heartbeat
against the one before it and credits the media stretch between them only when all hold:

* both heartbeats came from the device that holds the course (one device at a time: a second
  device's heartbeats are not counted while the first is still reporting, and the first is
  told on its next heartbeat);
* the page was visible and the video playing at normal speed (declared rate within
  ``1 ± rate_tolerance``) as of the earlier heartbeat: the page sends a heartbeat at once when
  it is hidden, paused or its speed changes, so what the earlier one said held until now;
* the wall time between them is at most ``max_gap_s`` (a gap is not credited);
* the video moved forward no faster than the wall clock allows (``advance <= wall × (1 +
  rate_tolerance) + slack_s``): a seek ahead or a fast-forward is a jump and is not credited;
  moving backwards (seeking back) is not credited either. Slower than real time (buffering)
  is fine: only the media actually passed is credited;
* the course window is open and no 在吗？ check is waiting for an answer.

Credited time is a set of media intervals (:mod:`server.core.ledger` interval arithmetic), so
watching the same minute twice counts once; the share watched is their length over the video's
duration.

The 在吗？ check, when the course has it switched on: after a random amount of credited
watching (uniform in ``[check_min_s, check_max_s]``, the draw passed in by the caller) the
next heartbeat opens a check that must be answered within ``check_answer_s``. Time credited
since the previous check (the *stretch*) is provisional: an answer in time makes it final, a
missed check discards it. Nothing is credited while a check is open.

Credit (:meth:`SelfStudyRules.credited_hours`): a share of at least ``full_credit_share`` (90 %)
earns the course's whole class-hour value and completes the course; below it the trainee earns
the share × the value, rounded DOWN to half class hours (the live ledger's step).

Pure: the caller passes ``now`` (epoch seconds) and the random draws.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

from server.core.errors import Conflict, InvalidInput, RateLimited
from server.core.ledger import Interval, total_length, union


@dataclass(frozen=True, slots=True)
class SelfStudyRules:
    """The office's rules for watched time. Defaults are what a training office expects."""

    full_credit_share: float = 0.9
    """Watched share that earns the whole class-hour value and completes the course."""
    steps_per_class_hour: int = 2
    """Partial credit is rounded down to 1/steps of a class hour (2 = half hours)."""
    rate_tolerance: float = 0.1
    """Playback rate accepted as normal speed: 1 ± this (0.9x..1.1x)."""
    slack_s: float = 2.0
    """Seconds of timing noise allowed between the page's clock and the server's."""
    max_gap_s: float = 30.0
    """Heartbeats further apart than this are a gap: the time between is not credited."""
    min_beat_s: float = 1.0
    """Heartbeats closer together than this from the same device are refused (rate limit)."""
    device_timeout_s: float = 30.0
    """A device silent this long lets another device take over the course."""

    def __post_init__(self) -> None:
        if not 0 < self.full_credit_share <= 1:
            raise InvalidInput("selfstudy.rules_invalid", "full_credit_share must be in (0, 1].")
        if self.steps_per_class_hour not in (1, 2, 4, 10):
            raise InvalidInput("selfstudy.rules_invalid", "steps_per_class_hour: 1, 2, 4 or 10.")
        if not (0 <= self.rate_tolerance < 1 and self.slack_s >= 0 and self.max_gap_s > 0):
            raise InvalidInput("selfstudy.rules_invalid", "Tolerances must be >= 0.")

    def credited_hours(self, share: float, class_hours: float) -> float:
        """Class hours earned for a watched share of a course worth ``class_hours``."""
        if share >= self.full_credit_share:
            return class_hours
        steps = math.floor(round(max(0.0, share) * class_hours * self.steps_per_class_hour, 6))
        return min(class_hours, steps / self.steps_per_class_hour)

    def completed(self, share: float) -> bool:
        return share >= self.full_credit_share


RULES = SelfStudyRules()


CHECK_MIN_S = 300.0
CHECK_MAX_S = 900.0
"""A course with presence checks asks 在吗？ at a random time this many seconds apart."""
CHECK_ANSWER_S = 60.0
"""... and waits this long for the answer."""


@dataclass(frozen=True, slots=True)
class CourseTerms:
    """What a heartbeat is judged against: the course's window, video and check settings."""

    duration_s: float
    opens_at: float
    closes_at: float
    presence_check: bool = False
    check_min_s: float = CHECK_MIN_S
    check_max_s: float = CHECK_MAX_S
    check_answer_s: float = CHECK_ANSWER_S

    def __post_init__(self) -> None:
        check_terms(
            self.duration_s,
            self.opens_at,
            self.closes_at,
            self.check_min_s,
            self.check_max_s,
            self.check_answer_s,
        )

    def is_open(self, now: float) -> bool:
        return self.opens_at <= now < self.closes_at


def check_terms(
    duration_s: float,
    opens_at: float,
    closes_at: float,
    check_min_s: float,
    check_max_s: float,
    check_answer_s: float,
) -> None:
    """Raise ``selfstudy.*`` errors for a course's terms that cannot work."""
    if not (math.isfinite(duration_s) and duration_s > 0):
        raise InvalidInput("selfstudy.duration_invalid", "The video must last more than 0 s.")
    if not opens_at < closes_at:
        raise InvalidInput(
            "selfstudy.window_invalid", "The course window must open before it closes."
        )
    if not 0 < check_min_s <= check_max_s:
        raise InvalidInput(
            "selfstudy.check_range_invalid",
            "The 在吗？ check range needs 0 < earliest <= latest (seconds of watching).",
        )
    if not 5 <= check_answer_s <= 600:
        raise InvalidInput(
            "selfstudy.check_answer_invalid", "Allow 5 to 600 seconds to answer a 在吗？ check."
        )


@dataclass(frozen=True, slots=True)
class Beat:
    """One heartbeat of the player, already validated by the web layer."""

    device: str
    position: float
    playing: bool
    visible: bool
    rate: float


@dataclass(frozen=True, slots=True)
class LastBeat:
    at: float
    position: float
    watching: bool
    """Visible, playing, at normal speed: the start of a stretch that may be credited."""


@dataclass(frozen=True, slots=True)
class OpenCheck:
    seq: int
    """1, 2, ... per trainee and course: the check's number (the store's key)."""
    issued_at: float
    deadline: float


@dataclass(frozen=True, slots=True)
class Progress:
    """A trainee's state in one course. Intervals are media seconds of the video."""

    committed: tuple[Interval, ...] = ()
    stretch: tuple[Interval, ...] = ()
    """Credited since the last check was resolved: discarded if the next check is missed."""
    position: float = 0.0
    """Where the player resumes."""
    device: str | None = None
    device_at: float = -math.inf
    rival_at: float = -math.inf
    """When another device was last refused (the holder is told)."""
    last: LastBeat | None = None
    check: OpenCheck | None = None
    checks_issued: int = 0
    checks_answered: int = 0
    checks_missed: int = 0
    next_check_after: float | None = None
    """Seconds credited in the stretch after which the next check opens."""

    @property
    def credited(self) -> tuple[Interval, ...]:
        return union(self.committed, self.stretch)

    @property
    def watched_s(self) -> float:
        return total_length(self.credited)

    def share(self, duration_s: float) -> float:
        return min(1.0, self.watched_s / duration_s) if duration_s > 0 else 0.0


@dataclass(frozen=True, slots=True)
class CheckEvent:
    """A check opened or resolved, for the store's record of checks."""

    seq: int
    kind: str  # issued | answered | missed
    at: float
    deadline: float
    discarded_s: float = 0.0
    """For ``missed``: the seconds of the stretch that were not credited."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the server answers a heartbeat with."""

    counted_s: float
    reason: str
    """counted | start | not_watching | wrong_speed | gap | jump | other_device | check_open |
    window_closed"""
    check: OpenCheck | None = None
    other_device: bool = False
    """True for the holder when another device tried to watch since its last heartbeat."""
    events: tuple[CheckEvent, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "counted_s": round(self.counted_s, 3),
            "reason": self.reason,
            "other_device": self.other_device,
            "check": None
            if self.check is None
            else {"seq": self.check.seq, "deadline": self.check.deadline},
        }


def _next_due(progress: Progress, terms: CourseTerms, draw: float) -> float | None:
    if not terms.presence_check:
        return None
    span = terms.check_max_s - terms.check_min_s
    return total_length(progress.stretch) + terms.check_min_s + span * min(max(draw, 0.0), 1.0)


def settle(
    progress: Progress, terms: CourseTerms, now: float, draw: float
) -> tuple[Progress, tuple[CheckEvent, ...]]:
    """Resolve a check whose deadline has passed: missed, its stretch is discarded."""
    check = progress.check
    if check is None or now <= check.deadline:
        return progress, ()
    lost = total_length(progress.stretch)
    settled = replace(
        progress, stretch=(), check=None, checks_missed=progress.checks_missed + 1, last=None
    )
    settled = replace(settled, next_check_after=_next_due(settled, terms, draw))
    return settled, (CheckEvent(check.seq, "missed", now, check.deadline, lost),)


def answer_check(
    progress: Progress, terms: CourseTerms, seq: int, now: float, draw: float
) -> tuple[Progress, tuple[CheckEvent, ...]]:
    """The trainee answered 在吗？ check ``seq``: its stretch becomes final.

    Raises ``selfstudy.check_missed`` (409) when the deadline has passed (the stretch is then
    discarded; the events say so) and ``selfstudy.no_open_check`` when no such check is open.
    """
    settled, events = settle(progress, terms, now, draw)
    if events and events[0].seq == seq:
        raise CheckMissed(settled, events)
    check = settled.check
    if check is None or check.seq != seq:
        raise Conflict("selfstudy.no_open_check", "There is no open 在吗？ check with that number.")
    answered = replace(
        settled,
        committed=union(settled.committed, settled.stretch),
        stretch=(),
        check=None,
        checks_answered=settled.checks_answered + 1,
        last=None,  # the player was paused under the overlay: the next beat starts afresh
    )
    answered = replace(answered, next_check_after=_next_due(answered, terms, draw))
    return answered, (*events, CheckEvent(seq, "answered", now, check.deadline))


class CheckMissed(Conflict):
    """An answer came after the deadline; carries the settled progress to store."""

    def __init__(self, progress: Progress, events: tuple[CheckEvent, ...]) -> None:
        super().__init__(
            "selfstudy.check_missed",
            "The 在吗？ check was answered too late: the time since the previous check is not"
            " credited. Keep watching to earn it again.",
        )
        self.progress = progress
        self.events = events


def report(
    progress: Progress,
    terms: CourseTerms,
    beat: Beat,
    now: float,
    *,
    draw: float,
    rules: SelfStudyRules = RULES,
) -> tuple[Progress, Outcome]:
    """Judge one heartbeat; return the new progress and the answer for the page."""
    if not (math.isfinite(beat.position) and 0 <= beat.position <= terms.duration_s + 5):
        raise InvalidInput("selfstudy.position_invalid", "The position must lie within the video.")
    progress, events = settle(progress, terms, now, draw)
    if progress.next_check_after is None and terms.presence_check:
        progress = replace(progress, next_check_after=_next_due(progress, terms, draw))
    holder_alive = now - progress.device_at <= rules.device_timeout_s
    if progress.device is not None and beat.device != progress.device and holder_alive:
        return replace(progress, rival_at=now), Outcome(0.0, "other_device", events=events)
    same_device = beat.device == progress.device
    last = progress.last if same_device else None
    if last is not None and now - last.at < rules.min_beat_s:
        raise RateLimited(
            "selfstudy.too_many_beats", "Heartbeats come too fast; send one every few seconds."
        )
    told = same_device and progress.rival_at > (last.at if last else progress.device_at)
    position = min(beat.position, terms.duration_s)
    normal_speed = abs(beat.rate - 1.0) <= rules.rate_tolerance
    watching = beat.playing and beat.visible and normal_speed
    reason, stretch = _judge(last, position, watching, normal_speed, terms, now, rules)
    if progress.check is not None:
        reason, stretch = "check_open", None
    elif not terms.is_open(now):
        reason, stretch = "window_closed", None
    counted = 0.0
    new_stretch = progress.stretch
    if stretch is not None:
        before = total_length(union(progress.committed, progress.stretch))
        if terms.presence_check:
            new_stretch = union(progress.stretch, (stretch,))
            after = total_length(union(progress.committed, new_stretch))
        else:
            after = total_length(union(progress.committed, (stretch,)))
        counted = after - before
    committed = progress.committed
    if stretch is not None and not terms.presence_check:
        committed = union(committed, (stretch,))
    updated = replace(
        progress,
        committed=committed,
        stretch=new_stretch,
        position=position,
        device=beat.device,
        device_at=now,
        last=LastBeat(now, position, watching and progress.check is None),
    )
    check = updated.check
    due = updated.next_check_after
    if check is None and due is not None and total_length(updated.stretch) >= due:
        seq = updated.checks_issued + 1
        check = OpenCheck(seq, now, now + terms.check_answer_s)
        updated = replace(updated, check=check, checks_issued=seq, next_check_after=None)
        events = (*events, CheckEvent(seq, "issued", now, check.deadline))
    return updated, Outcome(counted, reason, check, told, events)


def _judge(
    last: LastBeat | None,
    position: float,
    watching: bool,
    normal_speed: bool,
    terms: CourseTerms,
    now: float,
    rules: SelfStudyRules,
) -> tuple[str, Interval | None]:
    if last is None:
        return "start", None
    if not last.watching:  # what held since the last heartbeat is what that one said
        return ("not_watching" if normal_speed else "wrong_speed"), None
    wall = now - last.at
    if wall > rules.max_gap_s:
        return "gap", None
    advance = position - last.position
    if advance < 0 or advance > wall * (1 + rules.rate_tolerance) + rules.slack_s:
        return "jump", None
    if advance == 0:
        return "counted", None
    return "counted", Interval(last.position, position)


# --------------------------------------------------------------------------------------------
# What a course earns, and the year
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseCredit:
    watched_s: float
    share: float
    class_hours: float
    completed: bool


def course_credit(
    progress: Progress, duration_s: float, class_hours: float, rules: SelfStudyRules = RULES
) -> CourseCredit:
    """What a trainee's progress in a course is worth (committed and provisional time)."""
    share = progress.share(duration_s)
    return CourseCredit(
        watched_s=progress.watched_s,
        share=share,
        class_hours=rules.credited_hours(share, class_hours),
        completed=rules.completed(share),
    )


@dataclass(frozen=True, slots=True)
class YearHours:
    live_hours: float
    selfstudy_hours: float
    counted_hours: float
    """What counts toward the year's requirement."""
    required_hours: float
    met: bool
    percent: float


def year_hours(
    live_hours: float, selfstudy_hours: float, required_hours: float, *, count_selfstudy: bool
) -> YearHours:
    """The year's requirement from live and self-study hours (self-study counted if set)."""
    counted = live_hours + (selfstudy_hours if count_selfstudy else 0.0)
    percent = 100.0 if required_hours == 0 else min(100.0, round(counted / required_hours * 100, 1))
    return YearHours(
        live_hours=live_hours,
        selfstudy_hours=selfstudy_hours,
        counted_hours=counted,
        required_hours=required_hours,
        met=counted >= required_hours,
        percent=percent,
    )


# --------------------------------------------------------------------------------------------
# Uploaded files
# --------------------------------------------------------------------------------------------

VIDEO_FORMATS = ("webm", "mp4")


def sniff_video(head: bytes) -> str:
    """The container of a video file from its first bytes: ``webm`` or ``mp4``.

    WebM: the EBML magic ``1A 45 DF A3`` and the DocType ``webm`` in the header. MP4: an
    ``ftyp`` box at offset 4. Anything else raises ``selfstudy.bad_video_type``.
    """
    if head[:4] == b"\x1a\x45\xdf\xa3" and b"webm" in head[:64]:
        return "webm"
    if head[4:8] == b"ftyp":
        return "mp4"
    raise InvalidInput(
        "selfstudy.bad_video_type", "Upload a WebM or MP4 video; this file is neither."
    )


# --------------------------------------------------------------------------------------------
# Stored form (JSON-safe) of a progress
# --------------------------------------------------------------------------------------------


def intervals_to_json(intervals: tuple[Interval, ...]) -> list[list[float]]:
    return [[round(i.start, 3), round(i.end, 3)] for i in intervals]


def intervals_from_json(raw: Any) -> tuple[Interval, ...]:
    return union((float(a), float(b)) for a, b in (raw or []))


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def progress_to_json(progress: Progress) -> dict[str, Any]:
    """The whole state as JSON-safe values (the store keeps it in one column)."""
    last, check = progress.last, progress.check
    return {
        "committed": intervals_to_json(progress.committed),
        "stretch": intervals_to_json(progress.stretch),
        "position": progress.position,
        "device": progress.device,
        "device_at": _finite(progress.device_at),
        "rival_at": _finite(progress.rival_at),
        "last": None if last is None else [last.at, last.position, last.watching],
        "check": None if check is None else [check.seq, check.issued_at, check.deadline],
        "checks": [progress.checks_issued, progress.checks_answered, progress.checks_missed],
        "next_check_after": progress.next_check_after,
    }


def progress_from_json(raw: dict[str, Any] | None) -> Progress:
    if not raw:
        return Progress()
    last, check = raw.get("last"), raw.get("check")
    issued, answered, missed = raw.get("checks") or (0, 0, 0)
    device_at, rival_at = raw.get("device_at"), raw.get("rival_at")
    return Progress(
        committed=intervals_from_json(raw.get("committed")),
        stretch=intervals_from_json(raw.get("stretch")),
        position=float(raw.get("position") or 0.0),
        device=raw.get("device"),
        device_at=-math.inf if device_at is None else float(device_at),
        rival_at=-math.inf if rival_at is None else float(rival_at),
        last=None if last is None else LastBeat(float(last[0]), float(last[1]), bool(last[2])),
        check=None if check is None else OpenCheck(int(check[0]), float(check[1]), float(check[2])),
        checks_issued=int(issued),
        checks_answered=int(answered),
        checks_missed=int(missed),
        next_check_after=raw.get("next_check_after"),
    )
