"""TURN with the shipped coturn configuration: Debian's coturn on loopback, run from
deploy/coturn/turnserver.conf (only addresses, ports, paths and the secret changed), and an
aiortc peer forced through the relay (iceTransportPolicy relay) talking to the server's media
peer, with the TURN REST credentials the server hands out."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import struct
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from aiortc import RTCConfiguration, RTCIceServer, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcconfiguration import RTCIceTransportPolicy

from server.media.peers import IceServer, create_peer_connection, ice_servers_for, loopback_settings
from tests.media import free_udp_range
from tests.server_process import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
SECRET = "test-turn-secret-0123456789"


def _coturn_conf(tmp: Path, port: int, relay: tuple[int, int]) -> str:
    """The shipped file, made to run here: loopback, free ports, no TLS, files under tmp.
    The peer rules stay: the media address (127.0.0.1 here, 10.0.0.21 in the example) is let
    through the private-range denials by allowed-peer-ip, as in production."""
    keep_out = ("listening-port", "tls-listening-port", "external-ip", "min-port", "max-port")
    keep_out += ("cert", "pkey", "static-auth-secret", "log-file", "allowed-peer-ip")
    lines = [
        line
        for line in (DEPLOY / "coturn/turnserver.conf").read_text().splitlines()
        if line.strip() and not line.startswith("#") and line.split("=")[0] not in keep_out
    ]
    assert "use-auth-secret" in lines
    return "\n".join(
        [
            *lines,
            f"listening-port={port}",
            "listening-ip=127.0.0.1",
            "relay-ip=127.0.0.1",
            f"min-port={relay[0]}",
            f"max-port={relay[1]}",
            f"static-auth-secret={SECRET}",
            "allowed-peer-ip=127.0.0.1",  # the server's media address in this test
            "allow-loopback-peers",
            "no-tls",
            "no-dtls",
            f"log-file={tmp / 'turn.log'}",
            f"pidfile={tmp / 'turn.pid'}",
            f"userdb={tmp / 'turndb'}",
        ]
    )


def _answers_stun(port: int) -> bool:
    """A STUN binding request (RFC 5389) to 127.0.0.1:port gets a success response."""
    request = struct.pack("!HHI12s", 0x0001, 0, 0x2112A442, os.urandom(12))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(0.2)
        sock.sendto(request, ("127.0.0.1", port))
        try:
            answer = sock.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == request[8:20]


@pytest.fixture
def coturn(tmp_path: Path) -> Iterator[str]:
    binary = shutil.which("turnserver")
    if binary is None:
        pytest.fail("coturn is not installed: run deploy/test-services.sh")
    port = free_port()
    relay = free_udp_range(20)
    conf = tmp_path / "turnserver.conf"
    conf.write_text(_coturn_conf(tmp_path, port, relay))
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    try:
        deadline = time.monotonic() + 15
        log = tmp_path / "turn.log"
        while not _answers_stun(port):
            assert proc.poll() is None, log.read_text() if log.exists() else "coturn exited"
            assert time.monotonic() < deadline, "coturn did not answer a STUN binding request"
        yield f"turn:127.0.0.1:{port}?transport=udp"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _rtc(servers: tuple[IceServer, ...]) -> RTCConfiguration:
    return RTCConfiguration(
        iceServers=[
            RTCIceServer(urls=list(s.urls), username=s.username, credential=s.credential)
            for s in servers
        ],
        iceTransportPolicy=RTCIceTransportPolicy.RELAY,
    )


async def _talk_through_relay(servers: tuple[IceServer, ...], settings_turn: str) -> str | None:
    """A relay-only peer (a site behind NAT) opens a data channel to the server's media peer;
    returns the echoed message, or None if no connection came up within 15 s."""
    settings = replace(
        loopback_settings(ice_servers=(IceServer((settings_turn,)),)), turn_secret=SECRET
    )
    server_peer = create_peer_connection(settings)
    site = RTCPeerConnection(_rtc(servers))
    echoed: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    @server_peer.on("datachannel")
    def _on_channel(channel: object) -> None:
        @channel.on("message")  # type: ignore[attr-defined]
        def _echo(message: str) -> None:
            channel.send("echo:" + message)  # type: ignore[attr-defined]

    channel = site.createDataChannel("check")

    @channel.on("open")
    def _open() -> None:
        channel.send("hello")

    @channel.on("message")
    def _reply(message: str) -> None:
        if not echoed.done():
            echoed.set_result(message)

    try:
        await site.setLocalDescription(await site.createOffer())
        offer = site.localDescription.sdp
        candidates = re.findall(r"a=candidate:.* typ (\w+)", offer)
        assert set(candidates) <= {"relay"}  # relay only: every packet goes through coturn
        if not candidates:
            return None  # coturn refused the credentials: nothing to offer
        await server_peer.setRemoteDescription(RTCSessionDescription(offer, "offer"))
        await server_peer.setLocalDescription(await server_peer.createAnswer())
        await site.setRemoteDescription(server_peer.localDescription)
        try:
            return await asyncio.wait_for(echoed, 15)
        except TimeoutError:
            return None
    finally:
        await site.close()
        await server_peer.close()


async def test_a_relay_only_peer_reaches_the_server_through_coturn(coturn: str) -> None:
    settings = replace(loopback_settings(ice_servers=(IceServer((coturn,)),)), turn_secret=SECRET)
    servers = ice_servers_for(settings, "site-7")
    (turn,) = servers
    assert turn.username is not None and re.fullmatch(r"\d+:site-7", turn.username)
    assert await _talk_through_relay(servers, coturn) == "echo:hello"


async def test_coturn_refuses_a_wrong_secret_and_an_expired_credential(coturn: str) -> None:
    wrong = replace(loopback_settings(ice_servers=(IceServer((coturn,)),)), turn_secret="nope")
    assert await _talk_through_relay(ice_servers_for(wrong, "site-7"), coturn) is None
    right = replace(wrong, turn_secret=SECRET, turn_ttl=60)
    expired = ice_servers_for(right, "site-7", now=time.time() - 3600)
    assert await _talk_through_relay(expired, coturn) is None


def test_coturn_relays_to_the_media_addresses_the_server_example_suggests() -> None:
    """server.example.toml's media_bind_addresses (commented example) must not fall in a
    denied-peer-ip range of deploy/coturn unless an allowed-peer-ip lets it through."""
    example = (DEPLOY / "server.example.toml").read_text()
    found = re.search(r"^#?\s*(media_bind_addresses = \[.*?\])", example, re.M)
    assert found is not None
    addresses = tomllib.loads(found[1])["media_bind_addresses"]
    assert addresses
    conf = (DEPLOY / "coturn/turnserver.conf").read_text()
    denied = re.findall(r"^denied-peer-ip=([\d.]+)-([\d.]+)", conf, re.M)
    allowed = set(re.findall(r"^allowed-peer-ip=([\d.]+)$", conf, re.M))
    assert denied  # the private ranges stay closed...
    for address in addresses:
        inside = any(
            ip_address(low) <= ip_address(address) <= ip_address(high) for low, high in denied
        )
        assert not inside or address in allowed, address  # ...except the servers' own
    assert "use-auth-secret" in conf and "media_turn_secret" in example
