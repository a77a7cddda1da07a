"""The place that touches aiortc's and aioice's private internals on the receiving and ICE side
(:mod:`server.media.fastpath` is the other one: the subscribers' send path below
``RTCRtpSender``; both are pinned by the version check below).

Forwarding encoded media needs four things aiortc has no public API for:

* **Encoded frames out of an ``RTCRtpReceiver``.** The receiver re-assembles each frame in its
  jitter buffer (on the event loop) and puts ``(codec, JitterFrame)`` on a ``queue.Queue``
  (``_RTCRtpReceiver__decoder_queue``) read by a decoder thread. :func:`install_passthrough`
  swaps that queue, before the receiver starts, for one that hands every encoded frame to a
  callback on the event loop instead: nothing is decoded, there is no thread hop, and other
  receivers in the process (e.g. a stock decode path) are untouched.
* **Keyframe requests to a publisher**: ``RTCRtpReceiver._send_rtcp_pli(media_ssrc)``.
* **Less periodic feedback from a receiver** (a site agent's): :func:`thin_feedback` wraps
  ``RTCRtpReceiver._send_rtcp`` on the instance.
* **Keyframe requests from a subscriber**: ``RTCRtpSender._send_keyframe`` is what the sender
  calls on PLI/FIR; when the sender forwards ``av.Packet`` it only sets a flag nobody reads, so
  :func:`on_keyframe_request` replaces it on the instance.
* **Loopback host candidates / a media bind address**: aioice gathers host candidates from
  ``aioice.ice.get_host_addresses`` and skips 127.0.0.1; :func:`set_host_addresses` overrides it.
* **A UDP port range for host candidates**: aioice binds each host candidate with
  ``loop.create_datagram_endpoint(..., local_addr=(address, 0))`` (an ephemeral port) inside
  ``aioice.ice.Connection.get_component_candidates``; :func:`set_port_range` makes that call bind
  a free port of a configured range instead, so a firewall can open exactly that range.

All of this is only known to work with the exact versions in :data:`SUPPORTED_VERSIONS`; importing
this module with any other version raises :class:`UnsupportedMediaStack` so that an upgrade
fails loudly instead of silently decoding (or dropping) every frame.
tests/media/test_forward_private_api.py pins each of these behaviours.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import logging
import queue
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import aioice.ice
import aiortc
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, RtcpRrPacket

from server.core.errors import Conflict

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


#: Seconds between a receiver's periodic feedback of one kind (receiver reports, REMB).
FEEDBACK_INTERVAL = 2.5


def thin_feedback(receiver: Any, interval: float = FEEDBACK_INTERVAL) -> None:
    """Send ``receiver``'s periodic feedback -- receiver reports and REMB -- at most once per
    ``interval`` seconds each, instead of aiortc's report about every second and REMB one or
    two times a second: each costs the relay a trip through aioice, SRTCP and aiortc's RTCP
    parser (3.5 packets a second a site, about a tenth of what a site costs the server once
    its frames go out in one call; issue 18). NACKs and keyframe requests still leave at once."""
    if not isinstance(receiver, aiortc.RTCRtpReceiver):
        raise TypeError(f"expected an RTCRtpReceiver, got {type(receiver).__name__}")
    send = receiver._send_rtcp
    last: dict[type, float] = {}

    async def send_rtcp(packet: Any) -> None:
        periodic = isinstance(packet, RtcpRrPacket) or (
            isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP
        )
        if periodic:
            now = time.monotonic()
            if now - last.get(type(packet), -interval) < interval:
                return
            last[type(packet)] = now
        await send(packet)

    setattr(receiver, "_send_rtcp", send_rtcp)  # noqa: B010 (instance override)


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


# -- host candidates inside a UDP port range ---------------------------------------------------


class PortRangeExhausted(Conflict):
    """Every port of the media port range is in use on an address: no peer can be added."""

    def __init__(self, address: str, low: int, high: int) -> None:
        super().__init__(
            "media.ports_exhausted",
            f"No free UDP port for media on {address}: all {high - low + 1} ports of"
            f" media_port_range {low}-{high} are in use. Widen the range (and the firewall"
            " rule that opens it) or close some media peers.",
        )
        self.address, self.low, self.high = address, low, high


_ORIGINAL_GET_COMPONENT_CANDIDATES = aioice.ice.Connection.get_component_candidates
_ORIGINAL_ICE_ASYNCIO = getattr(aioice.ice, "asyncio")  # noqa: B009 (not exported)
#: The transports bound for the host candidates of the gathering running in this task.
_GATHERING: contextvars.ContextVar[list[asyncio.BaseTransport] | None] = contextvars.ContextVar(
    "media_port_range_gathering", default=None
)
_port_range: tuple[int, int] | None = None
_next_port: int | None = None  # where the next search starts (round robin through the range)


def check_port_range_internals(
    method: Any = _ORIGINAL_GET_COMPONENT_CANDIDATES, ice_asyncio: Any = _ORIGINAL_ICE_ASYNCIO
) -> None:
    """Raise :class:`UnsupportedMediaStack` unless aioice binds host candidates as expected.

    :func:`set_port_range` relies on ``Connection.get_component_candidates`` (``method``)
    binding each host candidate with ``asyncio.get_running_loop().create_datagram_endpoint(...,
    local_addr=(address, 0))`` through the ``asyncio`` name of ``aioice.ice`` (``ice_asyncio``).
    """
    code = getattr(method, "__code__", None)
    problems = []
    if ice_asyncio is not asyncio:
        problems.append("aioice.ice.asyncio is not the asyncio module")
    if code is None or not {"get_running_loop", "create_datagram_endpoint"} <= set(code.co_names):
        problems.append(
            "Connection.get_component_candidates no longer calls"
            " asyncio.get_running_loop().create_datagram_endpoint"
        )
    elif ("local_addr",) not in code.co_consts:
        problems.append(
            "Connection.get_component_candidates no longer binds with local_addr=(address, 0)"
        )
    if problems:
        raise UnsupportedMediaStack(
            "media_port_range cannot be honoured with this aioice: " + "; ".join(problems)
        )


def _bind_in_range(address: str, low: int, high: int) -> socket.socket:
    """A non-blocking UDP socket bound to ``address`` on the next free port of the range."""
    global _next_port
    family, _, _, _, sockaddr = socket.getaddrinfo(
        address, 0, type=socket.SOCK_DGRAM, flags=socket.AI_NUMERICHOST
    )[0]
    size = high - low + 1
    start = _next_port if _next_port is not None and low <= _next_port <= high else low
    sock = socket.socket(family, socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        for i in range(size):
            port = low + (start - low + i) % size
            try:
                sock.bind((sockaddr[0], port, *sockaddr[2:]))
            except OSError as exc:
                if exc.errno == errno.EADDRINUSE:
                    continue
                raise
            _next_port = low + (port - low + 1) % size
            return sock
    except BaseException:
        sock.close()
        raise
    sock.close()
    raise PortRangeExhausted(address, low, high)


class _RangeLoop:
    """The running loop, except that host-candidate binds take a port of the range."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loop, name)

    async def create_datagram_endpoint(
        self, protocol_factory: Callable[[], Any], local_addr: Any = None, **kwargs: Any
    ) -> tuple[asyncio.DatagramTransport, Any]:
        created = _GATHERING.get()
        port_range = _port_range
        if created is None or port_range is None or kwargs or local_addr is None:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr, **kwargs
            )
        address, port = local_addr
        if port != 0:
            return await self._loop.create_datagram_endpoint(
                protocol_factory, local_addr=local_addr
            )
        sock = _bind_in_range(address, *port_range)
        try:
            transport, protocol = await self._loop.create_datagram_endpoint(
                protocol_factory, sock=sock
            )
        except BaseException:
            sock.close()
            raise
        created.append(transport)
        return transport, protocol


