"""Roster import and export (CSV and XLSX, Chinese or English headers).

Import is all or nothing: any bad row means nothing is written and every row's error comes back;
a good file is written in one transaction, matching trainees by staff number (update) or adding
them (insert).
"""

from __future__ import annotations

import asyncio

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from sqlalchemy import select

from server import roster_files
from server.core import roles
from server.core.errors import InvalidInput
from server.core.roster import export_headers, export_rows, parse_roster
from server.store.models import OrgUnit, Site, Trainee
from server.web.api import Endpoint, Param, Registry
from server.web.app import CONFIG, SESSIONS, principal
from server.web.resources import audit

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV = "text/csv; charset=utf-8"
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


def _aliases(rows: list[tuple[int, str, str | None]]) -> dict[str, int]:
    found: dict[str, int] = {}
    for item_id, name, code in rows:
        found[name] = item_id
        if code:
            found[code] = item_id
    return found


async def import_roster(request: web.Request) -> web.Response:
    data, hint = await _upload(request)
    # openpyxl parses in the CPU for seconds on big files: keep it off the event loop.
    header, rows = await asyncio.to_thread(
        roster_files.read_table, data, hint, max_bytes=request.app[CONFIG].max_body_kib * 1024
    )
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        units = _aliases(
            [
                tuple(r)
                for r in (await db.execute(select(OrgUnit.id, OrgUnit.name, OrgUnit.code))).all()
            ]
        )
        sites = _aliases(
            [tuple(r) for r in (await db.execute(select(Site.id, Site.name, Site.code))).all()]
        )
        parsed = parse_roster(header, rows, units, sites)
        parsed.raise_if_invalid()
        existing = {
            t.staff_no: t
            for t in (
                await db.scalars(
                    select(Trainee).where(Trainee.staff_no.in_([r.staff_no for r in parsed.rows]))
                )
            ).all()
        }
        created = updated = 0
        for row in parsed.rows:
            values = {
                "name": row.name,
                "org_unit_id": row.org_unit_id,
                "position": row.position,
                "is_leader": row.is_leader,
                "home_site_id": row.home_site_id,
                "phone": row.phone,
                "gender": None if row.gender is None else row.gender.value,
            }
            trainee = existing.get(row.staff_no)
            if trainee is None:
                db.add(Trainee(staff_no=row.staff_no, **values))
                created += 1
            else:
                for key, value in values.items():
                    setattr(trainee, key, value)
                updated += 1
        audit(
            db,
            who,
            "import",
            "trainees",
            "*",
            None,
            {"created": created, "updated": updated, "file": hint[:100]},
        )
    return web.json_response(
        {
            "created": created,
            "updated": updated,
            "warnings": [w.to_dict() for w in parsed.warnings],
        }
    )


async def export_roster(request: web.Request) -> web.Response:
    fmt = request.query.get("format", "xlsx")
    lang = request.query.get("lang", "zh")
    if fmt not in {"csv", "xlsx"} or lang not in {"zh", "en"}:
        raise InvalidInput(
            "request.bad_query", "format must be csv or xlsx; lang must be zh or en."
        )
    async with request.app[SESSIONS]() as db:
        trainees = (
            await db.scalars(
                select(Trainee).where(Trainee.home_site_id.is_not(None)).order_by(Trainee.staff_no)
            )
        ).all()
        units = {r[0]: r[1] for r in (await db.execute(select(OrgUnit.id, OrgUnit.name))).all()}
        sites = {r[0]: r[1] for r in (await db.execute(select(Site.id, Site.name))).all()}
    header = export_headers("zh" if lang == "zh" else "en")
    rows = export_rows(trainees, units, sites, "zh" if lang == "zh" else "en")
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


def register(registry: Registry) -> None:
    registry.add(
        Endpoint(
            "POST",
            "/api/v1/trainees/import",
            import_roster,
            roles.MANAGERS,
            "Import the roster from CSV or XLSX (all or nothing)",
            "trainees",
            body="file",
        )
    )
    registry.add(
        Endpoint(
            "GET",
            "/api/v1/trainees/export",
            export_roster,
            roles.MANAGERS,
            "Export the roster as CSV or XLSX",
            "trainees",
            query=(
                Param(
                    "format",
                    {"type": "string", "enum": ["xlsx", "csv"], "default": "xlsx"},
                    "file format",
                ),
                Param(
                    "lang",
                    {"type": "string", "enum": ["zh", "en"], "default": "zh"},
                    "header language",
                ),
            ),
            produces=(XLSX, "text/csv"),
        )
    )
