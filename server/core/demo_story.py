"""The demo's past sessions as they ran, so reports and charts are not empty on a fresh install.

Every session of :func:`server.core.demo.build_demo` that ended before ``today`` ran: it started
4 minutes late and ran 6 over; most of the trainees its batch plan expects came, some late, some
left early, some stayed away (缺勤). The latest one also has its story (:class:`DemoStory`):
questions with votes and a closed quiz with answers. Its rooms' agents came online before each
run and went off after it (:func:`demo_presence`), and in the latest run one room lost its
connection for a few minutes: the report's presence timeline shows it. Deterministic like the
rest of the demo: the same data, ``today`` and ``seed`` give equal runs.
``server.store.demo_story`` writes them.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass

from server.core.demo import DEFAULT_SEED, DemoData, DemoSession
from server.core.presence import PresenceState, Reason
from server.core.zone import CHINA_TZ


@dataclass(frozen=True, slots=True)
class DemoStay:
    staff_no: str
    start: dt.datetime
    end: dt.datetime


@dataclass(frozen=True, slots=True)
class DemoQuestion:
    staff_no: str
    text: str
    anonymous: bool
    votes: tuple[str, ...]  # staff numbers
    answered: bool
    at: dt.datetime


@dataclass(frozen=True, slots=True)
class DemoPoll:
    prompt: str
    options: tuple[str, ...]
    correct: int
    opened_at: dt.datetime
    closed_at: dt.datetime
    answers: tuple[tuple[str, int], ...]  # (staff number, option index)


@dataclass(frozen=True, slots=True)
class DemoStory:
    """The last session before ``today``, as it went: it started 4 minutes late and ran 6
    minutes over; most came, some late, some left early, some stayed away."""

    session_key: str
    started_at: dt.datetime
    ended_at: dt.datetime
    stays: tuple[DemoStay, ...]
    questions: tuple[DemoQuestion, ...]
    poll: DemoPoll


_QUESTIONS = (
    ("基层减负之后，考核指标怎样避免“层层加码”？", False),
    ("村级党组织换届后，新任书记的培训有什么好做法？", True),
    ("数字化改革中，怎样让老年群众也方便办事？", False),
    ("“周末知行学堂”的课程录像能否在各分课堂回放？", True),
)


@dataclass(frozen=True, slots=True)
class DemoRun:
    """A session before ``today`` as it ran: its real start and end and who was there."""

    session_key: str
    started_at: dt.datetime
    ended_at: dt.datetime
    stays: tuple[DemoStay, ...]


def _run(data: DemoData, session: DemoSession, rng: random.Random) -> DemoRun:
    """It started 4 minutes late and ran 6 over; most came, some late, some left early, some
    stayed away (缺勤)."""
    started = session.starts_at + dt.timedelta(minutes=4)
    ended = session.ends_at + dt.timedelta(minutes=6)
    stays: list[DemoStay] = []
    for t in data.expected(session):
        roll = rng.random()
        if roll < 0.1:
            continue  # stayed away: 缺勤
        arrive = started - dt.timedelta(minutes=rng.uniform(2, 15))
        leave = ended + dt.timedelta(minutes=rng.uniform(0, 4))
        if roll < 0.16:
            arrive = started + dt.timedelta(minutes=rng.uniform(12, 40))  # late
        elif roll < 0.2:
            leave = ended - dt.timedelta(minutes=rng.uniform(15, 50))  # left early
        stays.append(DemoStay(t.staff_no, arrive, leave))
    return DemoRun(session.key, started, ended, tuple(stays))


def _past(data: DemoData, today: dt.date) -> list[DemoSession]:
    day_start = dt.datetime.combine(today, dt.time(0, 0), CHINA_TZ)
    return sorted((s for s in data.sessions if s.ends_at <= day_start), key=lambda s: s.starts_at)


def demo_runs(data: DemoData, today: dt.date, seed: int = DEFAULT_SEED) -> tuple[DemoRun, ...]:
    """Every session that ended before ``today`` (China dates), as it ran, oldest first. The
    demo schedules no session in the past that never ran: an office records its runs."""
    past = _past(data, today)
    runs = [_run(data, s, random.Random(seed + 100 + i)) for i, s in enumerate(past[:-1])]
    story = demo_story(data, today, seed)
    if story is not None:
        runs.append(DemoRun(story.session_key, story.started_at, story.ended_at, story.stays))
    return tuple(runs)


def demo_story(data: DemoData, today: dt.date, seed: int = DEFAULT_SEED) -> DemoStory | None:
    """What happened in the latest session that ended before ``today`` (China dates)."""
    past = _past(data, today)
    if not past:
        return None
    session = past[-1]
    rng = random.Random(seed + 1)
    run = _run(data, session, rng)
    started, ended, stays = run.started_at, run.ended_at, run.stays
    present = [stay.staff_no for stay in stays]
    questions = tuple(
        DemoQuestion(
            staff_no=present[(i * 37) % len(present)],
            text=text,
            anonymous=anonymous,
            votes=tuple(rng.sample(present, k=min(len(present), 30 - 6 * i))),
            answered=i < 2,
            at=started + dt.timedelta(minutes=20 + 15 * i),
        )
        for i, (text, anonymous) in enumerate(_QUESTIONS)
    )
    opened = started + dt.timedelta(minutes=90)
    options = ("在岗在位，分批参训", "全员集中，一次培训", "只看录像自学")
    answers = tuple(
        (no, 0 if rng.random() < 0.8 else rng.choice((1, 2)))
        for no in present
        if rng.random() < 0.85
    )
    poll = DemoPoll(
        "“分批组织与错时参训相结合”的主要目的是什么？",
        options,
        0,
        opened,
        opened + dt.timedelta(minutes=3),
        answers,
    )
    return DemoStory(session.key, started, ended, stays, questions, poll)


@dataclass(frozen=True, slots=True)
class DemoPresence:
    """A change of a room's presence as its agent's connection reported it."""

    site_key: str
    state: PresenceState
    previous: PresenceState
    reason: Reason
    at: dt.datetime


#: In the latest run this room (a town's room, far down the list) lost its connection
#: 50 minutes in and was back 3.5 minutes later: the agent died and came back.
DROP_AFTER = dt.timedelta(minutes=50)
DROP_FOR = dt.timedelta(minutes=3, seconds=30)


def demo_presence(
    data: DemoData, runs: tuple[DemoRun, ...], seed: int = DEFAULT_SEED
) -> tuple[DemoPresence, ...]:
    """Each room of each run online 8-20 minutes before it started, off 2-10 minutes after it
    ended (a room in two runs of a day keeps one span from the first to the last), in order of
    time. The latest run's drop (:data:`DROP_AFTER`) splits its room's span."""
    sessions = {s.key: s for s in data.sessions}
    rng = random.Random(seed + 7)
    spans: dict[str, list[tuple[dt.datetime, dt.datetime, Reason]]] = {}
    for i, run in enumerate(runs):
        rooms = sessions[run.session_key].site_keys
        dropped = rooms[len(rooms) * 2 // 3] if i == len(runs) - 1 else None
        for key in rooms:
            on = run.started_at - dt.timedelta(minutes=rng.uniform(8, 20))
            off = run.ended_at + dt.timedelta(minutes=rng.uniform(2, 10))
            if key == dropped:
                lost = run.started_at + DROP_AFTER
                spans.setdefault(key, []).append((on, lost, Reason.CONNECTION_LOST))
                on = lost + DROP_FOR
            spans.setdefault(key, []).append((on, off, Reason.CLEAN_CLOSE))
    out: list[DemoPresence] = []
    online, offline = PresenceState.ONLINE, PresenceState.OFFLINE
    for key, parts in spans.items():
        merged: list[tuple[dt.datetime, dt.datetime, Reason]] = []
        for on, off, why in sorted(parts):
            if merged and on <= merged[-1][1]:
                last = merged[-1]
                merged[-1] = (last[0], off, why) if off > last[1] else last
            else:
                merged.append((on, off, why))
        for on, off, why in merged:
            out.append(DemoPresence(key, online, offline, Reason.CONNECTED, on))
            out.append(DemoPresence(key, offline, online, why, off))
    return tuple(sorted(out, key=lambda p: (p.at, p.site_key)))
