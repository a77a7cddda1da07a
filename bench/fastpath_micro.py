"""CPU per forwarded packet of the send step alone: aiortc's sender path vs the fast path.

One aiortc publisher (320x240 test pattern), the relay and one aiortc viewer in this process on
loopback. Once the viewer receives, the same recorded video frames (VP8, about 3 packets each)
are pushed to the viewer's send path N times, without awaiting anything in between:

* fast: ``FastSender.send_frame`` (header rewrite, SRTP and ``sendto`` in C:
  server.media._rtpsend), and the same with ``native`` off (in Python, pylibsrtp's buffer);
  also for one-packet frames (the size of an Opus frame);
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import av  # noqa: E402
from aiortc import clock  # noqa: E402
from aiortc.codecs import get_encoder  # noqa: E402
from aiortc.rtcrtpparameters import RTCRtpCodecParameters  # noqa: E402
from aiortc.rtp import RtpPacket  # noqa: E402

from server.media import forward  # noqa: E402
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

    async def timed(frames: list[PacketizedFrame], native: bool) -> tuple[float, int]:
        fast._native, fast._cached_route = native, None  # type: ignore[union-attr]
        packets = 0
        t0 = time.process_time()
        for i in range(args.frames):
            p = frames[i % len(frames)]
            fast.send_frame(p, i * 3000)  # type: ignore[union-attr]
            packets += len(p.payloads)
            if i % 30 == 29:
                await asyncio.sleep(0)  # let the loop read the viewer's side now and then
        return (time.process_time() - t0) / packets * 1e6, packets

    fast_us, fast_packets = await timed(packetized, True)
    python_us, _ = await timed(packetized, False)
    one_native_us, _ = await timed(audio_like, True)
    one_python_us, _ = await timed(audio_like, False)

    vp8 = RTCRtpCodecParameters(mimeType="video/VP8", clockRate=90000, payloadType=96)
    encoder = get_encoder(vp8)
    ext_map = getattr(sender, "_RTCRtpSender__rtp_header_extensions_map")  # noqa: B009
    mid = getattr(sender, "_RTCRtpSender__mid")  # noqa: B009
    packets, seq = 0, fast._seq  # SRTP refuses to protect a sequence number twice
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
                "aiortc_sender_us_cpu_per_packet": round(aiortc_us, 2),
                "ratio": round(aiortc_us / fast_us, 1),
            }
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
