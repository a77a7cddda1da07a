"""Helpers for media tests: real aiortc peers on loopback with generated tracks.

A :class:`CounterTrack` is a ``VideoStreamTrack`` whose frames carry a counter in their luma and
the publisher's identity in their chroma; the publisher's aiortc encoder encodes them (and answers
keyframe requests natively, as a browser does). A :class:`Viewer` counts the frames it receives
without decoding them (``forward.install_passthrough``) and identifies each one by its bytes,
which the relay forwards unchanged: :class:`IngressLog` records every frame the relay received.
"""

from __future__ import annotations

import asyncio
import collections
import errno
import os
import random
import re
import socket
import struct
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import (
    AudioStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)

from server.media import forward
from server.media.forward import EncodedFrame
from server.media.peers import add_transceivers
from server.media.relay import Relay, is_keyframe

FRAME_INTERVAL = 1 / 30  # aiortc's VideoStreamTrack pacing


class CounterTrack(VideoStreamTrack):  # type: ignore[misc]
    """Frames whose Y value encodes a counter and whose U/V encode the publisher.

    A 16-row noise stripe on top makes every encoded frame unique.
    """

    def __init__(self, chroma: int, width: int = 320, height: int = 240) -> None:
        super().__init__()
        self.chroma = chroma
        self.width = width
        self.height = height
        self.count = 0

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = av.VideoFrame(self.width, self.height, "yuv420p")
        luma = 16 + (self.count * 8) % 220
        for i, plane in enumerate(frame.planes):
            if i == 0:
                # a noise stripe on top makes every encoded frame unique
                noise = os.urandom(plane.line_size * 16)
                plane.update(noise + bytes([luma]) * (plane.buffer_size - len(noise)))
            else:
                plane.update(bytes([self.chroma]) * plane.buffer_size)
        frame.pts = pts
        frame.time_base = time_base
        self.count += 1
        return frame


def peer() -> RTCPeerConnection:
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


async def connect_publisher(
    relay: Relay, peer_id: str, chroma: int, audio: bool = False
) -> tuple[RTCPeerConnection, CounterTrack]:
    pc = peer()
    track = CounterTrack(chroma)
    pc.addTrack(track)
    if audio:
        pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.publish(peer_id, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, track


@dataclass
class Received:
    at: float
    frame: EncodedFrame


@dataclass
class Viewer:
    """A subscriber peer that records encoded frames instead of decoding them."""

    pc: RTCPeerConnection
    video: list[Received] = field(default_factory=list)
    audio: list[Received] = field(default_factory=list)
    connected_at: float | None = None
    video_receiver: Any = None

    async def wait_frames(self, count: int, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.video) < count:
                await asyncio.sleep(0.01)


async def connect_viewer(
    relay: Relay, peer_id: str, server_offers: bool = False, proxy: LossyProxy | None = None
) -> Viewer:
    """A viewer subscribed to ``relay``; with ``proxy``, its media goes through that proxy."""
    pc = peer()
    if proxy is not None:
        pc = RTCPeerConnection(
            RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE)
        )
    viewer = Viewer(pc)
    for transceiver in add_transceivers(pc, "recvonly"):
        sink = viewer.video if transceiver.kind == "video" else viewer.audio
        forward.install_passthrough(
            transceiver.receiver,
            lambda f, out=sink: out.append(Received(time.monotonic(), f)),
        )
        if transceiver.kind == "video":
            viewer.video_receiver = transceiver.receiver

    @pc.on("connectionstatechange")  # type: ignore[misc]
    def on_state() -> None:
        if pc.connectionState == "connected" and viewer.connected_at is None:
            viewer.connected_at = time.monotonic()

    if server_offers:
        offer = await relay.subscribe(peer_id, None)
        # add_transceivers made recvonly transceivers; aiortc matches the offer to them.
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await relay.accept_answer(peer_id, pc.localDescription.sdp)
    elif proxy is not None:
        to_viewer_port, to_server_port = await proxy.start()
        await pc.setLocalDescription(await pc.createOffer())
        offer, viewer_port = repoint(pc.localDescription.sdp, to_server_port)
        proxy.viewer_addr = ("127.0.0.1", viewer_port)
        answer, _ = repoint(await relay.subscribe(peer_id, offer), to_viewer_port)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    else:
        await pc.setLocalDescription(await pc.createOffer())
        answer = await relay.subscribe(peer_id, pc.localDescription.sdp)
        await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return viewer


@dataclass(frozen=True)
class Origin:
    source: str
    index: int  # position in that publisher's video stream at the relay
    keyframe: bool
    at: float


class IngressLog:
    """Every video frame the relay received, by content: identifies what a viewer got."""

    def __init__(self, relay: Relay) -> None:
        self.by_data: dict[bytes, Origin] = {}
        self.count: dict[str, int] = {}
        relay.add_frame_listener(self._on_frame)

    def _on_frame(self, source: str, kind: str, frame: EncodedFrame, keyframe: bool) -> None:
        if kind != "video":
            return
        index = self.count.get(source, 0)
        self.count[source] = index + 1
        self.by_data[frame.data] = Origin(source, index, keyframe, time.monotonic())

    def origins(self, received: list[Received]) -> list[Origin]:
        return [self.by_data[r.frame.data] for r in received]


