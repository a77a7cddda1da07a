"""Every HTTP endpoint of the product, declared in one place."""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server import security
from server.core import passwords, roles
from server.core.errors import Conflict, InvalidInput
from server.core.roles import Actor
from server.core.session_run import StartCheck, start_check, start_warning
from server.core.sessions import SessionAction, check_window, next_state
from server.core.validation import (
    Bool,
    DateTime,
    Float,
    Int,
    List,
    Map,
    Optional,
    Spec,
    Str,
)
from server.core.validation import Enum as OneOf
from server.store.models import (
    ClassSession,
    Course,
    OrgUnit,
    Program,
    ProgramUnit,
    Role,
    SessionStatus,
    Site,
    SiteKind,
    TeachingMethod,
    Trainee,
    User,
    utcnow,
)
from server.store.rollcall_models import RollCall, RollCallEntry
from server.web import (
    media_api,
    presence,
    recordings,
    revoke,
    screen_api,
    signin,
    time_api,
    trainee_api,
    turn_api,
)
from server.web.api import Endpoint, Registry, read_body
from server.web.audit import http as audit_http
from server.web.batches import http as batches_http
from server.web.checkin import http as checkin_http
from server.web.checkin.records import close_open_records
from server.web.codes import http as codes_http
from server.web.completion import http as completion_http
from server.web.electives import http as electives_http
from server.web.floor import http as floor_http
from server.web.interaction import http as interaction_http
from server.web.interaction.http import services
from server.web.keys import CONFIG, LIVE, SESSIONS, principal
from server.web.leave import http as leave_http
from server.web.ledger import http as ledger_http
from server.web.polls import http as polls_http
from server.web.qa import http as qa_http
from server.web.qa import moderation
from server.web.resources import Resource, audit, load, path_id, register, to_json
from server.web.rollcall import http as rollcall_http
from server.web.rollcall import service as rollcall_service
from server.web.roster import http as roster_http
from server.web.selfstudy import http as selfstudy_http

NAME = Str(min_len=1, max_len=100)
CODE = Str(min_len=1, max_len=32, pattern=r"[A-Za-z0-9_.-]+")
ID = Int(1, 2**31 - 1)


def body(fields: dict[str, Spec], required: set[str]) -> Map:
    """A REST body: unknown fields are an error (a typo must not pass silently); absent ones
    are left out so defaults apply and PATCH changes only what was sent."""
    return Map(fields, frozenset(required), extra="reject", absent="omit")


async def _session_fields(db: AsyncSession, obj: Any, data: dict[str, Any], creating: bool) -> None:
    if "teaching_method" in data:
        data["teaching_method"] = TeachingMethod(data["teaching_method"])
    # On create both are required by the schema; on change the stored value stands in.
    check_window(data.get("starts_at", obj.starts_at), data.get("ends_at", obj.ends_at))
    if "site_ids" in data:
        ids = sorted(set(data.pop("site_ids")))
        sites = (await db.scalars(select(Site).where(Site.id.in_(ids)))).all() if ids else []
        missing = sorted(set(ids) - {s.id for s in sites})
        if missing:
            raise InvalidInput("sessions.unknown_site", f"Sites {missing} do not exist.")
        if creating:
            obj.sites = list(sites)
        else:
            await db.refresh(obj, ["sites"])
            obj.sites = list(sites)
    elif creating:
        obj.sites = []


async def _active_admins(db: AsyncSession) -> frozenset[int]:
    ids = await db.scalars(select(User.id).where(User.role == Role.ADMIN, User.active.is_(True)))
    return frozenset(ids)


async def _user_fields(db: AsyncSession, obj: Any, data: dict[str, Any], creating: bool) -> None:
    if "password" in data:
        passwords.check_password(data["password"], data.get("username") or obj.username or "")
        obj.password_hash = await security.hash_password_async(data.pop("password"))
    if "role" in data:
        data["role"] = Role(data["role"])
    if not creating and ("role" in data or "active" in data):
        stays = data.get("role", obj.role) is Role.ADMIN and data.get("active", obj.active)
        roles.check_admins_remain(await _active_admins(db), obj.id, stays_admin=bool(stays))


async def _user_deletable(db: AsyncSession, obj: Any) -> None:
    roles.check_admins_remain(await _active_admins(db), obj.id, stays_admin=False)


