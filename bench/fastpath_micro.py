"""CPU per forwarded packet of the send step alone: aiortc's sender path vs the fast path.

One aiortc publisher (320x240 test pattern), the relay and one aiortc viewer in this process on
loopback. Once the viewer receives, the same recorded video frames (VP8, about 3 packets each)
are pushed to the viewer's send path N times, without awaiting anything in between:

* fast: ``FastSender.send_frame`` (header rewrite, SRTP and ``sendto`` in C:
  server.media._rtpsend), and the same with ``native`` off (in Python: server.media.pymember);
  also for one-packet frames (the size of an Opus frame);
* fan-out: ``fastpath.fan_out`` of each frame to 20 members in one call (what
  server.media.fanout does for steady viewers), per packet and member;
* aiortc: what ``RTCRtpSender._run_rtp`` does per frame and packet (``encoder.pack``, an
  ``RtpPacket`` per packet, ``serialize`` with the header-extension map, ``await
  RTCDtlsTransport._send_rtp``), driven from one coroutine.

``time.process_time`` around each loop gives µs of CPU per packet; both send real SRTP to the
viewer's socket (the kernel's loopback delivery is included).

Run: .venv/bin/python bench/fastpath_micro.py [--frames 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import clock  # noqa: E402
from aiortc.codecs import get_encoder  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from server.media import fastpath, forward  # noqa: E402
from server.media.fastpath import PacketizedFrame, Packetizer  # noqa: E402
from server.media.forward import EncodedFrame  # noqa: E402
from server.media.peers import loopback_settings  # noqa: E402
from server.media.relay import Relay  # noqa: E402
from tests.media import connect_publisher, connect_viewer  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=3000)
    args = parser.parse_args()
    forward.set_host_addresses(["127.0.0.1"])
    relay = Relay("main", loopback_settings())
    recorded: list[EncodedFrame] = []
    relay.add_frame_listener(
        lambda pub, kind, frame, key: recorded.append(frame) if kind == "video" else None
    )
    pub, _ = await connect_publisher(relay, "main", chroma=60)
    viewer = await connect_viewer(relay, "site")
    await viewer.wait_frames(60, timeout=20)
    feed = relay._subscribers["site"].feeds["video"]
    fast = feed.fast
    assert fast is not None and fast.configured
    sender = relay._subscribers["site"].pc.getTransceivers()[0].sender  # type: ignore[union-attr]
    frames = recorded[-30:]
    await pub.close()  # nothing else on the loop from here
    await asyncio.sleep(0.5)

    packetizer = Packetizer()
    packetized = [packetizer.packetize(f) for f in frames]
    # an Opus-sized frame: one packet (most of what the product sends: 50 a second per site)
    audio_like = [PacketizedFrame([bytes(160)])]

    route = fast._route()  # type: ignore[union-attr]
    assert route is not None

    def member(native: bool, ssrc: int, seq: int) -> Any:
        """A member configured as the viewer's video sender, on its route (its SRTP session)."""
        m = fastpath.new_member(True, native)
        m.configure(
            ssrc, fast.payload_type, fast._ext_prefix, fast._ext_suffix,  # type: ignore[union-attr]
            fast._has_abs, None, fastpath._REPORT_KEYS,  # type: ignore[union-attr]
        )  # fmt: skip
        fastpath._Route(route.pair, route.srtp, route.transport, m)
        m.seq = seq
        return m

    async def timed(frames: list[PacketizedFrame], native: bool) -> tuple[float, int]:
        assert fast is not None
        # SRTP refuses to protect a sequence number twice: go on from the last
        fast.member = member(native, fast.ssrc, fast.member.seq)
        fast._cached_route = None
        packets = 0
        t0 = time.process_time()
        for i in range(args.frames):
            p = frames[i % len(frames)]
            fast.send_frame(p, i * 3000)
            packets += len(p.payloads)
            if i % 30 == 29:
                await asyncio.sleep(0)  # let the loop read the viewer's side now and then
        return (time.process_time() - t0) / packets * 1e6, packets

    async def fanned(frames: list[PacketizedFrame], size: int) -> float:
        """µs per packet and subscriber: one frame to ``size`` members in one call (the
        viewer's socket gets them all; other SSRCs than its own are dropped there)."""
        members = [member(True, 0x10000 + k, 0) for k in range(size)]
        packets = 0
        t0 = time.process_time()
        for i in range(args.frames // size + 1):
            p = frames[i % len(frames)]
            assert fastpath.fan_out(members, p, i * 3000) is None
            packets += len(p.payloads) * size
            if i % 30 == 29:
                await asyncio.sleep(0)
        return (time.process_time() - t0) / packets * 1e6

    fast_us, fast_packets = await timed(packetized, True)
    python_us, _ = await timed(packetized, False)
    one_native_us, _ = await timed(audio_like, True)
    one_python_us, _ = await timed(audio_like, False)
    fan_out_us = await fanned(packetized, 20)
    one_fan_out_us = await fanned(audio_like, 20)

    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    encoder = get_encoder(vp8)
    ext_map = getattr(sender, "_RTCRtpSender__rtp_header_extensions_map")  # noqa: B009
    mid = getattr(sender, "_RTCRtpSender__mid")  # noqa: B009
    packets, seq = 0, fast.member.seq  # SRTP refuses to protect a sequence number twice
    t0 = time.process_time()
    for i in range(args.frames):
        frame = frames[i % len(frames)]
        packet = av.Packet(frame.data)
        packet.pts = i * 3000
        packet.time_base = Fraction(1, 90000)
        payloads, timestamp = encoder.pack(packet)
        for j, payload in enumerate(payloads):
            rtp = RtpPacket(
                payload_type=fast.payload_type, sequence_number=seq, timestamp=timestamp
            )
            rtp.ssrc = fast.ssrc
            rtp.payload = payload
            rtp.marker = 1 if j == len(payloads) - 1 else 0
            rtp.extensions.abs_send_time = (clock.current_ntp_time() >> 14) & 0x00FFFFFF
            rtp.extensions.mid = mid
            await sender.transport._send_rtp(rtp.serialize(ext_map))
            seq = (seq + 1) & 0xFFFF
            packets += 1
        if i % 30 == 29:
            await asyncio.sleep(0)
    aiortc_us = (time.process_time() - t0) / packets * 1e6
    await viewer.pc.close()
    await relay.close()
    print(
        json.dumps(
            {
                "packets_per_frame": round(fast_packets / args.frames, 2),
                "fast_us_cpu_per_packet": round(fast_us, 2),
                "fast_python_us_cpu_per_packet": round(python_us, 2),
                "one_packet_frames_native_us": round(one_native_us, 2),
                "one_packet_frames_python_us": round(one_python_us, 2),
                "fan_out_20_us_per_packet_and_site": round(fan_out_us, 2),
                "fan_out_20_one_packet_frames_us": round(one_fan_out_us, 2),
                "aiortc_sender_us_cpu_per_packet": round(aiortc_us, 2),
                "ratio": round(aiortc_us / fast_us, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
