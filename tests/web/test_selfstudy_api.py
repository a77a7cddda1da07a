"""Self-study courses over HTTP: create from an upload or a recording, stream with Range,
heartbeats credited, enrolment and window enforced, completion as JSON and XLSX."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import pytest
from aiohttp import FormData
from openpyxl import load_workbook

from server.config import Config
from server.store import db as store_db
from server.store.media_models import Recording
from server.store.models import OrgUnit, Trainee, utcnow
from server.web.selfstudy import http as selfstudy_http
from tests.conftest import ClientFactory, World
from tests.selfstudy_video import write_webm
from tests.web.http_helpers import expect_error, expect_ok


@pytest.fixture
def config(config: Config) -> Config:
    """The shared test configuration (tests/conftest.py) with uploads of at most 1 MiB."""
    return replace(config, selfstudy_max_upload_mib=1)


@pytest.fixture(scope="module")
def video(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    return write_webm(tmp_path_factory.mktemp("video") / "course.webm", 20).read_bytes()


def _terms(world: World, **extra: Any) -> dict[str, Any]:
    now = utcnow()
    return {
        "title": "案例课：基层治理",
        "unit_id": world.ids["units"],
        "class_hours": 2,
        "opens_at": (now - timedelta(days=1)).isoformat(),
        "closes_at": (now + timedelta(days=30)).isoformat(),
        **extra,
    }


def _form(meta: dict[str, Any], data: bytes, name: str = "course.webm") -> FormData:
    form = FormData()
    form.add_field("meta", json.dumps(meta), content_type="application/json")
    form.add_field("file", data, filename=name, content_type="application/octet-stream")
    return form


async def _upload(operator: Any, world: World, video: bytes, **extra: Any) -> dict[str, Any]:
    form = _form(_terms(world, **extra), video)
    url = "/api/v1/selfstudy/courses/upload"
    created: dict[str, Any] = await expect_ok(await operator.post(url, data=form), 201)
    return created


async def test_an_uploaded_webm_becomes_a_course_with_its_duration(
    client_as: ClientFactory, world: World, video: bytes, config: Config
) -> None:
    operator = await client_as("operator")
    course = await _upload(operator, world, video)
    assert course["format"] == "webm" and course["duration_s"] == pytest.approx(20, abs=0.5)
    assert course["bytes"] == len(video)
    stored = list((config.data_path / "selfstudy").iterdir())
    assert len(stored) == 1 and stored[0].stat().st_mode & 0o777 == 0o600
    listed = await expect_ok(await operator.get("/api/v1/selfstudy/courses"))
    assert listed["items"] == [course]  # the answer names its unit and program as the list does
    assert course["unit_title"] and course["program_id"] == world.ids["programs"]


async def test_uploads_that_are_not_video_too_large_or_malformed_are_refused(
    client_as: ClientFactory, world: World, video: bytes, config: Config
) -> None:
    operator = await client_as("operator")
    url = "/api/v1/selfstudy/courses/upload"
    gif = _form(_terms(world), b"GIF89a" + b"\0" * 100, "x.webm")
    await expect_error(await operator.post(url, data=gif), 400, "selfstudy.bad_video_type")
    big = video[:64] + b"\0" * (1024 * 1024 + 10)
    await expect_error(
        await operator.post(url, data=_form(_terms(world), big)), 400, "selfstudy.upload_too_large"
    )
    bad_window = _terms(world, closes_at=_terms(world)["opens_at"])
    await expect_error(
        await operator.post(url, data=_form(bad_window, video)), 400, "selfstudy.window_invalid"
    )
    await expect_error(
        await operator.post(url, json=_terms(world)), 400, "selfstudy.source_required"
    )
    assert list((config.data_path / "selfstudy").iterdir()) == []  # nothing left behind


async def test_the_video_streams_with_range_requests(
    client_as: ClientFactory, world: World, video: bytes
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    course = await _upload(operator, world, video)
    url = course["video"]
    whole = await trainee.get(url)
    assert whole.status == 200 and await whole.read() == video
    assert whole.headers["Accept-Ranges"] == "bytes" and whole.content_type == "video/webm"
    part = await trainee.get(url, headers={"Range": "bytes=10-109"})
    assert part.status == 206 and await part.read() == video[10:110]
    assert part.headers["Content-Range"] == f"bytes 10-109/{len(video)}"
    tail = await trainee.get(url, headers={"Range": "bytes=-50"})
    assert tail.status == 206 and await tail.read() == video[-50:]
    stale = await trainee.get(url, headers={"Range": "bytes=0-9", "If-Range": '"stale-etag"'})
    assert stale.status == 200 and await stale.read() == video  # changed file: send it whole
    fresh = await trainee.get(
        url, headers={"Range": "bytes=0-9", "If-Range": whole.headers["ETag"]}
    )
    assert fresh.status == 206 and await fresh.read() == video[:10]
    beyond = await trainee.get(url, headers={"Range": f"bytes={len(video) + 5}-"})
    assert beyond.status == 416 and beyond.headers["Content-Range"] == f"bytes */{len(video)}"


async def test_only_enrolled_trainees_inside_the_window_may_watch(
    client_as: ClientFactory, world: World, video: bytes, config: Config
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        other = OrgUnit(name="江北区", code="JB")
        db.add(other)
        await db.flush()
        other_id = other.id
    await engine.dispose()
    elsewhere = await _upload(operator, world, video, org_unit_ids=[other_id])
    await expect_error(await trainee.get(elsewhere["video"]), 403, "selfstudy.not_enrolled")
    now = utcnow()
    later = await _upload(
        operator, world, video,
        opens_at=(now + timedelta(days=1)).isoformat(),
        closes_at=(now + timedelta(days=2)).isoformat(),
    )  # fmt: skip
    await expect_error(await trainee.get(later["video"]), 403, "selfstudy.not_open")
    mine = await _upload(operator, world, video, org_unit_ids=[world.org_unit_id])
    listed = await expect_ok(await trainee.get("/api/v1/trainee/selfstudy"))
    assert [c["id"] for c in listed["items"]] == [mine["id"]]
    assert listed["items"][0]["progress"]["watched_s"] == 0


class _Clock:
    """The heartbeat handler's clock, moved on by the test: the 1 s rate limit and the credited
    seconds do not depend on how fast a loaded machine answers."""

    def __init__(self) -> None:
        self.at = utcnow()

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


async def test_heartbeats_credit_watching_and_a_second_device_is_not_counted(
    client_as: ClientFactory, world: World, video: bytes, monkeypatch: pytest.MonkeyPatch
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    course = await _upload(operator, world, video)
    clock = _Clock()
    monkeypatch.setattr(selfstudy_http, "utcnow", clock)
    url = f"/api/v1/selfstudy/courses/{course['id']}/progress"
    beat = {"device": "phone-aaaa", "playing": True, "visible": True, "rate": 1.0}
    first = await expect_ok(await trainee.post(url, json={**beat, "position": 0}))
    assert first["reason"] == "start"
    await expect_error(
        await trainee.post(url, json={**beat, "position": 0.1}), 429, "selfstudy.too_many_beats"
    )
    clock.advance(2.0)
    second = await expect_ok(await trainee.post(url, json={**beat, "position": 2.0}))
    assert second["reason"] == "counted" and second["counted_s"] == pytest.approx(2.0)
    clock.advance(0.1)  # a laptop opens the same course a moment later
    rival = await expect_ok(
        await trainee.post(url, json={**beat, "device": "laptop-bbbb", "position": 0})
    )
    assert rival["reason"] == "other_device" and rival["counted_s"] == 0
    clock.advance(1.0)
    third = await expect_ok(await trainee.post(url, json={**beat, "position": 3.0}))
    assert third["other_device"] is True
    await expect_error(
        await trainee.post(url, json={**beat, "position": 1, "rate": "fast"}),
        400,
        "message.invalid",
    )
    listed = await expect_ok(await trainee.get("/api/v1/trainee/selfstudy"))
    progress = listed["items"][0]["progress"]
    assert progress["position_s"] == 3.0 and progress["watched_s"] == pytest.approx(3.0)
    no_check = f"/api/v1/selfstudy/courses/{course['id']}/answer"
    await expect_error(
        await trainee.post(no_check, json={"seq": 1}), 409, "selfstudy.no_open_check"
    )

    report = await expect_ok(
        await operator.get(f"/api/v1/selfstudy/courses/{course['id']}/completion")
    )
    (me,) = [t for t in report["trainees"] if t["trainee_id"] == world.trainee_id]
    assert me["started"] and me["watched_minutes"] == pytest.approx(0.05) and not me["completed"]
    assert report["units"][0]["trainees"] >= 1 and report["units"][0]["started"] == 1
    xlsx = await operator.get(f"/api/v1/selfstudy/courses/{course['id']}/completion/export")
    assert xlsx.status == 200
    book = load_workbook(io.BytesIO(await xlsx.read()))
    people = book.worksheets[1]
    header = [c.value for c in people[1]]
    row = next(r for r in people.iter_rows(min_row=2, values_only=True) if r[2] == "张伟")
    assert isinstance(row[header.index("观看分钟")], float)
    assert row[header.index("已完成")] == "否"


async def test_a_finished_recording_becomes_a_course_and_an_unfinished_one_does_not(
    client_as: ClientFactory, world: World, video: bytes, config: Config
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    folder = config.data_path / "recordings"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "s1.webm").write_bytes(video)
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        done = Recording(session_id=world.session_id, file_name="s1.webm", format="webm",
                         status="done", source="main", bytes=len(video), duration_s=20.0,
                         video_frames=100, started_by="operator")  # fmt: skip
        running = Recording(session_id=world.session_id, file_name="s2.webm", format="webm",
                            status="recording", source="main", started_by="operator")  # fmt: skip
        db.add_all([done, running])
        await db.flush()
        ids = done.id, running.id
        trainee_row = await db.get(Trainee, world.trainee_id)
        assert trainee_row is not None
    await engine.dispose()
    url = "/api/v1/selfstudy/courses"
    course = await expect_ok(
        await operator.post(url, json={**_terms(world), "recording_id": ids[0]}), 201
    )
    assert course["recording_id"] == ids[0] and course["duration_s"] == 20.0
    streamed = await trainee.get(course["video"], headers={"Range": "bytes=0-3"})
    assert streamed.status == 206 and await streamed.read() == video[:4]
    await expect_error(
        await operator.post(url, json={**_terms(world), "recording_id": ids[1]}),
        400,
        "selfstudy.recording_not_ready",
    )
    changed = await expect_ok(
        await operator.patch(
            f"{url}/{course['id']}", json={"presence_check": True, "class_hours": 1.5}
        )
    )
    assert changed["presence_check"] is True and changed["class_hours"] == 1.5
    await expect_error(
        await trainee.post(url, json={**_terms(world), "recording_id": ids[0]}),
        403,
        "auth.forbidden",
    )


async def _watch(
    trainee: Any, url: str, clock: _Clock, start: float, seconds: int
) -> dict[str, Any]:
    """One heartbeat a second, the position following the clock; the last answer."""
    beat = {"device": "phone-aaaa", "playing": True, "visible": True, "rate": 1.0}
    answer: dict[str, Any] = {}
    for step in range(seconds + 1):
        answer = await expect_ok(await trainee.post(url, json={**beat, "position": start + step}))
        if answer["check"] is not None:
            return answer
        clock.advance(1.0)
    return answer


async def test_a_presence_check_answered_keeps_the_time_and_a_missed_one_loses_it(
    client_as: ClientFactory,
    world: World,
    video: bytes,
    config: Config,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    course = await _upload(
        operator, world, video,
        presence_check=True, check_min_s=5, check_max_s=5, check_answer_s=5,
    )  # fmt: skip
    clock = _Clock()
    monkeypatch.setattr(selfstudy_http, "utcnow", clock)
    url = f"/api/v1/selfstudy/courses/{course['id']}"
    opened = await _watch(trainee, f"{url}/progress", clock, 0, 9)
    assert opened["check"] is not None and opened["check"]["seq"] == 1
    kept = opened["progress"]["watched_s"]
    assert kept >= 5
    answered = await expect_ok(await trainee.post(f"{url}/answer", json={"seq": 1}))
    assert (
        answered["progress"]["watched_s"] == kept and answered["progress"]["checks_answered"] == 1
    )
    second = await _watch(trainee, f"{url}/progress", clock, kept, 9)
    assert second["check"]["seq"] == 2
    clock.advance(5.5)
    await expect_error(
        await trainee.post(f"{url}/answer", json={"seq": 2}), 409, "selfstudy.check_missed"
    )
    listed = await expect_ok(await trainee.get("/api/v1/trainee/selfstudy"))
    progress = listed["items"][0]["progress"]
    assert progress["watched_s"] == kept and progress["checks_missed"] == 1
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db:
        from sqlalchemy import select

        from server.store.selfstudy_models import SelfStudyCheck

        checks = (await db.scalars(select(SelfStudyCheck).order_by(SelfStudyCheck.seq))).all()
    await engine.dispose()
    assert [(c.seq, c.result) for c in checks] == [(1, "answered"), (2, "missed")]
    assert checks[1].discarded_s >= 5


async def _credit(config: Config, course_id: int, trainee_id: int, seconds: float) -> None:
    """The trainee watched ``seconds`` from the start (stored as the core would store it)."""
    from server.core.ledger import Interval
    from server.core.selfstudy import Progress, progress_to_json
    from server.store.selfstudy_models import SelfStudyProgress

    state = progress_to_json(Progress(committed=(Interval(0, seconds),), position=seconds))
    engine = store_db.create_engine(config.effective_database_url)
    async with store_db.session_factory(engine)() as db, db.begin():
        db.add(SelfStudyProgress(course_id=course_id, trainee_id=trainee_id, state=state,
                                 position_s=seconds, watched_s=seconds))  # fmt: skip
    await engine.dispose()


async def test_the_transcript_shows_self_study_apart_and_the_year_counts_both(
    client_as: ClientFactory, world: World, video: bytes, config: Config
) -> None:
    operator, trainee = await client_as("operator"), await client_as("trainee")
    course = await _upload(operator, world, video)  # 20 s, 2 class hours
    await _credit(config, course["id"], world.trainee_id, 18.0)  # 90 %: the whole 2 hours
    year = utcnow().astimezone(config.zone).year
    mine = await expect_ok(await trainee.get("/api/v1/trainee/transcript", params={"year": year}))
    (line,) = mine["selfstudy"]
    assert line["title"] == course["title"] and line["class_hours"] == 2.0 and line["completed"]
    progress = mine["progress"]
    assert progress["selfstudy_hours"] == 2.0 and progress["counts_selfstudy"] is True
    assert progress["class_hours"] == progress["live_hours"] + 2.0
    assert progress["remaining_hours"] == max(
        0.0, progress["required_hours"] - progress["class_hours"]
    )
    seen = await expect_ok(
        await operator.get(f"/api/v1/trainees/{world.trainee_id}/transcript", params={"year": year})
    )
    assert seen["progress"] == progress and seen["selfstudy"] == mine["selfstudy"]


@pytest.mark.parametrize("counts", [False])
async def test_the_setting_can_keep_self_study_out_of_the_year(
    aiohttp_client: Any, config: Config, world: World, video: bytes, counts: bool
) -> None:
    from dataclasses import replace

    from server.web.app import create_app

    client = await aiohttp_client(create_app(replace(config, selfstudy_counts_toward_year=counts)))
    login = await client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": world.passwords["operator"]}
    )
    client.session.headers["X-CSRF-Token"] = (await login.json())["csrf_token"]
    form = _form(_terms(world), video)
    course = await expect_ok(await client.post("/api/v1/selfstudy/courses/upload", data=form), 201)
    await _credit(config, course["id"], world.trainee_id, 18.0)
    seen = await expect_ok(await client.get(f"/api/v1/trainees/{world.trainee_id}/transcript"))
    progress = seen["progress"]
    assert progress["selfstudy_hours"] == 2.0 and progress["counts_selfstudy"] is False
    assert progress["class_hours"] == progress["live_hours"]
