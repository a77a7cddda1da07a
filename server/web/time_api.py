"""The deployment's time zone for the pages (issue 15.10): ``GET /api/v1/time``.

Every page formats the times people read (the site screen's clock and next session, the
phone's transcript dates, the console) in the configured ``time_zone``, not in whatever zone
the kiosk PC or the phone is set to. Public: it says nothing but the zone and the time.
"""

from __future__ import annotations

from aiohttp import web

from server.core import roles
from server.store.models import utcnow
from server.web.api import Endpoint, Registry
from server.web.keys import CONFIG

TIME_VIEW = {
    "type": "object",
    "properties": {
        "time_zone": {"type": "string", "example": "Asia/Shanghai"},
        "now": {"type": "string", "format": "date-time"},
        "utc_offset_minutes": {"type": "integer", "example": 480},
    },
    "required": ["time_zone", "now", "utc_offset_minutes"],
}


async def server_time(request: web.Request) -> web.Response:
    config = request.app[CONFIG]
    now = utcnow().astimezone(config.zone)
    offset = now.utcoffset()
    return web.json_response(
        {
            "time_zone": config.time_zone,
            "now": now.isoformat(),
            "utc_offset_minutes": 0 if offset is None else int(offset.total_seconds() // 60),
        }
    )


def register(registry: Registry) -> None:
    registry.add(
        Endpoint(
            "GET",
            "/api/v1/time",
            server_time,
            roles.ALL,
            "The time zone every page shows times in, and the server's time",
            "auth",
            response=TIME_VIEW,
        )
    )
