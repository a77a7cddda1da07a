"""The one place that touches aiortc's and aioice's private internals.

Forwarding encoded media needs four things aiortc has no public API for:

* **Encoded frames out of an ``RTCRtpReceiver``.** The receiver re-assembles each frame in its
  jitter buffer (on the event loop) and puts ``(codec, JitterFrame)`` on a ``queue.Queue``
  (``_RTCRtpReceiver__decoder_queue``) read by a decoder thread. :func:`install_passthrough`
  swaps that queue, before the receiver starts, for one that hands every encoded frame to a
  callback on the event loop instead: nothing is decoded, there is no thread hop, and other
  receivers in the process (e.g. a stock decode path) are untouched.
* **Keyframe requests to a publisher**: ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.
* **Keyframe requests from a subscriber**: ``RTCRtpSender._send_keyframe`` is what the sender
  calls on PLI/FIR; when the sender forwards ``av.Packet`` it only sets a flag nobody reads, so
  :func:`on_keyframe_request` replaces it on the instance.
* **Loopback host candidates / a media bind address**: aioice gathers host candidates from
  ``aioice.ice.get_host_addresses`` and skips 127.0.0.1; :func:`set_host_addresses` overrides it.

All of this is only known to work with the exact versions in :data:`SUPPORTED_VERSIONS`; importing
this module with any other version raises :class:`UnsupportedMediaStack` so that an upgrade
fails loudly instead of silently decoding (or dropping) every frame.
tests/media/test_forward_private_api.py pins each of these behaviours.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import aioice.ice
import aiortc

logger = logging.getLogger(__name__)

#: Package versions whose private internals this module was written against and tested with.
SUPPORTED_VERSIONS: dict[str, str] = {"aiortc": "1.16.0", "aioice": "0.13.0"}


class UnsupportedMediaStack(RuntimeError):
    """The installed aiortc/aioice is not a version this module's private-API shim knows."""


def installed_versions() -> dict[str, str]:
    return {name: metadata.version(name) for name in SUPPORTED_VERSIONS}


def check_versions(versions: dict[str, str] | None = None) -> None:
    """Raise :class:`UnsupportedMediaStack` unless every package is at its supported version."""
    found = installed_versions() if versions is None else versions
    wrong = {
        name: found.get(name, "missing")
        for name, wanted in SUPPORTED_VERSIONS.items()
        if found.get(name) != wanted
    }
    if wrong:
        detail = ", ".join(
            f"{name}=={have} (need =={SUPPORTED_VERSIONS[name]})" for name, have in wrong.items()
        )
        raise UnsupportedMediaStack(
            f"server.media.forward uses private internals of aiortc/aioice and supports only "
            f"{SUPPORTED_VERSIONS}; installed: {detail}. Pin the supported versions, or re-check "
            f"the internals (run tests/media/test_forward_private_api.py) and update "
            f"SUPPORTED_VERSIONS."
        )


check_versions()


@dataclass(frozen=True, slots=True)
class EncodedFrame:
    """One complete encoded frame as re-assembled by the receiver's jitter buffer.

    ``data`` is the codec bitstream (VP8 frame, H264 Annex-B access unit, Opus packet) without
    RTP payload headers; ``pts`` is the RTP timestamp relative to the stream's first frame, in
    units of ``1 / clock_rate``.
    """

    codec: str  # lower-case mime type: "video/vp8", "video/h264", "audio/opus", ...
    data: bytes
    pts: int
    clock_rate: int


FrameSink = Callable[[EncodedFrame], None]

_DECODER_QUEUE = "_RTCRtpReceiver__decoder_queue"
_DECODER_THREAD = "_RTCRtpReceiver__decoder_thread"
_RTX_SSRC = "_RTCRtpReceiver__rtx_ssrc"