async def _user_changed(request: web.Request, user_id: int, sent: frozenset[str] | None) -> None:
    """A new password ends the user's other logins (the caller's own is kept); deactivation,
    a new role or removal closes their open sockets at once."""
    if sent is not None and "password" in sent:
        await revoke.end_logins(
            request.app, user_id=user_id, keep_token=revoke.current_token(request)
        )
    elif sent is None or sent & {"active", "role"}:
        await revoke.revoke(request.app, [f"user:{user_id}"])


async def _trainee_changed(
    request: web.Request, trainee_id: int, sent: frozenset[str] | None
) -> None:
    if sent is None or "active" in sent:
        await revoke.end_logins(request.app, trainee_id=trainee_id)


async def _site_fields(db: AsyncSession, obj: Any, data: dict[str, Any], creating: bool) -> None:
    if "kind" in data:
        data["kind"] = SiteKind(data["kind"])


def _session_view(obj: Any) -> dict[str, Any]:
    return {"site_ids": [s.id for s in obj.sites]}


def _site_view(obj: Any) -> dict[str, Any]:
    return {"has_secret": obj.secret_hash is not None}


def _trainee_view(obj: Any) -> dict[str, Any]:
    return {"has_join_code": obj.join_code_hash is not None}


RESOURCES: tuple[Resource, ...] = (
    Resource(
        "org-units",
        "org unit",
        OrgUnit,
        body({"name": NAME, "code": Optional(CODE), "parent_id": Optional(ID)}, required={"name"}),
        read=roles.STAFF,
        write=roles.MANAGERS,
        refs={"parent_id": OrgUnit},
        tree=True,
        filters=("parent_id",),
        search=("name", "code"),
    ),
    Resource(
        "sites",
        "site",
        Site,
        body(
            {
                "name": NAME,
                "code": Optional(CODE),
                "kind": OneOf(*[k.value for k in SiteKind]),
                "parent_id": Optional(ID),
                "org_unit_id": Optional(ID),
                "capacity": Int(0, 100_000),
            },
            required={"name"},
        ),
        read=roles.STAFF,
        write=roles.MANAGERS,
        refs={"parent_id": Site, "org_unit_id": OrgUnit},
        tree=True,
        filters=("parent_id", "org_unit_id"),
        search=("name", "code"),
        hidden=frozenset({"secret_hash"}),
        extra=_site_view,
        prepare=_site_fields,
    ),
    Resource(
        "trainees",
        "trainee",
        Trainee,
        body(
            {
                "name": Str(min_len=1, max_len=64),
                "staff_no": CODE,
                "org_unit_id": ID,
                "position": Str(max_len=64),
                "is_leader": Bool(),
                "home_site_id": Optional(ID),
                "phone": Optional(Str(max_len=32)),
                "gender": Optional(Str(max_len=8)),
                "active": Bool(),
            },
            required={"name", "staff_no", "org_unit_id"},
        ),
        read=roles.MANAGERS,
        write=roles.MANAGERS,
        refs={"org_unit_id": OrgUnit, "home_site_id": Site},
        filters=("org_unit_id", "home_site_id"),
        search=("name", "staff_no"),
        hidden=frozenset({"join_code_hash"}),
        extra=_trainee_view,
        changed=_trainee_changed,
    ),
    Resource(
        "users",
        "user",
        User,
        body(
            {
                "username": Str(min_len=3, max_len=64, pattern=r"[A-Za-z0-9_.-]+"),
                "display_name": Str(max_len=100),
                # the strength rule is server/core/passwords.py's (stable password.* codes)
                "password": Str(min_len=1, max_len=passwords.MAX_LENGTH, raw=True),
                "role": OneOf(*[r.value for r in Role]),
                "active": Bool(),
            },
            required={"username", "password", "role"},
        ),
        read=roles.ADMINS,
        write=roles.ADMINS,
        search=("username", "display_name"),
        hidden=frozenset({"password_hash"}),
        prepare=_user_fields,
        before_delete=_user_deletable,
        changed=_user_changed,
    ),
    Resource(
        "programs",
        "program",
        Program,
        body(
            {
                "name": Str(min_len=1, max_len=200),
                "year": Int(2000, 2100),
                "description": Str(max_len=5000),
            },
            required={"name", "year"},
        ),
        read=roles.STAFF,
        write=roles.MANAGERS,
        search=("name",),
    ),
    Resource(
        "units",
        "thematic unit",
        ProgramUnit,
        body(
            {"program_id": ID, "title": Str(min_len=1, max_len=200), "seq": Int(0, 10_000)},
            required={"program_id", "title"},
        ),
        read=roles.STAFF,
        write=roles.MANAGERS,
        refs={"program_id": Program},
        filters=("program_id",),
    ),
    Resource(
        "courses",
        "course",
        Course,
        body(
            {
                "unit_id": ID,
                "title": Str(min_len=1, max_len=200),
                "lecturer": Str(max_len=100),
                "credits": Float(0, 100),
            },
            required={"unit_id", "title"},
        ),
        read=roles.STAFF,
        write=roles.MANAGERS,
        refs={"unit_id": ProgramUnit},
        filters=("unit_id",),
        search=("title", "lecturer"),
    ),
    Resource(
        "sessions",
        "session",
        ClassSession,
        body(
            {
                "course_id": ID,
                "title": Str(max_len=200),
                "starts_at": DateTime(),
                "ends_at": DateTime(),
                "teaching_method": OneOf(*[m.value for m in TeachingMethod]),
                "site_ids": List(ID, max_items=2000),
            },
            required={"course_id", "starts_at", "ends_at", "teaching_method"},
        ),
        read=roles.STAFF | {Actor.TRAINEE, Actor.SITE_AGENT},
        write=roles.MANAGERS,
        refs={"course_id": Course},
        filters=("course_id",),
        search=("title",),
        extra=_session_view,
        prepare=_session_fields,
    ),
)

