"""Set reading (研读书目) and the write-up (学用成果) over HTTP.

Files (reading materials, write-up attachments) live in ``<data_dir>/files`` (0700, each file
0600, named by a random key, never by the uploaded name) and are served only through these
handlers, to the roles that may read them. Rules: ``server.core.writeup``.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import select

from server.core import roles
from server.core import writeup as rules
from server.core.errors import InvalidInput, NotFound
from server.core.roles import Actor
from server.core.validation import Enum as OneOf
from server.core.validation import Int, Map, Optional, Str
from server.private_files import private_dir
from server.store.completion_models import ReadingRow, StoredFile, WriteupRow
from server.store.models import OrgUnit, Program, ProgramUnit, Trainee, utcnow
from server.web.api import Answer, Body, Param, Routes, id_param
from server.web.completion import service
from server.web.db import Row, fields, iso
from server.web.keys import CONFIG, SESSIONS, principal
from server.web.leave import service as leave_service
from server.web.resources import audit, load, path_id

ID = Int(1, 2**31 - 1)


def _body(fields: dict[str, Any], required: set[str]) -> Map:
    return Map(fields, frozenset(required), extra="reject", absent="omit")


READING_BODY = _body(
    {
        "title": Str(min_len=1, max_len=200),
        "author": Str(max_len=100),
        "link": Str(max_len=500),
        "unit_id": Optional(ID),
    },
    {"title"},
)
WRITEUP_BODY = _body({"program_id": ID, "text": Str(max_len=20_000)}, {"program_id", "text"})
MARK_BODY = _body({"mark": OneOf("accept", "revise"), "comment": Str(max_len=4000)}, {"mark"})


def files_dir(request: web.Request) -> Path:
    return private_dir(request.app[CONFIG].data_path / "files")


async def _upload(request: web.Request, max_bytes: int) -> tuple[bytes, str]:
    """The bytes and name of the multipart field ``file`` (read up to ``max_bytes`` + 1)."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput("writeup.file_required", "Send the file as multipart/form-data.")
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = bytearray()
                while chunk := await part.read_chunk(65536):
                    data += chunk
                    if len(data) > max_bytes:
                        break
                return bytes(data), (part.filename or "")[:200]
    except (HttpProcessingError, ValueError, AssertionError, RuntimeError):
        raise InvalidInput("writeup.file_required", "The upload is not well-formed.") from None
    raise InvalidInput("writeup.file_required", "No field named 'file' in the upload.")


async def _store(
    request: web.Request, row: StoredFile, data: bytes, name: str, kind: rules.FileKind
) -> None:
    """Keep the upload under a new key in the files folder; the row names it from now on."""
    key = secrets.token_hex(16)
    folder = files_dir(request)

    def write() -> None:
        path = folder / key
        path.write_bytes(data)
        path.chmod(0o600)

    await asyncio.to_thread(write)
    row.file_key, row.file_name, row.file_type = key, name, kind.media_type


def _file_answer(request: web.Request, row: StoredFile) -> web.FileResponse:
    path = files_dir(request) / row.file_key
    if not row.file_key or not path.is_file():
        raise NotFound("writeup.no_file", "There is no file here.")
    response = web.FileResponse(path)
    response.content_type = row.file_type or "application/octet-stream"
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"file\"; filename*=UTF-8''{quote(row.file_name or 'file')}"
    )
    response.headers["Cache-Control"] = "private, no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


# --------------------------------------------------------------------------------------------
# Set reading
# --------------------------------------------------------------------------------------------


async def load_trainees_own(request: web.Request, model: type[Row], label: str) -> Row:
    """The row of the URL's id that belongs to a trainee: staff see any, a trainee only their
    own (another's is not found, as if it did not exist)."""
    who = principal(request)
    async with request.app[SESSIONS]() as db:
        row = await load(db, model, path_id(request, label), label)
    if who.actor is Actor.TRAINEE and row.trainee_id != who.trainee_id:  # type: ignore[attr-defined]
        raise NotFound(f"{label}.not_found", f"There is no {label} with that id.")
    return row


def _reading_view(r: ReadingRow) -> dict[str, Any]:
    return {
        **fields(r, "id", "program_id", "unit_id", "title", "author", "link", "file_name"),
        "has_file": bool(r.file_key),
    }


routes = Routes()
READERS = roles.STAFF | roles.TRAINEES
PROGRAM_PARAM = id_param("program_id", "the program")
STATE_PARAM = Param(
    "state", {"type": "string", "enum": [s.value for s in rules.WriteupState]}, "only this state"
)


@routes.json("GET", "/api/v1/programs/{id}/readings", READERS, "completion")
async def list_readings(request: web.Request) -> Answer:
    """List the set reading of a program"""
    program_id = path_id(request, "program")
    async with request.app[SESSIONS]() as db:
        await load(db, Program, program_id, "program")
        rows = (
            await db.scalars(
                select(ReadingRow)
                .where(ReadingRow.program_id == program_id)
                .order_by(ReadingRow.id)
            )
        ).all()
    return {"items": [_reading_view(r) for r in rows]}