class _PassthroughQueue:
    """Stands in for the receiver's decoder queue.

    ``put((codec, frame))`` is called by ``RTCRtpReceiver._handle_rtp_packet`` on the event loop:
    the frame goes to the sink at once. ``put(None)`` (receiver stopping) and ``get()`` go to a
    real queue so the idle decoder thread still sees the stop signal and ends the remote track.
    """

    def __init__(self, sink: FrameSink) -> None:
        self._sink = sink
        self._control: queue.Queue[Any] = queue.Queue()

    def put(self, item: Any) -> None:
        if item is None:
            self._control.put(None)
            return
        codec, jitter_frame = item
        frame = EncodedFrame(
            codec=str(codec.mimeType).lower(),
            data=bytes(jitter_frame.data),
            pts=int(jitter_frame.timestamp),
            clock_rate=int(codec.clockRate),
        )
        try:
            self._sink(frame)
        except Exception:  # a sink bug must not kill the receiver's RTP handling
            logger.exception("encoded-frame sink failed")

    def get(self, *args: Any, **kwargs: Any) -> Any:
        return self._control.get(*args, **kwargs)


def install_passthrough(receiver: Any, sink: FrameSink) -> None:
    """Make ``receiver`` hand each encoded frame to ``sink`` instead of decoding it.

    Call before the receiver starts (e.g. in the peer connection's ``track`` event handler or
    right after ``setRemoteDescription``): its decoder thread captures the queue when it starts.
    """
    if not isinstance(receiver, aiortc.RTCRtpReceiver):
        raise TypeError(f"expected an RTCRtpReceiver, got {type(receiver).__name__}")
    current = getattr(receiver, _DECODER_QUEUE, None)
    if isinstance(current, _PassthroughQueue):
        raise RuntimeError("passthrough already installed on this receiver")
    if not isinstance(current, queue.Queue):
        raise UnsupportedMediaStack(f"RTCRtpReceiver has no {_DECODER_QUEUE} queue.Queue")
    if not hasattr(receiver, _DECODER_THREAD):
        raise UnsupportedMediaStack(f"RTCRtpReceiver has no {_DECODER_THREAD}")
    if getattr(receiver, _DECODER_THREAD) is not None:
        raise RuntimeError("receiver already started: install the passthrough before it starts")
    setattr(receiver, _DECODER_QUEUE, _PassthroughQueue(sink))


def stop_passthrough(receiver: Any) -> None:
    """End the receiver's idle decoder thread now (as ``RTCRtpReceiver.stop`` would).

    Call before closing the peer connection: a close that is cancelled or stuck half-way (one
    transceiver at a time) must not leave a non-daemon thread that keeps the process alive.
    Harmless when the receiver has stopped already or never started.
    """
    current = getattr(receiver, _DECODER_QUEUE, None)
    if isinstance(current, _PassthroughQueue):
        current.put(None)


def media_ssrcs(receiver: Any) -> list[int]:
    """SSRCs the receiver has recently received media on, retransmission (RTX) SSRCs excluded."""
    rtx: dict[int, int] = getattr(receiver, _RTX_SSRC, {})
    return [s.source for s in receiver.getSynchronizationSources() if s.source not in rtx]


async def send_pli(receiver: Any) -> int:
    """Ask the remote sender for a keyframe (RTCP PLI to each media SSRC). Returns how many sent."""
    ssrcs = media_ssrcs(receiver)
    for ssrc in ssrcs:
        await receiver._send_rtcp_pli(ssrc)
    return len(ssrcs)


def on_keyframe_request(sender: Any, callback: Callable[[], None]) -> None:
    """Call ``callback`` whenever the remote end of ``sender`` asks for a keyframe (PLI/FIR)."""
    if not isinstance(sender, aiortc.RTCRtpSender):
        raise TypeError(f"expected an RTCRtpSender, got {type(sender).__name__}")
    if not callable(getattr(sender, "_send_keyframe", None)):
        raise UnsupportedMediaStack("RTCRtpSender has no _send_keyframe")
    setattr(sender, "_send_keyframe", callback)  # noqa: B010 (instance override)


_ORIGINAL_GET_HOST_ADDRESSES = aioice.ice.get_host_addresses


def set_host_addresses(addresses: Sequence[str] | None) -> None:
    """Gather ICE host candidates only on ``addresses`` (process-wide; may include 127.0.0.1).

    ``None`` or an empty sequence restores aioice's default (every non-loopback address).
    """
    if not addresses:
        aioice.ice.get_host_addresses = _ORIGINAL_GET_HOST_ADDRESSES
        return
    fixed = list(addresses)

    def get_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
        return [a for a in fixed if (":" in a and use_ipv6) or (":" not in a and use_ipv4)]

    aioice.ice.get_host_addresses = get_host_addresses
