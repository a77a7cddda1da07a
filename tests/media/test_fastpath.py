"""The forwarding fast path (server.media.fastpath) with real aiortc peers on loopback.

Viewers here DECODE what they get (aiortc's VP8 and Opus decoders), a lossy-link proxy drops 3%
of one viewer's RTP, and the private internals the fast path relies on are pinned.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiortc
import pytest
from aiortc import RTCBundlePolicy, RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.rtcdtlstransport import RTCDtlsTransport
from aiortc.rtcdtlstransport import State as DtlsState

from server.media import fastpath, forward
from server.media.peers import add_transceivers, loopback_settings
from server.media.relay import Relay
from tests.media import (
    IngressLog,
    LossyProxy,
    close_all,
    connect_publisher,
    connect_viewer,
    peer,
    repoint,
)

MAIN = "main"


def fast_senders(relay: Relay, peer_id: str) -> dict[str, fastpath.FastSender]:
    sub = relay._subscribers[peer_id]
    return {kind: feed.fast for kind, feed in sub.feeds.items() if feed.fast is not None}


# -- private internals -------------------------------------------------------------------------


def test_the_private_internals_the_fast_path_uses_are_there() -> None:
    assert forward.installed_versions() == forward.SUPPORTED_VERSIONS
    for name in ("ntp_timestamp", "rtp_timestamp", "packet_count", "octet_count"):
        assert f"_RTCRtpSender__{name}" in aiortc.RTCRtpSender.__init__.__code__.co_names
    for name in ("_retransmit", "_handle_rtcp_packet", "send", "_run_rtp"):
        assert callable(getattr(aiortc.RTCRtpSender, name))
    names = RTCDtlsTransport.__init__.__code__.co_names
    assert "_tx_srtp" in names and "_state" in names
    assert DtlsState.CONNECTED.name == "CONNECTED"
    import aioice.ice

    assert "_nominated" in aioice.ice.Connection.__init__.__code__.co_names
    # the RTCP sender report reads the counters the fast path keeps up to date; FastSender
    # replaces the loop that sends it and keeps its state where aiortc does
    rtcp_code = aiortc.RTCRtpSender._run_rtcp.__code__.co_names
    assert "_RTCRtpSender__packet_count" in rtcp_code
    init_names = aiortc.RTCRtpSender.__init__.__code__.co_names
    for name in ("rtcp_started", "rtcp_exited", "lsr", "lsr_time", "cname"):
        assert f"_RTCRtpSender__{name}" in init_names and f"_RTCRtpSender__{name}" in rtcp_code
    assert "_run_rtcp" in aiortc.RTCRtpSender.send.__code__.co_names
    assert callable(aiortc.RTCRtpSender._send_rtcp)
    # NACKs reach _retransmit, keyframe requests _send_keyframe
    assert "_retransmit" in aiortc.RTCRtpSender._handle_rtcp_packet.__code__.co_names


def test_the_fast_paths_ntp_clock_matches_aiortcs() -> None:
    from aiortc import clock

    before = clock.current_ntp_time()
    ours = fastpath.ntp_now()
    after = clock.current_ntp_time()
    assert before - 2**22 <= ours <= after + 2**22  # within a millisecond (2**32 = 1 s)


# -- decoding viewers --------------------------------------------------------------------------


def mean_luma(frame: Any) -> int:
    """The mean Y value below the publisher's noise stripe (rows 100-199, columns 20-299)."""
    plane = frame.planes[0]
    data, stride = bytes(plane), plane.line_size
    rows = [data[r * stride + 20 : r * stride + 300] for r in range(100, 200, 4)]
    return round(sum(sum(row) for row in rows) / sum(len(row) for row in rows))


