"""``/ws/agent``: the site agents' socket (msgpack, protocol in docs/agent-protocol.md)."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import WSMsgType, web
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from server import __version__
from server.core.errors import DomainError, InvalidInput, RateLimited, Unauthenticated
from server.core.messages import (
    AGENT_MESSAGES,
    CLOSE_HELLO_TIMEOUT,
    CLOSE_REPLACED,
    CLOSE_UNSUPPORTED_VERSION,
    CLOSE_WRONG_SITE,
    PROTOCOL_VERSION,
    check_protocol_version,
    validate_message,
)
from server.core.roles import Actor, Principal
from server.core.topics import Replay
from server.security import sha256
from server.store.live_models import OutboxItem
from server.store.models import ClassSession, Site, utcnow
from server.web import auth, edges, media_api
from server.web.checkin import service as checkin_service
from server.web.checkin.events import record_changed
from server.web.hub import Connection
from server.web.keys import LIVE, METRICS, SESSIONS
from server.web.live import Live
from server.web.responses import error_response
from server.web.rollcall import service as rollcall_service
from server.web.wire import WS_MAX_MSG_SIZE, RateLimit, decode_msgpack

log = logging.getLogger("server.ws.agent")

HELLO_TIMEOUT = 10.0
MAX_ERRORS = 50  # bad messages tolerated on one connection before it is closed


def site_topic(site_id: int) -> str:
    return f"site:{site_id}"


async def site_snapshot(request: web.Request, site_id: int) -> dict[str, Any]:
    async with request.app[SESSIONS]() as db:
        site = await db.get(Site, site_id)
        live = (
            await db.scalars(
                select(ClassSession)
                .join(ClassSession.sites)
                .where(Site.id == site_id)
                .where(ClassSession.status == "live")
            )
        ).all()
        return {
            "site": {"id": site_id, "name": site.name if site else ""},
            "sessions": [
                {"id": s.id, "title": s.title, "ends_at": s.ends_at.isoformat()} for s in live
            ],
        }


async def record_outbox(
    request: web.Request, site_id: int, items: list[dict[str, Any]], secret_hash: str
) -> dict[str, str]:
    """Record each item once: a (site, id) seen before answers ``duplicate``. Nothing is
    recorded once the secret the socket signed in with has been replaced."""
    results: dict[str, str] = {}
    async with request.app[SESSIONS]() as db, db.begin():
        stored = await db.scalar(select(Site.secret_hash).where(Site.id == site_id))
        if stored != secret_hash:  # a new secret was issued while this socket was open
            raise Unauthenticated(
                "auth.secret_revoked", "This site's secret was replaced; connect with the new one."
            )
        for item in items:
            exists = await db.scalar(
                select(OutboxItem.id).where(
                    OutboxItem.site_id == site_id, OutboxItem.client_id == item["id"]
                )
            )
            if exists is not None:
                results[item["id"]] = "duplicate"
                continue
            result = "recorded"
            if item["kind"] == "rollcall_answer":
                result = await _rollcall_answer(db, site_id, item["body"])
            elif item["kind"] == "checkin":
                result = await _site_checkin(db, site_id, item)
            try:
                async with db.begin_nested():
                    db.add(
                        OutboxItem(
                            site_id=site_id,
                            client_id=item["id"],
                            kind=item["kind"],
                            created_at=datetime.fromtimestamp(item["ts"], UTC),
                            body=item["body"],
                            result=result,
                        )
                    )
                results[item["id"]] = result
            except IntegrityError:  # a concurrent copy of the same item won the race
                results[item["id"]] = "duplicate"
    metrics = request.app[METRICS]
    for item in items:
        result = results.get(item["id"], "unknown")
        metrics.outbox_items.labels(item["kind"], result).inc()
        if item["kind"] == "checkin":
            metrics.checkins.labels("site", "accepted" if result == "recorded" else result).inc()
            if result == "recorded":
                record_changed(request.app, {**item["body"], "site_id": site_id})
    return results


async def _site_checkin(db: Any, site_id: int, item: dict[str, Any]) -> str:
    """A check-in taken at the site (by its staff, possibly while offline): the trainee is
    marked present from the time it was taken. An error code if it cannot count."""
    body = item["body"]
    try:
        session_id, trainee_id = int(body["session_id"]), int(body["trainee_id"])
    except (KeyError, TypeError, ValueError):
        return "checkin.bad_item"
    method = str(body.get("method", "site_staff"))[:32]
    who = Principal(Actor.SITE_AGENT, f"site {site_id}", site_id=site_id)
    taken = min(datetime.fromtimestamp(item["ts"], UTC), utcnow())
    data = {"trainee_id": trainee_id, "reason": f"site check-in ({method})", "start": taken}
    try:
        async with db.begin_nested():
            await checkin_service.mark_present_in(db, who, session_id, data, utcnow())
    except DomainError as exc:
        return exc.code
    return "recorded"


async def _rollcall_answer(db: Any, site_id: int, body: dict[str, Any]) -> str:
    """A roll-call answer taken at the site; an error code if it cannot count (kept as the
    item's result, and told to the agent, which then drops the item)."""
    try:
        roll_call_id, trainee_id = int(body["roll_call_id"]), int(body["trainee_id"])
    except (KeyError, TypeError, ValueError):
        return "rollcall.bad_answer"
    try:
        async with db.begin_nested():
            await rollcall_service.record_answer(db, roll_call_id, trainee_id, "site", site_id)
    except DomainError as exc:
        return exc.code
    return "recorded"


async def agent_socket(request: web.Request) -> web.StreamResponse:
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret:
        return error_response(401, "auth.bad_header", "Send 'Authorization: Bearer <site secret>'.")
    async with request.app[SESSIONS]() as db:
        who = await auth.principal_from_site_secret(db, secret.strip())
    if who is None or who.site_id is None:
        return error_response(
            401,
            "auth.bad_site_secret",
            "This site secret is not valid; ask the operator for a new one.",
        )
    site_id = who.site_id
    live = request.app[LIVE]
    ws = web.WebSocketResponse(max_msg_size=WS_MAX_MSG_SIZE, heartbeat=None, autoping=True)
    await ws.prepare(request)
    connection = live.hub.open(ws, "agent", f"site:{site_id}", binary=True)
    live.metrics_open("agent", +1)
    registered = False
    clean = False
    try:
        hello = await _receive_hello(ws, connection)
        if hello is None:
            return ws
        if hello["site_id"] != site_id:
            await connection.close(
                CLOSE_WRONG_SITE, "protocol.wrong_site: hello names another site than the secret"
            )
            return ws
        previous = live.agents.get(site_id)
        live.agents[site_id] = connection
        registered = True
        if previous is not None:
            previous.drop("replaced by a newer connection of this site", CLOSE_REPLACED)
        await _welcome(request, live, connection, site_id, hello)
        live.presence.connected(site_id)
        media_api.agent_connected(request.app, site_id, hello["capabilities"])
        clean = await _serve(request, live, ws, connection, site_id, sha256(secret.strip()))
    finally:
        live.metrics_open("agent", -1)
        live.hub.close(connection)
        if registered and live.agents.get(site_id) is connection:
            del live.agents[site_id]
            live.presence.closed(site_id, clean)
            media_api.agent_disconnected(request.app, site_id)
    return ws


async def _receive_hello(
    ws: web.WebSocketResponse, connection: Connection
) -> dict[str, Any] | None:
    try:
        msg = await ws.receive(timeout=HELLO_TIMEOUT)
    except TimeoutError:
        await connection.close(CLOSE_HELLO_TIMEOUT, "no hello within 10 s")
        return None
    if msg.type != WSMsgType.BINARY:
        await connection.close(
            1003 if msg.type == WSMsgType.TEXT else 1002,
            "protocol.text_frame: send msgpack binary frames",
        )
        return None
    try:
        message = validate_message(AGENT_MESSAGES, decode_msgpack(msg.data), now=time.time())
        if message.type != "hello":
            raise InvalidInput("protocol.hello_first", "The first message must be hello.")
        check_protocol_version(message.body["protocol"])
    except DomainError as exc:
        code = CLOSE_UNSUPPORTED_VERSION if exc.code == "protocol.unsupported_version" else 1008
        await connection.close(code, f"{exc.code}: {exc.message}")
        return None
    return message.body


async def _welcome(
    request: web.Request, live: Live, connection: Connection, site_id: int, hello: dict[str, Any]
) -> None:
    topic = site_topic(site_id)
    live.hub.subscribe(connection, topic)
    cursor = await live.bus.cursor(topic)
    resume = "fresh"
    replay: list[dict[str, Any]] = []
    if hello.get("epoch") and hello.get("last_seq") is not None:
        answer = await live.bus.resume(topic, hello["epoch"], hello["last_seq"])
        if isinstance(answer, Replay):
            resume = "replay"
            replay = [
                {
                    "type": "event",
                    "topic": topic,
                    "epoch": answer.epoch,
                    "seq": e.seq,
                    "kind": e.type,
                    "data": e.payload,
                }
                for e in answer.events
            ]
        else:
            resume = "resync"
    connection.send_message(
        {
            "type": "welcome",
            "protocol": PROTOCOL_VERSION,
            "server_version": __version__,
            "node_id": live.bus.node_id,
            "site_id": site_id,
            "topic": topic,
            "epoch": cursor.epoch,
            "seq": cursor.last_seq,
            "heartbeat_interval": live.presence.config.heartbeat_interval,
            "resume": resume,
            "server_ts": time.time(),
        }
    )
    for message in replay:
        connection.send_message(message)
    if resume == "resync":
        connection.send_message(
            {
                "type": "resync",
                "epoch": cursor.epoch,
                "seq": cursor.last_seq,
                "reason": "history",
                "snapshot": await site_snapshot(request, site_id),
            }
        )


async def _serve(
    request: web.Request,
    live: Live,
    ws: web.WebSocketResponse,
    connection: Connection,
    site_id: int,
    secret_hash: str,
) -> bool:
    """Handle messages until the socket closes; True when the agent closed it cleanly."""
    limit = RateLimit()
    errors = 0
    async for msg in ws:
        if msg.type == WSMsgType.TEXT:
            await connection.close(1003, "protocol.text_frame: send msgpack binary frames")
            return False
        if msg.type != WSMsgType.BINARY:
            break
        try:
            limit.take()
            message = validate_message(AGENT_MESSAGES, decode_msgpack(msg.data), now=time.time())
            await _handle(
                request, live, connection, site_id, secret_hash, message.type, message.body
            )
        except RateLimited as exc:
            await connection.close(1008, f"{exc.code}: {exc.message}")
            return False
        except Unauthenticated as exc:
            connection.send_message({"type": "error", "code": exc.code, "message": exc.message})
            await connection.close(1008, exc.code)
            return False
        except DomainError as exc:
            errors += 1
            connection.send_message({"type": "error", "code": exc.code, "message": exc.message})
            if errors >= MAX_ERRORS:
                await connection.close(1008, "too many invalid messages")
                return False
    return ws.close_code in (1000, 1001)


async def _handle(
    request: web.Request,
    live: Live,
    connection: Connection,
    site_id: int,
    secret_hash: str,
    kind: str,
    body: dict[str, Any],
) -> None:
    if kind == "heartbeat":
        live.presence.heartbeat(
            site_id, media_api.judge_health(request.app, site_id, body["health"])
        )
        connection.send_message(
            {"type": "heartbeat_ack", "seq": body["seq"], "server_ts": time.time()}
        )
    elif kind == "outbox":
        results = await record_outbox(request, site_id, body["items"], secret_hash)
        connection.send_message({"type": "outbox_ack", "results": results})
    elif kind in media_api.AGENT_TYPES:
        await media_api.agent_message(request.app, connection, site_id, kind, body)
    elif kind == "hello":
        raise InvalidInput("protocol.hello_twice", "hello is sent once, at the start.")
    # "ack" and "pong" need no answer


def setup(app: web.Application) -> None:
    app.router.add_get("/ws/agent", edges.capped(agent_socket))
