"""Live broadcast over HTTP and the live sockets: start/stop, signalling (the recordings it
leaves are served by ``server.web.recordings``).

* REST: ``POST /api/v1/sessions/{id}/broadcast/start`` {source: main | site | recording,
  site_id?, recording_id?, record?}, ``.../broadcast/stop``, ``GET .../broadcast`` (state and
  relay counters).
* Signalling (non-trickle ICE: every offer carries its candidates): agents send
  ``media_offer`` {session_id, role: publish | subscribe, sdp} on ``/ws/agent`` and get
  ``media_answer``; browsers send ``media_offer`` {session_id, role: publish | view | site,
  site_id?, request_id?, sdp} on ``/ws/client``. ``media_close`` ends a peer.
* Agents are told what to do with a ``broadcast`` message (at start, at stop, and again each
  time they connect, so sites that join late are brought in).
* Hooks called by other modules: the floor (``floor_changed``), the agent socket
  (``agent_connected``, ``judge_health``, ``agent_message``), the browser socket
  (``client_message``, ``client_closed``) and the end of a session (``session_ended``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from server.bus.port import BusUnavailable
from server.core import roles
from server.core.broadcast import Source, check_can_start, make_plan, relay_capacity
from server.core.broadcast_lease import LeaseRecord, blocks_start, expired
from server.core.errors import DomainError, Forbidden, InvalidInput
from server.core.roles import Actor, Principal
from server.core.validation import Bool, Int, Map, Optional, validate
from server.core.validation import Enum as OneOf
from server.media import fastpath
from server.media.broadcasts import Broadcast, Broadcasts, recording_file
from server.media.peers import MediaSettings, parse_ice_servers, parse_port_range
from server.store.media_models import Recording
from server.store.models import ClassSession, Site, SiteKind, utcnow
from server.store.qa_models import FloorGrantRow
from server.web import media_lease
from server.web.api import Endpoint, Registry, read_body
from server.web.hub import Connection
from server.web.keys import CLUSTER, CONFIG, LIVE, MEDIA, PUBLISH_DROPS, SESSIONS, principal
from server.web.media_cluster import MediaCluster, Reply
from server.web.resources import audit, load, path_id

log = logging.getLogger("server.media")


AGENT_TYPES = frozenset(
    {"media_offer", "media_close", "relay_answer", "relay_error", "upstream_lost"}
)
CLIENT_TYPES = frozenset({"media_offer", "media_close"})

# TESTS ONLY: with this environment variable set to N the server answers the first N camera
# publications from browsers and then drops each one's peer at once, as a network that lets the
# signalling through but not the media would; the browser holds an answer that never connects
# (tests/browser/test_console_publish_retry.py: the console must offer again by itself). Never
# set it on a real install.
DROP_PUBLISH_ENV = "CLASSROOM_TEST_DROP_PUBLISH_PEERS"

ID = Int(1, 2**31 - 1)
START = Map(
    {
        "source": OneOf("main", "site", "recording"),
        "site_id": Optional(ID),
        "recording_id": Optional(ID),
        "record": Optional(Bool()),
    },
    extra="reject",
    absent="omit",
)


def media_settings(app: web.Application) -> MediaSettings:
    config = app[CONFIG]
    try:
        port_range = parse_port_range(config.media_port_range)
    except ValueError as exc:
        raise InvalidInput(
            "config.media_port_range",
            f"media_port_range must be empty or LOW-HIGH, the UDP ports (inclusive) the media"
            f" relay binds its ICE host candidates to: {exc}",
        ) from exc
    return MediaSettings(
        ice_servers=parse_ice_servers(
            config.media_ice_servers, config.media_turn_username, config.media_turn_credential
        ),
        bind_addresses=tuple(config.media_bind_addresses),
        video_codec=config.media_video_codec.upper(),
        port_range=port_range,
        turn_secret=config.media_turn_secret,
        turn_ttl=config.media_turn_ttl,
        fast_path=config.media_fast_path,
        udp_gso=config.media_udp_gso,
        native_send=config.media_native_send,
        fan_out=config.media_fan_out,
    )


def setup(app: web.Application) -> Callable[[web.Application], AsyncIterator[None]]:
    """Create the process's broadcasts (after the live side); returns their lifecycle, which
    ``app.py`` registers: census and broadcast leases once the bus has started, and at the end
    the leases stopped and every broadcast this process owns ended."""
    settings = media_settings(app)
    if settings.fast_path and settings.native_send and not fastpath.native_send_built():
        log.warning(
            "media fast path: server.media._rtpsend was not built (no C compiler when the"
            " package was installed): RTP is protected and sent from Python, more CPU per site"
        )
    live = app[LIVE]
    cluster = MediaCluster(live.bus.node_id, live.bus.publish)
    cluster.local_agents = live.agents.get
    live.listeners.append(cluster.on_event)
    app[CLUSTER] = cluster

    async def announce(session_id: int, kind: str, data: dict[str, Any]) -> None:
        try:
            await app[LIVE].bus.publish(f"session:{session_id}", kind, data)
        except BusUnavailable:
            log.warning("bus unavailable; %s not announced", kind)

    broadcasts = Broadcasts(settings, cluster.send_to_site, announce)
    app[MEDIA] = broadcasts
    app[PUBLISH_DROPS] = [int(os.environ.get(DROP_PUBLISH_ENV) or 0)]
    cluster.handlers = _owner_handlers(app)

    leases = media_lease.Leases(
        app[SESSIONS], cluster.node_id, lambda: list(broadcasts.live), _resumer(app), _dropper(app)
    )

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        cluster.census()
        lease_loop = asyncio.create_task(leases.run(), name="broadcast-leases")
        watch = asyncio.create_task(broadcasts.watch_publishing(), name="broadcast-publishing")
        yield
        watch.cancel()
        leases.close()  # the tick under way ends first
        await asyncio.wait_for(lease_loop, 10)
        for session_id in list(broadcasts.live):
            await _stop(app, session_id, None)

    return lifecycle


def _resumer(app: web.Application) -> media_lease.Resume:
    async def resume(
        claimed: LeaseRecord, request: dict[str, Any], interrupted: int | None
    ) -> None:
        session_id = claimed.session_id
        try:
            data = validate(START, request, path="record")
            await _start(app, session_id, data, None, claimed, interrupted)
        except DomainError as exc:  # the session ended meanwhile, or its record is unusable
            log.warning("broadcast of session %d not taken over: %s", session_id, exc.code)
            async with app[SESSIONS]() as db, db.begin():
                await media_lease.forget(db, session_id, claimed.node_id)
            app[CLUSTER].remote_views.pop(session_id, None)

    return resume


def _dropper(app: web.Application) -> media_lease.Drop:
    async def drop(session_id: int) -> None:
        await app[MEDIA].drop(session_id)

    return drop


# -- REST ------------------------------------------------------------------------------------


async def _session_sites(db: Any, session_id: int) -> tuple[str, list[int], list[int]]:
    session = await load(db, ClassSession, session_id, "session")
    rows = (
        await db.execute(
            select(Site.id, Site.kind).join(ClassSession.sites).where(ClassSession.id == session_id)
        )
    ).all()
    sites = [int(r.id) for r in rows]
    mains = [int(r.id) for r in rows if r.kind == SiteKind.MAIN]
    return str(session.status.value), sites, mains


async def start_broadcast(request: web.Request) -> web.Response:
    session_id = path_id(request, "session")
    data = await read_body(request, START)
    b = await _start(request.app, session_id, data, principal(request))
    return web.json_response(request.app[MEDIA].view(b))


async def _start(
    app: web.Application,
    session_id: int,
    data: dict[str, Any],
    who: Principal | None,
    claimed: LeaseRecord | None = None,
    interrupted: int | None = None,
) -> Broadcast:
    """Start a session's broadcast on this node: asked by ``who``, or taken over (``claimed``:
    the record this node has just claimed from a dead owner, whose recording ``interrupted``
    ends there; a new one begins)."""
    broadcasts = app[MEDIA]
    config = app[CONFIG]
    node_id = app[CLUSTER].node_id
    now = time.time()
    replay_from = None
    async with app[SESSIONS]() as db, db.begin():
        status, sites, mains = await _session_sites(db, session_id)
        record = await media_lease.load(db, session_id)
        elsewhere = claimed is None and blocks_start(record, node_id, now)
        check_can_start(status, session_id in broadcasts.live or elsewhere)
        floor = await db.scalar(
            select(FloorGrantRow.site_id).where(
                FloorGrantRow.session_id == session_id, FloorGrantRow.ended_at.is_(None)
            )
        )
        playable: list[int] = []
        if data.get("recording_id") is not None:
            row = await db.get(Recording, data["recording_id"])
            if row is not None and row.status == "done":
                path = config.data_path / "recordings" / row.file_name
                if path.is_file():
                    playable.append(row.id)
                    replay_from = path
        plan = make_plan(session_id, data, sites, mains, playable, floor)
        parents = {
            int(r.id): r.parent_id for r in (await db.execute(select(Site.id, Site.parent_id)))
        }
        if interrupted is not None:
            await db.execute(
                update(Recording)
                .where(Recording.id == interrupted, Recording.status == "recording")
                .values(status="failed", ended_at=utcnow())
            )
        record_to = None
        recording_id = None
        if data.get("record", config.media_record) and plan.source is not Source.RECORDING:
            record_to = recording_file(
                config.data_path / "recordings", session_id, broadcasts.settings.video_codec
            )
            row = Recording(
                session_id=session_id,
                file_name=record_to.name,
                format=record_to.suffix.lstrip("."),
                status="recording",
                source=plan.source.value,
                started_at=utcnow(),
                switches=[],
                started_by=who.label if who is not None else "takeover",
            )
            db.add(row)
            await db.flush()
            recording_id = row.id
        if claimed is None:
            assert who is not None
            generation = await media_lease.write(
                db, session_id, node_id, dict(data), recording_id, who.label, now
            )
            audit(db, who, "broadcast_start", "sessions", session_id, None, dict(data))
        else:
            generation = claimed.generation
            await media_lease.set_recording(db, session_id, recording_id)
    app[CLUSTER].remote_views.pop(session_id, None)
    return await broadcasts.start(plan, record_to, recording_id, replay_from, parents, generation)


async def _stop(app: web.Application, session_id: int, who: Principal | None) -> dict[str, Any]:
    b, result = await app[MEDIA].stop(session_id)
    async with app[SESSIONS]() as db, db.begin():
        if b.recording_id is not None:
            values: dict[str, Any] = {"ended_at": utcnow(), "status": "failed"}
            if result is not None and result.video_frames > 0:
                values.update(
                    status="done",
                    bytes=result.bytes,
                    duration_s=result.duration_s,
                    video_frames=result.video_frames,
                    switches=result.switches,
                )
            await db.execute(update(Recording).where(Recording.id == b.recording_id).values(values))
        await media_lease.forget(db, session_id, app[CLUSTER].node_id)
        if who is not None:
            audit(db, who, "broadcast_stop", "sessions", session_id, None, None)
    return {"session_id": session_id, "live": False, "recording_id": b.recording_id}


async def stop_broadcast(request: web.Request) -> web.Response:
    app = request.app
    session_id = path_id(request, "session")
    async with app[SESSIONS]() as db:
        await load(db, ClassSession, session_id, "session")
    remote = app[CLUSTER].remote_views.pop(session_id, None)
    if session_id not in app[MEDIA].live and remote is not None:
        # its owner stops it (and finishes the recording); the view here goes at once
        app[CLUSTER].publish("stop", {"session_id": session_id})
        async with app[SESSIONS]() as db, db.begin():
            record = await media_lease.load(db, session_id)
            if record is not None and expired(record, time.time()):
                # its owner is gone: nobody may take over what the operator stopped
                await media_lease.forget(db, session_id, record.node_id)
            audit(db, principal(request), "broadcast_stop", "sessions", session_id, None, None)
        view = {"session_id": session_id, "live": False, "recording_id": remote["recording_id"]}
        return web.json_response(view)
    return web.json_response(await _stop(app, session_id, principal(request)))


async def get_broadcast(request: web.Request) -> web.Response:
    session_id = path_id(request, "session")
    broadcasts = request.app[MEDIA]
    b = broadcasts.live.get(session_id)
    if b is None:
        async with request.app[SESSIONS]() as db:
            await load(db, ClassSession, session_id, "session")
        remote = request.app[CLUSTER].remote_views.get(session_id)
        if remote is not None:  # owned by another node: its last announced view
            return web.json_response({**remote, "relay": None})
        return web.json_response({"session_id": session_id, "live": False})
    node = request.app[CLUSTER].node_id
    return web.json_response({**broadcasts.view(b), "node": node, "relay": broadcasts.stats(b)})


def register(registry: Registry) -> None:
    add = registry.add
    add(
        Endpoint(
            "POST",
            "/api/v1/sessions/{id}/broadcast/start",
            start_broadcast,
            roles.MANAGERS,
            "Start the live broadcast of a session (from the main classroom, a site or a"
            " recording); sites are told to receive it",
            "broadcast",
            body=START,
        )
    )
    add(
        Endpoint(
            "POST",
            "/api/v1/sessions/{id}/broadcast/stop",
            stop_broadcast,
            roles.MANAGERS,
            "Stop the live broadcast of a session (its recording is finished)",
            "broadcast",
        )
    )
    add(
        Endpoint(
            "GET",
            "/api/v1/sessions/{id}/broadcast",
            get_broadcast,
            roles.STAFF,
            "Show the broadcast of a session: source, program, relay counters",
            "broadcast",
        )
    )


# -- hooks -----------------------------------------------------------------------------------


def agent_connected(app: web.Application, site_id: int, capabilities: list[str]) -> None:
    app[MEDIA].agent_connected(site_id, relay_capacity(capabilities))
    app[CLUSTER].agent_up(site_id, capabilities)


def agent_disconnected(app: web.Application, site_id: int) -> None:
    app[MEDIA].agent_disconnected(site_id)
    app[CLUSTER].agent_down(site_id)


def judge_health(app: web.Application, site_id: int, health: dict[str, Any]) -> dict[str, Any]:
    return app[MEDIA].judge(site_id, health, time.time())


def _owned_elsewhere(app: web.Application, session_id: int) -> bool:
    return session_id not in app[MEDIA].live and session_id in app[CLUSTER].remote_views


async def agent_message(
    app: web.Application, connection: Connection, site_id: int, kind: str, body: dict[str, Any]
) -> None:
    """An agent's media message: handled here, or by the node that owns the broadcast."""
    if _owned_elsewhere(app, body["session_id"]):
        app[CLUSTER].publish("agent_message", {"site_id": site_id, "kind": kind, "body": body})
        return
    await _agent_message(app, connection.send_message, site_id, kind, body)


