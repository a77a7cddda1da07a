"""The forwarding relay with real aiortc peers on loopback (and its logic without peers)."""

from __future__ import annotations

import asyncio
import itertools
import time
from fractions import Fraction

import av
from aiortc import RTCPeerConnection

from server.media import forward
from server.media.forward import EncodedFrame
from server.media.peers import MediaSettings
from server.media.relay import (
    VIDEO_QUEUE_MAX_AGE,
    ProgramFeed,
    Relay,
    is_keyframe,
)
from tests.media import (
    FRAME_INTERVAL,
    IngressLog,
    Origin,
    Viewer,
    close_all,
    connect_publisher,
    connect_viewer,
)

MAIN = "main"
SITE_A = "site-a"
SITE_B = "site-b"


def assert_contiguous(origins: list[Origin]) -> None:
    """Each run of frames from one source has no holes (nothing undecodable was sent)."""
    for prev, cur in itertools.pairwise(origins):
        if cur.source == prev.source:
            assert cur.index == prev.index + 1, f"hole after {prev} -> {cur}"
        else:
            assert cur.keyframe, f"switch to {cur.source} not at a keyframe: {cur}"


# -- real peers ------------------------------------------------------------------------------


async def site_a_watching_main(relay: Relay) -> tuple[IngressLog, RTCPeerConnection, Viewer]:
    """The main classroom publishing and site A watching it with 5 frames, past the keyframe rate
    limit of site A's join: the next keyframe request goes to the publisher at once. (Its encoder
    sends keyframes on request, aiortc: else every 3000 frames; now and then one of its own.)"""
    log = IngressLog(relay)
    pub, _ = await connect_publisher(relay, MAIN, chroma=64)
    viewer = await connect_viewer(relay, SITE_A)
    await viewer.wait_frames(5)
    await asyncio.sleep(1.2)  # the rate limit (keyframe_min_interval) is 1 s
    return log, pub, viewer


async def test_every_subscriber_receives_every_frame_from_a_keyframe(relay: Relay) -> None:
    log = IngressLog(relay)
    pub, _ = await connect_publisher(relay, MAIN, chroma=64, audio=True)
    viewers = [await connect_viewer(relay, f"site-{i}") for i in range(4)]
    for v in viewers:
        await v.wait_frames(30)
    await asyncio.sleep(0.5)
    for v in viewers:
        origins = log.origins(v.video)
        assert origins[0].keyframe
        assert {o.source for o in origins} == {MAIN}
        assert_contiguous(origins)
        # continuous: the last frame is at most a few frames behind the relay's newest
        assert log.count[MAIN] - 1 - origins[-1].index <= 3
        assert v.audio, "audio was forwarded too"
    stats = relay.stats()
    assert stats["publishers"][MAIN]["frames_in"]["video"] >= 30
    assert all(stats["subscribers"][f"site-{i}"]["video"]["frames_out"] >= 30 for i in range(4))
    await close_all(pub, *(v.pc for v in viewers))


async def test_late_joiner_gets_a_keyframe_within_300_ms(relay: Relay) -> None:
    log, pub, first = await site_a_watching_main(relay)
    keyframes_before = relay.stats()["publishers"][MAIN]["keyframes_in"]
    late = await connect_viewer(relay, SITE_B)
    await late.wait_frames(1, timeout=5)
    assert late.connected_at is not None
    first_frame_after = late.video[0].at - late.connected_at
    assert first_frame_after <= 0.3, f"first frame {first_frame_after * 1000:.0f} ms after connect"
    origins = log.origins(late.video)
    assert origins[0].keyframe
    # the late joiner's request was answered by a keyframe from the publisher (>=: its encoder
    # may start one of its own too, as in the rate-limit test below)
    assert relay.stats()["publishers"][MAIN]["keyframes_in"] >= keyframes_before + 1
    await late.wait_frames(10)
    assert_contiguous(log.origins(late.video))
    await close_all(pub, first.pc, late.pc)


