"""Self-study courses: transactions and queries around :mod:`server.core.selfstudy`.

No aiohttp here: the HTTP layer (``http.py``) and other features (the ledger, completion and
reminders) call these functions with a database session. The core decides what a heartbeat
credits; this module loads the progress, stores what the core returned and the 在吗？ checks.

Functions other features use:

* :func:`credited_hours` — per trainee: self-study class hours (and courses completed) of a
  calendar year and/or a program;
* :func:`unwatched_due` — a trainee's open courses not completed yet (what is still due);
* :func:`trainee_courses` — the courses a trainee may watch, with progress and credit.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import selfstudy as rules
from server.core.errors import Forbidden, InvalidInput, NotFound
from server.core.selfstudy import Beat, CourseTerms, Progress
from server.core.trees import subtree
from server.store.media_models import Recording
from server.store.models import OrgUnit, Program, ProgramUnit, Trainee, utcnow
from server.store.selfstudy_models import SelfStudyCheck, SelfStudyCourse, SelfStudyProgress
from server.web.db import fields, rows_by

UPLOAD_DIR = "selfstudy"
"""Uploaded course videos live in ``<data_dir>/selfstudy`` (private: 0700 / 0600)."""


@dataclass(frozen=True, slots=True)
class CourseFields:
    """What the operator sets on a course (already validated by the HTTP layer)."""

    title: str
    unit_id: int
    class_hours: float
    opens_at: datetime
    closes_at: datetime
    presence_check: bool = False
    check_min_s: float = rules.CHECK_MIN_S
    check_max_s: float = rules.CHECK_MAX_S
    check_answer_s: float = rules.CHECK_ANSWER_S
    org_unit_ids: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class VideoSource:
    """The course's video: a finished recording, or an uploaded file already on disk."""

    recording_id: int | None
    file_name: str | None
    format: str
    bytes: int
    duration_s: float


def terms_of(course: SelfStudyCourse) -> CourseTerms:
    return CourseTerms(
        duration_s=course.duration_s,
        opens_at=course.opens_at.timestamp(),
        closes_at=course.closes_at.timestamp(),
        presence_check=course.presence_check,
        check_min_s=course.check_min_s,
        check_max_s=course.check_max_s,
        check_answer_s=course.check_answer_s,
    )


def video_path(course: SelfStudyCourse, data_path: Path, recording: Recording | None) -> Path:
    if course.file_name:
        return data_path / UPLOAD_DIR / course.file_name
    if recording is None:
        raise NotFound("selfstudy.file_missing", "The video of this course is gone.")
    return data_path / "recordings" / recording.file_name


async def recording_source(db: AsyncSession, recording_id: int) -> VideoSource:
    row = await db.get(Recording, recording_id)
    if row is None:
        raise NotFound("recording.not_found", f"There is no recording with id {recording_id}.")
    if row.status != "done" or row.duration_s <= 0:
        raise InvalidInput(
            "selfstudy.recording_not_ready",
            "Only a finished recording with video can become a self-study course.",
        )
    return VideoSource(row.id, None, row.format, int(row.bytes), float(row.duration_s))


async def _check_refs(db: AsyncSession, fields: CourseFields) -> None:
    if await db.get(ProgramUnit, fields.unit_id) is None:
        raise InvalidInput("selfstudy.unknown_unit", f"There is no unit with id {fields.unit_id}.")
    wanted = set(fields.org_unit_ids)
    if wanted:
        found = set((await db.scalars(select(OrgUnit.id).where(OrgUnit.id.in_(wanted)))).all())
        if wanted - found:
            raise InvalidInput(
                "selfstudy.unknown_org_unit", f"Org units {sorted(wanted - found)} do not exist."
            )


async def _check_fields(db: AsyncSession, fields: CourseFields, duration_s: float) -> None:
    """A course's terms by the core's rules, then its unit and audience by the database."""
    rules.check_terms(
        duration_s,
        fields.opens_at.timestamp(),
        fields.closes_at.timestamp(),
        fields.check_min_s,
        fields.check_max_s,
        fields.check_answer_s,
    )
    await _check_refs(db, fields)


