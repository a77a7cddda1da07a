"""The forwarding fast path: RTP out of a subscriber's sender with no per-packet coroutine.

aiortc's ``RTCRtpSender._run_rtp`` is a coroutine that awaits the track for every frame, builds
an ``RtpPacket`` object per packet, serialises it through the header-extension map and awaits
``RTCDtlsTransport._send_rtp`` → ``RTCIceTransport._send`` → ``Connection.sendto`` →
``StunProtocol.send_data`` for every packet: about 44 µs of CPU per forwarded packet (issue 18).
What a forwarded packet really needs is a 12-byte header, the negotiated header extensions, SRTP
and a ``sendto``. This module does exactly that, below aiortc's per-packet path:

* :class:`Packetizer` packetizes each incoming frame ONCE per publisher and kind (VP8 payload
  descriptor / H264 FU-A+STAP-A / Opus as is, with aiortc's own packetizers); every subscriber
  sends the same payload bytes.
* :class:`FastSender` belongs to one subscriber's ``RTCRtpSender``. It learns what was negotiated
  when the peer connection calls ``sender.send(parameters)`` (payload type, RTX payload type,
  header-extension ids, mid) and from then on sends each frame itself: per packet it packs the
  header (the subscriber's SSRC, sequence number and timestamp), appends the extension block
  (built once per frame: mid + abs-send-time), protects it with the DTLS transport's own
  pylibsrtp session (``RTCDtlsTransport._tx_srtp``) and calls the nominated ICE pair's
  ``transport.sendto``: plain function calls in a loop, one frame at a time.
* Each subscriber's RTP state (sequence number, counters, NACK history, the sender's report
  fields) is a :class:`Member`: :class:`server.media._rtpsend.Member` in C where the package was
  built with a compiler (setting ``media_native_send``), which builds, protects (libsrtp's
  ``srtp_protect`` on the same session, by address) and sends a frame's packets in one call;
  else its Python twin :class:`server.media.pymember.PyMember` (same packets). What could not be
  sent comes back protected for asyncio's transport (:meth:`FastSender.settle`).
* Subscribers that take every frame of a publisher as it comes get it in ONE call for all of
  them (:func:`fan_out`, grouped by :mod:`server.media.fanout`): no Python per subscriber.
* A video frame of several packets leaves in one ``sendmsg`` with UDP segmentation offload
  (setting ``media_udp_gso``), else one ``sendto`` per packet.
* Viewers on poor networks: NACKs are answered from a per-subscriber history of the last
  :data:`HISTORY_FRAMES` frames (one entry per frame, not per packet; RTX where negotiated) by
  replacing the sender's ``_retransmit``, each packet at most once per
  :data:`RESEND_MIN_INTERVAL` however often it is NACKed; PLI/FIR still reach the relay (``forward.
  on_keyframe_request``); REMB is read (:attr:`FastSender.remb_bitrate`); the sender's RTCP
  sender reports keep their counters (packets, octets, RTP/NTP timestamps) so receivers can
  synchronise audio and video. A viewer whose socket buffer backs up (``sendto`` queues in
  asyncio's transport) is isolated: its frames are dropped, not queued, and it restarts from a
  keyframe (:meth:`FastSender.writable`).

aiortc does not negotiate transport-wide congestion control (no TWCC feedback to read).
Like :mod:`server.media.forward` this uses private internals of exactly the pinned aiortc and
aioice versions (importing it runs the same version check); tests/media/test_fastpath.py pins
each of them.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import random
import socket
import struct
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeAlias

import aiortc
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import (
    RTCP_PSFB_APP,
    RtcpByePacket,
    RtcpPsfbPacket,
    RtcpSdesPacket,
    RtcpSenderInfo,
    RtcpSourceInfo,
    RtcpSrPacket,
    pack_header_extensions,
    unpack_remb_fci,
)
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from server.media import forward, pymember  # forward's import checks aiortc/aioice versions
from server.media.forward import EncodedFrame
from server.media.pymember import PyMember

if TYPE_CHECKING:
    from server.media._rtpsend import Member as NativeMember

#: A subscriber's RTP sender: the C one, or its Python twin (the same methods and attributes).
Member: TypeAlias = "NativeMember | PyMember"


def _load_native() -> Any:
    """``server.media._rtpsend``; None where it was not built (setup.py: optional, it needs a
    C compiler): :mod:`server.media.pymember` sends the same packets from Python."""
    try:
        from server.media import _rtpsend
    except ImportError:  # pragma: no cover - a build without a compiler
        return None
    return _rtpsend


_NATIVE = _load_native()


def native_send_built() -> bool:
    """Whether :mod:`server.media._rtpsend` is there (the package was built with a compiler)."""
    return _NATIVE is not None


logger = logging.getLogger(__name__)

#: Frames kept per subscriber and kind for answering NACKs (about 1 s of video at 30 fps).
HISTORY_FRAMES = pymember.HISTORY
#: A subscriber whose UDP transport holds more than this many unsent bytes is stalled.
STALLED_BYTES = 256 * 1024
#: Seconds between a subscriber's RTCP sender reports, on average (randomised by ±50%, as RFC
#: 3550 asks). aiortc sends one every second per sender: two a second per site, about a tenth
#: of a site's CPU through the product once frames went out in one call (issue 18); RFC 3550's
#: minimum interval is 5 s, and browsers send theirs every 1-5 s.
SENDER_REPORT_INTERVAL = 2.5
#: A packet is resent to one subscriber at most once in this many seconds, however often it is
#: NACKed (a viewer far behind, or a broken one, NACKing its whole history every 20 ms made the
#: server resend ~2,900 packets a second; tests/media/test_fastpath_stall.py).
RESEND_MIN_INTERVAL = 0.1

_HEADER = struct.Struct("!BBHII")
_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
_MANGLED = "_RTCRtpSender__"
# the sender's RTCP sender-report fields (RTCRtpSender._run_rtcp reads them)
_REPORT_KEYS = (
    _MANGLED + "ntp_timestamp",
    _MANGLED + "rtp_timestamp",
    _MANGLED + "packet_count",
    _MANGLED + "octet_count",
)


class _Route:
    """A subscriber's nominated ICE pair, its SRTP session and UDP transport, looked up once
    and handed to its :class:`Member` (``direct``: its socket can be written to from there)."""

    __slots__ = ("addr", "direct", "pair", "srtp", "transport")

    def __init__(self, pair: Any, srtp: Any, transport: Any, member: Member) -> None:
        self.pair, self.srtp, self.transport = pair, srtp, transport
        self.addr = pair.remote_addr
        sock = getattr(transport, "_sock", None)  # None for a TURN relay: its own sendto
        to = _sockaddr(sock.family, self.addr) if sock is not None else None
        self.direct = to is not None
        session = int(srtp_ffi.cast("uintptr_t", srtp._srtp[0]))
        member.set_route(srtp, session, sock if self.direct else None, to or b"", self.addr)


def _sockaddr(family: int, addr: tuple[Any, ...]) -> bytes | None:
    """``addr`` as the kernel's ``struct sockaddr_in``/``sockaddr_in6`` (None if not an IP)."""
    try:
        if family == socket.AF_INET:
            ip = socket.inet_pton(socket.AF_INET, addr[0])
            return struct.pack("=H", family) + struct.pack("!H", addr[1]) + ip + bytes(8)
        if family == socket.AF_INET6:
            ip = socket.inet_pton(socket.AF_INET6, addr[0])
            flow, scope = (addr[2], addr[3]) if len(addr) >= 4 else (0, 0)
            return (
                struct.pack("=H", family)
                + struct.pack("!HI", addr[1], flow)
                + ip
                + struct.pack("=I", scope)
            )
    except (OSError, ValueError, IndexError, struct.error):
        return None
    return None


