"""``/ws/client``: browsers' live socket (JSON). Subscribe to topics, get numbered events, resume.

Every event carries its topic, epoch and seq. A browser that reconnects sends, per topic, the
epoch and the last seq it saw: it gets exactly the missed events, or a ``resync`` with a fresh
snapshot when the history no longer covers them (or the epoch changed). Events that arrive while
a subscription is being answered are held back and sent after it, in order, without repeats.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import select

from server.bus.port import BusUnavailable
from server.core import roles
from server.core.errors import DomainError, Forbidden, RateLimited
from server.core.messages import CLIENT_MESSAGES, validate_message
from server.core.roles import Actor, Principal
from server.core.topics import Replay
from server.store.models import Site
from server.web import auth, edges, media_api
from server.web.admission import Admission
from server.web.checkin.events import ALERTS_TOPIC
from server.web.hub import CLOSE_TRY_AGAIN, Connection
from server.web.keys import ADMISSION, CONFIG, ENGINE, LIVE, SESSIONS
from server.web.live import Live
from server.web.presence import HEALTH_TOPIC, PRESENCE_TOPIC
from server.web.responses import error_response
from server.web.revoke import owner_label
from server.web.wire import WS_MAX_MSG_SIZE, RateLimit, decode_json

log = logging.getLogger("server.ws.client")

Snapshot = Callable[[web.Request, str], Awaitable[dict[str, Any]]]
_SESSION_TOPIC = re.compile(r"session:([0-9]{1,10})")


async def presence_snapshot(request: web.Request, topic: str) -> dict[str, Any]:
    async with request.app[SESSIONS]() as db:
        sites = (
            await db.execute(select(Site.id, Site.name, Site.parent_id).order_by(Site.id))
        ).all()
    known = await request.app[LIVE].presence.snapshot_sites([s.id for s in sites])
    return {
        "sites": [
            {"id": s.id, "name": s.name, "parent_id": s.parent_id, **known[s.id]} for s in sites
        ]
    }


async def session_snapshot(request: web.Request, topic: str) -> dict[str, Any]:
    match = _SESSION_TOPIC.fullmatch(topic)
    assert match is not None
    return await request.app[ADMISSION].session_snapshot(int(match.group(1)))


async def empty_snapshot(request: web.Request, topic: str) -> dict[str, Any]:
    return {}


def topic_rule(topic: str) -> tuple[frozenset[Actor], Snapshot]:
    """Who may subscribe to a topic, and how its snapshot is made."""
    if topic == PRESENCE_TOPIC:
        return roles.STAFF, presence_snapshot
    if topic in (HEALTH_TOPIC, ALERTS_TOPIC):
        return roles.STAFF, empty_snapshot
    if _SESSION_TOPIC.fullmatch(topic):
        # a trainee or site only for sessions it takes part in: see _may_watch
        return roles.STAFF | {Actor.TRAINEE, Actor.SITE_AGENT}, session_snapshot
    return frozenset(), empty_snapshot


async def _may_watch(request: web.Request, who: Principal, topic: str) -> bool:
    """A trainee or a site watches only the sessions it takes part in (the rule of
    server/web/scope.py, read in batches by server/web/admission.py)."""
    match = _SESSION_TOPIC.fullmatch(topic)
    if match is None or int(match.group(1)) > 2**31 - 1:
        return False
    return await request.app[ADMISSION].may_watch(who, int(match.group(1)))


async def _subscribe(
    request: web.Request,
    live: Live,
    connection: Connection,
    who: Principal,
    topics: list[str],
    resume: dict[str, dict[str, Any]],
) -> None:
    for topic in topics:
        allowed, _ = topic_rule(topic)
        if who.actor not in allowed:
            raise Forbidden(
                "ws.forbidden_topic", f"A {who.actor.value} may not subscribe to {topic}."
            )
        outsider = who.actor in (Actor.SITE_AGENT, Actor.TRAINEE)
        if outsider and not await _may_watch(request, who, topic):
            raise Forbidden("ws.forbidden_topic", f"You do not take part in {topic}.")
    for topic in topics:
        connection.hold(topic)
        live.hub.subscribe(connection, topic)
        try:
            last_sent = await _answer(request, connection, topic, resume.get(topic))
        except BaseException:
            # Not answered: neither followed nor held (held events would wait forever, and
            # the page would show a wall that silently stopped).
            live.hub.unsubscribe(connection, topic)
            connection.forget(topic)
            raise
        connection.release(topic, last_sent)


async def _answer(
    request: web.Request, connection: Connection, topic: str, wanted: dict[str, Any] | None
) -> int:
    """Send the subscription's answer: the missed events (a resume the history covers) or a
    ``resync`` with the topic's snapshot. Returns the last seq the answer covered."""
    admission = request.app[ADMISSION]
    _, snapshot = topic_rule(topic)
    cursor = await admission.cursor(topic)
    if wanted is not None:
        resumed = await admission.resume(topic, wanted["epoch"], wanted["last_seq"])
        answer = resumed.answer
        if isinstance(answer, Replay):
            if resumed.frame is not None:  # the missed events, in one frame
                connection.send(resumed.frame)
            return answer.last_seq
        reason = answer.reason.value
    else:
        reason = "new_subscription"
    connection.send_message(
        {
            "type": "resync",
            "topic": topic,
            "epoch": cursor.epoch,
            "seq": cursor.last_seq,
            "reason": reason,
            "snapshot": await snapshot(request, topic),
        }
    )
    return cursor.last_seq