async def create_course(
    db: AsyncSession, fields: CourseFields, source: VideoSource, created_by: str
) -> SelfStudyCourse:
    """Check the terms with the core's rules and the references, then add the course."""
    await _check_fields(db, fields, source.duration_s)
    # the fields and the source are named as the course's columns (update_course relies on it)
    columns = {**asdict(fields), **asdict(source), "org_unit_ids": sorted(set(fields.org_unit_ids))}
    course = SelfStudyCourse(**columns, created_by=created_by)
    db.add(course)
    await db.flush()
    return course


async def update_course(
    db: AsyncSession, course_id: int, changes: dict[str, Any]
) -> tuple[SelfStudyCourse, dict[str, Any]]:
    """Change a course's terms (title, hours, window, check settings, audience)."""
    course = await load_course(db, course_id)
    before = {k: _plain(getattr(course, k)) for k in changes}
    merged = {k: changes.get(k, getattr(course, k)) for k in CourseFields.__dataclass_fields__}
    merged["org_unit_ids"] = tuple(merged["org_unit_ids"])
    fields = CourseFields(**merged)
    await _check_fields(db, fields, course.duration_s)
    for key, value in changes.items():
        setattr(course, key, sorted(set(value)) if key == "org_unit_ids" else value)
    return course, before


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


async def load_course(db: AsyncSession, course_id: int) -> SelfStudyCourse:
    course = await db.get(SelfStudyCourse, course_id)
    if course is None:
        raise NotFound(
            "selfstudy.course_not_found", f"There is no self-study course with id {course_id}."
        )
    return course


async def _parents(db: AsyncSession) -> dict[int, int | None]:
    return {int(i): p for i, p in (await db.execute(select(OrgUnit.id, OrgUnit.parent_id))).all()}


def _audience(course: SelfStudyCourse, parents: dict[int, int | None]) -> set[int] | None:
    """The org units whose trainees may watch (a listed unit and those below it); None = all."""
    if not course.org_unit_ids:
        return None
    units: set[int] = set()
    for root in course.org_unit_ids:
        units |= subtree(int(root), parents)
    return units


def is_enrolled(course: SelfStudyCourse, trainee: Trainee, parents: dict[int, int | None]) -> bool:
    audience = _audience(course, parents)
    return trainee.active and (audience is None or trainee.org_unit_id in audience)


async def watchable(
    db: AsyncSession, course_id: int, trainee_id: int, now: datetime
) -> SelfStudyCourse:
    """The course, if this trainee may watch it now; else ``not_enrolled`` / ``not_open``."""
    course = await load_course(db, course_id)
    trainee = await db.get(Trainee, trainee_id)
    if trainee is None or not is_enrolled(course, trainee, await _parents(db)):
        raise Forbidden("selfstudy.not_enrolled", "This self-study course is not for your unit.")
    if not terms_of(course).is_open(now.timestamp()):
        raise Forbidden("selfstudy.not_open", "This course is outside its study window.")
    return course


async def _progress_row(
    db: AsyncSession, course_id: int, trainee_id: int, *, lock: bool
) -> SelfStudyProgress | None:
    query = select(SelfStudyProgress).where(
        SelfStudyProgress.course_id == course_id, SelfStudyProgress.trainee_id == trainee_id
    )
    if lock:
        query = query.with_for_update()
    return (await db.scalars(query)).one_or_none()


async def _watching(
    db: AsyncSession, course_id: int, trainee_id: int, now: datetime
) -> tuple[SelfStudyCourse, SelfStudyProgress | None, Progress]:
    """The course the trainee may watch now, their progress row locked for the change (None
    before the first heartbeat) and the progress it holds."""
    course = await watchable(db, course_id, trainee_id, now)
    row = await _progress_row(db, course_id, trainee_id, lock=True)
    return course, row, rules.progress_from_json(row.state if row else None)


async def _store(
    db: AsyncSession,
    course: SelfStudyCourse,
    trainee_id: int,
    row: SelfStudyProgress | None,
    progress: Progress,
    events: Iterable[rules.CheckEvent],
    now: datetime,
) -> None:
    if row is None:
        row = SelfStudyProgress(course_id=course.id, trainee_id=trainee_id, started_at=now)
        db.add(row)
    row.state = rules.progress_to_json(progress)
    row.position_s = progress.position
    row.watched_s = progress.watched_s
    row.updated_at = now
    for event in events:
        at = datetime.fromtimestamp(event.at, UTC)
        if event.kind == "issued":
            db.add(
                SelfStudyCheck(
                    course_id=course.id,
                    trainee_id=trainee_id,
                    seq=event.seq,
                    issued_at=at,
                    deadline=datetime.fromtimestamp(event.deadline, UTC),
                    result="open",
                )
            )
            continue
        check = (
            await db.scalars(
                select(SelfStudyCheck).where(
                    SelfStudyCheck.course_id == course.id,
                    SelfStudyCheck.trainee_id == trainee_id,
                    SelfStudyCheck.seq == event.seq,
                )
            )
        ).one_or_none()
        if check is not None:
            check.result = event.kind
            check.resolved_at = at
            check.discarded_s = event.discarded_s
    await db.flush()