SITES_RESOURCE, TRAINEES_RESOURCE, SESSIONS_RESOURCE = RESOURCES[1], RESOURCES[2], RESOURCES[-1]


async def issue_site_secret(request: web.Request) -> web.Response:
    """Create (or replace) a site's agent secret. It is shown once, here, and stored hashed."""
    async with request.app[SESSIONS]() as db, db.begin():
        site = await load(db, Site, path_id(request, "site"), "site")
        secret, digest = security.new_site_secret(site.id)
        site.secret_hash = digest
        site.secret_issued_at = utcnow()
        audit(
            db,
            principal(request),
            "issue_secret",
            "sites",
            site.id,
            None,
            {"secret_issued_at": site.secret_issued_at.isoformat()},
        )
    await revoke.revoke(request.app, [f"site:{site.id}"])  # its agent's and screens' sockets
    return web.json_response(
        {
            "site_id": site.id,
            "secret": secret,
            "note": "Shown once. Put it in the site agent's config now.",
        },
        status=201,
    )


async def issue_join_code(request: web.Request) -> web.Response:
    async with request.app[SESSIONS]() as db, db.begin():
        trainee = await load(db, Trainee, path_id(request, "trainee"), "trainee")
        code, digest = security.new_join_code()
        trainee.join_code_hash = digest
        audit(db, principal(request), "issue_join_code", "trainees", trainee.id, None, None)
    await revoke.end_logins(request.app, trainee_id=trainee.id)  # the old code's login ends
    return web.json_response(
        {"trainee_id": trainee.id, "code": code, "note": "Shown once. Give it to the trainee."},
        status=201,
    )


START_BODY = body({"only_on_schedule": Bool()}, set())
"""``only_on_schedule``: refuse (409) a start that needs a second question (another day, well
before the schedule: :func:`server.core.session_run.start_check`) instead of starting; the
console sends it first and asks the operator on such a refusal. Left out: start regardless."""


def _refuse_unusual_start(starts_at: datetime, zone: tzinfo) -> None:
    now = utcnow()
    check = start_check(starts_at.timestamp(), now.timestamp(), zone)
    if check is StartCheck.ON_SCHEDULE:
        return
    details = {
        "starts_at": starts_at.astimezone(UTC).isoformat(),
        "minutes_early": max(0, round((starts_at - now).total_seconds() / 60)),
    }
    if check is StartCheck.OTHER_DAY:
        raise Conflict(
            "session.start_other_day",
            "This session is scheduled for another day; start it anyway?",
            details,
        )
    raise Conflict(
        "session.start_early",
        "This session is scheduled to start later; start it anyway?",
        details,
    )


