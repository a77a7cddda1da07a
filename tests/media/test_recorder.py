"""Recording the program to a file without re-encoding, and replaying it into a relay."""

from __future__ import annotations

import asyncio
import os
from fractions import Fraction
from pathlib import Path

import av

from server.media.forward import EncodedFrame
from server.media.recorder import Recorder, Replay
from server.media.relay import Relay, is_keyframe


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

    live = Relay("rec:1")
    viewer = live.open_feed("site:5", "video")
    replay = Replay(live, "rec:1", path, loop=True)
    replay.start()
    got: list[bytes] = []
    async with asyncio.timeout(5):
        while len(got) < 45:  # more than one pass of the file: it loops
            got.append(bytes(await viewer.recv()))
    await replay.stop()
    await live.close()
    assert got[:30] == frames
    assert got[30:45] == frames[:15]