def _view(course: SelfStudyCourse, progress: Progress) -> dict[str, Any]:
    credit = rules.course_credit(progress, course.duration_s, course.class_hours)
    check = progress.check
    return {
        "position_s": round(progress.position, 3),
        "watched_s": round(credit.watched_s, 1),
        "share": round(credit.share, 4),
        "credited_hours": credit.class_hours,
        "completed": credit.completed,
        "full_credit_share": rules.RULES.full_credit_share,
        "checks_answered": progress.checks_answered,
        "checks_missed": progress.checks_missed,
        "open_check": None if check is None else {"seq": check.seq, "deadline": check.deadline},
    }


async def heartbeat(
    db: AsyncSession, course_id: int, trainee_id: int, beat: Beat, now: datetime, draw: float
) -> dict[str, Any]:
    """Judge one heartbeat (the core's :func:`report`) and store the new progress."""
    course, row, before = await _watching(db, course_id, trainee_id, now)
    progress, outcome = rules.report(before, terms_of(course), beat, now.timestamp(), draw=draw)
    await _store(db, course, trainee_id, row, progress, outcome.events, now)
    answer = {**outcome.to_dict(), "progress": _view(course, progress)}
    if outcome.check is not None:  # the phone counts down on its own clock
        answer["check"]["remaining_s"] = round(outcome.check.deadline - now.timestamp(), 1)
    return answer


async def answer_check(
    db: AsyncSession, course_id: int, trainee_id: int, seq: int, now: datetime, draw: float
) -> dict[str, Any]:
    """The trainee answers 在吗？; a late answer stores the miss and then raises it."""
    course, row, before = await _watching(db, course_id, trainee_id, now)
    try:
        progress, events = rules.answer_check(before, terms_of(course), seq, now.timestamp(), draw)
    except rules.CheckMissed as missed:
        await _store(db, course, trainee_id, row, missed.progress, missed.events, now)
        raise
    await _store(db, course, trainee_id, row, progress, events, now)
    return {"answered": seq, "progress": _view(course, progress)}


async def course_view_of(db: AsyncSession, course: SelfStudyCourse) -> dict[str, Any]:
    """The course as the list shows it (with its unit's title and program)."""
    return course_view(course, await db.get(ProgramUnit, course.unit_id))


def course_view(course: SelfStudyCourse, unit: ProgramUnit | None) -> dict[str, Any]:
    return {
        "id": course.id,
        "title": course.title,
        "unit_id": course.unit_id,
        "unit_title": unit.title if unit else "",
        "program_id": unit.program_id if unit else None,
        "class_hours": course.class_hours,
        "opens_at": course.opens_at.isoformat(),
        "closes_at": course.closes_at.isoformat(),
        **fields(course, "presence_check", "check_min_s", "check_max_s", "check_answer_s"),
        "org_unit_ids": list(course.org_unit_ids or []),
        **fields(course, "recording_id", "format", "bytes", "duration_s"),
        "video": f"/api/v1/selfstudy/courses/{course.id}/video",
        "created_by": course.created_by,
        "created_at": course.created_at.isoformat(),
    }


async def list_courses(db: AsyncSession) -> list[dict[str, Any]]:
    rows = (
        await db.execute(
            select(SelfStudyCourse, ProgramUnit)
            .join(ProgramUnit, ProgramUnit.id == SelfStudyCourse.unit_id)
            .order_by(SelfStudyCourse.opens_at.desc(), SelfStudyCourse.id.desc())
            .limit(500)
        )
    ).all()
    return [course_view(c, u) for c, u in rows]


