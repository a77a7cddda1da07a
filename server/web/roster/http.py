"""Roster import and export (CSV and XLSX, Chinese or English headers).

Import is all or nothing: any bad row means nothing is written and every row's error comes back;
a good file is written in one transaction, matching trainees by staff number (update) or adding
them (insert).
"""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from server import roster_files
from server.core import roles
from server.core.errors import InvalidInput
from server.web.api import Param, Routes
from server.web.exports import CSV, XLSX
from server.web.keys import CONFIG, SESSIONS, principal
from server.web.resources import audit
from server.web.roster.service import apply_roster, roster_table

routes = Routes()
register = routes.register
ZH_NAME = "%E5%AD%A6%E5%91%98%E5%90%8D%E5%8D%95"  # 学员名单, percent-encoded for filename*


async def _upload(request: web.Request) -> tuple[bytes, str]:
    """The bytes and the file name of the multipart field ``file``."""
    if not request.content_type.startswith("multipart/"):
        raise InvalidInput(
            "roster.upload_required",
            "Upload the roster file as multipart/form-data in a field named 'file'.",
        )
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if isinstance(part, BodyPartReader) and part.name == "file":
                data = await part.read(decode=False)
                return bytes(data), part.filename or part.headers.get("Content-Type") or ""
    except (HttpProcessingError, ValueError, AssertionError, RuntimeError) as exc:
        raise InvalidInput(
            "roster.bad_upload", f"The upload is not well-formed multipart/form-data: {exc}"[:300]
        ) from None
    raise InvalidInput("roster.upload_required", "No field named 'file' in the upload.")


UPDATE_EXISTING = Param(
    "update_existing",
    {"type": "string", "enum": ["true", "false"], "default": "false"},
    "also rename existing trainees matched by staff number",
)
FORMAT = Param(
    "format", {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"}, "file format"
)
LANG = Param("lang", {"type": "string", "enum": ["zh", "en"], "default": "zh"}, "header language")


@routes(
    "POST",
    "/api/v1/trainees/import",
    roles.MANAGERS,
    "Import the roster from CSV or XLSX (all or nothing); a row whose staff number "
    "belongs to someone with another name is a row error unless update_existing=true",
    "trainees",
    body="file",
    query=(UPDATE_EXISTING,),
)
async def import_roster(request: web.Request) -> web.Response:
    data, hint = await _upload(request)
    # openpyxl parses in the CPU for seconds on big files: keep it off the event loop.
    header, rows = await asyncio.to_thread(
        roster_files.read_table, data, hint, max_bytes=request.app[CONFIG].max_body_kib * 1024
    )
    update = UPDATE_EXISTING.parse(request)
    async with request.app[SESSIONS]() as db, db.begin():
        result = await apply_roster(db, header, rows, update_existing=update == "true")
        audit(
            db,
            principal(request),
            "import",
            "trainees",
            "*",
            None,
            {
                "created": result.created,
                "updated": result.updated,
                "renamed": result.renamed,
                "file": hint[:100],
            },
        )
    return web.json_response(
        {
            "created": result.created,
            "updated": result.updated,
            "renamed": result.renamed,
            "warnings": result.warnings,
        }
    )


@routes(
    "GET",
    "/api/v1/trainees/export",
    roles.MANAGERS,
    "Export the roster as CSV or XLSX",
    "trainees",
    query=(FORMAT, LANG),
    produces=(XLSX, "text/csv"),
)
async def export_roster(request: web.Request) -> web.Response:
    fmt, lang = FORMAT.parse(request), LANG.parse(request)
    async with request.app[SESSIONS]() as db:
        header, rows = await roster_table(db, "zh" if lang == "zh" else "en")
    if fmt == "csv":
        body, media = await asyncio.to_thread(roster_files.write_csv, header, rows), CSV
    else:
        body, media = (
            await asyncio.to_thread(roster_files.write_xlsx, header, rows, "学员名单"),
            XLSX,
        )
    return web.Response(
        body=body,
        headers={
            "Content-Type": media,
            "Content-Disposition": (
                f"attachment; filename=\"roster.{fmt}\"; filename*=UTF-8''{ZH_NAME}.{fmt}"
            ),
        },
    )
