"""Regression tests of the aiortc/aioice private internals that server.media.forward uses.

If one of these fails after an upgrade, the forwarding relay is broken (frames decoded, dropped or
never sent; keyframe requests lost; no loopback ICE): re-read the new aiortc source, fix
forward.py, and only then add the version to SUPPORTED_VERSIONS.
"""

from __future__ import annotations

import asyncio
import inspect
import itertools
import re
import socket
import time

import aioice.ice
import aiortc
import pytest
from aiortc import RTCRtpReceiver, RTCRtpSender, RTCSessionDescription, rtcrtpreceiver
from aiortc.mediastreams import MediaStreamError

from server.media import forward
from server.media.forward import EncodedFrame
from server.media.relay import is_keyframe
from tests.media import CounterTrack, free_udp_range, loopback_only, peer

loopback = loopback_only  # autouse: host candidates on 127.0.0.1, no port range


def test_installed_versions_are_the_supported_ones() -> None:
    assert forward.installed_versions() == forward.SUPPORTED_VERSIONS
    assert aiortc.__version__ == forward.SUPPORTED_VERSIONS["aiortc"]
    forward.check_versions()


def test_an_unknown_aiortc_version_fails_loudly() -> None:
    with pytest.raises(forward.UnsupportedMediaStack) as err:
        forward.check_versions({"aiortc": "1.17.0", "aioice": "0.13.0"})
    assert "aiortc==1.17.0 (need ==1.16.0)" in str(err.value)
    with pytest.raises(forward.UnsupportedMediaStack, match="aioice==missing"):
        forward.check_versions({"aiortc": "1.16.0"})


def test_the_receiver_code_paths_the_passthrough_relies_on() -> None:
    handle = inspect.getsource(RTCRtpReceiver._handle_rtp_packet)
    assert "self.__decoder_queue.put((codec, encoded_frame))" in handle
    assert "depayload(codec, packet.payload)" in handle
    receive = inspect.getsource(RTCRtpReceiver.receive)
    assert "target=decoder_worker" in receive and "self.__decoder_queue," in receive
    worker = inspect.getsource(rtcrtpreceiver.decoder_worker)
    assert "task = input_q.get()" in worker and "if task is None:" in worker
    assert list(inspect.signature(RTCRtpReceiver._send_rtcp_pli).parameters) == [
        "self",
        "media_ssrc",
    ]
    init = inspect.getsource(RTCRtpReceiver.__init__)
    assert "self.__rtx_ssrc: dict[int, int] = {}" in init
    assert "self.__decoder_queue: queue.Queue = queue.Queue()" in init
    assert "self.__decoder_thread: Optional[threading.Thread] = None" in init


def test_the_sender_code_paths_the_relay_relies_on() -> None:
    rtcp = inspect.getsource(RTCRtpSender._handle_rtcp_packet)
    assert "self._send_keyframe()" in rtcp
    next_frame = inspect.getsource(RTCRtpSender._next_encoded_frame)
    assert "self.__encoder.pack(data)" in next_frame


def test_aioice_gathers_host_candidates_from_get_host_addresses() -> None:
    gather = inspect.getsource(aioice.ice.Connection.gather_candidates)
    assert "get_host_addresses(" in gather


async def test_loopback_host_address_is_offered_and_default_restored() -> None:
    conn = aioice.ice.Connection(ice_controlling=True)
    await conn.gather_candidates()
    assert [c.host for c in conn.local_candidates] == ["127.0.0.1"]
    await conn.close()
    forward.set_host_addresses(None)
    assert aioice.ice.get_host_addresses is forward._ORIGINAL_GET_HOST_ADDRESSES


def test_aioice_binds_host_candidates_as_the_port_range_shim_expects() -> None:
    """forward.set_port_range intercepts exactly this call (through aioice.ice's asyncio)."""
    source = inspect.getsource(aioice.ice.Connection.get_component_candidates)
    assert "loop = asyncio.get_running_loop()" in source
    assert "loop.create_datagram_endpoint(" in source
    assert "lambda: StunProtocol(self), local_addr=(address, 0)" in source
    assert "except OSError as exc:" in source  # a bind error skips that address, as before
    assert list(inspect.signature(aioice.ice.Connection.get_component_candidates).parameters) == [
        "self",
        "component",
        "addresses",
        "timeout",
    ]
    assert aioice.ice.asyncio is asyncio
    forward.check_port_range_internals()


def test_the_port_range_shim_refuses_an_aioice_that_binds_differently() -> None:
    async def binds_elsewhere(self: object, component: int, addresses: list[str]) -> list[object]:
        return []

    with pytest.raises(forward.UnsupportedMediaStack, match="create_datagram_endpoint"):
        forward.check_port_range_internals(binds_elsewhere)
    with pytest.raises(forward.UnsupportedMediaStack, match="not the asyncio module"):
        forward.check_port_range_internals(ice_asyncio=object())


