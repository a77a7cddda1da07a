"""Write the demo's past sessions as they ran (server/core/demo_story.demo_runs: real start and
end, attendance) and the last one as it went (demo_story) into the database: its real start
and end, attendance records, questions with votes (one answered on air, some
anonymous), a closed quiz with answers, and a short recording of a test pattern.

The recording is a real WebM (VP8, 320x180, 5 s of a moving colour bar pattern) made with
PyAV, the recorder's own library, so the console's replay and download have a file to use.
"""

from __future__ import annotations

import datetime as dt
import logging
from fractions import Fraction
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from server.core.checkin import AttendanceState
from server.core.demo_story import DemoPresence, DemoRun, DemoStory
from server.store.attendance_models import AttendanceRecordRow, RecordKind
from server.store.live_models import PresenceEvent
from server.store.media_models import Recording
from server.store.models import ClassSession, SessionStatus
from server.store.qa_models import PollAnswerRow, PollRow, QaEvent, QuestionRow, QuestionVote

log = logging.getLogger(__name__)

RECORDING_SECONDS = 5
RECORDING_FPS = 15
TRAINEE = {"source": "trainee"}  # a stay the trainee checked in for with the code


def write_test_pattern(
    path: Path,
    seconds: int = RECORDING_SECONDS,
    size: tuple[int, int] = (320, 180),
    fps: int = RECORDING_FPS,
    step: int = 4,
) -> int:
    """A small VP8 WebM of colour bars moving ``step`` pixels a frame; returns the number of
    frames written. (The self-study tests write theirs with it too, smaller.)"""
    import av  # the media stack; only needed when the demo has a recordings directory

    path.parent.mkdir(parents=True, exist_ok=True)
    width, height = size
    bars = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0)]
    line = b"".join(bytes(bars[x * len(bars) // width]) for x in range(width))
    frames = seconds * fps
    with av.open(str(path), "w", format="webm") as container:
        stream: Any = container.add_stream("libvpx", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.codec_context.time_base = Fraction(1, fps)
        for i in range(frames):
            shift = (i * step % width) * 3
            moved = line[shift:] + line[:shift]
            frame = av.VideoFrame(width, height, "rgb24")
            plane = frame.planes[0]
            pad = b"\0" * (plane.line_size - len(moved))
            plane.update((moved + pad) * height)
            frame.pts = i
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return frames


def write_run(
    db: AsyncSession,
    run: DemoRun | DemoStory,
    session: ClassSession,
    trainee_ids: dict[str, int],
    home_sites: dict[str, int],
) -> None:
    """``session`` (already flushed, so it has an id) ended as it ran: its real start and end
    and one closed attendance record for each trainee who came."""
    session.status = SessionStatus.ENDED
    session.started_at, session.ended_at = run.started_at, run.ended_at
    for stay in run.stays:
        db.add(
            AttendanceRecordRow(
                trainee_id=trainee_ids[stay.staff_no],
                session_id=session.id,
                site_id=home_sites[stay.staff_no],
                kind=RecordKind.REGULAR,
                state=AttendanceState.CLOSED.value,
                first_in=stay.start,
                last_out=stay.end,
                stays=[
                    {
                        "start": stay.start.timestamp(),
                        "end": stay.end.timestamp(),
                        "source": "trainee",
                    }
                ],
                manual=[],
                manual_reason="",
                manual_by="",
                closed=True,
                created_at=stay.start,
                updated_at=stay.end,
            )
        )


def write_presence(
    db: AsyncSession, changes: tuple[DemoPresence, ...], site_ids: dict[str, int]
) -> None:
    """The rooms' presence changes, as the server stores what agents report."""
    for change in changes:
        db.add(
            PresenceEvent(
                site_id=site_ids[change.site_key],
                state=change.state.value,
                previous=change.previous.value,
                reason=change.reason.value,
                at=change.at,
            )
        )


async def write_story(
    db: AsyncSession,
    story: DemoStory,
    session: ClassSession,
    trainee_ids: dict[str, int],
    home_sites: dict[str, int],
    recordings_dir: Path | None,
) -> None:
    """Add the story of ``session``: its run, questions, quiz and recording."""
    write_run(db, story, session, trainee_ids, home_sites)
    for q in story.questions:
        row = QuestionRow(
            session_id=session.id,
            site_id=home_sites[q.staff_no],
            asker_trainee_id=trainee_ids[q.staff_no],
            submitter=f"trainee:{trainee_ids[q.staff_no]}",
            client_id=None,
            addressed_to=None,
            anonymous=q.anonymous,
            text=q.text,
            original_text=q.text,
            state="answered" if q.answered else "approved",
            flags=[],
            pinned=False,
            vote_count=len(q.votes),
            also_asked_by=[],
            created_at=q.at,
            updated_at=q.at,
        )
        db.add(row)
        await db.flush()
        actor = "anonymous" if q.anonymous else f"trainee:{trainee_ids[q.staff_no]}"
        db.add(
            QaEvent(
                session_id=session.id,
                question_id=row.id,
                kind="question_submitted",
                actor=actor,
                at=q.at,
                data={"text": q.text, "site_id": row.site_id, "flags": [], "state": row.state},
            )
        )
        for voter in q.votes:
            db.add(QuestionVote(question_id=row.id, trainee_id=trainee_ids[voter], created_at=q.at))
    poll = story.poll
    poll_row = PollRow(
        session_id=session.id,
        prompt=poll.prompt,
        options=list(poll.options),
        mode="single",
        correct=[poll.correct],
        state="closed",
        time_limit=180.0,
        opened_at=poll.opened_at,
        deadline=poll.closed_at,
        closed_at=poll.closed_at,
        created_by="user:operator",
        created_at=poll.opened_at - dt.timedelta(minutes=5),
    )
    db.add(poll_row)
    await db.flush()
    for staff_no, choice in poll.answers:
        db.add(
            PollAnswerRow(
                poll_id=poll_row.id,
                trainee_id=trainee_ids[staff_no],
                session_id=session.id,
                site_id=home_sites[staff_no],
                choices=[choice],
                score=int(choice == poll.correct),
                at=poll.opened_at + dt.timedelta(seconds=30),
            )
        )
    if recordings_dir is not None:
        name = f"demo-session-{session.id}.webm"
        path = recordings_dir / name
        try:
            frames = write_test_pattern(path)
        except Exception:  # no encoder on this host: the demo goes on without the file
            log.warning("demo recording not written", exc_info=True)
            return
        db.add(
            Recording(
                session_id=session.id,
                file_name=name,
                format="webm",
                status="done",
                source="main",
                started_at=story.started_at,
                ended_at=story.started_at + dt.timedelta(seconds=RECORDING_SECONDS),
                bytes=path.stat().st_size,
                duration_s=float(RECORDING_SECONDS),
                video_frames=frames,
                switches=[],
                started_by="user:operator",
            )
        )