@pytest.mark.parametrize("relay", [True, False], ids=["native", "python"], indirect=True)
async def test_a_decoding_viewer_gets_clean_video_and_sound(relay: Relay) -> None:
    """Frames decoded by aiortc's decoders, no corruption: the counter the publisher paints
    into the luma comes out in order, one step per frame; sent from C (server.media._rtpsend)
    and, where that is off or not built, from Python."""
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    pc = peer()
    add_transceivers(pc, "recvonly")
    tracks: dict[str, Any] = {}
    pc.on("track", lambda t: tracks.__setitem__(t.kind, t))
    await pc.setLocalDescription(await pc.createOffer())
    answer = await relay.subscribe("site-1", pc.localDescription.sdp)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    try:
        lumas: list[int] = []
        async with asyncio.timeout(15):
            while "video" not in tracks or "audio" not in tracks:
                await asyncio.sleep(0.01)
            while len(lumas) < 60:
                frame = await tracks["video"].recv()
                assert (frame.width, frame.height) == (320, 240)
                lumas.append(mean_luma(frame))
            samples = 0
            while samples < 48000:  # one second of decoded sound
                audio = await tracks["audio"].recv()
                samples += audio.samples
        # the publisher paints 16 + (8 * frame number) % 220: from one decoded picture to the
        # next the luma steps by 8 (within VP8's error), or a multiple of 8 where the receiver's
        # jitter buffer skipped a late frame (this machine is loaded) -- never anything else,
        # which a garbled picture would show; and nearly all steps are single frames
        steps = [(b - a) % 220 for a, b in itertools.pairwise(lumas)]
        assert all(any(abs(s - 8 * k) <= 3 for k in range(1, 6)) for s in steps), (lumas, steps)
        good = sum(1 for s in steps if 5 <= s <= 11)
        assert good >= 0.8 * len(steps), (lumas, steps)
        senders = fast_senders(relay, "site-1")
        assert set(senders) == {"video", "audio"}
        assert senders["video"].frames_sent >= 60 and senders["audio"].frames_sent >= 50
        # the frames of more than one packet went in one system call each (UDP GSO), and the
        # kernel cut them back into the datagrams the viewer decoded above
        assert senders["video"].gso_sends > 0, senders["video"].stats()
        # ... from C (server.media._rtpsend, built by `make test`'s install) or from Python
        native = relay.settings.native_send
        for kind in ("video", "audio"):
            sent = senders[kind]
            assert sent.native_sends == (sent.frames_sent if native else 0), sent.stats()
        stats = relay.stats()["subscribers"]["site-1"]
        assert stats["video"]["fast"]["packets_sent"] == senders["video"].packets_sent
        # the RTCP sender reports carry the fast path's counters
        sender = relay._subscribers["site-1"].pc.getTransceivers()[0].sender  # type: ignore[union-attr]
        assert getattr(sender, "_RTCRtpSender__packet_count") == senders[sender.kind].packets_sent  # noqa: B009
    finally:
        await close_all(pc, pub_pc)


async def test_sender_reports_carry_the_counters_every_few_seconds(relay: Relay) -> None:
    """The fast path's RTCP loop: a first sender report within a second (a viewer syncs sound
    and picture from it), then one about every SENDER_REPORT_INTERVAL seconds per sender (not
    aiortc's one a second), each with the packets sent so far; a BYE at the end."""
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    proxy = LossyProxy(0.0)
    viewer = await connect_viewer(relay, "site-1", proxy=proxy)
    try:
        await viewer.wait_frames(1)
        start = time.monotonic()
        await asyncio.sleep(1.5)
        senders = fast_senders(relay, "site-1")
        video = senders["video"].ssrc
        assert any(ssrc == video for _, ssrc in proxy.sender_reports), proxy.sender_reports
        await asyncio.sleep(6.0)
        elapsed = time.monotonic() - start
        for fast in senders.values():
            times = [t for t, ssrc in proxy.sender_reports if ssrc == fast.ssrc]
            # 1.25-3.75 s apart after the first: at most 1 + elapsed / 1.25 (aiortc: ~7 in 7.5 s)
            assert 2 <= len(times) <= 1 + elapsed / (fastpath.SENDER_REPORT_INTERVAL / 2), times
        stats = await viewer.pc.getStats()
        remote = [
            s for s in stats.values() if s.type == "remote-outbound-rtp" and s.kind == "video"
        ]
        assert remote and 0 < remote[0].packetsSent <= senders["video"].packets_sent, remote
    finally:
        await close_all(viewer.pc, pub_pc)
        proxy.close()


