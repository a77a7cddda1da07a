"""Helpers for media tests: real aiortc peers on loopback with generated tracks.

A :class:`CounterTrack` is a ``VideoStreamTrack`` whose frames carry a counter in their luma and
the publisher's identity in their chroma; the publisher's aiortc encoder encodes them (and answers
keyframe requests natively, as a browser does). A :class:`Viewer` counts the frames it receives
without decoding them (``forward.install_passthrough``) and identifies each one by its bytes,
which the relay forwards unchanged: :class:`IngressLog` records every frame the relay received.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import av
import pytest
from aiortc import (
    AudioStreamTrack,
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


async def connect_viewer(relay: Relay, peer_id: str, server_offers: bool = False) -> Viewer:
    pc = peer()
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