def keyframe(frame: EncodedFrame) -> bool:
    return is_keyframe(frame)


async def close_all(*pcs: RTCPeerConnection) -> None:
    for pc in pcs:
        await pc.close()


_RTP_HEADER = struct.Struct("!HII")
_CANDIDATE = re.compile(r"^(a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 )(\d+)( .*)$", re.MULTILINE)


class LossyProxy:
    """A loopback UDP proxy between one viewer and the relay that drops a share of the relay's
    RTP to the viewer (STUN, DTLS and RTCP pass)."""

    def __init__(self, loss: float, seed: int = 18) -> None:
        self.loss = loss
        self.random = random.Random(seed)
        self.viewer_addr: tuple[str, int] | None = None
        self.server_addr: tuple[str, int] | None = None
        self.viewer_side: asyncio.DatagramTransport | None = None
        self.server_side: asyncio.DatagramTransport | None = None
        self.rtp_forwarded = 0
        self.rtp_dropped = 0
        #: (payload type, sequence number, timestamp, SSRC) of every RTP packet passed on
        #: (SRTP leaves the header in the clear)
        self.headers: list[tuple[int, int, int, int]] = []
        #: (time.monotonic(), SSRC) of every RTCP sender report the relay sent
        self.sender_reports: list[tuple[float, int]] = []
        #: RTCP from the viewer, by (packet type, format) of its first packet
        self.feedback: collections.Counter[tuple[int, int]] = collections.Counter()

    async def start(self) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        proxy = self

        class ViewerSide(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                if 128 <= data[0] <= 191 and 192 <= data[1] <= 223:  # RTCP (RFC 5761)
                    proxy.feedback[(data[1], data[0] & 0x1F)] += 1
                if proxy.server_side is not None and proxy.server_addr is not None:
                    proxy.server_side.sendto(data, proxy.server_addr)

        class ServerSide(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
                proxy.server_addr = addr
                # RFC 7983: 128-191 is RTP/RTCP; RTCP payload types are 192-223
                rtp = 128 <= data[0] <= 191 and not 192 <= (data[1] & 0x7F) + 128 <= 223
                if rtp and proxy.random.random() < proxy.loss:
                    proxy.rtp_dropped += 1
                    return
                proxy.rtp_forwarded += rtp
                if rtp:
                    proxy.headers.append((data[1] & 0x7F, *_RTP_HEADER.unpack_from(data, 2)))
                elif 128 <= data[0] <= 191 and data[1] == 200 and len(data) >= 8:  # an SR first
                    ssrc = int.from_bytes(data[4:8], "big")
                    proxy.sender_reports.append((time.monotonic(), ssrc))
                if proxy.viewer_side is not None and proxy.viewer_addr is not None:
                    proxy.viewer_side.sendto(data, proxy.viewer_addr)

        self.viewer_side, _ = await loop.create_datagram_endpoint(
            ViewerSide, local_addr=("127.0.0.1", 0)
        )
        self.server_side, _ = await loop.create_datagram_endpoint(
            ServerSide, local_addr=("127.0.0.1", 0)
        )
        return (
            self.viewer_side.get_extra_info("sockname")[1],
            self.server_side.get_extra_info("sockname")[1],
        )

    def close(self) -> None:
        for transport in (self.viewer_side, self.server_side):
            if transport is not None:
                transport.close()


def repoint(sdp: str, port: int) -> tuple[str, int]:
    """The SDP with its one loopback host candidate moved to ``port``; the original port."""
    found = _CANDIDATE.findall(sdp)
    assert found and len({port for _, port, _ in found}) == 1, sdp  # bundled: one transport
    return _CANDIDATE.sub(lambda m: f"{m.group(1)}{port}{m.group(3)}", sdp), int(found[0][1])


@pytest.fixture(autouse=True)
async def loopback_only() -> AsyncIterator[None]:
    """Host candidates on 127.0.0.1 and no media port range, reset afterwards (bind a module's
    name to it to use it: ``loopback = loopback_only``)."""
    forward.set_host_addresses(["127.0.0.1"])
    yield
    forward.set_port_range(None)
    forward.set_host_addresses(None)


def free_udp_range(size: int, hosts: tuple[str, ...] = ("127.0.0.1",)) -> tuple[int, int]:
    """``size`` consecutive UDP ports free on every one of ``hosts``, below Linux's ephemeral
    range: (first, last)."""
    for _ in range(200):
        low = random.randrange(20000, 32000 - size)
        socks = []
        try:
            for port in range(low, low + size):
                for host in hosts:
                    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                    socks.append(sock)
                    sock.bind((host, port))
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            continue
        finally:
            for sock in socks:
                sock.close()
        return low, low + size - 1
    raise AssertionError("no free UDP port range found")