@routes.json_body(
    "POST", "/api/v1/programs/{id}/readings", roles.MANAGERS, "completion", READING_BODY, status=201
)
async def add_reading(request: web.Request, data: Body) -> Answer:
    """Add a book or material to a program's set reading"""
    program_id = path_id(request, "program")
    link = data.get("link", "").strip()
    rules.check_reading(data["title"], data.get("author", ""), link, False)
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, Program, program_id, "program")
        unit_id = data.get("unit_id")
        if unit_id is not None:
            unit = await load(db, ProgramUnit, unit_id, "unit")
            if unit.program_id != program_id:
                raise NotFound("unit.not_found", "That unit is not part of this program.")
        row = ReadingRow(
            program_id=program_id,
            unit_id=unit_id,
            title=data["title"].strip(),
            author=data.get("author", "").strip(),
            link=link,
        )
        db.add(row)
        await db.flush()
        audit(db, principal(request), "create", "reading", row.id, None, _reading_view(row))
        view = _reading_view(row)
    return view


@routes.json("POST", "/api/v1/readings/{id}/file", roles.MANAGERS, "completion", body="file")
async def upload_reading_file(request: web.Request) -> Answer:
    """Upload the file of a reading (PDF, DOCX, PNG, JPEG; 5 MB)"""
    reading_id = path_id(request, "reading")
    data, name = await _upload(request, rules.READING_FILE_MAX_BYTES)
    kind = rules.file_kind(data, rules.READING_FILE_MAX_BYTES)
    async with request.app[SESSIONS]() as db, db.begin():
        row = await load(db, ReadingRow, reading_id, "reading")
        rules.check_reading(row.title, row.author, row.link, True)
        await _store(request, row, data, name or f"{row.title}.{kind.extension}", kind)
        audit(db, principal(request), "upload", "reading", row.id, None, {"file": row.file_name})
        view = _reading_view(row)
    return view


@routes(
    "GET",
    "/api/v1/readings/{id}/file",
    READERS,
    "Download the file of a reading",
    "completion",
    produces=("application/octet-stream",),
)
async def reading_file(request: web.Request) -> web.StreamResponse:
    async with request.app[SESSIONS]() as db:
        row = await load(db, ReadingRow, path_id(request, "reading"), "reading")
    return _file_answer(request, row)


