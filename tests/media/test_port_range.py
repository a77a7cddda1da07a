"""The media UDP port range (``media_port_range``): every host candidate binds a port inside it.

Real aiortc peers on 127.0.0.1. The range is process-wide (aioice has no per-connection option),
so the tests' own peers, created while the relay's range is set, bind inside it too.
"""

from __future__ import annotations

import re
import socket

import pytest
from aiohttp import web
from aiortc import RTCSessionDescription

from server.config import Config
from server.core.errors import DomainError, InvalidInput
from server.media import forward
from server.media.broadcasts import _answer
from server.media.peers import MediaSettings, loopback_settings, parse_port_range
from server.media.relay import Relay
from server.web.keys import CONFIG
from server.web.media_api import media_settings
from tests.media import (
    CounterTrack,
    close_all,
    connect_publisher,
    connect_viewer,
    free_udp_range,
    loopback_only,
    peer,
)

MAIN = "main"


loopback = loopback_only  # autouse: host candidates on 127.0.0.1, no port range


def candidate_ports(sdp: str) -> list[int]:
    """Ports of the ``a=candidate`` lines of an SDP."""
    return [int(m[1]) for m in re.finditer(r"^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) ", sdp, re.M)]


def occupy(port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
    return s


async def test_relay_candidates_are_inside_the_range_and_media_flows() -> None:
    low, high = free_udp_range(8)
    relay = Relay(MAIN, loopback_settings(port_range=(low, high)))
    try:
        pub, _ = await connect_publisher(relay, MAIN, chroma=64, audio=True)
        viewer = await connect_viewer(relay, "site-1")
        answers = [pub.remoteDescription.sdp, viewer.pc.remoteDescription.sdp]
        for sdp in answers:
            ports = candidate_ports(sdp)
            assert ports, sdp
            assert all(low <= p <= high for p in ports), (ports, low, high)
        await viewer.wait_frames(30)
        assert viewer.audio, "audio flows too"
        # the relay's two connections hold two distinct ports of the range
        relay_ports = {p for sdp in answers for p in candidate_ports(sdp)}
        assert len(relay_ports) == 2
        await close_all(pub, viewer.pc)
    finally:
        await relay.close()


async def test_a_range_whose_only_port_is_taken_fails_clearly_then_recovers() -> None:
    low, _ = free_udp_range(1)
    relay = Relay(MAIN, loopback_settings(port_range=(low, low)))
    pc = peer()
    pc.addTrack(CounterTrack(64))
    await pc.setLocalDescription(await pc.createOffer())  # before the range is set: ephemeral
    blocker = occupy(low)
    try:
        with pytest.raises(forward.PortRangeExhausted) as err:
            await relay.publish(MAIN, pc.localDescription.sdp)
        assert err.value.code == "media.ports_exhausted"
        assert f"{low}-{low}" in err.value.message and "127.0.0.1" in err.value.message
        assert not relay.has_publisher(MAIN)
    finally:
        blocker.close()
    # the port is free again: the same offer is answered on exactly that port
    answer = await relay.publish(MAIN, pc.localDescription.sdp)
    assert candidate_ports(answer) == [low]
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    await relay.close()
    await pc.close()
    occupy(low).close()  # closing the relay released it


async def test_default_settings_restore_ephemeral_ports() -> None:
    low, high = free_udp_range(4)
    relay = Relay(MAIN, loopback_settings(port_range=(low, high)))
    pc = peer()
    pc.addTrack(CounterTrack(64))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.publish(MAIN, pc.localDescription.sdp)
    assert all(low <= p <= high for p in candidate_ports(answer))
    await relay.close()
    other = Relay(MAIN, loopback_settings())  # no range: aioice's ephemeral ports again
    answer = await other.publish(MAIN, pc.localDescription.sdp)
    assert not any(low <= p <= high for p in candidate_ports(answer))
    await other.close()
    await pc.close()


def test_parse_port_range() -> None:
    assert parse_port_range("") is None
    assert parse_port_range("  ") is None
    assert parse_port_range("40000-40100") == (40000, 40100)
    assert parse_port_range(" 40000 - 40100 ") == (40000, 40100)
    assert parse_port_range("40000") == (40000, 40000)
    for bad in ("40100-40000", "0-10", "1-65536", "a-b", "40000-", "-40000", "1,2", "４００００"):
        with pytest.raises(ValueError):
            parse_port_range(bad)


def test_media_settings_validate_the_range() -> None:
    assert MediaSettings(port_range=(40000, 40100)).port_range == (40000, 40100)
    for bad in ((0, 10), (10, 5), (1, 65536)):
        with pytest.raises(ValueError, match="port_range"):
            MediaSettings(port_range=bad)


def settings_of(port_range: str) -> MediaSettings:
    app = web.Application()
    app[CONFIG] = Config(media_port_range=port_range)
    return media_settings(app)


def test_the_setting_reaches_the_media_settings_or_is_refused_clearly() -> None:
    assert settings_of("40000-40100").port_range == (40000, 40100)
    assert settings_of("").port_range is None
    with pytest.raises(InvalidInput) as err:
        settings_of("40100-40000")
    assert err.value.code == "config.media_port_range"
    assert "LOW-HIGH" in err.value.message and "'40100-40000'" in err.value.message


def test_set_port_range_rejects_nonsense() -> None:
    with pytest.raises(ValueError):
        forward.set_port_range((5, 1))


async def test_signalling_keeps_the_ports_exhausted_code_and_calls_other_failures_bad_sdp() -> None:
    async def full() -> str:
        raise forward.PortRangeExhausted("127.0.0.1", 40000, 40000)

    async def garbage() -> str:
        raise ValueError("None is not in list")

    with pytest.raises(forward.PortRangeExhausted) as err:
        await _answer(full())
    assert err.value.code == "media.ports_exhausted"
    with pytest.raises(DomainError) as bad:
        await _answer(garbage())
    assert bad.value.code == "media.bad_sdp" and "None is not in list" in bad.value.message
