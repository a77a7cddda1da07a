"""Completing a program over HTTP: requirements, who completed, certificates, public check.

Routes are declared at the end, next to their handlers. Set reading and write-ups are in
``writeups``; reminders in ``reminders``; the facts in ``service``; the PDF in ``certificate``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core import roles
from server.core.completion import (
    check_not_revoked,
    check_revoke_reason,
    check_verify_code,
    honour_list,
    mask_name,
    program_honour_candidates,
)
from server.core.errors import NotFound
from server.core.leave import leave_limit
from server.core.roles import Principal
from server.core.throttle import FailureThrottle, Policy, check_throttles
from server.core.validation import Bool, Float, Int, List, Map, Optional, Str
from server.store.completion_models import CertificateRow, ProgramSettings
from server.store.models import OrgUnit, Program, utcnow
from server.web import exports
from server.web.api import ID, Answer, Body, Param, Registry, Routes
from server.web.completion import reminders, service, writeups
from server.web.completion.certificate import CertificateText, render
from server.web.db import iso, rows_by
from server.web.guard import client_address
from server.web.keys import SESSIONS, VERIFY_THROTTLE, principal
from server.web.leave import service as leave_service
from server.web.resources import audit, load, path_id

WEB_CLIENT = Path(__file__).resolve().parents[3] / "web_client"
PDF = "application/pdf"
RULES_BODY = Map(
    {
        "min_hours": Optional(Float(0, 10_000)),
        "count_self_study": Bool(),
        "min_attendance_share": Optional(Float(0.01, 1)),
        "quiz_pass_mark": Optional(Float(1, 100)),
        "writeup_required": Bool(),
        "leave_limit_num": Int(1, 100),
        "leave_limit_den": Int(1, 100),
    },
    frozenset(),
    extra="reject",
    absent="omit",
)
REVOKE_BODY = Map({"reason": Str(max_len=500)}, frozenset({"reason"}), extra="reject")
REVOKE_MANY_BODY = Map(
    {"ids": List(ID, max_items=500, min_items=1), "reason": Str(max_len=500)},
    frozenset({"ids", "reason"}),
    extra="reject",
)
CODE_PARAM = Param(
    "code",
    {"type": "string", "maxLength": 64},
    "verification code",
    required=True,
    code="certificate.code_invalid",
)
TOP = Param("top", {"type": "integer", "minimum": 1, "maximum": 1000}, "size")
VERIFY_POLICY = Policy(free=20, base=1.0, max_lock=600.0, forget=3600.0)


routes = Routes()


@routes.json("GET", "/api/v1/programs/{id}/completion-rules", roles.MANAGERS, "completion")
async def get_rules(request: web.Request) -> Answer:
    """Show what completing the program needs and its leave limit"""
    program_id = path_id(request, "program")
    async with request.app[SESSIONS]() as db:
        await load(db, Program, program_id, "program")
        settings = await leave_service.settings_of(db, program_id)
    return service.settings_view(settings)


@routes.json_body(
    "PUT", "/api/v1/programs/{id}/completion-rules", roles.MANAGERS, "completion", RULES_BODY
)
async def put_rules(request: web.Request, data: Body) -> Answer:
    """Set what completing the program needs and its leave limit (default 1/7)"""
    program_id = path_id(request, "program")
    async with request.app[SESSIONS]() as db, db.begin():
        await load(db, Program, program_id, "program")
        row = await db.get(ProgramSettings, program_id)
        if row is None:
            row = ProgramSettings(program_id=program_id, leave_limit_num=1, leave_limit_den=7)
            db.add(row)
        before = service.settings_view(row)
        for key, value in data.items():
            setattr(row, key, value)
        leave_limit(row.leave_limit_num, row.leave_limit_den)
        service.requirements_of(row)  # the core refuses what it cannot judge
        audit(
            db, principal(request), "update", "program_settings", program_id, before,
            service.settings_view(row),
        )  # fmt: skip
        view = service.settings_view(row)
    return view


@routes.json("GET", "/api/v1/programs/{id}/completion", roles.MANAGERS, "completion")
async def completion_list(request: web.Request) -> Answer:
    """List who completed the program, what others miss, and certificates

    Every trainee of the program: completed or not, what is missing, their certificate."""
    program_id = path_id(request, "program")
    async with request.app[SESSIONS]() as db:
        program = await load(db, Program, program_id, "program")
        found = await service.program_facts(db, program)
        certs = await rows_by(
            db, CertificateRow, "trainee_id", CertificateRow.program_id == program_id
        )
        units = dict((await db.execute(select(OrgUnit.id, OrgUnit.name))).all())
        settings = await leave_service.settings_of(db, program_id)
    done = service.completions(found)
    items = []
    for trainee_id, result in sorted(
        done.items(),
        key=lambda kv: (found.trainees[kv[0]].org_unit_id, found.trainees[kv[0]].staff_no),
    ):
        trainee = found.trainees[trainee_id]
        facts = found.facts[trainee_id]
        cert = certs.get(trainee_id)
        items.append(
            {
                "trainee_id": trainee_id,
                "name": trainee.name,
                "staff_no": trainee.staff_no,
                "org_unit": units.get(trainee.org_unit_id, ""),
                "completed": result.completed,
                "hours": result.hours,
                "live_hours": facts.live_hours,
                "self_study_hours": facts.self_study_hours,
                "attendance_share": round(facts.attendance_share, 4),
                "quiz_percent": facts.quiz_percent,
                "writeup_accepted": facts.writeup_accepted,
                "missing": [
                    {"what": m.what.value, "needed": m.needed, "has": m.has} for m in result.missing
                ],
                "certificate": None if cert is None else _certificate_view(cert),
            }
        )
    return {
        "program": {"id": program.id, "name": program.name},
        "rules": service.settings_view(settings),
        "requirements_set": found.requirements.is_set,
        "completed": sum(1 for r in done.values() if r.completed),
        "total": len(done),
        "items": items,
    }


@routes.json(
    "GET",
    "/api/v1/programs/{id}/honour-list",
    roles.MANAGERS,
    "completion",
    query=(TOP,),
)
async def program_honour(request: web.Request) -> Answer:
    """Show a program's honour list (学习标兵) by its completion rules

    A program's honour list (学习标兵) by the same rules as completing it: only trainees who
    completed, most hours that count first, then quiz score, then staff number."""
    program_id = path_id(request, "program")
    top = int(TOP.parse(request, 10))
    async with request.app[SESSIONS]() as db:
        program = await load(db, Program, program_id, "program")
        found = await service.program_facts(db, program)
    done = service.completions(found)
    staff = {str(t): p.staff_no for t, p in found.trainees.items()}
    quiz = {str(t): f.quiz_percent or 0.0 for t, f in found.facts.items()}
    entries = honour_list(program_honour_candidates(done.values(), staff, quiz), top)
    return {
        "program": {"id": program.id, "name": program.name},
        "items": [
            {
                "rank": e.rank,
                "trainee_id": int(e.candidate.trainee_id),
                "name": found.trainees[int(e.candidate.trainee_id)].name,
                "staff_no": e.candidate.staff_number,
                "hours": e.candidate.class_hours,
                "quiz_percent": e.candidate.quiz_score,
            }
            for e in entries
        ],
    }


@routes.json("POST", "/api/v1/programs/{id}/certificates", roles.MANAGERS, "completion", status=201)
async def issue(request: web.Request) -> Answer:
    """Issue certificates to everyone who completed and has none

    Issue a certificate to every trainee who completed and has none yet; refused
    (completion.rules_unset) while the program has no completion requirements set."""
    program_id = path_id(request, "program")
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        program = await load(db, Program, program_id, "program")
        found = await service.program_facts(db, program)
        issued = await service.issue_certificates(db, found, who.label)
        for row in issued:
            audit(db, who, "issue", "certificate", row.id, None, {"trainee_id": row.trainee_id})
    return {"issued": len(issued)}


def _certificate_view(cert: CertificateRow) -> dict[str, object]:
    return {
        "id": cert.id,
        "code": cert.code,
        "issued_at": iso(cert.issued_at),
        "revoked_at": iso(cert.revoked_at) if cert.revoked_at else None,
        "revoked_by": cert.revoked_by,
        "revoke_reason": cert.revoke_reason,
    }


@routes.json_body(
    "POST", "/api/v1/certificates/{id}/revoke", roles.MANAGERS, "completion", REVOKE_BODY
)
async def revoke(request: web.Request, data: Body) -> Answer:
    """Revoke a certificate (撤销), with the reason; audited

    A revoked certificate is no longer valid: the public check says so and its PDF is not
    given out (certificate.revoked). Revoking twice is refused (certificate.revoked)."""
    certificate_id = path_id(request, "certificate")
    reason = check_revoke_reason(str(data["reason"]))
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        view = await _revoke(db, who, certificate_id, reason)
    return view


async def _revoke(
    db: AsyncSession, who: Principal, certificate_id: int, reason: str
) -> dict[str, object]:
    """Revoke one certificate in the caller's transaction, audited; its view."""
    await load(db, CertificateRow, certificate_id, "certificate")
    cert = await db.get(
        CertificateRow, certificate_id, with_for_update=True, populate_existing=True
    )
    assert cert is not None
    check_not_revoked(cert.revoked_at is not None)
    cert.revoked_at = utcnow()
    cert.revoked_by = who.label
    cert.revoke_reason = reason
    audit(
        db, who, "revoke", "certificate", cert.id,
        {"trainee_id": cert.trainee_id, "code": cert.code, "revoked": False},
        {"trainee_id": cert.trainee_id, "code": cert.code, "revoked": True},
        reason,
    )  # fmt: skip
    return _certificate_view(cert)