_NTP_UNIX_OFFSET = 2208988800  # seconds from 1900-01-01 (NTP) to 1970-01-01 (Unix)


def ntp_now() -> int:
    """The wall clock as a 64-bit NTP timestamp, like ``aiortc.clock.current_ntp_time`` (which
    goes through two ``datetime`` objects and a ``timedelta``: ~15% of a frame's fixed cost)."""
    now = time.time()
    seconds = int(now)
    return ((seconds + _NTP_UNIX_OFFSET) << 32) | int((now - seconds) * 4294967296.0)


class PacketizedFrame:
    """One frame's RTP payloads, shared by every subscriber of its publisher."""

    __slots__ = ("abs_send_time", "ntp_time", "octets", "payloads")

    def __init__(self, payloads: list[bytes]) -> None:
        self.payloads = payloads
        self.octets = sum(len(p) for p in payloads)
        self.ntp_time = ntp_now()
        self.abs_send_time = ((self.ntp_time >> 14) & 0x00FFFFFF).to_bytes(3, "big")


class Packetizer:
    """Packetizes the frames of one publisher and kind once (keeps the VP8 picture id)."""

    def __init__(self) -> None:
        self._picture_id = random.randint(0, (1 << 15) - 1)
        self._last: EncodedFrame | None = None
        self._packets: PacketizedFrame | None = None

    def packetize(self, frame: EncodedFrame) -> PacketizedFrame:
        if frame is self._last and self._packets is not None:
            return self._packets
        codec = frame.codec
        if codec == "video/vp8":
            payloads = Vp8Encoder._packetize(frame.data, self._picture_id)
            self._picture_id = (self._picture_id + 1) % (1 << 15)
        elif codec == "video/h264":
            payloads = H264Encoder._packetize(H264Encoder._split_bitstream(frame.data))
        else:  # Opus (and the G.7xx codecs): one frame, one packet
            payloads = [frame.data]
        self._last, self._packets = frame, PacketizedFrame(payloads)
        return self._packets


