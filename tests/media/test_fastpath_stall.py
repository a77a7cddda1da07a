"""A stalled or backed-up viewer must not slow or freeze the others on the fast path (issue 18).

Real aiortc peers on loopback: one publisher at 30 fps, four viewers that count the frames they
get (the ordinary ones), and one viewer that misbehaves for a few seconds:

* its socket stops reading (the viewer's UDP transport paused: the kernel's receive queue
  fills and overflows, it answers no consent check and sends no receiver report), then reads
  again and must get frames again;
* its RTCP says it is far behind: it NACKs every packet of the last frames and asks for a
  keyframe every 20 ms.

The ordinary viewers' frame rate and longest gap are measured over a window before the trouble
and over the trouble itself, in the same run.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import time
from typing import Any

from server.media import fastpath
from server.media.relay import Relay
from tests.media import Viewer, close_all, connect_publisher, connect_viewer
from tests.media.test_fastpath import fast_senders

MAIN = "main"
WINDOW = 4.0  # seconds measured before and during the trouble
OTHERS = 4


def rates(viewers: list[Viewer], start: float, end: float) -> list[tuple[float, float]]:
    """(frames per second, longest gap in seconds) of each viewer between start and end."""
    out = []
    for viewer in viewers:
        times = [r.at for r in viewer.video if start <= r.at <= end]
        gaps = [b - a for a, b in itertools.pairwise([start, *times, end])]
        out.append((len(times) / (end - start), max(gaps)))
    return out


async def setup(relay: Relay) -> tuple[Any, list[Viewer], Viewer]:
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    viewers = [await connect_viewer(relay, f"site-{i}") for i in range(OTHERS)]
    trouble = await connect_viewer(relay, "site-trouble")
    for viewer in [*viewers, trouble]:
        await viewer.wait_frames(30, timeout=15)
    # As classroom-server does once it has started (server/cli.py): what exists now stays out of
    # the collector's reach. Without it a full collection of this pytest process (everything the
    # test run imported) stops the loop for 0.3 s, every viewer at once, stalled one or not.
    gc.collect()
    gc.freeze()
    return pub_pc, viewers, trouble


def check(before: list[tuple[float, float]], during: list[tuple[float, float]]) -> None:
    print("before", [(round(f, 1), round(g, 3)) for f, g in before])
    print("during", [(round(f, 1), round(g, 3)) for f, g in during])
    for fps, gap in during:
        assert fps >= 27.0, (before, during)  # the publisher sends 30
        # no freeze (the stall lasts 4 s); 0.5 s allows for this shared 2-core machine's
        # scheduling, which delayed every viewer alike by up to 0.24 s in quiet windows too
        assert gap < 0.5, (before, during)
    # and not slower than the same viewers just before (within 2 frames a second; a window
    # that caught up on a burst can count more than the publisher's 30)
    assert min(f for f, _ in during) >= min(30.0, *(f for f, _ in before)) - 2.0, (before, during)


def transport_of(viewer: Viewer) -> Any:
    """The viewer's UDP transport (the one its bundled ICE connection nominated)."""
    ice = viewer.video_receiver.transport.transport  # RTCDtlsTransport -> RTCIceTransport
    pair = ice._connection._nominated[1]
    return pair.protocol.transport


async def test_a_viewer_whose_socket_stops_reading_does_not_slow_the_others(
    relay: Relay,
) -> None:
    pub_pc, viewers, trouble = await setup(relay)
    try:
        t0 = time.monotonic()
        await asyncio.sleep(WINDOW)
        t1 = time.monotonic()
        udp = transport_of(trouble)
        udp.pause_reading()  # the viewer stops reading: its kernel queue fills, then drops
        stalled_at = len(trouble.video)
        await asyncio.sleep(WINDOW)
        t2 = time.monotonic()
        during_trouble = len(trouble.video) - stalled_at
        udp.resume_reading()
        check(rates(viewers, t0, t1), rates(viewers, t1, t2))
        # it really stalled (at most what sat in its queue when it stopped) ...
        assert during_trouble <= 2, during_trouble
        # ... and once it reads again it is sent frames again (from a keyframe)
        resumed = len(trouble.video)
        await trouble.wait_frames(resumed + 30, timeout=10)
        sent = fast_senders(relay, "site-trouble")["video"].frames_sent
        assert sent > 0
    finally:
        gc.unfreeze()
        await close_all(*(v.pc for v in [*viewers, trouble]), pub_pc)


async def test_a_viewer_whose_rtcp_says_it_is_far_behind_does_not_slow_the_others(
    relay: Relay,
) -> None:
    pub_pc, viewers, trouble = await setup(relay)
    sender = fast_senders(relay, "site-trouble")["video"]
    receiver = trouble.video_receiver
    try:
        t0 = time.monotonic()
        await asyncio.sleep(WINDOW)
        t1 = time.monotonic()
        stats0 = relay.stats()["publishers"][MAIN]
        nacked0, resent0 = sender.nacked, sender.retransmitted
        rounds = 0
        while time.monotonic() - t1 < WINDOW:
            # every packet of the last ~frames it was sent, again and again, and a keyframe
            last = sender.member.seq  # the next sequence number: NACK the 64 before it
            lost = [seq for seq in range(last - 64, last) if seq >= 0]  # (ascending, no wrap)
            await receiver._send_rtcp_nack(sender.ssrc, lost)
            await receiver._send_rtcp_pli(sender.ssrc)
            rounds += 1
            await asyncio.sleep(0.02)
        t2 = time.monotonic()
        check(rates(viewers, t0, t1), rates(viewers, t1, t2))
        stats1 = relay.stats()["publishers"][MAIN]
        nacked, resent = sender.nacked - nacked0, sender.retransmitted - resent0
        keyframe_requests = stats1["keyframe_requests_sent"] - stats0["keyframe_requests_sent"]
        print(f"{rounds} rounds: {nacked} NACKed, {resent} resent, {keyframe_requests} PLIs up")
        assert nacked >= rounds * 32, (rounds, nacked)  # the storm really reached the sender
        # each packet is resent at most once per RESEND_MIN_INTERVAL, not once per NACK
        bound = (WINDOW / fastpath.RESEND_MIN_INTERVAL + 2) * 64
        assert 0 < resent <= bound and sender.resends_refused > 0, (resent, bound)
        # the publisher is asked for a keyframe at most once a second, whatever a viewer asks
        assert keyframe_requests <= WINDOW / relay.settings.keyframe_min_interval + 2
        # and the storm viewer itself still gets its frames
        assert rates([trouble], t1, t2)[0][0] >= 25.0
    finally:
        gc.unfreeze()
        await close_all(*(v.pc for v in [*viewers, trouble]), pub_pc)