async def test_program_switches_at_a_keyframe_and_back_without_stall(relay: Relay) -> None:
    log = IngressLog(relay)
    main_pub, _ = await connect_publisher(relay, MAIN, chroma=64)
    site_pub, _ = await connect_publisher(relay, SITE_A, chroma=192)
    watcher = await connect_viewer(relay, SITE_B)  # a site that watches the program
    floor = await connect_viewer(relay, SITE_A)  # the site that will get the floor
    main_screen = await connect_viewer(relay, MAIN)  # the main classroom's screen
    await watcher.wait_frames(20)
    await floor.wait_frames(20)
    assert not main_screen.video, "the main classroom never receives its own feed"

    switch_at = len(watcher.video)
    relay.set_program(SITE_A)
    await asyncio.sleep(1.0)
    back_at = len(watcher.video)
    relay.set_program(None)
    await asyncio.sleep(1.0)

    origins = log.origins(watcher.video)
    sources = [o.source for o in origins]
    # main ... main, site-a ... site-a, main ... main: exactly two switches, both at keyframes
    changes = [i for i in range(1, len(sources)) if sources[i] != sources[i - 1]]
    assert len(changes) == 2, changes
    assert sources[0] == MAIN and sources[changes[0]] == SITE_A and sources[changes[1]] == MAIN
    assert switch_at <= changes[0] < back_at <= changes[1]
    assert_contiguous(origins)
    # no freeze: around each switch the gap between frames stays within ~2 frame intervals
    for at in changes:
        gaps = [watcher.video[i].at - watcher.video[i - 1].at for i in range(at - 2, at + 3)]
        assert max(gaps) <= 2.5 * FRAME_INTERVAL + 0.03, (gaps, relay.stats())
    # no frame from the old source after the switch's first keyframe
    assert all(s == SITE_A for s in sources[changes[0] : changes[1]])

    # the floor site never received itself; the main classroom got only the floor site
    assert {o.source for o in log.origins(floor.video)} == {MAIN}
    assert_contiguous(log.origins(floor.video))
    main_origins = log.origins(main_screen.video)
    assert main_origins and {o.source for o in main_origins} == {SITE_A}
    assert main_origins[0].keyframe
    assert_contiguous(main_origins)
    stats = relay.stats()["subscribers"]
    assert stats[SITE_B]["video"]["switches"] == 2
    assert stats[MAIN]["video"]["source"] is None
    await close_all(main_pub, site_pub, watcher.pc, floor.pc, main_screen.pc)


async def test_a_subscriber_that_never_reads_does_not_delay_others(relay: Relay) -> None:
    log = IngressLog(relay)
    pub, _ = await connect_publisher(relay, MAIN, chroma=64)
    stalled = relay.open_feed("recorder")
    # a subscriber that never completes signalling never starts reading either
    await relay.subscribe("never-answers", None)
    viewer = await connect_viewer(relay, SITE_A)
    await viewer.wait_frames(5)
    await stalled.recv()  # reads once, then stops reading
    start = len(viewer.video)
    requests_before = relay.stats()["publishers"][MAIN]["keyframe_requests_sent"]
    await asyncio.sleep(1.5)

    # it holds at most VIDEO_QUEUE_MAX_AGE of frames, then drops them and waits for a keyframe
    assert stalled.queued <= VIDEO_QUEUE_MAX_AGE / FRAME_INTERVAL + 2
    assert stalled.stats.frames_dropped > 0 and stalled.stats.overflows >= 1
    # a reader that stopped does not make the publisher send keyframes
    assert relay.stats()["publishers"][MAIN]["keyframe_requests_sent"] == requests_before
    assert relay.stats()["subscribers"]["never-answers"]["video"]["frames_out"] == 0
    frames = len(viewer.video) - start
    assert frames >= 0.7 * 1.5 / FRAME_INTERVAL, frames
    assert_contiguous(log.origins(viewer.video))
    # the stalled reader resumes with a fresh frame (from a keyframe), not a backlog
    packet = await asyncio.wait_for(stalled.recv(), 2.0)
    origin = log.by_data[bytes(packet)]
    assert origin.keyframe
    assert log.count[MAIN] - 1 - origin.index <= 3
    await close_all(pub, viewer.pc)


