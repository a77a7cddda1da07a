"""One frame to every steady viewer in one call (server.media.fanout) with real aiortc peers.

What a viewer gets must not show whether a frame went through the fan-out or through its own
feed: the RTP a proxy sees between the relay and a viewer keeps one sequence without holes or
repeats and timestamps that never go back, across floor switches (which move a viewer out of one
publisher's fan-out and into another's) and a publisher that restarts.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest

from server.media.peers import loopback_settings
from server.media.relay import Relay
from tests.media import IngressLog, LossyProxy, close_all, connect_publisher, connect_viewer

MAIN = "main"


def fan_out_sizes(relay: Relay, publisher: str) -> dict[str, int]:
    return dict(relay.stats()["publishers"][publisher]["fan_out"])


async def wait_until(check: object, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():  # type: ignore[operator]
            await asyncio.sleep(0.02)


@pytest.mark.parametrize("relay", [True, False], ids=["native", "python"], indirect=True)
async def test_steady_viewers_take_every_frame_in_one_fan_out(relay: Relay) -> None:
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    viewers = [await connect_viewer(relay, f"site-{i}") for i in range(3)]
    try:
        for viewer in viewers:
            await viewer.wait_frames(10)
        await wait_until(lambda: fan_out_sizes(relay, MAIN) == {"video": 3, "audio": 3})
        fan_out = relay._fan_outs[(MAIN, "video")]
        frames_before = fan_out.frames
        received = [len(v.video) for v in viewers]
        await asyncio.sleep(1.0)
        # every viewer kept getting ~30 fps, and the frames went through the fan-out
        assert all(len(v.video) - n >= 20 for v, n in zip(viewers, received, strict=True))
        assert fan_out.frames - frames_before >= 20
        subscribers = relay.stats()["subscribers"]
        for i in range(3):
            for kind in ("video", "audio"):
                feed = subscribers[f"site-{i}"][kind]
                assert feed["in_fan_out"], feed
                native = relay.settings.native_send
                sent = feed["fast"]
                assert sent["native_sends"] == (sent["frames_sent"] if native else 0), sent
                assert feed["frames_out"] == sent["frames_sent"]
        # a viewer that leaves is out of the fan-out at once; the others go on
        await relay.close_subscriber("site-0")
        assert fan_out_sizes(relay, MAIN) == {"video": 2, "audio": 2}
        received = [len(v.video) for v in viewers[1:]]
        await asyncio.sleep(0.5)
        assert all(len(v.video) - n >= 8 for v, n in zip(viewers[1:], received, strict=True))
    finally:
        await close_all(pub_pc, *(v.pc for v in viewers))


def assert_one_timeline(headers: list[tuple[int, int, int, int]], ssrc: int) -> None:
    """The media packets of ``ssrc``: each sequence number one more than the last (no hole, no
    repeat) and timestamps never going back (RTP arithmetic, modulo 2**32)."""
    packets = [(seq, ts) for _, seq, ts, s in headers if s == ssrc]
    assert len(packets) > 40, len(packets)
    seq_steps = [(b[0] - a[0]) & 0xFFFF for a, b in itertools.pairwise(packets)]
    ts_steps = [(b[1] - a[1]) & 0xFFFFFFFF for a, b in itertools.pairwise(packets)]
    assert set(seq_steps) == {1}, [s for s in seq_steps if s != 1]
    assert all(step < 1 << 31 for step in ts_steps), [s for s in ts_steps if s >= 1 << 31]
    # and they advance as the clock does: no step of more than a second (90 kHz)
    assert max(ts_steps) <= 90000, max(ts_steps)


async def test_the_rtp_timeline_runs_on_across_floor_switches_and_a_restart(
    relay: Relay,
) -> None:
    log = IngressLog(relay)
    main_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    floor_pc, _ = await connect_publisher(relay, "site-a", chroma=200)
    proxy = LossyProxy(0.0)
    viewer = await connect_viewer(relay, "site-b", proxy=proxy)
    restarted_pc = None
    try:
        await viewer.wait_frames(15)
        await wait_until(lambda: fan_out_sizes(relay, MAIN).get("video") == 1)

        async def now_showing(source: str) -> None:
            def showing() -> bool:
                if not viewer.video:
                    return False
                origin = log.by_data.get(viewer.video[-1].frame.data)
                return origin is not None and origin.source == source

            await wait_until(showing)
            count = len(viewer.video)
            await wait_until(lambda: len(viewer.video) >= count + 15)

        relay.set_program("site-a")  # out of the main classroom's fan-out, into site-a's
        await now_showing("site-a")
        assert fan_out_sizes(relay, "site-a").get("video") == 1
        assert fan_out_sizes(relay, MAIN).get("video") == 0
        relay.set_program(None)
        await now_showing(MAIN)
        assert fan_out_sizes(relay, MAIN).get("video") == 1
        # the main classroom reconnects (a new encoder, a new timeline): the viewer restarts
        # from one of its keyframes and its RTP timeline still runs on
        restarted_pc, _ = await connect_publisher(relay, MAIN, chroma=90, audio=True)
        await main_pc.close()
        await now_showing(MAIN)
        await wait_until(lambda: fan_out_sizes(relay, MAIN).get("video") == 1)
        feeds = relay._subscribers["site-b"].feeds
        for kind in ("video", "audio"):
            fast = feeds[kind].fast
            assert fast is not None
            assert_one_timeline(proxy.headers, fast.ssrc)
        assert proxy.rtp_dropped == 0
    finally:
        await close_all(floor_pc, viewer.pc, main_pc, *([restarted_pc] if restarted_pc else []))
        proxy.close()


async def test_with_the_fan_out_off_every_feed_sends_its_own_frames() -> None:
    relay = Relay(MAIN, loopback_settings(fan_out=False))
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60)
    viewer = await connect_viewer(relay, "site-1")
    try:
        await viewer.wait_frames(30)
        assert fan_out_sizes(relay, MAIN) == {}
        assert not relay.stats()["subscribers"]["site-1"]["video"]["in_fan_out"]
        start = time.monotonic()
        count = len(viewer.video)
        await viewer.wait_frames(count + 20)
        assert time.monotonic() - start < 3.0
    finally:
        await close_all(viewer.pc, pub_pc)
        await relay.close()
