"""A new site secret ends, at once, what the old one opened: the site agent's socket and the
site screens' live sockets, in every server process.

The process that issued the secret closes its own sockets of the site straight away and
publishes ``site_secret_revoked`` on :data:`REVOKED_TOPIC` (no socket subscribes to it); every
process closes its sockets of that site when the event arrives. An agent socket also checks,
before it records anything, that the site's secret is still the one it signed in with
(:func:`secret_still_valid`), so even a message racing the close is refused. A screen's
cookie is MAC'd with the site's secret hash and so stops working on its next request.
"""

from __future__ import annotations

import logging

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from server.bus.port import BusEvent, BusUnavailable
from server.core.roles import Actor
from server.store.models import Site
from server.web.live import LIVE, Live

log = logging.getLogger("server.web.revocation")

REVOKED_TOPIC = "revoked"
REVOKED_KIND = "site_secret_revoked"
CLOSE_REVOKED = 4001
REASON = "auth.secret_revoked: this site's secret was replaced; sign in with the new one"


def close_site_sockets(live: Live, site_id: int) -> int:
    """Close this process's agent and screen sockets of a site; how many were open."""
    labels = {("agent", f"site:{site_id}"), ("client", f"{Actor.SITE_AGENT.value}:{site_id}")}
    closed = 0
    for connection in list(live.hub.connections):
        if (connection.kind, connection.label) in labels:
            connection.drop(REASON, CLOSE_REVOKED)
            closed += 1
    if closed:
        log.info("closed %d socket(s) of site %d after a new secret", closed, site_id)
    return closed


async def revoke_site(app: web.Application, site_id: int) -> None:
    """Call after the new secret is committed."""
    live = app[LIVE]
    close_site_sockets(live, site_id)
    try:
        await live.bus.publish(REVOKED_TOPIC, REVOKED_KIND, {"site_id": site_id})
    except BusUnavailable:
        log.warning("site %d revocation not broadcast: bus unavailable", site_id)


async def secret_still_valid(db: AsyncSession, site_id: int, secret_hash: str) -> bool:
    stored = await db.scalar(select(Site.secret_hash).where(Site.id == site_id))
    return stored is not None and stored == secret_hash


def setup(app: web.Application) -> None:
    live = app[LIVE]

    def listener(topic: str, event: BusEvent) -> None:
        if topic == REVOKED_TOPIC and event.type == REVOKED_KIND:
            site_id = event.payload.get("site_id")
            if isinstance(site_id, int):
                close_site_sockets(live, site_id)

    live.listeners.append(listener)