class FastSender:
    """Sends one subscriber's media of one kind straight to its SRTP session and socket."""

    def __init__(
        self,
        sender: Any,
        on_started: Callable[[], None] | None = None,
        gso: bool = True,
        native: bool = True,
    ) -> None:
        if not isinstance(sender, aiortc.RTCRtpSender):
            raise TypeError(f"expected an RTCRtpSender, got {type(sender).__name__}")
        for name in ("send", "_retransmit", "_handle_rtcp_packet"):
            if not callable(getattr(sender, name, None)):
                raise forward.UnsupportedMediaStack(f"RTCRtpSender has no {name}")
        self._sender = sender
        self._report: dict[str, Any] = vars(sender)
        if not set(_REPORT_KEYS) <= set(self._report):
            raise forward.UnsupportedMediaStack("RTCRtpSender has no sender-report counters")
        self._on_started = on_started
        self._cached_route: _Route | None = None
        #: the subscriber's RTP state (sequence number, counters, NACK history), in C where built
        self.member: Member = new_member(gso and _GSO["on"], native)
        self.member.seq = random.randint(0, 0xFFFF)
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self.payload_type: int | None = None
        self.rtx_payload_type: int | None = None
        self._rtx_seq = random.randint(0, 0xFFFF)
        self.timestamp_origin = random.getrandbits(32)
        self._ext_prefix = b""
        self._ext_suffix = b""
        self._has_abs = False
        self.retransmitted = 0
        self.nacked = 0
        self.resends_refused = 0
        self._resent: dict[int, float] = {}  # sequence number -> when it was last resent
        self.remb_bitrate: int | None = None
        original_send = sender.send
        original_rtcp = sender._handle_rtcp_packet

        async def send(parameters: RTCRtpSendParameters) -> None:
            self._configure(parameters)
            await original_send(parameters)
            if self._on_started is not None:
                self._on_started()

        async def handle_rtcp_packet(packet: Any) -> None:
            if isinstance(packet, RtcpPsfbPacket) and packet.fmt == RTCP_PSFB_APP:
                try:
                    bitrate, ssrcs = unpack_remb_fci(packet.fci)
                except ValueError:
                    pass
                else:
                    if self.ssrc in ssrcs:
                        self.remb_bitrate = bitrate
                return
            await original_rtcp(packet)

        # instance overrides, below the sender's per-packet coroutine
        setattr(sender, "send", send)  # noqa: B010
        setattr(sender, "_handle_rtcp_packet", handle_rtcp_packet)  # noqa: B010
        setattr(sender, "_retransmit", self._retransmit)  # noqa: B010
        setattr(sender, "_run_rtcp", self._run_rtcp)  # noqa: B010

    @property
    def configured(self) -> bool:
        return self.payload_type is not None

    @property
    def frames_sent(self) -> int:
        return int(self.member.frames_sent)

    @property
    def packets_sent(self) -> int:
        return int(self.member.packets_sent)

    @property
    def gso_sends(self) -> int:
        """Frames sent in one system call (UDP GSO)."""
        return int(self.member.gso_sends)

    @property
    def native_sends(self) -> int:
        """Frames protected and sent in C (:mod:`server.media._rtpsend`)."""
        return int(self.member.native_sends)

    def _configure(self, parameters: RTCRtpSendParameters) -> None:
        codec = parameters.codecs[0]
        self.payload_type = int(codec.payloadType or 0)
        for other in parameters.codecs:
            if other.mimeType.lower().endswith("/rtx") and str(other.parameters.get("apt")) == str(
                codec.payloadType
            ):
                self.rtx_payload_type = int(other.payloadType or 0)
                break
        ids = {ext.uri: ext.id for ext in parameters.headerExtensions}
        elements: list[tuple[int, bytes]] = []
        mid = parameters.muxId
        if _MID in ids and mid:
            elements.append((ids[_MID], mid.encode("utf8")))
        if _ABS_SEND_TIME in ids:
            elements.append((ids[_ABS_SEND_TIME], b"\xff\xff\xff"))
        self._has_abs = _ABS_SEND_TIME in ids
        profile, value = pack_header_extensions(elements)
        block = struct.pack("!HH", profile, len(value) >> 2) + value if value else b""
        if self._has_abs:  # abs-send-time is the last element: its 3 bytes end the values
            end = block.rindex(b"\xff\xff\xff") + 3
            self._ext_prefix, self._ext_suffix = block[: end - 3], block[end:]
        else:
            self._ext_prefix, self._ext_suffix = block, b""
        self.member.configure(
            self.ssrc,
            self.payload_type,
            self._ext_prefix,
            self._ext_suffix,
            self._has_abs,
            self._report,
            _REPORT_KEYS,
        )

    def _route(self) -> _Route | None:
        """Where and how to send, when the subscriber can be sent to. Looked up again only
        when the nominated ICE pair or the SRTP session changes."""
        dtls = self._sender.transport
        if dtls._state is not DtlsState.CONNECTED:
            return None
        pair = dtls.transport._connection._nominated.get(1)
        if pair is None:
            return None
        route = self._cached_route
        if route is None or route.pair is not pair or route.srtp is not dtls._tx_srtp:
            transport = pair.protocol.transport
            if transport is None:
                return None
            route = self._cached_route = _Route(pair, dtls._tx_srtp, transport, self.member)
        if route.transport.is_closing():
            return None
        return route

    def writable(self) -> bool:
        """Connected and not backed up (a stalled viewer's frames are dropped, not queued)."""
        route = self._route()
        return route is not None and route.transport.get_write_buffer_size() <= STALLED_BYTES

    def direct(self) -> bool:
        """Connected, and nothing waits in asyncio's transport: frames can go straight to the
        socket, so this subscriber can take them in a fan-out (:mod:`server.media.fanout`)."""
        route = self._route()
        return route is not None and route.direct and not route.transport.get_write_buffer_size()

    def send_frame(self, packets: PacketizedFrame, pts: int) -> bool:
        """Send one frame (RTP timestamp ``pts`` on this subscriber's timeline). False when the
        subscriber is not connected or is stalled (nothing was sent)."""
        if self.payload_type is None:
            return False
        route = self._route()
        if route is None:
            return False
        buffered = route.transport.get_write_buffer_size()
        if buffered > STALLED_BYTES:
            return False
        timestamp = (self.timestamp_origin + pts) & 0xFFFFFFFF
        # straight to the socket while asyncio's transport holds nothing (else in order after it)
        gso, error, unsent = self.member.send(packets, timestamp, route.direct and not buffered)
        if error or unsent:
            self.settle(bool(gso), error, unsent or [])
        return True

    def settle(self, gso: bool, error: int, unsent: list[bytes]) -> None:
        """What the member could not send: to asyncio's transport, which keeps it until the
        socket is writable (a full socket, a GSO send this kernel refused: GSO is off from
        then on, a socket not written directly), else the error is reported as asyncio's
        transport would."""
        route = self._cached_route
        if route is None or route.transport.is_closing():
            return
        if gso and error in _GSO_REFUSED:
            _no_gso(self.member, OSError(error, os.strerror(error)))
        elif error not in (0, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
            route.transport._protocol.error_received(OSError(error, os.strerror(error)))
            return
        for data in unsent:
            route.transport.sendto(data, route.addr)

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a NACK from the history (as RTX when negotiated)."""
        self.nacked += 1
        found = self.member.find(sequence_number)
        if found is None:
            return  # older than the history: the viewer waits for a keyframe
        now = time.monotonic()
        if now - self._resent.get(sequence_number, -RESEND_MIN_INTERVAL) < RESEND_MIN_INTERVAL:
            self.resends_refused += 1
            return
        first, timestamp, packets = found
        route = self._route()
        if route is None or self.payload_type is None:
            return
        if len(self._resent) > 4096:  # old entries: far older than the history by now
            self._resent = {s: t for s, t in self._resent.items() if now - t < 1.0}
        self._resent[sequence_number] = now
        index = (sequence_number - first) & 0xFFFF
        ext = self._ext_prefix
        if self._has_abs:
            ext = ext + packets.abs_send_time + self._ext_suffix
        payload = packets.payloads[index]
        marker = 0x80 if index == len(packets.payloads) - 1 else 0
        b0 = 0x90 if ext else 0x80
        if self.rtx_payload_type is not None:
            header = _HEADER.pack(
                b0, self.rtx_payload_type | marker, self._rtx_seq, timestamp, self.rtx_ssrc
            )
            self._rtx_seq = (self._rtx_seq + 1) & 0xFFFF
            payload = struct.pack("!H", sequence_number) + payload
        else:
            header = _HEADER.pack(
                b0, self.payload_type | marker, sequence_number, timestamp, self.ssrc
            )
        route.transport.sendto(route.srtp.protect(header + ext + payload), route.addr)
        self.retransmitted += 1

    async def _run_rtcp(self) -> None:
        """The sender's RTCP loop (``RTCRtpSender._run_rtcp``, which ``send`` starts), at
        :data:`SENDER_REPORT_INTERVAL` instead of aiortc's 0.5-1.5 s: a sender report and its
        SDES, until the sender stops, then a BYE."""
        sender, state = self._sender, self._report
        state[_MANGLED + "rtcp_started"].set()
        interval = 0.5  # the first report soon: a viewer syncs sound and picture from it
        try:
            while True:
                await asyncio.sleep(interval * (0.5 + random.random()))
                interval = SENDER_REPORT_INTERVAL
                ntp = state[_REPORT_KEYS[0]]
                packets: list[Any] = [
                    RtcpSrPacket(
                        ssrc=sender._ssrc,
                        sender_info=RtcpSenderInfo(
                            ntp_timestamp=ntp,
                            rtp_timestamp=state[_REPORT_KEYS[1]],
                            packet_count=state[_REPORT_KEYS[2]] & 0xFFFFFFFF,
                            octet_count=state[_REPORT_KEYS[3]] & 0xFFFFFFFF,
                        ),
                    )
                ]
                state[_MANGLED + "lsr"] = (ntp >> 16) & 0xFFFFFFFF  # for the round-trip time
                state[_MANGLED + "lsr_time"] = time.time()
                cname = state[_MANGLED + "cname"]
                if cname is not None:
                    chunk = RtcpSourceInfo(ssrc=sender._ssrc, items=[(1, cname.encode("utf8"))])
                    packets.append(RtcpSdesPacket(chunks=[chunk]))
                await sender._send_rtcp(packets)
        except asyncio.CancelledError:
            pass
        await sender._send_rtcp([RtcpByePacket(sources=[sender._ssrc])])
        state[_MANGLED + "rtcp_exited"].set()

    def stats(self) -> dict[str, Any]:
        return {
            "frames_sent": self.frames_sent,
            "packets_sent": self.packets_sent,
            "nacked": self.nacked,
            "retransmitted": self.retransmitted,
            "resends_refused": self.resends_refused,
            "gso_sends": self.gso_sends,
            "native_sends": self.native_sends,
            "remb_bitrate": self.remb_bitrate,
        }


def new_member(gso: bool, native: bool) -> Member:
    """A subscriber's RTP state: :class:`server.media._rtpsend.Member` where it was built and
    is wanted, else its Python twin."""
    if native and _NATIVE is not None:
        member: Member = _NATIVE.Member(gso=gso)
        return member
    return PyMember(gso=gso)


def fan_out(members: list[Member], frame: PacketizedFrame, source_pts: int) -> Any:
    """One frame to every member (see ``_rtpsend.fan_out``): in C when every member is C's."""
    if _NATIVE is not None and (not members or not isinstance(members[0], PyMember)):
        return _NATIVE.fan_out(members, frame, source_pts)
    return pymember.fan_out(members, frame, source_pts)


#: libsrtp's ``srtp_protect`` as pylibsrtp loaded it: the C member calls it on each
#: subscriber's own ``srtp_t`` (pylibsrtp 1.0.0's ``Session._srtp``), by address.
_SRTP_PROTECT_ADDRESS = int(
    srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect"))
)
if _NATIVE is not None:
    _NATIVE.use_protect(_SRTP_PROTECT_ADDRESS)


#: UDP generic segmentation offload (Linux >= 4.18, ``UDP_SEGMENT``): the packets of one frame to
#: one subscriber leave in ONE ``sendmsg`` that the kernel cuts into datagrams of ``gso_size``
#: bytes (the last may be shorter). The VP8 packetizer cuts a frame into equal packets but the
#: last, and SRTP adds the same trailer to each, so a video frame of n packets costs one system
#: call instead of n (the sends were ~46% of the fast path's CPU through the product, py-spy).
#: Refused by the kernel once (an old kernel, a socket that cannot): plain ``sendto`` from then on.
_GSO = {"on": sys.platform == "linux"}
#: the errors of a kernel or socket that cannot segment
_GSO_REFUSED = (errno.EINVAL, errno.ENOPROTOOPT, errno.EIO, errno.EOPNOTSUPP)


def _no_gso(member: Member, exc: OSError) -> None:
    _GSO["on"] = False
    member.gso = False
    logger.info("UDP GSO unavailable (%s): sending one datagram per call", exc)
