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
    login = await db.get(LoginSession, sha256(token))
    if login is None or login.expires_at <= now:
        return None
    if login.user_id is not None:
        user = await db.get(User, login.user_id)
        if user is None or not user.active:
            return None
        return Principal(
            Actor(user.role.value), user.username, user_id=user.id, csrf_token=login.csrf_token
        )
    trainee = await db.get(Trainee, login.trainee_id)
    if trainee is None or not trainee.active:
        return None
    return Principal(
        Actor.TRAINEE,
        trainee.name,
        trainee_id=trainee.id,
        site_id=trainee.home_site_id,
        csrf_token=login.csrf_token,
    )


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
