"""Server CPU per added video subscriber: our forwarding relay vs aiortc's stock MediaRelay.

One run measures both, side by side. A publisher sends VP8 640x480 at 30 fps and ~800 kbps, or
1280x720 at ~1.8 Mbps (a
moving lavfi ``testsrc2`` pattern, encoded once in the publisher). The server runs in its own
process pinned to CPU 0; the publisher and the subscribers run in this process, pinned to the
other CPU. Subscribers count frames without decoding them (the same passthrough as the relay).

* forward: ``server.media.relay.Relay`` -- encoded frames forwarded, never decoded.
* stock: the server decodes the publisher (aiortc ``RTCRtpReceiver``) and gives each subscriber
  ``MediaRelay.subscribe(track)``: one VP8 encoder per subscriber (aiortc default bitrate, REMB).

For each number of subscribers the server's CPU time over a window is measured; the cost per
subscriber is the least-squares slope of "% of one core" against the count, over the rows where
every viewer got full frame rate (on 2 CPUs the client side saturates first: 20 viewers plus the
publisher's encoder on one core; such rows are printed with "valid": false).
Targets: forward <= 1.0% of a core per subscriber at 480p; >= 15x cheaper than stock.

Also (forward only): floor switches between a 480p/720p main feed and a 320x240 site feed
(latency to each viewer's first frame of the new source, longest frame gap around the switch)
and late joiners (first frame after connecting).
Targets: 720p forward <= 1.5% of a core per subscriber; switch <= 150 ms without a freeze; late
joiner's first frame <= 300 ms.

Run: .venv/bin/python bench/media.py [--profiles 480p,720p] [--window 10]
     [--forward 0,1,5,10,20] [--stock 0,1,2,4] [--switches 6] [--joins 5]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import multiprocessing
import os
import platform
import sys
import time
from fractions import Fraction
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import (  # noqa: E402
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
    VideoStreamTrack,
)
from aiortc.contrib.media import MediaRelay  # noqa: E402

from server.media import forward  # noqa: E402
from server.media.peers import add_transceivers, loopback_settings  # noqa: E402
from server.media.relay import Relay  # noqa: E402

FPS = 30
PROFILES = {"480p": (640, 480, 800_000), "720p": (1280, 720, 1_800_000)}
SITE_PROFILE = (320, 240, 300_000)  # a site's feed when it has the floor (switch bench)
VIDEO_TIME_BASE = Fraction(1, 90000)


def pin(cpu: int) -> None:
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {cpu % (os.cpu_count() or 1)})


# -- server process ----------------------------------------------------------------------------


class StockServer:
    """aiortc's documented way: decode once, MediaRelay, one encoder per subscriber."""

    def __init__(self) -> None:
        self.relay = MediaRelay()
        self.source: Any = None
        self.pcs: list[RTCPeerConnection] = []
        self.drain: asyncio.Task[None] | None = None

    async def publish(self, offer: str, peer_id: str = "main") -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        add_transceivers(pc, "recvonly", kinds=["video"])
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        self.source = pc.getTransceivers()[0].receiver.track
        # MediaRelay reads only once a proxy is read: drain from publish time
        self.drain = asyncio.ensure_future(self._drain(self.relay.subscribe(self.source, False)))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def _drain(self, track: Any) -> None:
        while True:
            await track.recv()

    async def subscribe(self, peer_id: str, offer: str) -> str:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pcs.append(pc)
        t = add_transceivers(pc, "sendonly", kinds=["video"])[0]
        t.sender.replaceTrack(self.relay.subscribe(self.source, buffered=False))
        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        return str(pc.localDescription.sdp)

    async def close(self) -> None:
        if self.drain:
            self.drain.cancel()
        for pc in self.pcs:
            await pc.close()


class ForwardServer:
    def __init__(self) -> None:
        self.relay = Relay("main", loopback_settings())

    async def publish(self, offer: str, peer_id: str = "main") -> str:
        return await self.relay.publish(peer_id, offer)

    async def subscribe(self, peer_id: str, offer: str) -> str:
        return await self.relay.subscribe(peer_id, offer)

    async def close(self) -> None:
        await self.relay.close()