async def test_host_candidates_bind_inside_the_port_range_and_default_is_restored() -> None:
    low, _ = free_udp_range(3, ("127.0.0.1", "127.0.0.2"))
    forward.set_port_range((low, low + 2))
    conns = [aioice.ice.Connection(ice_controlling=True) for _ in range(3)]
    for conn in conns:
        await conn.gather_candidates()
    ports = sorted(c.port for conn in conns for c in conn.local_candidates)
    assert ports == [low, low + 1, low + 2]  # one each, none shared, all inside
    # a fourth connection finds the range exhausted and says so (not aioice's silent skip)
    fourth = aioice.ice.Connection(ice_controlling=True)
    with pytest.raises(forward.PortRangeExhausted, match=f"{low}-{low + 2}"):
        await fourth.gather_candidates()
    for conn in conns:
        await conn.close()
    await fourth.close()
    forward.set_port_range(None)
    assert aioice.ice.asyncio is asyncio
    assert (
        aioice.ice.Connection.get_component_candidates is forward._ORIGINAL_GET_COMPONENT_CANDIDATES
    )
    conn = aioice.ice.Connection(ice_controlling=True)
    await conn.gather_candidates()
    assert not low <= conn.local_candidates[0].port <= low + 2
    await conn.close()


async def test_exhaustion_on_one_address_releases_the_ports_bound_on_the_others() -> None:
    port, _ = free_udp_range(1, ("127.0.0.1", "127.0.0.2"))
    forward.set_host_addresses(["127.0.0.1", "127.0.0.2"])
    forward.set_port_range((port, port))
    blocker = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    blocker.bind(("127.0.0.2", port))
    try:
        conn = aioice.ice.Connection(ice_controlling=True)
        with pytest.raises(forward.PortRangeExhausted, match=re.escape("127.0.0.2")):
            await conn.gather_candidates()
        await conn.close()
    finally:
        blocker.close()
    # 127.0.0.1:port was bound before 127.0.0.2 failed: it was closed, not leaked
    check = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    check.bind(("127.0.0.1", port))
    check.close()


async def connected_pair(
    frames: list[EncodedFrame],
) -> tuple[aiortc.RTCPeerConnection, aiortc.RTCPeerConnection, RTCRtpSender, RTCRtpReceiver]:
    sender_pc, receiver_pc = peer(), peer()
    sender = sender_pc.addTrack(CounterTrack(chroma=80, width=160, height=120))
    transceiver = receiver_pc.addTransceiver("video", direction="recvonly")
    forward.install_passthrough(transceiver.receiver, frames.append)
    await receiver_pc.setLocalDescription(await receiver_pc.createOffer())
    await sender_pc.setRemoteDescription(receiver_pc.localDescription)
    await sender_pc.setLocalDescription(await sender_pc.createAnswer())
    await receiver_pc.setRemoteDescription(
        RTCSessionDescription(sdp=sender_pc.localDescription.sdp, type="answer")
    )
    return sender_pc, receiver_pc, sender, transceiver.receiver


async def wait_for(predicate: object, timeout: float = 5.0) -> None:
    assert callable(predicate)
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_passthrough_delivers_encoded_frames_without_decoding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_decoding(codec: object) -> object:
        raise AssertionError("a decoder was created")

    monkeypatch.setattr(rtcrtpreceiver, "get_decoder", no_decoding)
    frames: list[EncodedFrame] = []
    sender_pc, receiver_pc, _, receiver = await connected_pair(frames)
    await wait_for(lambda: len(frames) >= 10)
    assert {f.codec for f in frames} == {"video/vp8"}
    assert {f.clock_rate for f in frames} == {90000}
    assert is_keyframe(frames[0]) and not any(is_keyframe(f) for f in frames[1:10])
    steps = [b.pts - a.pts for a, b in itertools.pairwise(frames[:10])]
    assert all(2000 <= s <= 4000 for s in steps), steps  # 30 fps at 90 kHz
    with pytest.raises(RuntimeError, match="already"):
        forward.install_passthrough(receiver, frames.append)
    track = receiver.track
    await receiver_pc.close()
    await sender_pc.close()
    # the stop signal still reaches the (idle) decoder thread, which ends the remote track
    assert receiver._RTCRtpReceiver__decoder_thread is None  # joined
    with pytest.raises(MediaStreamError):
        await asyncio.wait_for(track.recv(), 2.0)
    assert track.readyState == "ended"


async def test_pli_reaches_the_remote_senders_keyframe_hook() -> None:
    frames: list[EncodedFrame] = []
    sender_pc, receiver_pc, sender, receiver = await connected_pair(frames)
    requests: list[float] = []
    forward.on_keyframe_request(sender, lambda: requests.append(time.monotonic()))
    await wait_for(lambda: len(frames) >= 3)
    assert forward.media_ssrcs(receiver) == [sender._ssrc]
    assert await forward.send_pli(receiver) == 1
    await wait_for(lambda: len(requests) == 1, timeout=2.0)
    await receiver_pc.close()
    await sender_pc.close()


async def test_native_pli_handling_makes_an_aiortc_encoder_send_a_keyframe() -> None:
    frames: list[EncodedFrame] = []
    sender_pc, receiver_pc, _, receiver = await connected_pair(frames)
    await wait_for(lambda: len(frames) >= 5)
    assert sum(map(is_keyframe, frames)) == 1
    await forward.send_pli(receiver)
    await wait_for(lambda: sum(map(is_keyframe, frames)) == 2, timeout=2.0)
    await receiver_pc.close()
    await sender_pc.close()


def test_install_refuses_other_objects() -> None:
    with pytest.raises(TypeError):
        forward.install_passthrough(object(), lambda f: None)
    with pytest.raises(TypeError):
        forward.on_keyframe_request(object(), lambda: None)
