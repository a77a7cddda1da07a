"""Personal codes in bulk for printed slips (the work is in ``service``).

``POST /join-codes`` issues the codes of a unit, a site or everyone and answers them once, in
clear, with each trainee's sign-in link; the console prints them as slips. ``POST
/join-codes/xlsx`` turns slips the console already holds into a workbook: it reads nothing from
the database and issues nothing, so saving the spreadsheet never replaces printed codes.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from aiohttp import web

from server.core import roles
from server.core.validation import Bool, List, Str
from server.core.validation import Enum as OneOf
from server.web.api import ID, Answer, Body, Routes, body, read_body
from server.web.codes.service import MAX_CODES, CodeScope, Slip, issue_join_codes, slips_xlsx
from server.web.exports import XLSX
from server.web.keys import SESSIONS, principal

routes = Routes()
register = routes.register
BASE_URL = Str(min_len=8, max_len=200)
TEXT = Str(max_len=200)


ISSUE_BODY = body(
    {
        "org_unit_id": ID,
        "site_id": ID,
        "everyone": Bool(),
        "only_missing": Bool(),
        "base_url": BASE_URL,
    },
    {"base_url"},
)
SLIP = body(
    {
        "trainee_id": ID,
        "name": TEXT,
        "staff_no": TEXT,
        "org_unit": TEXT,
        "site": TEXT,
        "code": Str(min_len=1, max_len=32),
        "link": Str(max_len=300),
    },
    {"name", "code"},
)
XLSX_BODY = body({"items": List(SLIP, max_items=MAX_CODES), "lang": OneOf("zh", "en")}, {"items"})


@routes.json_body("POST", "/api/v1/join-codes", roles.MANAGERS, "trainees", ISSUE_BODY, status=201)
async def issue(request: web.Request, data: Body) -> Answer:
    """Issue new personal codes to a unit, a site or everyone (shown once, for slips)"""
    scope = CodeScope(
        org_unit_id=data.get("org_unit_id"),
        site_id=data.get("site_id"),
        everyone=data.get("everyone", False),
        only_missing=data.get("only_missing", False),
    )
    async with request.app[SESSIONS]() as db, db.begin():
        slips = await issue_join_codes(db, scope, data["base_url"], principal(request).label)
    return {
        "issued": len(slips),
        "items": [asdict(s) for s in slips],
        "note": "Shown once: print or save the slips now.",
    }


@routes(
    "POST",
    "/api/v1/join-codes/xlsx",
    roles.MANAGERS,
    "Turn issued slips into an XLSX workbook (issues nothing)",
    "trainees",
    body=XLSX_BODY,
    produces=(XLSX,),
)
async def xlsx(request: web.Request) -> web.Response:
    data = await read_body(request, XLSX_BODY)
    slips = [
        Slip(
            trainee_id=item.get("trainee_id", 0),
            name=item["name"],
            staff_no=item.get("staff_no", ""),
            org_unit=item.get("org_unit", ""),
            site=item.get("site", ""),
            code=item["code"],
            link=item.get("link", ""),
        )
        for item in data["items"]
    ]
    workbook = await asyncio.to_thread(slips_xlsx, slips, data.get("lang", "zh"))
    return web.Response(
        body=workbook,
        headers={
            "Content-Type": XLSX,
            # 个人码, percent-encoded for filename*
            "Content-Disposition": (
                "attachment; filename=\"join-codes.xlsx\"; filename*=UTF-8''"
                "%E4%B8%AA%E4%BA%BA%E7%A0%81.xlsx"
            ),
            "Cache-Control": "no-store",
        },
    )
