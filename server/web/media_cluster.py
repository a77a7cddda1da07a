"""Broadcasts across the nodes of a cluster.

A broadcast's relay lives in the node that started it (its *owner*): the WebRTC media of every
peer goes to that node's media address. Agents and browsers whose sockets are on other nodes
reach it through the bus topic ``media``; every node sees every event and acts on those meant
for it:

* ``to_agent`` {site_id, message}: the node holding that site's agent socket sends it;
* ``to_client`` {node, key, message}: that node sends it to one of its browser sockets;
* ``agent_message`` {site_id, kind, body}: an agent's media message, for the session's owner;
* ``client_message`` {node, key, viewer_site, kind, body}: a browser's, for the owner (the
  receiving node has checked the caller's role already);
* ``client_closed`` {key}: a browser socket went away (owners close its peers);
* ``agent_up`` {site_id, capabilities} / ``agent_down`` {site_id}: where agents are, so owners
  instruct sites on other nodes and know which of them relay; ``census`` {}: a node that has
  just started asks the others to say ``agent_up`` again for the agents they hold;
* ``stop`` {session_id}: stop asked on another node.

Session events from other nodes drive the owner too: ``floor_granted`` / ``floor_returned``
switch the program, ``session_ended`` stops the broadcast; and every node keeps the views of
broadcasts owned elsewhere (``broadcast_started`` / ``program_changed`` / ``relays_changed`` /
``publishing_changed``, dropped at ``broadcast_stopped``) to answer ``GET .../broadcast`` and
refuse a second start.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from server.bus.port import BusEvent, BusUnavailable
from server.media.tasks import Background
from server.web.hub import Connection

log = logging.getLogger("server.media.cluster")

TOPIC = "media"
VIEW_EVENTS = frozenset(
    {"broadcast_started", "program_changed", "relays_changed", "publishing_changed"}
)

Reply = Callable[[dict[str, Any]], object]


class MediaCluster:
    """One node's side of the ``media`` topic. ``handlers`` are the owner-side actions
    (set by ``server.web.media_api``)."""

    def __init__(self, node_id: str, publish: Callable[[str, str, dict[str, Any]], Awaitable[Any]]):
        self.node_id = node_id
        self._publish = publish
        self.remote_agents: dict[int, str] = {}  # site -> node holding its agent's socket
        self.remote_views: dict[int, dict[str, Any]] = {}  # session -> view, owned elsewhere
        self.clients: dict[str, Connection] = {}  # key -> this node's browser sockets with peers
        self.capabilities: dict[int, list[str]] = {}  # this node's agents' hello capabilities
        self.local_agents: Callable[[int], Connection | None] = lambda site_id: None
        self.handlers: dict[str, Callable[..., Awaitable[None]]] = {}
        self._background = Background(log, "media cluster handler")

    # -- sending --------------------------------------------------------------------------

    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        self._background.spawn(self._send(kind, payload))

    async def _send(self, kind: str, payload: dict[str, Any]) -> None:
        try:
            await self._publish(TOPIC, kind, payload)
        except BusUnavailable:
            log.warning("bus unavailable: media %s to other nodes lost", kind)

    def send_to_site(self, site_id: int, message: dict[str, Any]) -> bool:
        """To a site's agent on this node, or through the bus to whichever node holds it.
        False when no node is known to hold it (it is sent all the same: this node may have
        started after the agent connected elsewhere)."""
        connection = self.local_agents(site_id)
        if connection is not None:
            return connection.send_message(message)
        self.publish("to_agent", {"site_id": site_id, "message": message})
        return site_id in self.remote_agents

    def agent_up(self, site_id: int, capabilities: list[str]) -> None:
        self.capabilities[site_id] = capabilities
        self.publish("agent_up", {"site_id": site_id, "capabilities": capabilities})

    def agent_down(self, site_id: int) -> None:
        self.capabilities.pop(site_id, None)
        self.publish("agent_down", {"site_id": site_id})

    def census(self) -> None:
        """Ask every node to say again which agents it holds (a node that starts knows
        nothing of the agents already connected elsewhere)."""
        self.publish("census", {})

    def client_key(self, connection: Connection) -> str:
        return f"{self.node_id}~{id(connection):x}"

    def reply_to_client(self, node: str, key: str) -> Reply:
        return lambda message: self.publish(
            "to_client", {"node": node, "key": key, "message": message}
        )

    def reply_to_site(self, site_id: int) -> Reply:
        return lambda message: self.send_to_site(site_id, message)

    # -- receiving ------------------------------------------------------------------------

    def on_event(self, topic: str, event: BusEvent) -> None:
        if topic == TOPIC:
            self._on_media(event)
        elif topic.startswith("session:") and event.origin != self.node_id:
            self._on_session(int(topic.split(":")[1]), event)

    def _on_media(self, event: BusEvent) -> None:
        data: dict[str, Any] = dict(event.payload)
        kind = event.type
        mine = event.origin == self.node_id
        if kind == "to_agent":
            connection = self.local_agents(int(data["site_id"]))
            if connection is not None:
                connection.send_message(data["message"])
        elif kind == "to_client":
            connection = self.clients.get(str(data["key"]))
            if data["node"] == self.node_id and connection is not None:
                connection.send_message(data["message"])
        elif kind == "agent_up" and not mine:
            self.remote_agents[int(data["site_id"])] = event.origin
            self._handle("agent_up", data)
        elif kind == "agent_down" and not mine:
            site_id = int(data["site_id"])
            if self.remote_agents.get(site_id) == event.origin:
                del self.remote_agents[site_id]
                self._handle("agent_down", data)
        elif kind == "census" and not mine:
            for site_id, capabilities in list(self.capabilities.items()):
                self.agent_up(site_id, capabilities)
        elif kind in ("agent_message", "client_message", "client_closed", "stop") and not mine:
            self._handle(kind, data)

    def _on_session(self, session_id: int, event: BusEvent) -> None:
        if event.type in VIEW_EVENTS and isinstance(event.payload.get("origin"), str):
            self.remote_views[session_id] = {**event.payload, "node": event.origin}
        elif event.type == "broadcast_stopped":
            self.remote_views.pop(session_id, None)
        elif event.type in ("floor_granted", "floor_returned", "session_ended"):
            data = {"session_id": session_id, "event": event.type, "payload": dict(event.payload)}
            self._handle(event.type, data)

    def _handle(self, kind: str, data: dict[str, Any]) -> None:
        handler = self.handlers.get(kind)
        if handler is not None:
            self._background.spawn(handler(data))