def _allowed_origin(request: web.Request) -> bool:
    origin = request.headers.get("Origin")
    if origin is None:  # not a browser: cross-site socket hijacking needs one
        return True
    own = f"{request.scheme}://{request.host}"
    return origin == own or origin in request.app[CONFIG].effective_origins


async def _signed_in(request: web.Request) -> Principal | None:
    """Who the cookie belongs to. A function of its own so that the database session is not
    kept alive, in the socket handler's frame, for as long as the socket is open."""
    token = request.cookies.get(auth.SESSION_COOKIE)
    if not token:
        return None
    return await request.app[ADMISSION].principal(token)


async def client_socket(request: web.Request) -> web.StreamResponse:
    if not _allowed_origin(request):
        return error_response(
            403, "ws.bad_origin", "This page's origin may not open the live socket."
        )
    who = await _signed_in(request)
    if who is None:
        return error_response(401, "auth.required", "Sign in first.")
    live = request.app[LIVE]
    # No permessage-deflate: the hub writes each event's frame, encoded once, to every socket
    # as is (a per-socket compressor would cost CPU per socket and ~300 KiB of zlib state).
    ws = web.WebSocketResponse(max_msg_size=WS_MAX_MSG_SIZE, heartbeat=30.0, compress=False)
    await ws.prepare(request)
    connection = live.hub.open(ws, "client", owner_label(who), binary=False)
    live.metrics_open("client", +1)
    limit = RateLimit()
    try:
        connection.send_message(
            {"type": "hello", "actor": who.actor.value, "node_id": live.bus.node_id}
        )
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                await connection.close(1003, "send JSON text frames")
                break
            if msg.type != WSMsgType.TEXT:
                break
            try:
                limit.take()
                message = validate_message(CLIENT_MESSAGES, decode_json(msg.data), now=time.time())
                if message.type == "subscribe":
                    try:
                        await _subscribe(
                            request,
                            live,
                            connection,
                            who,
                            message.body["topics"],
                            message.body["resume"] or {},
                        )
                    except BusUnavailable as exc:
                        # The page would wait for an answer that never comes: it reconnects
                        # with back-off and resumes from its cursors instead.
                        await connection.close(CLOSE_TRY_AGAIN, f"{exc.code}: try again")
                        break
                elif message.type == "unsubscribe":
                    for topic in message.body["topics"]:
                        live.hub.unsubscribe(connection, topic)
                elif message.type == "ping":
                    connection.send_message(
                        {"type": "pong", "nonce": message.body["nonce"], "server_ts": time.time()}
                    )
                elif message.type in media_api.CLIENT_TYPES:
                    await media_api.client_message(
                        request.app, connection, who, message.type, message.body
                    )
            except RateLimited as exc:
                await connection.close(1008, f"{exc.code}: {exc.message}")
                break
            except DomainError as exc:
                connection.send_message({"type": "error", "code": exc.code, "message": exc.message})
    finally:
        live.metrics_open("client", -1)
        live.hub.close(connection)
        await media_api.client_closed(request.app, connection)
    return ws


def setup(app: web.Application) -> None:
    live = app[LIVE]
    screen_key = auth.screen_key(app[CONFIG].secret_key)
    app[ADMISSION] = Admission(app[ENGINE], app[SESSIONS], live.bus, screen_key)
    app.router.add_get("/ws/client", edges.capped(client_socket))