async def _agent_message(
    app: web.Application, reply: Reply, site_id: int, kind: str, body: dict[str, Any]
) -> None:
    broadcasts = app[MEDIA]
    session_id = body["session_id"]
    if kind in ("relay_answer", "relay_error"):
        _relay_reply(app, site_id, kind, body)
        return
    if kind == "upstream_lost":
        broadcasts.upstream_lost(site_id, session_id, body["site_id"])
        return
    role = body["role"]
    if kind == "media_close":
        await broadcasts.agent_close(site_id, session_id, role)
        return
    base = {"session_id": session_id, "role": role}
    try:
        sdp = await broadcasts.agent_offer(site_id, session_id, role, body["sdp"])
    except DomainError as exc:
        reply({"type": "media_error", **base, "code": exc.code, "message": exc.message})
        return
    if sdp is not None:  # None: passed to the site's relay, which answers through us
        reply({"type": "media_answer", **base, "sdp": sdp})


def _relay_reply(app: web.Application, relay_site: int, kind: str, body: dict[str, Any]) -> None:
    """A relay site's agent answered (or refused) the offer of a child site: pass it on."""
    session_id, child = body["session_id"], body["site_id"]
    broadcasts = app[MEDIA]
    if not broadcasts.relay_answered(relay_site, session_id, child):
        return  # the child has re-parented since; it has offered again elsewhere
    base = {"session_id": session_id, "role": "subscribe"}
    if kind == "relay_answer":
        broadcasts.send_to_site(child, {"type": "media_answer", **base, "sdp": body["sdp"]})
    else:
        broadcasts.send_to_site(
            child,
            {
                "type": "media_error",
                **base,
                "code": "media.relay_failed",
                "message": f"The relay site {relay_site} could not take the offer: "
                f"{body['code']}: {body['message']}",
            },
        )