async def trainee_courses(
    db: AsyncSession, trainee_id: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """The courses a trainee may watch (open now, or closed with progress), with credit."""
    now = now or utcnow()
    trainee = await db.get(Trainee, trainee_id)
    if trainee is None:
        return []
    parents = await _parents(db)
    rows = (
        await db.execute(
            select(SelfStudyCourse, ProgramUnit, SelfStudyProgress)
            .join(ProgramUnit, ProgramUnit.id == SelfStudyCourse.unit_id)
            .outerjoin(
                SelfStudyProgress,
                (SelfStudyProgress.course_id == SelfStudyCourse.id)
                & (SelfStudyProgress.trainee_id == trainee_id),
            )
            .where(SelfStudyCourse.opens_at <= now)
            .order_by(SelfStudyCourse.closes_at, SelfStudyCourse.id)
            .limit(500)
        )
    ).all()
    items = []
    for course, unit, row in rows:
        is_open = course.closes_at > now
        if not is_enrolled(course, trainee, parents) or (not is_open and row is None):
            continue
        progress = rules.progress_from_json(row.state if row else None)
        items.append(
            {
                **course_view(course, unit),
                "open": is_open,
                "progress": _view(course, progress),
            }
        )
    return items


async def unwatched_due(
    db: AsyncSession, trainee_id: int, now: datetime | None = None
) -> list[dict[str, Any]]:
    """Courses open now that the trainee has not completed: id, title, closes_at, share."""
    return [
        {
            "course_id": c["id"],
            "title": c["title"],
            "closes_at": c["closes_at"],
            "class_hours": c["class_hours"],
            "share": c["progress"]["share"],
        }
        for c in await trainee_courses(db, trainee_id, now)
        if c["open"] and not c["progress"]["completed"]
    ]


@dataclass(frozen=True, slots=True)
class TraineeCredit:
    """A trainee's self-study credit over a set of courses."""

    class_hours: float
    watched_s: float
    courses_completed: int
    courses: int


def year_window(year: int, zone: tzinfo) -> tuple[datetime, datetime]:
    start = datetime(year, 1, 1, tzinfo=zone).astimezone(UTC)
    return start, datetime(year + 1, 1, 1, tzinfo=zone).astimezone(UTC)


async def credited_hours(
    db: AsyncSession,
    *,
    year: int | None = None,
    zone: tzinfo = UTC,
    program_id: int | None = None,
    trainee_ids: Sequence[int] | None = None,
) -> dict[int, TraineeCredit]:
    """Self-study credit per trainee (only trainees with progress appear).

    A course belongs to the year its window opens in (``zone``) and to its unit's program.
    """
    query = (
        select(SelfStudyProgress, SelfStudyCourse)
        .join(SelfStudyCourse, SelfStudyCourse.id == SelfStudyProgress.course_id)
        .join(ProgramUnit, ProgramUnit.id == SelfStudyCourse.unit_id)
    )
    if year is not None:
        start, end = year_window(year, zone)
        query = query.where(SelfStudyCourse.opens_at >= start, SelfStudyCourse.opens_at < end)
    if program_id is not None:
        query = query.where(ProgramUnit.program_id == program_id)
    if trainee_ids is not None:
        query = query.where(SelfStudyProgress.trainee_id.in_(list(trainee_ids)))
    totals: dict[int, TraineeCredit] = {}
    for row, course in (await db.execute(query)).all():
        credit = rules.course_credit(
            rules.progress_from_json(row.state), course.duration_s, course.class_hours
        )
        was = totals.get(row.trainee_id, TraineeCredit(0.0, 0.0, 0, 0))
        totals[row.trainee_id] = TraineeCredit(
            class_hours=was.class_hours + credit.class_hours,
            watched_s=was.watched_s + credit.watched_s,
            courses_completed=was.courses_completed + int(credit.completed),
            courses=was.courses + 1,
        )
    return totals


async def trainee_year(
    db: AsyncSession, trainee_id: int, year: int, zone: tzinfo
) -> list[dict[str, Any]]:
    """The transcript's self-study lines: each course of the year with the trainee's credit."""
    start, end = year_window(year, zone)
    rows = (
        await db.execute(
            select(SelfStudyCourse, SelfStudyProgress)
            .join(SelfStudyProgress, SelfStudyProgress.course_id == SelfStudyCourse.id)
            .where(SelfStudyProgress.trainee_id == trainee_id)
            .where(SelfStudyCourse.opens_at >= start, SelfStudyCourse.opens_at < end)
            .order_by(SelfStudyCourse.opens_at, SelfStudyCourse.id)
        )
    ).all()
    out = []
    for course, row in rows:
        credit = rules.course_credit(
            rules.progress_from_json(row.state), course.duration_s, course.class_hours
        )
        out.append(
            {
                "course_id": course.id,
                "title": course.title,
                "opens_at": course.opens_at.isoformat(),
                "class_hours_value": course.class_hours,
                "watched_minutes": round(credit.watched_s / 60, 2),
                "share": round(credit.share, 4),
                "class_hours": credit.class_hours,
                "completed": credit.completed,
            }
        )
    return out


async def completion(db: AsyncSession, course_id: int) -> dict[str, Any]:
    """Who of the course's audience watched how much: per trainee and per org unit."""
    course = await load_course(db, course_id)
    parents = await _parents(db)
    audience = _audience(course, parents)
    query = select(Trainee, OrgUnit.name).join(OrgUnit, OrgUnit.id == Trainee.org_unit_id)
    query = query.where(Trainee.active.is_(True))
    if audience is not None:
        query = query.where(Trainee.org_unit_id.in_(sorted(audience)))
    people = (await db.execute(query.order_by(OrgUnit.name, Trainee.staff_no))).all()
    progress = await rows_by(
        db, SelfStudyProgress, "trainee_id", SelfStudyProgress.course_id == course.id
    )
    trainees: list[dict[str, Any]] = []
    units: dict[int, dict[str, Any]] = {}
    for trainee, unit_name in people:
        row = progress.get(trainee.id)
        state = rules.progress_from_json(row.state if row else None)
        credit = rules.course_credit(state, course.duration_s, course.class_hours)
        trainees.append(
            {
                "trainee_id": trainee.id,
                "name": trainee.name,
                "staff_no": trainee.staff_no,
                "org_unit_id": trainee.org_unit_id,
                "org_unit": unit_name,
                "started": row is not None,
                "watched_minutes": round(credit.watched_s / 60, 2),
                "share": round(credit.share, 4),
                "class_hours": credit.class_hours,
                "completed": credit.completed,
                "checks_answered": state.checks_answered,
                "checks_missed": state.checks_missed,
                "last_seen": row.updated_at.isoformat() if row else None,
            }
        )
        unit = units.setdefault(
            trainee.org_unit_id,
            {
                "org_unit_id": trainee.org_unit_id,
                "org_unit": unit_name,
                "trainees": 0,
                "started": 0,
                "completed": 0,
                "class_hours": 0.0,
            },
        )
        unit["trainees"] += 1
        unit["started"] += int(row is not None)
        unit["completed"] += int(credit.completed)
        unit["class_hours"] += credit.class_hours
    for unit in units.values():
        unit["completed_share"] = round(unit["completed"] / unit["trainees"], 4)
    return {
        "course": await course_view_of(db, course),
        "units": sorted(units.values(), key=lambda u: u["org_unit"]),
        "trainees": trainees,
    }


async def program_of(db: AsyncSession, course: SelfStudyCourse) -> Program | None:
    unit = await db.get(ProgramUnit, course.unit_id)
    return None if unit is None else await db.get(Program, unit.program_id)


def upload_name(fmt: str, now: datetime) -> str:
    """A fresh file name for an uploaded video (no part of the client's name is used)."""
    import secrets

    return f"{now:%Y%m%d%H%M%S}-{secrets.token_hex(8)}.{fmt}"


def video_duration(path: Path) -> float:
    """Seconds of video in a WebM/MP4 file (PyAV; blocking: call in a thread).

    The container's duration when it has one, else (a MediaRecorder WebM has none) the end
    of the last video packet. Raises ``selfstudy.duration_invalid`` if neither can be read.
    """
    import av

    try:
        with av.open(str(path)) as container:
            if container.duration and container.duration > 0:
                return float(container.duration) / 1_000_000
            stream = next(iter(container.streams.video), None)
            if stream is None or stream.time_base is None:
                raise InvalidInput("selfstudy.duration_invalid", "The file has no video.")
            end = 0.0
            for packet in container.demux(stream):
                if packet.pts is not None:
                    end = max(end, float((packet.pts + (packet.duration or 0)) * stream.time_base))
            if end > 0 and math.isfinite(end):
                return end
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise InvalidInput(
            "selfstudy.duration_invalid", f"The video cannot be read: {exc}"[:200]
        ) from None
    raise InvalidInput("selfstudy.duration_invalid", "The video's duration cannot be read.")
