"""Server CPU per added video subscriber: the fast path, our forwarding relay on aiortc's sender,
and aiortc's stock MediaRelay.

One run measures both, side by side. A publisher sends VP8 640x480 at 30 fps and ~800 kbps, or
1280x720 at ~1.8 Mbps (a moving lavfi ``testsrc2`` pattern, encoded once in the publisher, in a
worker thread so that encoding does not stall the viewers' event loop). The server runs in its own
process pinned to CPU 0; the publisher and the subscribers run in this process, pinned to the
other CPU. Subscribers count frames without decoding them (the same passthrough as the relay).

* forward: ``server.media.relay.Relay`` with ``fast_path=False`` -- encoded frames forwarded,
  never decoded, each subscriber's ``RTCRtpSender`` packetizing and sending them (issue 6).
* fast: the same relay with the fast path (``server.media.fastpath``, the production path since
  issue 18): each frame packetized once, per subscriber a header rewrite, SRTP and ``sendto``.
* stock: the server decodes the publisher (aiortc ``RTCRtpReceiver``) and gives each subscriber
  ``MediaRelay.subscribe(track)``: one VP8 encoder per subscriber (aiortc default bitrate, REMB).

For each number of subscribers the server's CPU time over a window is measured; the cost per
subscriber is the least-squares slope of "% of one core" against the count, over the rows where
every viewer got full frame rate (on 2 CPUs the client side saturates first: 20 viewers plus the
publisher's encoder on one core; such rows are printed with "valid": false).
Targets: forward <= 1.0% of a core per subscriber at 480p; >= 15x cheaper than stock.
Every column also gets µs of server CPU per forwarded packet: the slope of CPU time against the
RTP packets its subscribers' senders sent (everything a subscriber costs, divided by packets).
``MEDIA_BENCH_PROFILE=/tmp/prof`` writes a cProfile of each server process (/tmp/prof.<mode>).

Also (fast path): floor switches between a 480p/720p main feed and a 320x240 site feed
(latency to each viewer's first frame of the new source, longest frame gap around the switch)
and late joiners (first frame after connecting).
Targets: 720p forward <= 1.5% of a core per subscriber; switch <= 150 ms without a freeze; late
joiner's first frame <= 300 ms.

Every row and run also prints what explains a bad latency: the kernel's UDP drops on the bench's
and the server's sockets, the publisher's encode time, how late its frames left (p99) and how
fast it answered keyframe requests, and the relay's counters (feed overflows = a reader too far
behind, keyframe requests sent to publishers and coalesced by the rate limit).

Run: .venv/bin/python bench/media.py [--profiles 480p,720p] [--window 10]
     [--forward 0,1,5,10,20] [--fast 0,1,5,10,20] [--stock 0,1,2,4]
     [--switches 6] [--joins 5] [--switch-runs 1]
     [--inline-encode]   (encode on the viewers' loop, as the bench did before issue #6's fix)
A count list may be empty (--stock '') to skip that part.
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
from concurrent.futures import ThreadPoolExecutor
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
    def __init__(self, fast_path: bool) -> None:
        self.relay = Relay("main", loopback_settings(fast_path=fast_path))

    async def publish(self, offer: str, peer_id: str = "main") -> str:
        return await self.relay.publish(peer_id, offer)

    async def subscribe(self, peer_id: str, offer: str) -> str:
        return await self.relay.subscribe(peer_id, offer)

    async def close(self) -> None:
        await self.relay.close()


def server_main(mode: str, conn: Connection, cpu: int) -> None:
    pin(cpu)
    forward.set_host_addresses(["127.0.0.1"])
    profile_to = os.environ.get("MEDIA_BENCH_PROFILE")  # a file: cProfile the server process
    if not profile_to:
        asyncio.run(serve(mode, conn))
        return
    import cProfile

    cProfile.runctx("asyncio.run(serve(mode, conn))", globals(), locals(), f"{profile_to}.{mode}")


async def serve(mode: str, conn: Connection) -> None:
    server: StockServer | ForwardServer = (
        StockServer() if mode == "stock" else ForwardServer(fast_path=mode == "fast")
    )
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
        elif op == "packets":  # RTP packets sent to subscribers so far (every path counts)
            conn.send(packets_sent(server))
        elif op == "stats":
            conn.send(server.relay.stats() if isinstance(server, ForwardServer) else {})
        elif op == "quit":
            await server.close()
            conn.send("bye")
            return


def packets_sent(server: StockServer | ForwardServer) -> int:
    if isinstance(server, StockServer):
        pcs = server.pcs
    else:
        pcs = [s.pc for s in server.relay._subscribers.values() if s.pc is not None]
    return sum(
        getattr(t.sender, "_RTCRtpSender__packet_count", 0)
        for pc in pcs
        for t in pc.getTransceivers()
        if t.sender is not None
    )


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
    """lavfi testsrc2, encoded here once to VP8 at ``bitrate``; answers keyframe requests.

    The pattern is generated and encoded in a worker thread (PyAV releases the GIL in
    ``avcodec_send_frame``/``receive_packet``), not on the event loop that also runs every
    viewer: a 720p frame takes ~7 ms to encode (keyframes ~30 ms) on this machine, which on the
    loop delayed the viewers' frames and sent the publisher's frames in bursts.
    ``inline=True`` encodes on the loop (the bench before issue #6's fix) for comparison.
    """

    def __init__(self, width: int, height: int, bitrate: int, inline: bool = False) -> None:
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
        self.inline = inline
        self.worker = None if inline else ThreadPoolExecutor(1, thread_name_prefix="encoder")
        self.force_keyframe = False
        self.keyframe_asked_at: float | None = None
        self.keyframe_delays: list[float] = []  # request -> keyframe handed to the sender
        self.encode_ms: list[float] = []
        self.late_ms: list[float] = []  # frame handed to the sender after its due time
        self.count = 0
        self.bytes = 0

    def _encode_next(self, keyframe: bool) -> bytes:
        started = time.perf_counter()
        while True:
            frame = next(self.frames)
            frame.pts = self.count
            self.count += 1
            # lavfi frames come marked as I pictures, which makes libvpx encode every one as
            # a keyframe: clear the mark unless a keyframe was asked for
            picture = av.video.frame.PictureType
            frame.pict_type = picture.I if keyframe else picture.NONE
            packets = self.codec.encode(frame)
            if packets:
                self.encode_ms.append(1000 * (time.perf_counter() - started))
                return b"".join(bytes(p) for p in packets)

    async def recv(self) -> av.Packet:
        pts, _ = await self.next_timestamp()
        due = self._start + pts / 90000
        keyframe, self.force_keyframe = self.force_keyframe, False
        asked = self.keyframe_asked_at
        if self.worker is None:
            data = self._encode_next(keyframe)
        else:
            loop = asyncio.get_running_loop()
            data = await loop.run_in_executor(self.worker, self._encode_next, keyframe)
        now = time.monotonic()
        self.late_ms.append(1000 * (time.time() - due))
        if keyframe and asked is not None:
            self.keyframe_delays.append(now - asked)
            self.keyframe_asked_at = None
        self.bytes += len(data)
        packet = av.Packet(data)
        packet.pts = pts
        packet.time_base = VIDEO_TIME_BASE
        return packet

    def request_keyframe(self) -> None:
        if not self.force_keyframe:
            self.keyframe_asked_at = time.monotonic()
        self.force_keyframe = True

    def timing(self) -> dict[str, Any]:
        """Encode time, lateness of frames and keyframe-request answers, then reset them."""
        out = {
            "encode_ms_mean": mean_ms(self.encode_ms),
            "encode_ms_max": round(max(self.encode_ms, default=0), 1),
            "frame_late_ms_p99": percentile(self.late_ms, 0.99),
            "keyframes_on_request": len(self.keyframe_delays),
            "keyframe_answer_ms_max": round(1000 * max(self.keyframe_delays, default=0), 1),
        }
        self.encode_ms, self.late_ms, self.keyframe_delays = [], [], []
        return out

    def close(self) -> None:
        if self.worker is not None:
            self.worker.shutdown(wait=False)


def mean_ms(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 2) if values else None


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def udp_drops(pids: list[int]) -> int:
    """Datagrams the kernel dropped on these processes' UDP sockets (receive buffer full)."""
    inodes: set[str] = set()
    for pid in pids:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes.add(target[8:-1])
        except OSError:
            continue
    drops = 0
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            cols = line.split()
            if len(cols) >= 13 and cols[9] in inodes:
                drops += int(cols[12])
    return drops


def relay_summary(stats: dict[str, Any]) -> dict[str, Any]:
    """What the relay did about keyframes and drops (the cause of freezes), from its stats."""
    feeds = [s["video"] for s in stats.get("subscribers", {}).values() if "video" in s]
    pubs = stats.get("publishers", {}).values()
    return {
        "feed_frames_dropped": sum(f["frames_dropped"] for f in feeds),
        # None: a relay without the counter (an older checkout, for comparison)
        "feed_overflows": sum(f["overflows"] for f in feeds)
        if all("overflows" in f for f in feeds)
        else None,
        "feeds_with_drops": sum(1 for f in feeds if f["frames_dropped"]),
        "feed_keyframe_requests": sum(f["keyframe_requests"] for f in feeds),
        "pli_sent": sum(p["keyframe_requests_sent"] for p in pubs),
        "pli_coalesced": sum(p["keyframe_requests_coalesced"] for p in pubs),
        "keyframes_in": sum(p["keyframes_in"] for p in pubs),
    }


INLINE_ENCODE = False  # --inline-encode: the publisher encodes on the viewers' event loop


async def negotiate_publisher(
    remote: Remote, profile: tuple[int, int, int], peer_id: str = "main"
) -> tuple[RTCPeerConnection, TestPatternTrack]:
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    track = TestPatternTrack(*profile, inline=INLINE_ENCODE)
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


async def connect_viewers(remote: Remote, viewers: list[Viewer], count: int) -> None:
    """Connect more viewers (``site-<n>``, in order) until there are ``count``."""
    while len(viewers) < count:
        viewer = Viewer()
        await viewer.connect(remote, f"site-{len(viewers)}")
        viewers.append(viewer)


async def stop_server(proc: Any, remote: Remote, viewers: list[Viewer]) -> None:
    """End the server process (waiting up to 10 s) and close the viewers' connections."""
    await remote.call("quit")
    proc.join(10)
    for viewer in viewers:
        await viewer.pc.close()


def relay_mode_result(mode: str, run: dict[str, Any]) -> dict[str, Any]:
    """A relay mode's part of a profile's result (``run``: what ``run_mode`` returned), each key
    named after the mode: its rows, the relay's counters and the CPU it cost."""
    return {
        mode: run["rows"],
        f"{mode}_relay": run["relay"],
        f"{mode}_pct_core_per_subscriber": run["pct_core_per_subscriber"],
        f"{mode}_us_cpu_per_packet": run["us_cpu_per_packet"],
    }


async def run_mode(
    mode: str, counts: list[int], window: float, settle: float, profile: tuple[int, int, int]
) -> dict[str, Any]:
    proc, remote = start_server(mode)
    pub, track = await negotiate_publisher(remote, profile)
    viewers: list[Viewer] = []
    rows = []
    try:
        for count in counts:
            await connect_viewers(remote, viewers, count)
            await asyncio.sleep(settle)
            packets0 = await remote.call("packets")
            cpu0, t0 = await remote.call("cpu")
            here0 = time.process_time()
            frames0 = [v.frames for v in viewers]
            bytes0 = track.bytes
            drops0 = udp_drops([os.getpid(), proc.pid])
            track.timing()
            await asyncio.sleep(window)
            cpu1, t1 = await remote.call("cpu")
            packets1 = await remote.call("packets")
            here1 = time.process_time()
            elapsed = t1 - t0
            fps = [(v.frames - f) / elapsed for v, f in zip(viewers, frames0, strict=True)]
            row = {
                "subscribers": count,
                "server_cpu_pct": round(100 * (cpu1 - cpu0) / elapsed, 2),
                "packets_per_s": round((packets1 - packets0) / elapsed),
                "client_cpu_pct": round(100 * (here1 - here0) / elapsed, 1),
                "publisher_kbps": round(8 * (track.bytes - bytes0) / elapsed / 1000),
                "viewer_fps_min": round(min(fps), 1) if fps else None,
                "viewer_fps_mean": round(sum(fps) / len(fps), 1) if fps else None,
                # every viewer at full rate (else the client CPU, not the server, is the limit)
                "valid": not fps or min(fps) >= 0.9 * FPS,
                "udp_drops": udp_drops([os.getpid(), proc.pid]) - drops0,
                **track.timing(),
            }
            rows.append(row)
            print(f"  {mode:8s} {profile[1]}p {json.dumps(row)}", flush=True)
        stats = await remote.call("stats")
    finally:
        await stop_server(proc, remote, viewers)
        await pub.close()
        track.close()
    valid = [r for r in rows if r["valid"]]
    per_sub = slope([(r["subscribers"], r["server_cpu_pct"]) for r in valid])
    # CPU per forwarded packet: the slope of CPU time against packets sent (µs per packet)
    per_packet = slope([(r["packets_per_s"], r["server_cpu_pct"] * 1e4) for r in valid])
    summary = relay_summary(stats) if stats else {}
    if summary:
        print(f"  {mode:8s} {profile[1]}p relay {json.dumps(summary)}", flush=True)
    return {
        "rows": rows,
        "pct_core_per_subscriber": round(per_sub, 3),
        "us_cpu_per_packet": round(per_packet, 1),
        "relay": summary,
    }


async def run_switch(
    profile: tuple[int, int, int], viewers_n: int, switches: int, joins: int
) -> dict[str, Any]:
    """Floor switches (program main -> site -> main ...) and late joiners, forwarding relay.

    Switch latency: from the program change at the server to each viewer's first frame of the
    new source (its first keyframe, told apart by its picture width). Freeze: the longest gap
    between two frames at a viewer from 0.5 s before to 1.5 s after the switch.
    Late joiner: from the viewer's "connected" state (and from its offer) to its first frame;
    ``feed_start_ms``: from "connected" to the relay's sender first asking its feed for a frame.
    """
    proc, remote = start_server("fast")
    main_pc, main_track = await negotiate_publisher(remote, profile, "main")
    site_pc, site_track = await negotiate_publisher(remote, SITE_PROFILE, "site-floor")
    viewers: list[Viewer] = []
    result: dict[str, Any] = {}
    drops0 = udp_drops([os.getpid(), proc.pid])
    try:
        await connect_viewers(remote, viewers, viewers_n)
        await asyncio.sleep(3)
        per_switch: list[float] = []
        latencies: list[float] = []
        gaps: list[float] = []
        target = "site-floor"
        for _ in range(switches):
            at = await remote.call("program", target)
            width = SITE_PROFILE[0] if target == "site-floor" else profile[0]
            await asyncio.sleep(1.5)
            worst = 0.0
            for v in viewers:
                first = next((t for t, w in v.log if t >= at and w == width), None)
                latency = float("inf") if first is None else first - at
                latencies.append(latency)
                worst = max(worst, latency)
                times = [t for t, _ in v.log if at - 0.5 <= t <= at + 1.5]
                gaps.append(max((b - a for a, b in itertools.pairwise(times)), default=0))
            per_switch.append(round(1000 * worst, 0))  # inf: not seen within 1.5 s
            target = "main" if target == "site-floor" else "site-floor"
            await asyncio.sleep(1.2)  # past the keyframe rate limit
        if switches:
            result["switch_ms"] = {
                "max": round(1000 * max(latencies), 1),
                "mean": round(1000 * sum(latencies) / len(latencies), 1),
                "n": len(latencies),
                "worst_per_switch": per_switch,
            }
            result["max_gap_around_switch_ms"] = round(1000 * max(gaps), 1)
        firsts, from_offer, starts = [], [], []
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
            feed = (await remote.call("stats"))["subscribers"][f"late-{j}"]["video"]
            if feed.get("started_at") is not None:
                starts.append(round(1000 * (feed["started_at"] - viewer.connected_at)))
            viewers.append(viewer)
        if joins:
            result["late_joiner_first_frame_ms"] = {
                "after_connected_max": round(1000 * max(firsts), 1),
                "after_connected": [round(1000 * f) for f in firsts],
                "after_offer_max": round(1000 * max(from_offer), 1),
                "feed_start_ms": starts,
                "n": joins,
            }
        result["relay"] = relay_summary(await remote.call("stats"))
        result["udp_drops"] = udp_drops([os.getpid(), proc.pid]) - drops0
        result["publisher"] = main_track.timing()
        result["site_publisher"] = site_track.timing()
    finally:
        await stop_server(proc, remote, viewers)
        await main_pc.close()
        await site_pc.close()
        main_track.close()
        site_track.close()
    print(f"  switch   {profile[1]}p {json.dumps(result)}", flush=True)
    return result


async def main() -> None:
    global INLINE_ENCODE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--settle", type=float, default=2.0)
    parser.add_argument("--forward", default="0,1,5,10,20", help="subscriber counts ('': skip)")
    parser.add_argument("--fast", default="0,1,5,10,20", help="subscriber counts ('': skip)")
    parser.add_argument("--stock", default="0,1,2,4", help="subscriber counts ('': skip)")
    parser.add_argument("--profiles", default="480p,720p")
    parser.add_argument("--switches", type=int, default=6, help="floor switches (0: skip)")
    parser.add_argument("--joins", type=int, default=5, help="late joiners in the switch run")
    parser.add_argument("--switch-runs", type=int, default=1, help="switch/join runs a profile")
    parser.add_argument(
        "--inline-encode", action="store_true", help="encode on the viewers' loop (old bench)"
    )
    args = parser.parse_args()
    INLINE_ENCODE = args.inline_encode
    pin(1)
    forward.set_host_addresses(["127.0.0.1"])
    print(
        f"VP8 {FPS} fps; {os.cpu_count()} CPUs; "
        f"{platform.python_implementation()} {platform.python_version()}; "
        f"load {os.getloadavg()}; publisher encodes {'inline' if INLINE_ENCODE else 'in a thread'}",
        flush=True,
    )
    out: dict[str, Any] = {}
    targets = {"480p": 1.0, "720p": 1.5}
    for name in args.profiles.split(","):
        profile = PROFILES[name]
        out[name] = {
            "profile": {"width": profile[0], "height": profile[1], "kbps": profile[2] // 1000}
        }
        counts = {
            m: [int(x) for x in getattr(args, m).split(",") if x]
            for m in ("forward", "fast", "stock")
        }
        f = 0.0
        if counts["forward"]:
            fwd = await run_mode("forward", counts["forward"], args.window, args.settle, profile)
            f = fwd["pct_core_per_subscriber"]
            out[name].update(
                relay_mode_result("forward", fwd),
                **{f"target_forward_le_{targets[name]}pct": f <= targets[name]},
            )
        if counts["fast"]:
            fast = await run_mode("fast", counts["fast"], args.window, args.settle, profile)
            q = fast["pct_core_per_subscriber"]
            out[name].update(relay_mode_result("fast", fast))
            if f > 0 and q > 0:
                out[name]["ratio_forward_over_fast"] = round(f / q, 1)
        if counts["stock"]:
            stock = await run_mode("stock", counts["stock"], args.window, args.settle, profile)
            s = stock["pct_core_per_subscriber"]
            out[name].update(stock=stock["rows"], stock_pct_core_per_subscriber=s)
            if counts["fast"] and q > 0:
                out[name]["ratio_stock_over_fast"] = round(s / q, 1)
            if counts["forward"]:
                out[name]["ratio_stock_over_forward"] = round(s / f, 1) if f > 0 else None
                out[name]["target_ratio_ge_15"] = f > 0 and s / f >= 15
        runs = []
        for _ in range(args.switch_runs if args.switches or args.joins else 0):
            print(f"  load {os.getloadavg()}", flush=True)
            sw = await run_switch(profile, 5, args.switches, args.joins)
            if "switch_ms" in sw:
                sw["target_switch_le_150ms"] = sw["switch_ms"]["max"] <= 150
            if "late_joiner_first_frame_ms" in sw:
                sw["target_late_joiner_le_300ms"] = (
                    sw["late_joiner_first_frame_ms"]["after_connected_max"] <= 300
                )
            runs.append(sw)
        if runs:
            out[name]["switch"] = runs
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    asyncio.run(main())
