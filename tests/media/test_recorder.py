"""Recording the program to a file without re-encoding, and replaying it into a relay."""

from __future__ import annotations

import asyncio
import os
import time
from fractions import Fraction
from pathlib import Path

import av
from aiortc import AudioStreamTrack, RTCPeerConnection, RTCSessionDescription

from server.media import forward
from server.media.forward import EncodedFrame
from server.media.peers import loopback_settings
from server.media.recorder import Recorder, Replay, recording_suffix
from server.media.relay import Relay, is_keyframe
from tests.media import CounterTrack, close_all, peer


def vp8_frames(count: int, width: int, height: int, keyframe_every: int = 10) -> list[bytes]:
    """Real VP8 frames from PyAV's encoder (a keyframe every ``keyframe_every``)."""
    encoder = av.CodecContext.create("libvpx", "w")
    encoder.width, encoder.height, encoder.pix_fmt = width, height, "yuv420p"
    encoder.time_base = Fraction(1, 30)
    encoder.gop_size = keyframe_every
    encoder.bit_rate = 300_000
    out: list[bytes] = []
    for i in range(count):
        frame = av.VideoFrame(width, height, "yuv420p")
        for n, plane in enumerate(frame.planes):
            fill = bytes([(i * 7 + n * 50) % 256]) * plane.buffer_size
            noise = os.urandom(plane.line_size * 8) if n == 0 else b""  # every frame unique
            plane.update(noise + fill[len(noise) :])
        frame.pts = i
        out += [bytes(p) for p in encoder.encode(frame)]
    out += [bytes(p) for p in encoder.encode(None)]
    return out


def opus_frames(count: int) -> list[bytes]:
    encoder = av.CodecContext.create("libopus", "w")
    encoder.sample_rate, encoder.layout, encoder.format = 48000, "stereo", "s16"
    out: list[bytes] = []
    for i in range(count):
        frame = av.AudioFrame(format="s16", layout="stereo", samples=960)
        frame.planes[0].update(bytes(960 * 4))
        frame.sample_rate, frame.pts = 48000, i * 960
        out += [bytes(p) for p in encoder.encode(frame)]
    return out


async def feed(relay: Relay, peer: str, video: list[bytes], audio: list[bytes]) -> None:
    pub = relay.add_local_publisher(peer)
    for i, data in enumerate(video):
        pub.push("video", EncodedFrame("video/vp8", data, i * 3000, 90000))
        if i < len(audio):
            pub.push("audio", EncodedFrame("audio/opus", audio[i], i * 960, 48000))
        await asyncio.sleep(1 / 30)


async def test_recording_keeps_the_encoded_frames_and_the_switch(tmp_path: Path) -> None:
    relay = Relay("main")
    path = tmp_path / "rec.webm"
    recorder = Recorder(relay, path, keyframe_every=60)
    recorder.start()
    await asyncio.sleep(0.01)  # the recorder is reading before the first frame
    main = vp8_frames(40, 320, 240)
    site = vp8_frames(40, 160, 120)
    audio = opus_frames(40)
    await feed(relay, "main", main[:20], audio)
    # the floor goes to a site: the recording switches at that site's first keyframe
    site_pub = asyncio.create_task(feed(relay, "site:2", site, []))
    await asyncio.sleep(0.05)
    relay.set_program("site:2")
    await site_pub
    result = await recorder.stop()
    await relay.close()

    assert result.format == "webm" and result.bytes > 1000
    assert [s["program"] for s in result.switches] == ["main", "site:2"]
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        assert video.codec_context.name == "vp8"
        packets = [bytes(p) for p in container.demux(video) if p.size]
    # exactly the frames that were sent, byte for byte: main's first 20, then site's from a key
    assert packets[:20] == main[:20]
    switch = site.index(packets[20])
    assert is_keyframe(EncodedFrame("video/vp8", site[switch], 0, 90000))
    assert packets[20:] == site[switch:]
    with av.open(str(path)) as container:
        sizes = {(f.width, f.height) for f in container.decode(video=0)}
    assert sizes == {(320, 240), (160, 120)}
    assert result.audio_frames > 0


async def test_replay_publishes_the_recording_as_a_live_source(tmp_path: Path) -> None:
    relay = Relay("main")
    path = tmp_path / "rec.webm"
    recorder = Recorder(relay, path)
    recorder.start()
    await asyncio.sleep(0.01)
    frames = vp8_frames(30, 320, 240)
    await feed(relay, "main", frames, opus_frames(30))
    await recorder.stop()
    await relay.close()

    got = await replayed(path, 45, loop=True, timeout=5)  # more than one pass: it loops
    assert got[:30] == frames
    assert got[30:45] == frames[:15]


async def test_a_recording_and_its_replay_start_at_the_first_picture(tmp_path: Path) -> None:
    """The camera comes 1.5 s after recording began: the file starts at 0 all the same, and a
    file written with the late start kept (older recordings) is replayed from its first frame
    too, not after 1.5 s of nothing."""
    relay = Relay("main")
    path = tmp_path / "late.webm"
    recorder = Recorder(relay, path)
    recorder.start()
    await asyncio.sleep(1.5)  # nobody publishes yet
    frames = vp8_frames(15, 320, 240)
    await feed(relay, "main", frames, [])
    result = await recorder.stop()
    await relay.close()
    with av.open(str(path)) as container:
        first = next(p for p in container.demux(video=0) if p.size)
        assert first.pts is not None and float(first.pts * first.time_base) < 0.1
    assert result.duration_s < 1.2, result
    assert [s["at_s"] for s in result.switches] == [0.0]

    old = tmp_path / "old.webm"  # as written before: timestamps from when recording began
    with av.open(str(path)) as src, av.open(str(old), "w", format="webm") as dst:
        out = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(video=0):
            if packet.size and packet.pts is not None:
                packet.pts = packet.dts = packet.pts + 1500
                packet.stream = out
                dst.mux(packet)
    started = time.monotonic()
    got = await replayed(old, 3, loop=False, timeout=5)
    assert got == frames[:3]
    assert time.monotonic() - started < 0.8


