"""ICE server settings: parsed from the server's settings, sent to agents, read back by a
relaying agent unchanged (TURN credentials only where they belong)."""

from __future__ import annotations

from server.media.peers import (
    IceServer,
    ice_servers_from_wire,
    ice_servers_to_wire,
    parse_ice_servers,
)


def test_ice_servers_survive_the_trip_to_an_agent_and_back() -> None:
    servers = parse_ice_servers(
        ["stun:stun.example.org:3478", "turn:turn.example.org:3478?transport=udp"], "u", "p"
    )
    assert servers == (
        IceServer(("stun:stun.example.org:3478",)),
        IceServer(("turn:turn.example.org:3478?transport=udp",), "u", "p"),
    )
    wire = ice_servers_to_wire(servers)
    assert wire == [
        {"urls": ["stun:stun.example.org:3478"]},
        {"urls": ["turn:turn.example.org:3478?transport=udp"], "username": "u", "credential": "p"},
    ]
    assert ice_servers_from_wire(wire) == servers
    # a browser-style single URL string is accepted too
    assert ice_servers_from_wire([{"urls": "stun:x:3478"}]) == (IceServer(("stun:x:3478",)),)
