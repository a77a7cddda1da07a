"""Sign-in and who is asking: cookie logins (users, trainees) and site-agent bearer secrets."""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from server.core.errors import Unauthenticated
from server.core.roles import Actor, Principal
from server.security import DUMMY_HASH, normalise_join_code, sha256, verify_password
from server.store.models import LoginSession, Site, Trainee, User, utcnow

SESSION_COOKIE = "classroom_session"
CSRF_COOKIE = "classroom_csrf"
CSRF_HEADER = "X-CSRF-Token"


async def login_user(db: AsyncSession, username: str, password: str) -> User:
    user = await db.scalar(select(User).where(User.username == username))
    if user is None:
        verify_password(DUMMY_HASH, password)
        raise Unauthenticated("auth.bad_credentials", "Wrong username or password.")
    if not verify_password(user.password_hash, password) or not user.active:
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


async def principal_from_cookie(db: AsyncSession, token: str, now: datetime) -> Principal | None:
    """The signed-in user or trainee of a cookie, in one query (it runs on every request)."""
    row = (
        await db.execute(
            select(
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
            .outerjoin(User, User.id == LoginSession.user_id)
            .outerjoin(Trainee, Trainee.id == LoginSession.trainee_id)
            .where(LoginSession.token_hash == sha256(token))
        )
    ).first()
    if row is None:
        return None
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


async def principal_from_site_secret(db: AsyncSession, secret: str) -> Principal | None:
    prefix, _, _ = secret.partition(".")
    if not prefix.startswith("site") or not prefix[4:].isdigit():
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
