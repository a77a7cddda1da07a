"""Self-study courses over HTTP: thin handlers, each declared next to its route.

Operator: ``POST /api/v1/selfstudy/courses`` (from a recording, JSON) or
``POST /api/v1/selfstudy/courses/upload`` (multipart: a ``meta`` JSON field, then the ``file``;
WebM or MP4 recognised by its first bytes, at most ``selfstudy_max_upload_mib``), ``PATCH`` to
change the terms, ``GET .../completion`` (JSON) and ``.../completion/export`` (XLSX/CSV).
Trainee: ``GET /api/v1/trainee/selfstudy``, ``GET .../video`` (HTTP Range: 206, Content-Range,
If-Range, 416 — aiohttp's FileResponse), ``POST .../progress`` (heartbeats) and
``POST .../answer`` (在吗？).
"""

from __future__ import annotations

import asyncio
import json
import random
from datetime import datetime
from pathlib import Path
from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from multidict import CIMultiDict

from server.core import roles
from server.core.errors import InvalidInput, NotFound
from server.core.selfstudy import Beat, CheckMissed, sniff_video
from server.core.validation import Bool, DateTime, Float, Int, List, Map, Optional, Str, validate
from server.private_files import FILE_MODE, private_dir
from server.store.media_models import Recording
from server.store.models import utcnow
from server.web import exports
from server.web.api import Endpoint, Param, Registry, read_body
from server.web.keys import CONFIG, SESSIONS, principal
from server.web.resources import audit, path_id
from server.web.selfstudy import service

ID = Int(1, 2**31 - 1)
_DRAW = random.SystemRandom()

TERMS: dict[str, Any] = {
    "title": Str(min_len=1, max_len=200),
    "unit_id": ID,
    "class_hours": Float(minimum=0, maximum=100),
    "opens_at": DateTime(),
    "closes_at": DateTime(),
    "presence_check": Optional(Bool()),
    "check_min_s": Optional(Float(minimum=5, maximum=86400)),
    "check_max_s": Optional(Float(minimum=5, maximum=86400)),
    "check_answer_s": Optional(Float(minimum=5, maximum=600)),
    "org_unit_ids": Optional(List(ID, max_items=500)),
}
REQUIRED = frozenset({"title", "unit_id", "class_hours", "opens_at", "closes_at"})
FROM_UPLOAD = Map(TERMS, REQUIRED, extra="reject", absent="omit")
FROM_RECORDING = Map({**TERMS, "recording_id": ID}, REQUIRED | {"recording_id"}, extra="reject",
                     absent="omit")  # fmt: skip
CHANGE = Map(
    {k: v for k, v in TERMS.items() if k != "unit_id"}, frozenset(), extra="reject", absent="omit"
)
BEAT = Map(
    {
        "device": Str(min_len=8, max_len=64, pattern=r"[A-Za-z0-9_-]+"),
        "position": Float(minimum=0, maximum=1e7),
        "playing": Bool(),
        "visible": Bool(),
        "rate": Float(minimum=0, maximum=16),
    },
    extra="reject",
)
ANSWER = Map({"seq": Int(1, 100_000)}, extra="reject")


def _given(data: dict[str, Any]) -> dict[str, Any]:
    """The fields sent with a value (an optional field sent as null keeps its default)."""
    return {k: v for k, v in data.items() if v is not None}


def _fields(data: dict[str, Any]) -> service.CourseFields:
    data = _given(data)
    extra = {k: data[k] for k in service.CourseFields.__dataclass_fields__ if k in data}
    if "org_unit_ids" in extra:
        extra["org_unit_ids"] = tuple(extra["org_unit_ids"])
    return service.CourseFields(**extra)


async def create_from_recording(request: web.Request) -> web.Response:
    data = await read_body(request, FROM_RECORDING)
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        source = await service.recording_source(db, data.pop("recording_id"))
        course = await service.create_course(db, _fields(data), source, who.label)
        audit(db, who, "create", "selfstudy_courses", course.id, None, {"title": course.title})
        view = await service.course_view_of(db, course)
    return web.json_response(
        view, status=201, headers={"Location": f"/api/v1/selfstudy/courses/{view['id']}"}
    )