async def test_a_burst_of_frames_is_forwarded_whole_without_a_freeze(relay: Relay) -> None:
    """Frames that reach the relay in a burst (a publisher or network that stalled for a
    moment) are all sent: no drop, no wait for a keyframe (a 2-frame queue froze up to 1 s)."""
    log = IngressLog(relay)
    pub, _ = await connect_publisher(relay, MAIN, chroma=64)
    receiver = relay._publishers[MAIN].receivers["video"]
    passthrough = getattr(receiver, "_RTCRtpReceiver__decoder_queue")  # noqa: B009
    sink = passthrough._sink
    held: list[EncodedFrame] = []

    def bursty(frame: EncodedFrame) -> None:  # hand frames to the relay 5 at a time
        held.append(frame)
        if len(held) == 5:
            for f in held:
                sink(f)
            held.clear()

    passthrough._sink = bursty
    viewer = await connect_viewer(relay, SITE_A)
    await viewer.wait_frames(10)
    requests = relay.stats()["publishers"][MAIN]["keyframe_requests_sent"]
    start = len(viewer.video)
    await asyncio.sleep(1.5)
    feed = relay.stats()["subscribers"][SITE_A]["video"]
    assert feed["overflows"] == 0, feed
    origins = log.origins(viewer.video)
    assert origins[0].keyframe
    assert_contiguous(origins)
    assert len(viewer.video) - start >= 0.7 * 1.5 / FRAME_INTERVAL
    # no wait for a keyframe (that froze for up to the 1 s keyframe rate limit); the bound
    # leaves room for a loaded test machine, the burst itself is 5 frames (167 ms)
    gaps = [b.at - a.at for a, b in itertools.pairwise(viewer.video[start:])]
    assert max(gaps) <= 0.6, max(gaps)
    assert relay.stats()["publishers"][MAIN]["keyframe_requests_sent"] == requests
    await close_all(pub, viewer.pc)


async def test_keyframe_requests_from_subscribers_are_forwarded_rate_limited(relay: Relay) -> None:
    log, pub, viewer = await site_a_watching_main(relay)
    before = relay.stats()["publishers"][MAIN]
    for _ in range(10):  # a burst, all before the keyframe can come back
        assert await forward.send_pli(viewer.video_receiver) == 1
    await asyncio.sleep(0.4)
    after = relay.stats()["publishers"][MAIN]
    assert after["keyframe_requests_sent"] == before["keyframe_requests_sent"] + 1
    assert after["keyframe_requests_coalesced"] >= before["keyframe_requests_coalesced"] + 8
    # (>=: the publisher's encoder may also start a keyframe of its own, e.g. when a bandwidth
    # estimate on a loaded machine makes it reconfigure: one extra was seen in a CI run)
    assert after["keyframes_in"] >= before["keyframes_in"] + 1
    # those requests were all answered by that keyframe: nothing more is sent for them
    await asyncio.sleep(0.8)
    assert relay.stats()["publishers"][MAIN]["keyframe_requests_sent"] == (
        before["keyframe_requests_sent"] + 1
    )
    # outside the interval a request goes at once; one after its keyframe, inside the
    # interval, is sent at the interval's end
    await forward.send_pli(viewer.video_receiver)
    await asyncio.sleep(0.3)
    mid = relay.stats()["publishers"][MAIN]
    assert mid["keyframe_requests_sent"] == before["keyframe_requests_sent"] + 2
    assert mid["keyframes_in"] >= before["keyframes_in"] + 2
    await forward.send_pli(viewer.video_receiver)
    await asyncio.sleep(0.3)
    assert relay.stats()["publishers"][MAIN]["keyframe_requests_sent"] == (
        before["keyframe_requests_sent"] + 2
    )
    await asyncio.sleep(1.0)
    final = relay.stats()["publishers"][MAIN]
    assert final["keyframe_requests_sent"] == before["keyframe_requests_sent"] + 3
    assert final["keyframes_in"] >= before["keyframes_in"] + 3
    keyframes_seen = sum(o.keyframe for o in log.origins(viewer.video))
    assert keyframes_seen >= 4
    await close_all(pub, viewer.pc)


async def test_subscribe_without_offer_server_offers(relay: Relay) -> None:
    log = IngressLog(relay)
    pub, _ = await connect_publisher(relay, MAIN, chroma=64)
    viewer = await connect_viewer(relay, SITE_A, server_offers=True)
    await viewer.wait_frames(10)
    assert log.origins(viewer.video)[0].keyframe
    await relay.close_peer(SITE_A)
    assert SITE_A not in relay.stats()["subscribers"]
    await close_all(pub, viewer.pc)


# -- logic without peers ---------------------------------------------------------------------


