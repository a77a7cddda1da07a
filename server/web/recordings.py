"""The recordings a broadcast leaves (written by ``server.media.recorder``): a session's list
(or its course's) and the file download."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select

from server.core import roles
from server.core.errors import NotFound
from server.store.media_models import Recording
from server.store.models import ClassSession
from server.web.api import Param, Routes
from server.web.db import fields, iso
from server.web.keys import CONFIG, SESSIONS
from server.web.resources import load, path_id

routes = Routes()
register = routes.register


def _recording_view(row: Recording) -> dict[str, Any]:
    return {
        **fields(row, "id", "session_id", "format", "status", "source"),
        "started_at": iso(row.started_at),
        "ended_at": iso(row.ended_at),
        **fields(row, "bytes", "duration_s", "video_frames", "switches"),
        "file": f"/api/v1/recordings/{row.id}/file",
    }


RECORDING_SCOPE = Param(
    "scope",
    {"type": "string", "enum": ["session", "course"], "default": "session"},
    "session: this session's recordings; course: every session of its course",
    code="recording.bad_scope",
)


@routes(
    "GET",
    "/api/v1/sessions/{id}/recordings",
    roles.STAFF,
    "List the recordings of a session's program (scope=course: of its course)",
    "broadcast",
    query=(RECORDING_SCOPE,),
    response={"type": "object", "properties": {"recordings": {"type": "array"}}},
)
async def list_recordings(request: web.Request) -> web.Response:
    """A session's recordings; with ``scope=course`` those of every session of its course too
    (a later batch is shown an earlier batch's lecture), this session's first, newest first."""
    session_id = path_id(request, "session")
    scope = RECORDING_SCOPE.parse(request)
    async with request.app[SESSIONS]() as db:
        session = await load(db, ClassSession, session_id, "session")
        query = select(Recording, ClassSession.title, ClassSession.starts_at).join(
            ClassSession, ClassSession.id == Recording.session_id
        )
        if scope == "course":
            query = query.where(ClassSession.course_id == session.course_id)
        else:
            query = query.where(Recording.session_id == session_id)
        rows = (await db.execute(query.order_by(Recording.id.desc()))).all()
    rows.sort(key=lambda r: r[0].session_id != session_id)  # stable: this session's first
    items = [
        {**_recording_view(rec), "session_title": title, "session_starts_at": starts.isoformat()}
        for rec, title, starts in rows
    ]
    return web.json_response({"recordings": items})


@routes(
    "GET",
    "/api/v1/recordings/{id}/file",
    roles.STAFF,
    "Download a recording (WebM or MP4)",
    "broadcast",
    produces=("video/webm", "video/mp4"),
)
async def recording_download(request: web.Request) -> web.StreamResponse:
    recording_id = path_id(request, "recording")
    async with request.app[SESSIONS]() as db:
        row = await load(db, Recording, recording_id, "recording")
        name, fmt = row.file_name, row.format
    path = request.app[CONFIG].data_path / "recordings" / name
    if not path.is_file():
        raise NotFound("recording.file_missing", "The file of this recording is gone.")
    return web.FileResponse(
        path,
        headers={
            "Content-Type": f"video/{fmt}",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )
