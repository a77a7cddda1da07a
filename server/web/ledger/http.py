"""The ledger and report endpoints: transcripts, the honour list, corrections, the reports.

Thin: parse the request, call :mod:`server.web.ledger.service` / ``reports``, answer.
"""

from __future__ import annotations

from datetime import date

from aiohttp import web

from server.core import roles
from server.core.errors import InvalidInput
from server.core.validation import Bool, Float, Str
from server.store.models import utcnow
from server.web import exports
from server.web.api import ID, Answer, Body, Param, Routes, body
from server.web.exports import XLSX
from server.web.keys import CONFIG, SESSIONS, principal
from server.web.ledger import reports, service, sheets
from server.web.resources import path_id

MAX_REPORT_DAYS = 800
FORMAT = Param(
    "format",
    {"type": "string", "enum": ["json", "csv", "xlsx"], "default": "json"},
    "answer format",
)
YEAR = Param("year", {"type": "integer", "minimum": 2000, "maximum": 2100}, "calendar year (UTC+8)")
REPORT_MEDIA = ("application/json", XLSX, "text/csv")

routes = Routes()
register = routes.register

SESSION = "/api/v1/sessions/{id}"


def _year(request: web.Request) -> int:
    return int(YEAR.parse(request, service.this_year(exports.zone_of(request))))


def _format(request: web.Request) -> str:
    return str(FORMAT.parse(request))


CORRECT_BODY = body(
    {
        "trainee_id": ID,
        "reason": Str(min_len=1, max_len=500),
        "changes": body(
            {
                "attended_minutes": Float(0, 24 * 60),
                "class_hours": Float(0, 100),
                "credits": Float(0, 100),
                "late": Bool(),
                "left_early": Bool(),
                "makeup": Bool(),
                "absent": Bool(),
            },
            set(),
        ),
    },
    {"trainee_id", "reason", "changes"},
)


@routes.json_body("POST", SESSION + "/attendance/correct", roles.MANAGERS, "ledger", CORRECT_BODY)
async def correct_attendance(request: web.Request, data: Body) -> Answer:
    """Correct a trainee's session result, with a reason (audited)

    The audit log keeps before, after and why."""
    return await service.correct(
        request.app[SESSIONS],
        principal(request),
        path_id(request, "session"),
        data["trainee_id"],
        data["changes"],
        data["reason"],
    )


@routes.json("GET", "/api/v1/trainees/{id}/transcript", roles.MANAGERS, "ledger", query=(YEAR,))
async def trainee_transcript(request: web.Request) -> Answer:
    """Show a trainee's session results and yearly class-hour progress

    Progress against the yearly class hours (32 by default)."""
    return await _transcript(request, path_id(request, "trainee"))


@routes.json("GET", "/api/v1/trainee/transcript", roles.TRAINEES, "ledger", query=(YEAR,))
async def own_transcript(request: web.Request) -> Answer:
    """Show the trainee's own results and yearly class-hour progress"""
    who = principal(request)
    assert who.trainee_id is not None
    return await _transcript(request, who.trainee_id)


async def _transcript(request: web.Request, trainee_id: int) -> Answer:
    return await service.transcript(
        request.app[SESSIONS],
        trainee_id,
        _year(request),
        exports.zone_of(request),
        count_selfstudy=request.app[CONFIG].selfstudy_counts_toward_year,
    )


TOP = Param("top", {"type": "integer", "minimum": 1, "maximum": 1000}, "size")
MIN_HOURS = Param(
    "min_hours",
    {"type": "integer", "minimum": 0, "maximum": 10000},
    "least class hours to be listed",
)


@routes.json(
    "GET", "/api/v1/reports/honour-list", roles.MANAGERS, "ledger", query=(YEAR, TOP, MIN_HOURS)
)
async def honour_list_view(request: web.Request) -> Answer:
    """Show the yearly honour list of class hours

    学习标兵: most class hours first."""
    return await service.honour_board(
        request.app[SESSIONS],
        _year(request),
        exports.zone_of(request),
        int(TOP.parse(request, 10)),
        int(MIN_HOURS.parse(request, 0)),
    )


@routes(
    "GET",
    SESSION + "/report",
    roles.MANAGERS,
    "Report a session's attendance by org unit and by site",
    "reports",
    query=(FORMAT,),
    produces=REPORT_MEDIA,
)
async def session_report(request: web.Request) -> web.Response:
    """Who was expected, who came, who was late or left early: JSON, CSV or XLSX."""
    fmt = _format(request)
    session_id = path_id(request, "session")
    report = await reports.load_session_report(request.app[SESSIONS], session_id)
    if fmt == "json":
        return web.json_response(report)
    found = sheets.session_sheets(report, exports.zone_of(request))
    return await exports.download(f"session-{session_id}-report", found, fmt)


FROM = Param("from", {"type": "string", "format": "date"}, "first day")
TO = Param("to", {"type": "string", "format": "date"}, "last day")


@routes(
    "GET",
    "/api/v1/org-units/{id}/report",
    roles.MANAGERS,
    "Report an org unit's attendance over a date range",
    "reports",
    query=(FORMAT, FROM, TO),
    produces=REPORT_MEDIA,
)
async def org_unit_report(request: web.Request) -> web.Response:
    """An org unit's (and its sub-units') attendance over a date range: JSON, CSV or XLSX."""
    fmt = _format(request)
    zone = exports.zone_of(request)
    today = utcnow().astimezone(zone).date()
    first: date = FROM.parse(request) or date(today.year, 1, 1)
    last: date = TO.parse(request) or today
    if last < first or (last - first).days > MAX_REPORT_DAYS:
        raise InvalidInput(
            "request.bad_query",
            f"to must not be before from, and at most {MAX_REPORT_DAYS} days later.",
        )
    found = await reports.org_unit_report(
        request.app[SESSIONS], path_id(request, "org unit"), first, last, zone
    )
    if fmt == "json":
        return web.json_response(found.view())
    tables = sheets.unit_sheets(found.trainees, found.reports, zone)
    return await exports.download(f"org-unit-{found.unit.id}-report", tables, fmt)