def server_main(mode: str, conn: Connection, cpu: int) -> None:
    pin(cpu)
    forward.set_host_addresses(["127.0.0.1"])
    asyncio.run(serve(mode, conn))


async def serve(mode: str, conn: Connection) -> None:
    server: StockServer | ForwardServer = StockServer() if mode == "stock" else ForwardServer()
    loop = asyncio.get_running_loop()
    while True:
        msg = await loop.run_in_executor(None, conn.recv)
        op = msg[0]
        if op == "publish":
            conn.send(await server.publish(msg[1], *msg[2:]))
        elif op == "program":
            assert isinstance(server, ForwardServer)
            server.relay.set_program(msg[1])
            conn.send(time.monotonic())
        elif op == "subscribe":
            conn.send(await server.subscribe(msg[1], msg[2]))
        elif op == "cpu":
            conn.send((time.process_time(), time.monotonic()))
        elif op == "stats":
            conn.send(server.relay.stats() if isinstance(server, ForwardServer) else {})
        elif op == "quit":
            await server.close()
            conn.send("bye")
            return


class Remote:
    """The bench side of the pipe to the server process."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.lock = asyncio.Lock()

    async def call(self, *msg: Any) -> Any:
        async with self.lock:
            self.conn.send(msg)
            return await asyncio.get_running_loop().run_in_executor(None, self.conn.recv)


# -- publisher and subscribers (this process) --------------------------------------------------


class TestPatternTrack(VideoStreamTrack):  # type: ignore[misc]
    """lavfi testsrc2, encoded here once to VP8 at ``bitrate``; answers keyframe requests."""

    def __init__(self, width: int, height: int, bitrate: int) -> None:
        super().__init__()
        self.source = av.open(
            f"testsrc2=size={width}x{height}:rate={FPS},format=yuv420p", format="lavfi"
        )
        self.frames = self.source.decode(video=0)
        self.codec = av.CodecContext.create("libvpx", "w")
        self.codec.width, self.codec.height = width, height
        self.codec.pix_fmt = "yuv420p"
        # report the measured rate (publisher_kbps); with every frame a keyframe (see recv)
        # libvpx overshot its target about twice, with ordinary P frames it keeps to it
        target = bitrate
        self.codec.bit_rate = target
        self.codec.time_base = Fraction(1, FPS)
        self.codec.framerate = Fraction(FPS, 1)
        self.codec.gop_size = 3000
        self.codec.options = {
            "deadline": "realtime",
            "cpu-used": "-6",
            "lag-in-frames": "0",
            "minrate": str(target),
            "maxrate": str(target),
            "bufsize": str(target),
        }
        self.force_keyframe = False
        self.count = 0
        self.bytes = 0

    async def recv(self) -> av.Packet:
        pts, _ = await self.next_timestamp()
        while True:
            frame = next(self.frames)
            frame.pts = self.count
            self.count += 1
            # lavfi frames come marked as I pictures, which makes libvpx encode every one as
            # a keyframe: clear the mark unless a keyframe was asked for
            picture = av.video.frame.PictureType
            frame.pict_type = picture.I if self.force_keyframe else picture.NONE
            self.force_keyframe = False
            packets = self.codec.encode(frame)
            if packets:
                data = b"".join(bytes(p) for p in packets)
                self.bytes += len(data)
                packet = av.Packet(data)
                packet.pts = pts
                packet.time_base = VIDEO_TIME_BASE
                return packet

    def request_keyframe(self) -> None:
        self.force_keyframe = True


async def negotiate_publisher(
    remote: Remote, profile: tuple[int, int, int], peer_id: str = "main"
) -> tuple[RTCPeerConnection, TestPatternTrack]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = TestPatternTrack(*profile)
    t = add_transceivers(pc, "sendonly", kinds=["video"])[0]
    t.sender.replaceTrack(track)
    forward.on_keyframe_request(t.sender, track.request_keyframe)
    await pc.setLocalDescription(await pc.createOffer())
    answer = await remote.call("publish", pc.localDescription.sdp, peer_id)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc, track


class Viewer:
    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.frames = 0
        self.bytes = 0
        self.log: list[tuple[float, int | None]] = []  # (arrival, keyframe width or None)
        self.connected_at: float | None = None
        t = add_transceivers(self.pc, "recvonly", kinds=["video"])[0]
        forward.install_passthrough(t.receiver, self.on_frame)

        @self.pc.on("connectionstatechange")  # type: ignore[misc]
        def on_state() -> None:
            if self.pc.connectionState == "connected" and self.connected_at is None:
                self.connected_at = time.monotonic()

    def on_frame(self, frame: forward.EncodedFrame) -> None:
        self.frames += 1
        self.bytes += len(frame.data)
        self.log.append((time.monotonic(), vp8_key_width(frame.data)))

    async def connect(self, remote: Remote, peer_id: str) -> None:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        answer = await remote.call("subscribe", peer_id, self.pc.localDescription.sdp)
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))


def vp8_key_width(data: bytes) -> int | None:
    """The picture width of a VP8 keyframe (RFC 6386 9.1); None for other frames."""
    if len(data) >= 10 and not data[0] & 0x01 and data[3:6] == b"\x9d\x01\x2a":
        return int.from_bytes(data[6:8], "little") & 0x3FFF
    return None


def slope(points: list[tuple[int, float]]) -> float:
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    return sum((x - mx) * (y - my) for x, y in points) / sxx if sxx else float("nan")


def start_server(mode: str) -> tuple[Any, Remote]:
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=server_main, args=(mode, child, 0), daemon=True)
    proc.start()
    return proc, Remote(parent)


async def run_mode(
    mode: str, counts: list[int], window: float, settle: float, profile: tuple[int, int, int]
) -> dict[str, Any]:
    proc, remote = start_server(mode)
    pub, track = await negotiate_publisher(remote, profile)
    viewers: list[Viewer] = []
    rows = []
    try:
        for count in counts:
            while len(viewers) < count:
                viewer = Viewer()
                await viewer.connect(remote, f"site-{len(viewers)}")
                viewers.append(viewer)
            await asyncio.sleep(settle)
            cpu0, t0 = await remote.call("cpu")
            here0 = time.process_time()
            frames0 = [v.frames for v in viewers]
            bytes0 = track.bytes
            await asyncio.sleep(window)
            cpu1, t1 = await remote.call("cpu")
            here1 = time.process_time()
            elapsed = t1 - t0
            fps = [(v.frames - f) / elapsed for v, f in zip(viewers, frames0, strict=True)]
            row = {
                "subscribers": count,
                "server_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 2),
                "client_cpu_pct": round(100 * (here1 - here0) / elapsed, 1),
                "publisher_kbps": round(8 * (track.bytes - bytes0) / elapsed / 1000),
                "viewer_fps_min": round(min(fps), 1) if fps else None,
                "viewer_fps_mean": round(sum(fps) / len(fps), 1) if fps else None,
                # every viewer at full rate (else the client CPU, not the server, is the limit)
                "valid": not fps or min(fps) >= 0.9 * FPS,
            }
            rows.append(row)
            print(f"  {mode:8s} {profile[1]}p {json.dumps(row)}", flush=True)
        stats = await remote.call("stats")
    finally:
        await remote.call("quit")
        proc.join(10)
        for viewer in viewers:
            await viewer.pc.close()
        await pub.close()
    per_sub = slope([(r["subscribers"], r["server_cpu_pct"]) for r in rows if r["valid"]])
    return {"rows": rows, "pct_core_per_subscriber": round(per_sub, 3), "relay_stats": stats}


async def run_switch(
    profile: tuple[int, int, int], viewers_n: int, switches: int, joins: int
) -> dict[str, Any]:
    """Floor switches (program main -> site -> main ...) and late joiners, forwarding relay.

    Switch latency: from the program change at the server to each viewer's first frame of the
    new source (its first keyframe, told apart by its picture width). Freeze: the longest gap
    between two frames at a viewer from 0.5 s before to 1.5 s after the switch.
    Late joiner: from the viewer's "connected" state (and from its offer) to its first frame.
    """
    proc, remote = start_server("forward")
    main_pc, _ = await negotiate_publisher(remote, profile, "main")
    site_pc, _ = await negotiate_publisher(remote, SITE_PROFILE, "site-floor")
    viewers: list[Viewer] = []
    result: dict[str, Any] = {}
    try:
        for i in range(viewers_n):
            viewer = Viewer()
            await viewer.connect(remote, f"site-{i}")
            viewers.append(viewer)
        await asyncio.sleep(3)
        latencies: list[float] = []
        gaps: list[float] = []
        target = "site-floor"
        for _ in range(switches):
            at = await remote.call("program", target)
            width = SITE_PROFILE[0] if target == "site-floor" else profile[0]
            await asyncio.sleep(1.5)
            for v in viewers:
                first = next((t for t, w in v.log if t >= at and w == width), None)
                latencies.append(float("inf") if first is None else first - at)
                times = [t for t, _ in v.log if at - 0.5 <= t <= at + 1.5]
                gaps.append(max((b - a for a, b in itertools.pairwise(times)), default=0))
            target = "main" if target == "site-floor" else "site-floor"
            await asyncio.sleep(1.2)  # past the keyframe rate limit
        result["switch_ms"] = {
            "max": round(1000 * max(latencies), 1),
            "mean": round(1000 * sum(latencies) / len(latencies), 1),
            "n": len(latencies),
        }
        result["max_gap_around_switch_ms"] = round(1000 * max(gaps), 1)
        firsts, from_offer = [], []
        for j in range(joins):
            await asyncio.sleep(1.2)
            viewer = Viewer()
            offered = time.monotonic()
            await viewer.connect(remote, f"late-{j}")
            async with asyncio.timeout(10):
                while not viewer.log or viewer.connected_at is None:
                    await asyncio.sleep(0.005)
            firsts.append(viewer.log[0][0] - viewer.connected_at)
            from_offer.append(viewer.log[0][0] - offered)
            viewers.append(viewer)
        result["late_joiner_first_frame_ms"] = {
            "after_connected_max": round(1000 * max(firsts), 1),
            "after_offer_max": round(1000 * max(from_offer), 1),
            "n": joins,
        }
    finally:
        await remote.call("quit")
        proc.join(10)
        for viewer in viewers:
            await viewer.pc.close()
        await main_pc.close()
        await site_pc.close()
    print(f"  switch   {profile[1]}p {json.dumps(result)}", flush=True)
    return result


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--forward", default="0,1,5,10,20")
    parser.add_argument("--stock", default="0,1,2,4")
    parser.add_argument("--profiles", default="480p,720p")
    parser.add_argument("--switches", type=int, default=6, help="floor switches (0: skip)")
    parser.add_argument("--joins", type=int, default=5, help="late joiners in the switch run")
    args = parser.parse_args()
    pin(1)
    forward.set_host_addresses(["127.0.0.1"])
    print(
        f"VP8 {FPS} fps; {os.cpu_count()} CPUs; "
        f"{platform.python_implementation()} {platform.python_version()}",
        flush=True,
    )
    out: dict[str, Any] = {}
    targets = {"480p": 1.0, "720p": 1.5}
    for name in args.profiles.split(","):
        profile = PROFILES[name]
        fwd = await run_mode(
            "forward", [int(x) for x in args.forward.split(",")], args.window, args.settle, profile
        )
        stock = await run_mode(
            "stock", [int(x) for x in args.stock.split(",")], args.window, args.settle, profile
        )
        f, s = fwd["pct_core_per_subscriber"], stock["pct_core_per_subscriber"]
        out[name] = {
            "profile": {"width": profile[0], "height": profile[1], "kbps": profile[2] // 1000},
            "forward": fwd["rows"],
            "stock": stock["rows"],
            "forward_pct_core_per_subscriber": f,
            "stock_pct_core_per_subscriber": s,
            "ratio_stock_over_forward": round(s / f, 1) if f > 0 else None,
            f"target_forward_le_{targets[name]}pct": f <= targets[name],
            "target_ratio_ge_15": f > 0 and s / f >= 15,
        }
        if args.switches:
            sw = await run_switch(profile, 5, args.switches, args.joins)
            sw["target_switch_le_150ms"] = sw["switch_ms"]["max"] <= 150
            sw["target_late_joiner_le_300ms"] = (
                sw["late_joiner_first_frame_ms"]["after_connected_max"] <= 300
            )
            out[name]["switch"] = sw
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