ALLOWED = {
    "publish": roles.MANAGERS,
    "view": roles.STAFF | {Actor.TRAINEE, Actor.SITE_AGENT},
    "site": roles.STAFF,
}


async def client_message(
    app: web.Application, connection: Connection, who: Principal, kind: str, body: dict[str, Any]
) -> None:
    """A browser's media message: handled here, or by the node that owns the broadcast."""
    cluster = app[CLUSTER]
    key = cluster.client_key(connection)
    session_id = body["session_id"]
    if kind == "media_offer":
        role = body["role"]
        request_id = "publish" if role == "publish" else body["request_id"] or role
        body = {**body, "request_id": request_id}
        if who.actor not in ALLOWED[role]:
            error = Forbidden("media.forbidden", f"A {who.actor.value} may not {role} media.")
            connection.send_message(_web_error(session_id, request_id, error))
            return
    if _owned_elsewhere(app, session_id):
        cluster.clients[key] = connection
        cluster.publish(
            "client_message",
            {
                "node": cluster.node_id,
                "key": key,
                "viewer_site": who.site_id,
                "kind": kind,
                "body": body,
            },
        )
        return
    await _client_message(app, connection.send_message, key, who.site_id, kind, body)


async def _client_message(
    app: web.Application,
    reply: Reply,
    key: str,
    viewer_site: int | None,
    kind: str,
    body: dict[str, Any],
) -> None:
    broadcasts = app[MEDIA]
    session_id, request_id = body["session_id"], body["request_id"]
    if kind == "media_close":
        await broadcasts.web_close(key, session_id, request_id)
        return
    role = body["role"]
    try:
        sdp = await broadcasts.web_offer(
            key, session_id, role, request_id, body["sdp"], body["site_id"], viewer_site
        )
    except DomainError as exc:
        reply(_web_error(session_id, request_id, exc))
        return
    drops = app[PUBLISH_DROPS]
    if role == "publish" and drops[0] > 0:  # tests only (DROP_PUBLISH_ENV)
        drops[0] -= 1
        log.warning("%s: camera publication dropped after its answer", DROP_PUBLISH_ENV)
        await broadcasts.web_close(key, session_id, request_id)
    reply(
        {
            "type": "media_answer",
            "session_id": session_id,
            "role": role,
            "request_id": request_id,
            "sdp": sdp,
        }
    )