@routes(
    "DELETE", "/api/v1/readings/{id}", roles.MANAGERS, "Remove a reading", "completion", status=204
)
async def delete_reading(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        row = await load(db, ReadingRow, path_id(request, "reading"), "reading")
        audit(db, principal(request), "delete", "reading", row.id, _reading_view(row), None)
        await db.delete(row)
    return web.Response(status=204)


# --------------------------------------------------------------------------------------------
# The write-up
# --------------------------------------------------------------------------------------------


def _writeup_view(w: WriteupRow) -> dict[str, Any]:
    return {
        **fields(w, "id", "trainee_id", "program_id"),
        **fields(w, "text", "state", "comment", "file_name", "file_size"),
        "submitted_at": iso(w.submitted_at),
        "marked_at": iso(w.marked_at),
    }


async def _mine(db: Any, trainee_id: int, program_id: int) -> WriteupRow | None:
    found: WriteupRow | None = await db.scalar(
        select(WriteupRow).where(
            WriteupRow.trainee_id == trainee_id, WriteupRow.program_id == program_id
        )
    )
    return found


@routes.json("GET", "/api/v1/trainee/writeup", roles.TRAINEES, "completion", query=(PROGRAM_PARAM,))
async def my_writeup(request: web.Request) -> Answer:
    """Show my write-up (学用成果) of a program and its set reading

    My write-up of a program (or of my latest program), whether it is open, the readings."""
    who = principal(request)
    assert who.trainee_id is not None
    wanted = PROGRAM_PARAM.parse(request)
    async with request.app[SESSIONS]() as db:
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        programs = await service.trainee_programs(db, trainee)
        program = next((p for p in programs if p.id == wanted), programs[0] if programs else None)
        if program is None:
            return {"programs": [], "program": None}
        settings = await leave_service.settings_of(db, program.id)
        row = await _mine(db, trainee.id, program.id)
        opens = await service.first_live_end(db, program.id)
        readings = (
            await db.scalars(
                select(ReadingRow)
                .where(ReadingRow.program_id == program.id)
                .order_by(ReadingRow.id)
            )
        ).all()
    return {
        "programs": [{"id": p.id, "name": p.name} for p in programs],
        "program": {"id": program.id, "name": program.name},
        "required": bool(settings.writeup_required),
        "open": opens is not None and opens <= utcnow().timestamp(),
        "min_len": rules.TEXT_MIN_LEN,
        "max_len": rules.TEXT_MAX_LEN,
        "max_file_bytes": rules.ATTACHMENT_MAX_BYTES,
        "writeup": _writeup_view(row) if row is not None else None,
        "readings": [_reading_view(r) for r in readings],
    }


@routes.json_body("POST", "/api/v1/trainee/writeup", roles.TRAINEES, "completion", WRITEUP_BODY)
async def submit_writeup(request: web.Request, data: Body) -> Answer:
    """Submit or revise my write-up text"""
    who = principal(request)
    assert who.trainee_id is not None
    text = rules.clean_text(data["text"])
    async with request.app[SESSIONS]() as db, db.begin():
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        program = await load(db, Program, data["program_id"], "program")
        if program.id not in {p.id for p in await service.trainee_programs(db, trainee)}:
            raise NotFound("program.not_found", "You are not in that program.")
        rules.check_open(utcnow().timestamp(), await service.first_live_end(db, program.id))
        row = await _mine(db, trainee.id, program.id)
        state = rules.resubmit(rules.WriteupState(row.state) if row is not None else None)
        if row is None:
            row = WriteupRow(trainee_id=trainee.id, program_id=program.id, text=text)
            db.add(row)
        row.text = text
        row.state = state.value
        row.submitted_at = utcnow()
        await db.flush()
        audit(db, who, "submit", "writeup", row.id, None, {"state": row.state})
        view = _writeup_view(row)
    return view


@routes.json(
    "POST",
    "/api/v1/trainee/writeup/file",
    roles.TRAINEES,
    "completion",
    body="file",
    query=(PROGRAM_PARAM,),
)
async def attach_writeup(request: web.Request) -> Answer:
    """Attach a file to my write-up (PDF, DOCX, PNG, JPEG; 5 MB)

    Attach a file to my submitted write-up (replaces an earlier one)."""
    who = principal(request)
    assert who.trainee_id is not None
    program_id = PROGRAM_PARAM.parse(request)
    data, name = await _upload(request, rules.ATTACHMENT_MAX_BYTES)
    kind = rules.file_kind(data)
    async with request.app[SESSIONS]() as db, db.begin():
        row = await _mine(db, who.trainee_id, program_id or 0)
        if row is None:
            raise NotFound("writeup.not_found", "Submit the write-up text first.")
        rules.resubmit(rules.WriteupState(row.state))
        await _store(request, row, data, name or f"attachment.{kind.extension}", kind)
        row.file_size = len(data)
        audit(db, who, "attach", "writeup", row.id, None, {"file": row.file_name})
        view = _writeup_view(row)
    return view


@routes(
    "GET",
    "/api/v1/writeups/{id}/file",
    roles.MANAGERS | roles.TRAINEES,
    "Download a write-up's attachment",
    "completion",
    produces=("application/octet-stream",),
)
async def writeup_file(request: web.Request) -> web.StreamResponse:
    row = await load_trainees_own(request, WriteupRow, "writeup")
    return _file_answer(request, row)


@routes.json(
    "GET", "/api/v1/programs/{id}/writeups", roles.MANAGERS, "completion", query=(STATE_PARAM,)
)
async def program_writeups(request: web.Request) -> Answer:
    """List a program's write-ups to mark"""
    program_id = path_id(request, "program")
    state = STATE_PARAM.parse(request)
    async with request.app[SESSIONS]() as db:
        await load(db, Program, program_id, "program")
        query = (
            select(WriteupRow, Trainee, OrgUnit)
            .join(Trainee, Trainee.id == WriteupRow.trainee_id)
            .join(OrgUnit, OrgUnit.id == Trainee.org_unit_id)
            .where(WriteupRow.program_id == program_id)
            .order_by(WriteupRow.submitted_at, WriteupRow.id)
            .limit(2000)
        )
        if state is not None:
            query = query.where(WriteupRow.state == state)
        rows = (await db.execute(query)).all()
    return {
        "items": [
            {
                **_writeup_view(w),
                "trainee": {"id": t.id, "name": t.name, "staff_no": t.staff_no},
                "org_unit": u.name,
            }
            for w, t, u in rows
        ]
    }


@routes.json_body("POST", "/api/v1/writeups/{id}/mark", roles.MANAGERS, "completion", MARK_BODY)
async def mark_writeup(request: web.Request, data: Body) -> Answer:
    """Mark a write-up: accepted, or needs revision with a comment"""
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        row = await load(db, WriteupRow, path_id(request, "writeup"), "writeup")
        before = row.state
        state, comment = rules.mark(
            rules.WriteupState(row.state), rules.Mark(data["mark"]), data.get("comment", "")
        )
        row.state, row.comment = state.value, comment
        row.marked_at, row.marked_by = utcnow(), who.label
        audit(db, who, "mark", "writeup", row.id, {"state": before}, {"state": row.state}, comment)
        view = _writeup_view(row)
    return view


register = routes.register