async def replayed(path: Path, count: int, *, loop: bool, timeout: float) -> list[bytes]:
    """The first ``count`` video frames a site gets when ``path`` is replayed as a live source."""
    live = Relay("rec:1")
    viewer = live.open_feed("site:5", "video")
    replay = Replay(live, "rec:1", path, loop=loop)
    replay.start()
    got: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            while len(got) < count:
                got.append(bytes(await viewer.recv()))
    finally:
        await replay.stop()
        await live.close()
    return got


# -- H264 to MP4, from real aiortc publishers ------------------------------------------------


async def h264_publisher(
    relay: Relay, peer_id: str, chroma: int, width: int, height: int
) -> RTCPeerConnection:
    """An aiortc peer publishing a camera-like track (and audio); the relay's H264 preference
    makes aiortc's own encoder send H264, as a site or the main classroom would."""
    pc = peer()
    pc.addTrack(CounterTrack(chroma, width, height))
    pc.addTrack(AudioStreamTrack())
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.publish(peer_id, pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    return pc


def nal_units(annexb: bytes) -> tuple[bytes, ...]:
    """The NAL units of an Annex-B access unit (start codes of 3 or 4 bytes alike)."""
    return tuple(n.strip(b"\x00") for n in annexb.split(b"\x00\x00\x01") if n.strip(b"\x00"))


async def test_h264_recording_is_a_playable_mp4_with_the_floor_switch(tmp_path: Path) -> None:
    forward.set_host_addresses(["127.0.0.1"])
    relay = Relay("main", loopback_settings(video_codec="H264"))
    ingress: dict[tuple[bytes, ...], str] = {}
    relay.add_frame_listener(
        lambda source, kind, frame, key: (
            ingress.setdefault(nal_units(frame.data), source) if kind == "video" else None
        )
    )
    path = tmp_path / f"rec{recording_suffix('H264')}"
    recorder = Recorder(relay, path, video_codec="H264", keyframe_every=60)
    recorder.start()
    started = time.monotonic()
    main = await h264_publisher(relay, "main", 64, 320, 240)
    await asyncio.sleep(2.0)
    site = await h264_publisher(relay, "site:2", 200, 160, 120)
    await asyncio.sleep(0.5)
    relay.set_program("site:2")  # the floor goes to a site with another picture size
    await asyncio.sleep(1.5)
    result = await recorder.stop()
    wall = time.monotonic() - started
    await relay.close()
    await close_all(main, site)
    forward.set_host_addresses(None)

    assert path.suffix == ".mp4" and result.format == "mp4" and result.bytes > 10_000
    assert [s["program"] for s in result.switches] == ["main", "site:2"]
    assert result.audio_frames > 0
    with av.open(str(path)) as container:
        assert "mp4" in container.format.name
        video = container.streams.video[0]
        assert video.codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "opus"
        avcc = bytes(video.codec_context.extradata)
        duration = container.duration / av.time_base
        packets = [p for p in container.demux(video) if p.size]
        keyflags = [p.is_keyframe for p in packets]
        bsf = av.BitStreamFilterContext("h264_mp4toannexb", in_stream=video)
        frames = [bytes(q) for p in packets for q in bsf.filter(p)]
    assert len(packets) == result.video_frames > 60
    assert keyflags[0], "the file starts at a keyframe"
    keyframes = sum(keyflags)
    # avcC (MP4's decoder configuration) holds the stream's own SPS/PPS, not an encoder's
    first_sps, first_pps = nal_units(frames[0])[:2]
    assert avcc[0] == 1 and first_sps[0] & 0x1F == 7 and first_pps[0] & 0x1F == 8
    assert avcc[1:4] == first_sps[1:4]  # profile (constrained baseline), constraints, level
    assert first_sps in avcc and first_pps in avcc
    assert 0.6 * wall < duration <= wall + 0.2, (duration, wall)
    # not re-encoded: every recorded frame is a frame the relay received, NAL unit for NAL unit
    # (the MP4 stores them length-prefixed); main's, then the site's from a keyframe on
    missing = sum(nal_units(f) not in ingress for f in frames)
    assert missing == 0, f"{missing} of {len(frames)} recorded frames were not received as such"
    sources = [ingress[nal_units(f)] for f in frames]
    switch = sources.index("site:2")
    assert set(sources[:switch]) == {"main"} and set(sources[switch:]) == {"site:2"}
    assert keyflags[switch] and keyframes >= 2
    # it plays: every frame decodes, at both picture sizes
    with av.open(str(path)) as container:
        container.streams.video[0].thread_type = "NONE"
        decoded = [(f.width, f.height) for f in container.decode(video=0)]
    assert len(decoded) == len(packets)
    assert decoded[0] == (320, 240) and decoded[-1] == (160, 120)
    assert set(decoded) == {(320, 240), (160, 120)}
    print(
        f"\nH264 MP4: {len(packets)} frames, {keyframes} keyframes, {duration:.2f} s of"
        f" {wall:.2f} s wall, {result.bytes} bytes, switch at frame {switch}"
    )

    # a replay of the MP4 is a live H264 source again: Annex-B, starting at a keyframe
    got = await replayed(path, len(frames), loop=False, timeout=10)
    assert got == frames
    assert is_keyframe(EncodedFrame("video/h264", got[0], 0, 90000))