async def test_a_site_agents_periodic_feedback_is_thinned_and_nacks_still_pass(
    relay: Relay,
) -> None:
    """forward.thin_feedback (what a site agent installs on its receivers): receiver reports
    and REMB at most once per FEEDBACK_INTERVAL each (aiortc: ~2 and ~1.4 a second), while a
    viewer losing 5% of its packets still NACKs them at once and gets them resent."""
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    proxy = LossyProxy(0.05)
    viewer = await connect_viewer(relay, "site-1", proxy=proxy)
    for transceiver in viewer.pc.getTransceivers():
        forward.thin_feedback(transceiver.receiver)
    try:
        await viewer.wait_frames(1)
        proxy.feedback.clear()
        start = time.monotonic()
        await asyncio.sleep(6.0)
        elapsed = time.monotonic() - start
        # receiver reports (with one or more report blocks) from the two receivers; REMB from
        # the video receiver only
        reports = sum(n for (kind, _), n in proxy.feedback.items() if kind == 201)
        remb = proxy.feedback[(206, 15)]
        most = 1 + elapsed / forward.FEEDBACK_INTERVAL
        assert 1 <= reports <= 2 * most and remb <= most, proxy.feedback
        nacks = proxy.feedback[(205, 1)]
        video = fast_senders(relay, "site-1")["video"]
        assert nacks > 0 and video.retransmitted > 0, (proxy.feedback, video.stats())
    finally:
        await close_all(viewer.pc, pub_pc)
        proxy.close()


async def test_the_old_sender_path_still_runs_behind_the_switch() -> None:
    relay = Relay(MAIN, loopback_settings(fast_path=False))
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60)
    viewer = await connect_viewer(relay, "site-1")
    try:
        await viewer.wait_frames(20)
        assert fast_senders(relay, "site-1") == {}
        assert relay.stats()["subscribers"]["site-1"]["video"]["frames_out"] >= 20
    finally:
        await close_all(viewer.pc, pub_pc)
        await relay.close()


# -- a lossy link --------------------------------------------------------------------------------


async def test_a_viewer_losing_3_percent_gets_retransmissions_and_never_freezes(
    relay: Relay,
) -> None:
    log = IngressLog(relay)
    pub_pc, _ = await connect_publisher(relay, MAIN, chroma=60, audio=True)
    proxy = LossyProxy(0.03)
    to_viewer_port, to_server_port = await proxy.start()
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[], bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
    frames: list[tuple[float, bytes]] = []
    for transceiver in add_transceivers(pc, "recvonly"):
        if transceiver.kind == "video":
            forward.install_passthrough(
                transceiver.receiver, lambda f: frames.append((time.monotonic(), f.data))
            )
    await pc.setLocalDescription(await pc.createOffer())
    offer, viewer_port = repoint(pc.localDescription.sdp, to_server_port)
    proxy.viewer_addr = ("127.0.0.1", viewer_port)
    answer = await relay.subscribe("site-lossy", offer)
    answer, _ = repoint(answer, to_viewer_port)
    await pc.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
    try:
        async with asyncio.timeout(10):
            while not frames:
                await asyncio.sleep(0.01)
        start = len(frames)
        t0 = time.monotonic()
        await asyncio.sleep(6.0)
        window = frames[start:]
        elapsed = time.monotonic() - t0
        sender = fast_senders(relay, "site-lossy")["video"]
        assert proxy.rtp_dropped >= 10, (proxy.rtp_dropped, proxy.rtp_forwarded)
        # NACKs came in and were answered from the history (RTX is negotiated for video)
        assert sender.rtx_payload_type is not None
        assert sender.nacked > 0 and sender.retransmitted > 0, sender.stats()
        # no frozen second: frames keep coming, nearly all of them
        gaps = [b[0] - a[0] for a, b in itertools.pairwise(window)]
        assert max(gaps) < 1.0, max(gaps)
        assert len(window) >= 0.85 * elapsed * 30, (len(window), elapsed)
        # and what came is what the publisher sent, in order, without holes
        origins = [log.by_data[data] for _, data in window]
        holes = sum(1 for a, b in itertools.pairwise(origins) if b.index != a.index + 1)
        assert holes <= 5, holes
    finally:
        await close_all(pc, pub_pc)
        proxy.close()