def _web_error(session_id: int, request_id: str, exc: DomainError) -> dict[str, Any]:
    return {
        "type": "media_error",
        "session_id": session_id,
        "request_id": request_id,
        "code": exc.code,
        "message": exc.message,
    }


async def client_closed(app: web.Application, connection: Connection) -> None:
    cluster = app[CLUSTER]
    key = cluster.client_key(connection)
    await app[MEDIA].web_close(key, None, None)
    if cluster.clients.pop(key, None) is not None:
        cluster.publish("client_closed", {"key": key})


def _owner_handlers(app: web.Application) -> dict[str, Any]:
    """What this node does for events from other nodes (see server.web.media_cluster)."""
    broadcasts, cluster = app[MEDIA], app[CLUSTER]

    def local(site_id: int) -> bool:
        return site_id in app[LIVE].agents

    async def agent_up(data: dict[str, Any]) -> None:
        if not local(data["site_id"]):
            broadcasts.agent_connected(data["site_id"], relay_capacity(data["capabilities"]))

    async def agent_down(data: dict[str, Any]) -> None:
        if not local(data["site_id"]):
            broadcasts.agent_disconnected(data["site_id"])

    async def agent_msg(data: dict[str, Any]) -> None:
        body, site_id = data["body"], data["site_id"]
        if body["session_id"] in broadcasts.live:
            await _agent_message(app, cluster.reply_to_site(site_id), site_id, data["kind"], body)

    async def client_msg(data: dict[str, Any]) -> None:
        body = data["body"]
        if body["session_id"] in broadcasts.live:
            reply = cluster.reply_to_client(data["node"], data["key"])
            await _client_message(app, reply, data["key"], data["viewer_site"], data["kind"], body)

    async def client_gone(data: dict[str, Any]) -> None:
        await broadcasts.web_close(data["key"], None, None)

    async def stop(data: dict[str, Any]) -> None:
        cluster.remote_views.pop(data["session_id"], None)
        if data["session_id"] in broadcasts.live:
            await _stop(app, data["session_id"], None)

    async def floor(data: dict[str, Any]) -> None:
        await floor_changed(app, data["session_id"], data["event"], data["payload"])

    async def ended(data: dict[str, Any]) -> None:
        await session_ended(app, data["session_id"])

    return {
        "agent_up": agent_up,
        "agent_down": agent_down,
        "agent_message": agent_msg,
        "client_message": client_msg,
        "client_closed": client_gone,
        "stop": stop,
        "floor_granted": floor,
        "floor_returned": floor,
        "session_ended": ended,
    }


async def floor_changed(
    app: web.Application, session_id: int, kind: str, data: dict[str, Any]
) -> None:
    """A floor event was announced (server/web/floor): switch the program."""
    site_id = data.get("site_id")
    if kind in ("floor_granted", "floor_returned") and isinstance(site_id, int):
        await app[MEDIA].floor_event(session_id, kind, site_id)


async def session_ended(app: web.Application, session_id: int) -> None:
    if session_id in app[MEDIA].live:
        await _stop(app, session_id, None)