async def _change_session(request: web.Request, action: SessionAction) -> web.Response:
    only_on_schedule = False
    if action is SessionAction.START and request.can_read_body:
        only_on_schedule = bool((await read_body(request, START_BODY)).get("only_on_schedule"))
    closed_calls: list[tuple[RollCall, list[RollCallEntry]]] = []
    if action is SessionAction.END:  # no question left on the air of an ended session
        await moderation.answer_on_air(
            services(request), principal(request), path_id(request, "session")
        )
    async with request.app[SESSIONS]() as db, db.begin():
        session = await load(db, ClassSession, path_id(request, "session"), "session")
        before = session.status.value
        state = next_state(SessionStatus(before), action)
        session.status = state
        warning: dict[str, str | float] | None = None
        if action is SessionAction.START:
            if only_on_schedule:
                _refuse_unusual_start(session.starts_at, request.app[CONFIG].zone)
            session.started_at = utcnow()
            warning = start_warning(session.starts_at.timestamp(), session.started_at.timestamp())
        else:
            session.ended_at = utcnow()
            await close_open_records(db, session.id, session.ended_at)
            closed_calls = await rollcall_service.close_roll_calls(db, session.id)
        who = principal(request)
        audit(
            db,
            who,
            action.value,
            "sessions",
            session.id,
            {"status": before},
            {"status": state.value},
        )
        view = to_json(SESSIONS_RESOURCE, session)
    kind = "session_started" if action is SessionAction.START else "session_ended"
    if action is SessionAction.END:
        await media_api.session_ended(request.app, view["id"])
        await rollcall_service.announce_closed(services(request), closed_calls)
    await request.app[LIVE].announce(kind, view, site_ids=view["site_ids"], session_id=view["id"])
    return web.json_response(view if warning is None else {**view, "warning": warning})


async def start_session(request: web.Request) -> web.Response:
    return await _change_session(request, SessionAction.START)


async def end_session(request: web.Request) -> web.Response:
    return await _change_session(request, SessionAction.END)


async def agent_site(request: web.Request) -> web.Response:
    """What a site agent needs at start: its site and the sessions it takes part in today."""
    who = principal(request)
    assert who.site_id is not None
    async with request.app[SESSIONS]() as db:
        site = await load(db, Site, who.site_id, "site")
        now = utcnow()
        sessions = (
            await db.scalars(
                select(ClassSession)
                .join(ClassSession.sites)
                .where(Site.id == site.id)
                .where(ClassSession.ends_at >= now)
                .order_by(ClassSession.starts_at)
                .limit(20)
            )
        ).all()
        return web.json_response(
            {
                "site": to_json(SITES_RESOURCE, site),
                "sessions": [to_json(SESSIONS_RESOURCE, s) for s in sessions],
            }
        )


async def trainee_me(request: web.Request) -> web.Response:
    who = principal(request)
    assert who.trainee_id is not None
    async with request.app[SESSIONS]() as db:
        trainee = await load(db, Trainee, who.trainee_id, "trainee")
        return web.json_response(to_json(TRAINEES_RESOURCE, trainee))


def build_registry() -> Registry:
    registry = Registry()
    add = registry.add
    signin.register(registry)
    for resource in RESOURCES:
        register(registry, resource, SESSIONS, principal)
    add(
        Endpoint(
            "POST",
            "/api/v1/sites/{id}/secret",
            issue_site_secret,
            roles.MANAGERS,
            "Issue a new agent secret for a site",
            "sites",
            status=201,
        )
    )
    add(
        Endpoint(
            "POST",
            "/api/v1/trainees/{id}/join-code",
            issue_join_code,
            roles.MANAGERS,
            "Issue a new personal join code for a trainee",
            "trainees",
            status=201,
        )
    )
    roster_http.register(registry)
    codes_http.register(registry)
    audit_http.register(registry)
    trainee_api.register(registry)
    rollcall_http.register(registry)
    batches_http.register(registry)
    checkin_http.register(registry)
    electives_http.register(registry)
    ledger_http.register(registry)
    qa_http.register(registry)
    floor_http.register(registry)
    polls_http.register(registry)
    interaction_http.register(registry)
    time_api.register(registry)
    media_api.register(registry)
    recordings.register(registry)
    turn_api.register(registry)
    screen_api.register(registry)
    leave_http.register(registry)
    completion_http.register(registry)
    selfstudy_http.register(registry)
    add(
        Endpoint(
            "POST",
            "/api/v1/sessions/{id}/start",
            start_session,
            roles.MANAGERS,
            "Start a session",
            "sessions",
            body=START_BODY,
            body_required=False,
        )
    )
    add(
        Endpoint(
            "POST",
            "/api/v1/sessions/{id}/end",
            end_session,
            roles.MANAGERS,
            "End a session",
            "sessions",
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/sessions/{id}/presence",
            presence.session_presence,
            roles.STAFF,
            "Show each site's presence timeline over a session",
            "sessions",
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/agent/site",
            agent_site,
            roles.AGENTS,
            "Show the agent's own site",
            "agent",
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/trainee/me",
            trainee_me,
            roles.TRAINEES,
            "Show the trainee's own profile",
            "trainee",
        )
    )
    return registry
