"""Sign-in and who is asking: cookie logins (users, trainees) and site-agent bearer secrets."""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from aiohttp import web
from sqlalchemy import bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from server.core import checkin_guard as screen_rules
from server.core.errors import Unauthenticated
from server.core.roles import Actor, Principal
from server.security import DUMMY_HASH, normalise_join_code, sha256, verify_password_async
from server.store.models import LoginSession, Site, Trainee, User, utcnow
from server.web.batching import padded

SESSION_COOKIE = "classroom_session"
CSRF_COOKIE = "classroom_csrf"
CSRF_HEADER = "X-CSRF-Token"


def set_login_cookies(
    response: web.StreamResponse, token: str, csrf: str, *, max_age: int, secure: bool
) -> None:
    """The two cookies of a sign-in (the browser's login and the page's CSRF token), the same
    policy for people and screens: strict same-site, the login out of reach of scripts."""
    for name, value, httponly in ((SESSION_COOKIE, token, True), (CSRF_COOKIE, csrf, False)):
        response.set_cookie(
            name,
            value,
            httponly=httponly,
            samesite="Strict",
            secure=secure,
            max_age=max_age,
            path="/",
        )


async def login_user(sessions: async_sessionmaker[Any], username: str, password: str) -> User:
    """The user these credentials sign in. The password is checked in a worker thread with no
    database connection held (a login storm must hold neither the event loop nor the pool)."""
    async with sessions() as db:
        user: User | None = await db.scalar(select(User).where(User.username == username))
    if user is None:
        await verify_password_async(DUMMY_HASH, password)
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password.")
    if not await verify_password_async(user.password_hash, password) or not user.active:
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password.")
    return user


async def open_login(
    db: AsyncSession, *, hours: float, user_id: int | None = None, trainee_id: int | None = None
) -> tuple[str, str]:
    """Create a login and return (token for the cookie, CSRF token)."""
    token = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(24)
    now = utcnow()
    db.add(
        LoginSession(
            token_hash=sha256(token),
            user_id=user_id,
            trainee_id=trainee_id,
            csrf_token=csrf,
            created_at=now,
            expires_at=now + timedelta(hours=hours),
        )
    )
    # Expired logins are swept here, so the table stays small without a background job.
    await db.execute(delete(LoginSession).where(LoginSession.expires_at < now))
    return token, csrf


async def close_login(db: AsyncSession, token: str) -> None:
    await db.execute(delete(LoginSession).where(LoginSession.token_hash == sha256(token)))


# Built once: it runs on every request, and compiling the ORM statement each time cost as much
# as running it (bench/attendance.py --probe: /auth/me 5.7 -> 2.4 ms of CPU on SQLite).
_COOKIE_COLUMNS = (
    LoginSession.csrf_token,
    LoginSession.expires_at,
    User.id,
    User.username,
    User.role,
    User.active,
    Trainee.id,
    Trainee.name,
    Trainee.home_site_id,
    Trainee.active,
)
_COOKIE_QUERY = (
    select(*_COOKIE_COLUMNS)
    .outerjoin(User, User.id == LoginSession.user_id)
    .outerjoin(Trainee, Trainee.id == LoginSession.trainee_id)
    .where(LoginSession.token_hash == bindparam("token_hash"))
)
# The same for many cookies at once (the live socket's admission: server/web/admission.py).
_COOKIES_QUERY = (
    select(LoginSession.token_hash, *_COOKIE_COLUMNS)
    .outerjoin(User, User.id == LoginSession.user_id)
    .outerjoin(Trainee, Trainee.id == LoginSession.trainee_id)
    .where(LoginSession.token_hash.in_(bindparam("token_hashes", expanding=True)))
)


def _principal_of(row: Sequence[Any], now: datetime) -> Principal | None:
    """Who a login row (``_COOKIE_COLUMNS``) signs in, if it is still valid at ``now``."""
    csrf, expires, user_id, username, role, user_active, trainee_id, name, site_id, active = row
    if expires <= now:
        return None
    if user_id is not None:
        if not user_active:
            return None
        return Principal(Actor(role.value), username, user_id=user_id, csrf_token=csrf)
    if trainee_id is None or not active:
        return None
    return Principal(Actor.TRAINEE, name, trainee_id=trainee_id, site_id=site_id, csrf_token=csrf)