@routes.json_body(
    "POST", "/api/v1/certificates/revoke", roles.MANAGERS, "completion", REVOKE_MANY_BODY
)
async def revoke_many(request: web.Request, data: Body) -> Answer:
    """Revoke several certificates at once (撤销), with one reason; each audited

    All or none: an unknown certificate (404) or one already revoked (409
    certificate.revoked) revokes nothing."""
    reason = check_revoke_reason(str(data["reason"]))
    who = principal(request)
    async with request.app[SESSIONS]() as db, db.begin():
        views = [await _revoke(db, who, i, reason) for i in sorted(set(data["ids"]))]
    return {"revoked": views}


def _origin(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


async def _pdf(request: web.Request, cert: CertificateRow) -> web.Response:
    zone = exports.zone_of(request)
    text = CertificateText(
        name=cert.trainee_name,
        program=cert.program_name,
        hours=cert.hours,
        issued=cert.issued_at.astimezone(zone),
        code=cert.code,
        link=f"{_origin(request)}/verify/{cert.code}",
    )
    body = await asyncio.to_thread(render, text)
    return web.Response(
        body=body,
        headers={
            "Content-Type": PDF,
            "Content-Disposition": (
                f'attachment; filename="certificate-{cert.code}.pdf"; '
                "filename*=UTF-8''%E7%BB%93%E4%B8%9A%E8%AF%81%E4%B9%A6.pdf"  # 结业证书
            ),
            "Cache-Control": "private, no-store",
        },
    )


@routes(
    "GET",
    "/api/v1/certificates/{id}/pdf",
    roles.MANAGERS | roles.TRAINEES,
    "Download a certificate (PDF)",
    "completion",
    produces=(PDF,),
)
async def certificate_pdf(request: web.Request) -> web.Response:
    """A revoked certificate's PDF is refused (409 certificate.revoked)."""
    cert = await writeups.load_trainees_own(request, CertificateRow, "certificate")
    check_not_revoked(cert.revoked_at is not None)
    return await _pdf(request, cert)


@routes.json("GET", "/api/v1/trainee/certificates", roles.TRAINEES, "completion")
async def my_certificates(request: web.Request) -> Answer:
    """List my certificates"""
    who = principal(request)
    async with request.app[SESSIONS]() as db:
        rows = (
            await db.scalars(
                select(CertificateRow)
                .where(CertificateRow.trainee_id == who.trainee_id)
                .order_by(CertificateRow.issued_at.desc())
            )
        ).all()
    return {
        "items": [
            {
                "id": c.id,
                "program": c.program_name,
                "hours": c.hours,
                "issued_at": iso(c.issued_at),
                "code": c.code,
                "revoked": c.revoked_at is not None,
            }
            for c in rows
        ]
    }


@routes(
    "GET",
    "/api/v1/verify",
    roles.ALL,
    "Check a certificate by its verification code (public, rate-limited)",
    "completion",
    query=(CODE_PARAM,),
)
async def verify(request: web.Request) -> web.Response:
    """The public check of a certificate: masked name, program, hours, date, and whether it
    was revoked (then ``valid`` is false; the reason stays with the office). Unknown codes
    count against the caller's address (after 20, a wait that doubles up to 10 minutes)."""
    throttle = request.app[VERIFY_THROTTLE]
    address = client_address(request)
    now = time.monotonic()
    check_throttles([(throttle, address)], now, "auth.too_many_attempts", "certificate checks")
    code = check_verify_code(CODE_PARAM.parse(request))
    async with request.app[SESSIONS]() as db:
        cert = await db.scalar(select(CertificateRow).where(CertificateRow.code == code))
    if cert is None:
        throttle.failed(address, now)
        raise NotFound("certificate.unknown", "No certificate has this code.")
    zone = exports.zone_of(request)
    revoked = cert.revoked_at
    return web.json_response(
        {
            "valid": revoked is None,
            "code": cert.code,
            "name": mask_name(cert.trainee_name),
            "program": cert.program_name,
            "hours": cert.hours,
            "issued_on": cert.issued_at.astimezone(zone).date().isoformat(),
            "revoked": revoked is not None,
            "revoked_on": None if revoked is None else revoked.astimezone(zone).date().isoformat(),
        },
        headers={"Cache-Control": "no-store"},
    )


async def verify_page(_request: web.Request) -> web.FileResponse:
    return web.FileResponse(WEB_CLIENT / "verify" / "index.html")


def setup(app: web.Application) -> None:
    """The public verification page (/verify/<code>) and its throttle."""
    app[VERIFY_THROTTLE] = FailureThrottle(VERIFY_POLICY)
    app.router.add_get("/verify/{code}", verify_page)
    app.router.add_get("/verify/", verify_page)


def register(registry: Registry) -> None:
    routes.register(registry)
    writeups.register(registry)
    reminders.register(registry)