def vp8_frames(count: int) -> list[bytes]:
    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = 64, 48, "yuv420p"
    codec.time_base = Fraction(1, 30)
    codec.options = {"deadline": "realtime", "lag-in-frames": "0"}
    out = []
    for i in range(count):
        frame = av.VideoFrame(64, 48, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([(i * 40) % 256]) * plane.buffer_size)
        frame.pts = i
        out += [bytes(p) for p in codec.encode(frame)]
    return out


def frame(data: bytes, pts: int = 0, codec: str = "video/vp8") -> EncodedFrame:
    return EncodedFrame(codec, data, pts, 90000)


def test_vp8_keyframe_detection_on_real_frames() -> None:
    frames = vp8_frames(3)
    assert [is_keyframe(frame(f)) for f in frames] == [True, False, False]
    assert not is_keyframe(frame(b"\x00\x00"))


def test_h264_keyframe_detection() -> None:
    idr = b"\x00\x00\x00\x01\x67\x42" + b"\x00\x00\x00\x01\x68\xce" + b"\x00\x00\x00\x01\x65\x88"
    delta = b"\x00\x00\x00\x01\x41\x9a\x00"
    assert is_keyframe(frame(idr, codec="video/h264"))
    assert not is_keyframe(frame(delta, codec="video/h264"))
    assert is_keyframe(EncodedFrame("audio/opus", b"\x78", 0, 48000))


def test_program_never_sends_a_peer_its_own_feed() -> None:
    relay = Relay(MAIN, MediaSettings())
    assert relay.source_for(SITE_A) == MAIN
    assert relay.source_for(MAIN) is None
    relay.set_program(SITE_A)
    assert relay.source_for(SITE_B) == SITE_A
    assert relay.source_for(MAIN) == SITE_A
    assert relay.source_for(SITE_A) == MAIN
    relay.set_program(None)
    assert relay.program == MAIN


class FakeRelay(Relay):
    def __init__(self) -> None:
        super().__init__(MAIN, MediaSettings())
        self.requests: list[str] = []

    def request_keyframe(self, publisher_id: str) -> None:
        self.requests.append(publisher_id)


async def active_feed(relay: FakeRelay, target: str) -> ProgramFeed:
    feed = ProgramFeed(relay, "viewer", "video")
    feed.set_target(target)
    reader = asyncio.ensure_future(feed.recv())
    await asyncio.sleep(0)
    reader.cancel()
    assert feed.active
    return feed


async def test_feed_switches_only_at_a_keyframe_of_the_new_source() -> None:
    relay = FakeRelay()
    key, delta = vp8_frames(2)
    feed = await active_feed(relay, MAIN)
    feed.offer(MAIN, frame(delta, 0), False)
    assert feed.queued == 0, "the first frame must be a keyframe"
    feed.offer(MAIN, frame(key, 3000), True)
    feed.offer(MAIN, frame(delta, 6000), False)
    assert [bytes(await feed.recv()) for _ in range(2)] == [key, delta]

    relay.requests.clear()
    feed.set_target(SITE_A)
    assert relay.requests == [SITE_A]
    feed.offer(SITE_A, frame(delta, 500), False)  # not a keyframe: the old source continues
    feed.offer(MAIN, frame(delta, 9000), False)
    assert feed.source == MAIN and feed.pending == SITE_A
    first = await feed.recv()
    feed.offer(SITE_A, frame(key, 1000), True)
    feed.offer(MAIN, frame(delta, 12000), False)  # the old source is no longer wanted
    feed.offer(SITE_A, frame(delta, 4000), False)
    second, third = await feed.recv(), await feed.recv()
    assert (bytes(second), bytes(third)) == (key, delta)
    assert feed.source == SITE_A and feed.pending is None and feed.stats.switches == 1
    # RTP timestamps keep increasing across the switch, and follow the source after it
    assert first.pts is not None and second.pts is not None and third.pts is not None
    assert first.pts < second.pts < third.pts
    assert third.pts - second.pts == 3000


