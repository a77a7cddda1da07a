"""``GET /api/v1/media/ice-servers``: the STUN/TURN servers a browser's peer connections use,
with the caller's own short-lived TURN REST credentials when ``media_turn_secret`` is set
(server/core/turn.py). web_client/shared/media.js fetches it before a peer and again before the
credentials expire. Agents get theirs in every ``broadcast`` instruction."""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.core.roles import Principal
from server.media.peers import ice_servers_for, ice_servers_to_wire
from server.web.api import Endpoint, Registry
from server.web.keys import principal
from server.web.media_api import media_settings

ICE_SERVERS_VIEW = {
    "type": "object",
    "required": ["ice_servers", "ttl_s"],
    "properties": {
        "ice_servers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["urls"],
                "properties": {
                    "urls": {"type": "array", "items": {"type": "string"}},
                    "username": {"type": "string"},
                    "credential": {"type": "string"},
                },
            },
        },
        "ttl_s": {"type": ["integer", "null"], "description": "null: static credentials"},
    },
}


def peer_name(who: Principal) -> str:
    """How coturn's logs name the peer (never a person's name: ids only)."""
    for prefix, value in (
        ("user", who.user_id),
        ("trainee", who.trainee_id),
        ("site", who.site_id),
    ):
        if value is not None:
            return f"{prefix}-{value}"
    return who.actor.value


async def ice_servers(request: web.Request) -> web.Response:
    settings = media_settings(request.app)
    servers = ice_servers_for(settings, peer_name(principal(request)))
    return web.json_response(
        {
            "ice_servers": ice_servers_to_wire(servers),
            "ttl_s": settings.turn_ttl if settings.turn_secret else None,
        },
        headers={"Cache-Control": "no-store"},
    )


def register(registry: Registry) -> None:
    registry.add(
        Endpoint(
            "GET",
            "/api/v1/media/ice-servers",
            ice_servers,
            roles.SIGNED_IN,
            "STUN/TURN servers for this caller's WebRTC peers (TURN REST credentials)",
            "broadcast",
            response=ICE_SERVERS_VIEW,
        )
    )
