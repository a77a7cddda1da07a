"""Signing in and out: staff by user name and password, trainees by their personal code (both
throttled by ``guard``), the session and CSRF cookies, and who is signed in."""

from __future__ import annotations

from aiohttp import web

from server.core import passwords, roles
from server.core.validation import Str
from server.web import auth
from server.web.api import Answer, Routes, body, read_body
from server.web.guard import client_address
from server.web.keys import CONFIG, GUARD, SESSIONS, principal

routes = Routes()
register = routes.register


LOGIN = body(
    {
        "username": Str(min_len=1, max_len=64),
        "password": Str(min_len=1, max_len=passwords.MAX_LENGTH, raw=True),
    },
    required={"username", "password"},
)
JOIN = body({"code": Str(min_len=4, max_len=32)}, required={"code"})


def _signed_in(request: web.Request, answer: Answer, token: str, csrf: str) -> web.Response:
    """A sign-in's answer with its two cookies, for the configured length of a login."""
    config = request.app[CONFIG]
    response = web.json_response(answer)
    auth.set_login_cookies(
        response,
        token,
        csrf,
        max_age=int(config.session_hours * 3600),
        secure=config.cookie_secure,
    )
    return response


@routes(
    "POST",
    "/api/v1/auth/login",
    roles.ALL,
    "Sign in as operator, moderator or admin",
    "auth",
    body=LOGIN,
)
async def login(request: web.Request) -> web.Response:
    data = await read_body(request, LOGIN)
    guard, address = request.app[GUARD], client_address(request)
    guard.start_login(data["username"], address)
    user = await auth.login_user(request.app[SESSIONS], data["username"], data["password"])
    guard.login_succeeded(data["username"], address)
    async with request.app[SESSIONS]() as db, db.begin():
        token, csrf = await auth.open_login(
            db, hours=request.app[CONFIG].session_hours, user_id=user.id
        )
    answer = {
        "actor": user.role.value,
        "user_id": user.id,
        "name": user.display_name or user.username,
        "csrf_token": csrf,
    }
    return _signed_in(request, answer, token, csrf)


@routes(
    "POST",
    "/api/v1/auth/join",
    roles.ALL,
    "Sign in as a trainee with a personal code",
    "auth",
    body=JOIN,
)
async def join(request: web.Request) -> web.Response:
    data = await read_body(request, JOIN)
    guard, address = request.app[GUARD], client_address(request)
    guard.start_code(address)
    async with request.app[SESSIONS]() as db, db.begin():
        trainee = await auth.trainee_by_join_code(db, data["code"])
        guard.code_succeeded(address)
        token, csrf = await auth.open_login(
            db, hours=request.app[CONFIG].session_hours, trainee_id=trainee.id
        )
    answer = {
        "actor": "trainee",
        "trainee_id": trainee.id,
        "name": trainee.name,
        "csrf_token": csrf,
    }
    return _signed_in(request, answer, token, csrf)


@routes("POST", "/api/v1/auth/logout", roles.SIGNED_IN, "Sign out", "auth", status=204)
async def logout(request: web.Request) -> web.Response:
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        async with request.app[SESSIONS]() as db, db.begin():
            await auth.close_login(db, token)
    response = web.Response(status=204)
    response.del_cookie(auth.SESSION_COOKIE, path="/")
    response.del_cookie(auth.CSRF_COOKIE, path="/")
    return response


@routes("GET", "/api/v1/auth/me", roles.ALL, "Show who is signed in", "auth")
async def me(request: web.Request) -> web.Response:
    who = principal(request)
    return web.json_response(
        {
            "actor": who.actor.value,
            "name": who.name,
            "user_id": who.user_id,
            "trainee_id": who.trainee_id,
            "site_id": who.site_id,
        }
    )