async def test_feed_queues_a_burst_and_drops_only_a_stale_backlog() -> None:
    relay = FakeRelay()
    key, d1, d2, d3, d4 = vp8_frames(5)
    feed = ProgramFeed(relay, "viewer", "video", max_age=0.1)
    feed.set_target(MAIN)
    reader = asyncio.ensure_future(feed.recv())
    await asyncio.sleep(0)
    assert relay.requests == [MAIN]  # a new reader asks for its first keyframe
    # a burst: all of it is queued and sent, in order
    for i, data in enumerate((key, d1, d2, d3)):
        feed.offer(MAIN, frame(data, 3000 * i), i == 0)
    assert bytes(await reader) == key
    assert [bytes(await feed.recv()) for _ in range(3)] == [d1, d2, d3]
    assert feed.stats.frames_dropped == 0 and feed.stats.overflows == 0

    # the reader stops; once the oldest queued frame is older than max_age, the queue goes
    relay.requests.clear()
    feed.offer(MAIN, frame(d4, 12000), False)
    await asyncio.sleep(0.15)
    feed.offer(MAIN, frame(d1, 15000), False)
    assert feed.queued == 0 and feed.waiting_for_keyframe
    assert feed.stats.overflows == 1 and feed.stats.frames_dropped == 2
    feed.offer(MAIN, frame(d2, 18000), False)
    assert relay.requests == [], "no keyframe request while nobody reads"
    # the reader comes back: now the keyframe is requested, and the next delta frames too
    reader = asyncio.ensure_future(feed.recv())
    await asyncio.sleep(0)
    assert relay.requests == [MAIN]
    feed.offer(MAIN, frame(d3, 21000), False)
    assert relay.requests == [MAIN, MAIN] and not reader.done()
    feed.offer(MAIN, frame(key, 24000), True)
    assert bytes(await reader) == key and not feed.waiting_for_keyframe


async def test_feed_drops_a_stale_backlog_when_the_reader_comes_back() -> None:
    relay = FakeRelay()
    key, d1 = vp8_frames(2)
    feed = await active_feed(relay, MAIN)
    feed.offer(MAIN, frame(key, 0), True)
    feed.offer(MAIN, frame(d1, 3000), False)
    feed._queue = type(feed._queue)(  # queued 1 s ago (the publisher then stopped)
        (src, f, at - 1.0) for src, f, at in feed._queue
    )
    relay.requests.clear()
    reader = asyncio.ensure_future(feed.recv())
    await asyncio.sleep(0)
    assert not reader.done() and feed.queued == 0 and feed.stats.overflows == 1
    assert relay.requests == [MAIN]
    reader.cancel()


async def test_feed_queue_has_a_frame_cap_too() -> None:
    relay = FakeRelay()
    key, d1, d2, d3 = vp8_frames(4)
    feed = ProgramFeed(relay, "viewer", "video", capacity=3)
    feed.set_target(MAIN)
    reader = asyncio.ensure_future(feed.recv())
    await asyncio.sleep(0)
    reader.cancel()
    feed.offer(MAIN, frame(key, 0), True)
    feed.offer(MAIN, frame(d1, 1), False)
    feed.offer(MAIN, frame(d2, 2), False)
    feed.offer(MAIN, frame(d3, 3), False)  # does not fit: everything goes, wait for a keyframe
    assert feed.queued == 0 and feed.waiting_for_keyframe
    feed.offer(MAIN, frame(key, 4), True)
    assert feed.queued == 1 and not feed.waiting_for_keyframe
    assert feed.stats.frames_dropped == 4 and feed.stats.overflows == 1


async def test_inactive_feed_queues_nothing_and_requests_nothing() -> None:
    relay = FakeRelay()
    key, _ = vp8_frames(2)
    feed = ProgramFeed(relay, "viewer", "video")
    feed.set_target(MAIN)
    feed.offer(MAIN, frame(key), True)
    assert feed.queued == 0 and relay.requests == []


async def test_keyframe_requests_to_a_publisher_are_rate_limited() -> None:
    relay = Relay(MAIN, MediaSettings(keyframe_min_interval=0.2))
    sent: list[float] = []

    relay.add_local_publisher(MAIN, lambda: sent.append(time.monotonic()))
    pub = relay._publishers[MAIN]
    for _ in range(5):
        relay.request_keyframe(MAIN)
    assert len(sent) == 1 and pub.deferred_request is not None
    await asyncio.sleep(0.3)
    assert len(sent) == 2 and sent[1] - sent[0] >= 0.19
    assert pub.keyframe_requests_coalesced == 3
    relay._publishers.clear()