class _RangeAsyncio:
    """Stands in for ``asyncio`` inside ``aioice.ice`` while a port range is set."""

    def __getattr__(self, name: str) -> Any:
        return getattr(asyncio, name)

    def get_running_loop(self) -> Any:
        loop = asyncio.get_running_loop()
        return _RangeLoop(loop) if _GATHERING.get() is not None else loop


async def _get_component_candidates(
    self: aioice.ice.Connection, component: int, addresses: list[str], timeout: int = 5
) -> list[aioice.Candidate]:
    created: list[asyncio.BaseTransport] = []
    token = _GATHERING.set(created)
    try:
        candidates = await _ORIGINAL_GET_COMPONENT_CANDIDATES(
            self, component=component, addresses=addresses, timeout=timeout
        )
    except BaseException:
        for transport in created:  # not yet known to the connection: would leak the ports
            transport.close()
        raise
    finally:
        _GATHERING.reset(token)
    port_range = _port_range
    if port_range is not None:
        low, high = port_range
        outside = [c for c in candidates if c.type == "host" and not low <= c.port <= high]
        if outside or len(created) < len([c for c in candidates if c.type == "host"]):
            raise UnsupportedMediaStack(
                f"aioice bound host candidates outside media_port_range {low}-{high}:"
                f" {[f'{c.host}:{c.port}' for c in outside]}"
            )
    return candidates


def set_port_range(port_range: tuple[int, int] | None) -> None:
    """Bind every ICE host candidate to a free UDP port in ``port_range`` (process-wide).

    Ports in use are skipped; when every port of the range is taken on an address, gathering
    fails with :class:`PortRangeExhausted`. ``None`` restores aioice's default (an ephemeral
    port per candidate).
    """
    global _port_range
    if port_range is None:
        _port_range = None
        setattr(aioice.ice, "asyncio", _ORIGINAL_ICE_ASYNCIO)  # noqa: B010
        setattr(  # noqa: B010
            aioice.ice.Connection, "get_component_candidates", _ORIGINAL_GET_COMPONENT_CANDIDATES
        )
        return
    low, high = port_range
    if not 1 <= low <= high <= 65535:
        raise ValueError(f"port range must be 1 <= low <= high <= 65535, not {low}-{high}")
    check_port_range_internals()
    _port_range = (low, high)
    setattr(aioice.ice, "asyncio", _RangeAsyncio())  # noqa: B010
    setattr(aioice.ice.Connection, "get_component_candidates", _get_component_candidates)  # noqa: B010
