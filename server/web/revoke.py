"""Revocation that reaches what is already open: logins and live sockets, on every node.

Every live socket is labelled with its owner (``owner_label``: ``user:3``, ``trainee:5``,
``site:2`` for a site's agent and its screens). ``revoke(app, labels)`` publishes the labels on
the bus topic ``auth_revoked``; every server process closes its own sockets of those owners
(close code 1008, reason ``auth.revoked``). A browser whose login is still valid reconnects
(as whoever it is now: a demoted operator comes back without staff topics); one whose login
was ended gets 401 and signs in again.

What calls it: a user deactivated, demoted, deleted or given a new password (their other
logins end too, the caller's own is kept), a trainee deactivated, deleted or given a new
personal code (their logins end), and (trust-checkin's work) a site's new secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from aiohttp import web
from sqlalchemy import delete

from server.bus.port import BusEvent, BusUnavailable
from server.core.roles import Principal
from server.security import sha256
from server.store.models import LoginSession
from server.web.auth import SESSION_COOKIE
from server.web.keys import LIVE, SESSIONS, TIMERS
from server.web.live import Live
from server.web.timers import Timers

log = logging.getLogger("server.revoke")

TOPIC = "auth_revoked"
CLOSE_CODE = 1008  # policy violation
REASON = "auth.revoked: sign in again"


def owner_label(who: Principal) -> str:
    if who.user_id is not None:
        return f"user:{who.user_id}"
    if who.trainee_id is not None:
        return f"trainee:{who.trainee_id}"
    return f"site:{who.site_id}"


def close_local(live: Live, labels: Iterable[str], background: Timers) -> int:
    """Close this process's sockets owned by ``labels``; returns how many."""
    wanted = set(labels)
    closing = [c for c in list(live.hub.connections) if c.label in wanted]
    for connection in closing:
        for topic in list(connection.topics):  # no more events from this moment
            live.hub.unsubscribe(connection, topic)
        background.spawn(connection.close(CLOSE_CODE, REASON))
    return len(closing)


async def revoke(app: web.Application, labels: list[str]) -> None:
    """Close every open socket of these owners, on every node (locally at once)."""
    live = app[LIVE]
    close_local(live, labels, app[TIMERS])
    try:
        await live.bus.publish(TOPIC, "revoked", {"labels": labels})
    except BusUnavailable:
        log.warning("bus unavailable: sockets on other nodes stay open", extra={"labels": labels})


async def end_logins(
    app: web.Application,
    *,
    user_id: int | None = None,
    trainee_id: int | None = None,
    keep_token: str | None = None,
) -> None:
    """End the cookie logins of a user or trainee (except ``keep_token``'s), and their sockets."""
    query = delete(LoginSession)
    if user_id is not None:
        query = query.where(LoginSession.user_id == user_id)
    else:
        query = query.where(LoginSession.trainee_id == trainee_id)
    if keep_token:
        query = query.where(LoginSession.token_hash != sha256(keep_token))
    async with app[SESSIONS]() as db, db.begin():
        await db.execute(query)
    label = f"user:{user_id}" if user_id is not None else f"trainee:{trainee_id}"
    await revoke(app, [label])


def current_token(request: web.Request) -> str | None:
    return request.cookies.get(SESSION_COOKIE)


def setup(app: web.Application) -> None:
    live = app[LIVE]

    def on_event(topic: str, event: BusEvent) -> None:
        if topic != TOPIC or event.origin == live.bus.node_id:
            return
        labels = event.payload.get("labels")
        if isinstance(labels, list):
            close_local(live, [str(x) for x in labels], app[TIMERS])

    live.listeners.append(on_event)