async def principal_from_cookie(
    engine: AsyncEngine, token: str, now: datetime, screen_key: bytes
) -> Principal | None:
    """The signed-in user, trainee or site screen of a cookie, in one query on a plain
    connection (no ORM session: it runs on every request). ``screen_key``: see
    :func:`screen_key`."""
    async with engine.connect() as conn:
        if token.startswith(SCREEN_PREFIX):
            return await principal_from_screen_token(conn, token, now, screen_key)
        row = (await conn.execute(_COOKIE_QUERY, {"token_hash": sha256(token)})).first()
    return None if row is None else _principal_of(row, now)


async def principals_from_token_hashes(
    engine: AsyncEngine, token_hashes: list[str], now: datetime
) -> dict[str, Principal | None]:
    """:func:`principal_from_cookie` for many login cookies (not screen cookies) in one
    query, by the cookies' SHA-256; a hash without a valid login maps to None."""
    async with engine.connect() as conn:
        rows = (await conn.execute(_COOKIES_QUERY, {"token_hashes": padded(token_hashes)})).all()
    found: dict[str, Principal | None] = dict.fromkeys(token_hashes)
    for row in rows:
        found[row[0]] = _principal_of(row[1:], now)
    return found


async def principal_from_site_secret(db: AsyncSession, secret: str) -> Principal | None:
    prefix, _, _ = secret.partition(".")
    digits = prefix[4:]
    # ASCII digits only ("²".isdigit() is true but int() refuses it), within the id range.
    if not prefix.startswith("site") or not (digits.isascii() and digits.isdigit()):
        return None
    if len(digits) > 10 or not 1 <= int(digits) <= 2**31 - 1:
        return None
    site = await db.get(Site, int(prefix[4:]))
    if site is None or site.secret_hash is None:
        return None
    if not hmac.compare_digest(site.secret_hash, sha256(secret)):
        return None
    return Principal(Actor.SITE_AGENT, site.name, site_id=site.id)


async def trainee_by_join_code(db: AsyncSession, code: str) -> Trainee:
    trainee = await db.scalar(
        select(Trainee).where(Trainee.join_code_hash == sha256(normalise_join_code(code)))
    )
    if trainee is None or not trainee.active:
        raise Unauthenticated(
            "auth.bad_join_code",
            "This personal code is not valid. Check it with your training office.",
        )
    return trainee


# A site's screen (kiosk browser): a stateless signed cookie instead of a login row; the rule
# (MAC keyed by the server's key and the site's secret hash, capped expiry) is in
# server.core.checkin_guard.
SCREEN_PREFIX = screen_rules.SCREEN_PREFIX
SCREEN_DAYS = screen_rules.SCREEN_DAYS
screen_csrf = screen_rules.screen_csrf


def screen_key(secret_key: str) -> bytes:
    """The key screen cookies are signed with, derived from the server's secret key."""
    return screen_rules.derive_key(secret_key, "screen")


def screen_token(key: bytes, site_id: int, secret_hash: str, now: datetime) -> str:
    return screen_rules.screen_token(key, site_id, secret_hash, now.timestamp())


def screen_token_due_for_renewal(token: str, now: datetime) -> bool:
    return screen_rules.screen_token_due_for_renewal(token, now.timestamp())


async def principal_from_screen_token(
    conn: AsyncConnection, token: str, now: datetime, key: bytes
) -> Principal | None:
    parts = screen_rules.screen_parts(token)
    if parts is None:
        return None
    site = (
        await conn.execute(select(Site.name, Site.secret_hash).where(Site.id == parts[0]))
    ).first()
    if site is None or site.secret_hash is None:
        return None
    if not screen_rules.screen_token_valid(key, token, site.secret_hash, now.timestamp()):
        return None
    return Principal(Actor.SITE_AGENT, site.name, site_id=parts[0], csrf_token=screen_csrf(token))