async def _receive_video(request: web.Request) -> tuple[dict[str, Any], Path, str, int]:
    """The ``meta`` field (validated first) and the ``file`` written to a private file."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput(
            "selfstudy.source_required",
            "Upload multipart/form-data: a 'meta' JSON field, then the video in 'file'.",
        )
    limit = request.app[CONFIG].selfstudy_max_upload_mib * 1024 * 1024
    folder = private_dir(request.app[CONFIG].data_path / service.UPLOAD_DIR)
    meta: dict[str, Any] | None = None
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader):
                continue
            if part.name == "meta":
                raw = await part.read(decode=False)
                if len(raw) > 16_384:
                    raise InvalidInput("selfstudy.bad_upload", "The 'meta' field is too long.")
                try:
                    meta = validate(FROM_UPLOAD, json.loads(bytes(raw)), path="meta")
                except ValueError:
                    raise InvalidInput("request.bad_json", "'meta' is not valid JSON.") from None
            elif part.name == "file":
                if meta is None:
                    raise InvalidInput(
                        "selfstudy.bad_upload", "Send the 'meta' field before the 'file'."
                    )
                path, fmt, size = await _write_part(part, folder, limit)
                return meta, path, fmt, size
    except (HttpProcessingError, AssertionError, RuntimeError) as exc:
        raise InvalidInput(
            "selfstudy.bad_upload", f"The upload is not well-formed multipart: {exc}"[:300]
        ) from None
    raise InvalidInput("selfstudy.source_required", "No field named 'file' in the upload.")


async def _write_part(part: BodyPartReader, folder: Path, limit: int) -> tuple[Path, str, int]:
    head = bytearray()
    while len(head) < 64 and (chunk := await part.read_chunk(64 - len(head))):
        head += chunk
    fmt = sniff_video(bytes(head))
    path = folder / service.upload_name(fmt, utcnow())
    size = len(head)
    with path.open("xb") as out:
        path.chmod(FILE_MODE)
        try:
            out.write(head)
            while chunk := await part.read_chunk(1 << 20):
                size += len(chunk)
                if size > limit:
                    raise InvalidInput(
                        "selfstudy.upload_too_large",
                        f"The video is larger than {limit // (1024 * 1024)} MiB.",
                    )
                out.write(chunk)
        except BaseException:
            out.close()
            path.unlink(missing_ok=True)
            raise
    return path, fmt, size


async def create_from_upload(request: web.Request) -> web.Response:
    meta, path, fmt, size = await _receive_video(request)
    who = principal(request)
    try:
        duration = await asyncio.to_thread(service.video_duration, path)
        source = service.VideoSource(None, path.name, fmt, size, duration)
        async with request.app[SESSIONS]() as db, db.begin():
            course = await service.create_course(db, _fields(meta), source, who.label)
            audit(
                db, who, "create", "selfstudy_courses", course.id, None,
                {"title": course.title, "file": path.name, "bytes": size},
            )  # fmt: skip
            view = await service.course_view_of(db, course)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return web.json_response(
        view, status=201, headers={"Location": f"/api/v1/selfstudy/courses/{view['id']}"}
    )


async def change_course(request: web.Request) -> web.Response:
    course_id = path_id(request, "selfstudy course")
    changes = _given(await read_body(request, CHANGE))
    async with request.app[SESSIONS]() as db, db.begin():
        course, before = await service.update_course(db, course_id, changes)
        after = {k: v.isoformat() if isinstance(v, datetime) else v for k, v in changes.items()}
        audit(db, principal(request), "update", "selfstudy_courses", course_id, before, after)
        await db.flush()
        view = await service.course_view_of(db, course)
    return web.json_response(view)


async def list_courses(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db:
        return web.json_response({"items": await service.list_courses(db)})


async def my_courses(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db:
        return web.json_response({"items": await service.trainee_courses(db, who.trainee_id)})


async def video(request: web.Request) -> web.StreamResponse:
    """The course video with Range support; trainees only if enrolled and inside the window."""
    course_id = path_id(request, "selfstudy course")
    who = principal(request)
    async with request.app[SESSIONS]() as db:
        if who.trainee_id is not None:
            course = await service.watchable(db, course_id, who.trainee_id, utcnow())
        else:
            course = await service.load_course(db, course_id)
        recording = None
        if course.recording_id is not None:
            recording = await db.get(Recording, course.recording_id)
        path = service.video_path(course, request.app[CONFIG].data_path, recording)
        fmt = course.format
    if not path.is_file():
        raise NotFound("selfstudy.file_missing", "The video of this course is gone.")
    return VideoResponse(
        path,
        headers={
            "Content-Type": f"video/{fmt}",
            "Cache-Control": "private, max-age=3600",
            "Content-Disposition": "inline",
        },
    )


class VideoResponse(web.FileResponse):
    """aiohttp's FileResponse reads If-Range only as a date: an entity tag there (what browsers
    send when they resume a video) is ignored and the Range served even when the file changed.
    Here a tag that is not the file's current strong ETag drops the Range, so the whole file is
    sent (RFC 9110, 13.1.5); a date still works as before."""

    def __init__(self, path: Path, headers: dict[str, str]) -> None:
        super().__init__(path, headers=headers)
        self._video = path

    async def prepare(self, request: web.BaseRequest) -> Any:
        tag = request.headers.get("If-Range", "")
        if tag.startswith(('"', "W/")) and "Range" in request.headers:
            st = await asyncio.to_thread(self._video.stat)
            if tag != f'"{st.st_mtime_ns:x}-{st.st_size:x}"':  # aiohttp's ETag of the file
                headers = CIMultiDict(request.headers)
                del headers["Range"]
                request = request.clone(headers=headers)
        return await super().prepare(request)


async def progress(request: web.Request) -> web.Response:
    course_id = path_id(request, "selfstudy course")
    data = await read_body(request, BEAT)
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db, db.begin():
        answer = await service.heartbeat(
            db, course_id, who.trainee_id, Beat(**data), utcnow(), _DRAW.random()
        )
    return web.json_response(answer)


async def answer(request: web.Request) -> web.Response:
    course_id = path_id(request, "selfstudy course")
    data = await read_body(request, ANSWER)
    who = principal(request)
    assert who.trainee_id is not None
    missed: CheckMissed | None = None
    async with request.app[SESSIONS]() as db, db.begin():
        try:
            body = await service.answer_check(
                db, course_id, who.trainee_id, data["seq"], utcnow(), _DRAW.random()
            )
        except CheckMissed as late:  # stored as missed: commit, then tell the trainee
            missed = late
    if missed is not None:
        raise missed
    return web.json_response(body)


async def completion(request: web.Request) -> web.Response:
    course_id = path_id(request, "selfstudy course")
    async with request.app[SESSIONS]() as db:
        return web.json_response(await service.completion(db, course_id))


FORMAT = Param("format", {"type": "string", "enum": ["xlsx", "csv"]}, "file type")


async def completion_export(request: web.Request) -> web.Response:
    course_id = path_id(request, "selfstudy course")
    fmt = FORMAT.parse(request, "xlsx")
    zone = exports.zone_of(request)
    async with request.app[SESSIONS]() as db:
        found = await service.completion(db, course_id)
    people = exports.Sheet(
        "学员 Trainees",
        ["单位", "工号", "姓名", "观看分钟", "观看比例", "学时", "已完成", "在吗 已答", "在吗 未答",
         "最近观看"],
        [
            [
                t["org_unit"], t["staff_no"], t["name"], t["watched_minutes"], t["share"],
                t["class_hours"], "是" if t["completed"] else "否", t["checks_answered"],
                t["checks_missed"],
                exports.local(datetime.fromisoformat(t["last_seen"]), zone)
                if t["last_seen"] else None,
            ]
            for t in found["trainees"]
        ],
    )  # fmt: skip
    units = exports.Sheet(
        "单位 Units",
        ["单位", "应学人数", "已开始", "已完成", "完成率", "学时合计"],
        [
            [u["org_unit"], u["trainees"], u["started"], u["completed"], u["completed_share"],
             u["class_hours"]]
            for u in found["units"]
        ],
    )  # fmt: skip
    return await exports.download(f"selfstudy-{course_id}", [units, people], fmt)


# -- declarations ----------------------------------------------------------------------------

COURSE = {"type": "object", "required": ["id", "title", "video"]}
LIST = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
WATCHERS = roles.TRAINEES | roles.STAFF


def register(registry: Registry) -> None:
    base = "/api/v1/selfstudy/courses"
    for method, path, handler, allowed, summary, extra in (
        ("GET", base, list_courses, roles.STAFF, "List the self-study courses", {"response": LIST}),
        (
            "POST",
            base,
            create_from_recording,
            roles.MANAGERS,
            "Create a self-study course from a finished recording",
            {"body": FROM_RECORDING, "status": 201, "response": COURSE},
        ),
        (
            "POST",
            f"{base}/upload",
            create_from_upload,
            roles.MANAGERS,
            "Create a self-study course from an uploaded WebM/MP4 (multipart: 'meta' JSON with"
            " the course's terms, then 'file')",
            {"body": "file", "status": 201, "response": COURSE},
        ),
        (
            "PATCH",
            base + "/{id}",
            change_course,
            roles.MANAGERS,
            "Change a self-study course's terms (hours, window, 在吗？ check, audience)",
            {"body": CHANGE, "response": COURSE},
        ),
        (
            "GET",
            base + "/{id}/completion",
            completion,
            roles.STAFF,
            "Completion of a self-study course per org unit and per trainee",
            {},
        ),
        (
            "GET",
            base + "/{id}/completion/export",
            completion_export,
            roles.STAFF,
            "Download a self-study course's completion (XLSX: units and trainees; CSV: units)",
            {
                "produces": (
                    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    "text/csv",
                ),
                "query": (FORMAT,),
            },
        ),
        (
            "GET",
            base + "/{id}/video",
            video,
            WATCHERS,
            "Stream a self-study course's video (HTTP Range requests; trainees: enrolled and"
            " inside the window)",
            {"produces": ("video/webm", "video/mp4")},
        ),
        (
            "POST",
            base + "/{id}/progress",
            progress,
            roles.TRAINEES,
            "Report playback (heartbeat every few seconds): what is credited, any 在吗？ check",
            {"body": BEAT},
        ),
        (
            "POST",
            base + "/{id}/answer",
            answer,
            roles.TRAINEES,
            "Answer a 在吗？ presence check",
            {"body": ANSWER},
        ),
        (
            "GET",
            "/api/v1/trainee/selfstudy",
            my_courses,
            roles.TRAINEES,
            "List my self-study courses with my progress and credit",
            {"response": LIST},
        ),
    ):
        registry.add(Endpoint(method, path, handler, allowed, summary, "selfstudy", **extra))
