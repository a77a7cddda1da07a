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
* That loop is C where the package was built with a compiler (:mod:`server.media._rtpsend`,
  setting ``media_native_send``): one call per frame and subscriber builds, protects (libsrtp's
  ``srtp_protect`` on the same session, by address) and sends every packet; what it could not
  send comes back protected for asyncio's transport (:func:`_hand_over`). Without it the same
  bytes are built in Python, in pylibsrtp's own buffer.
* A video frame of several packets leaves in one ``sendmsg`` with UDP segmentation offload
  (:func:`_send_datagrams`, setting ``media_udp_gso``), else one ``sendto`` per packet.
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

import errno
import logging
import os
import random
import socket
import struct
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import aiortc
from aiortc.codecs.h264 import H264Encoder
from aiortc.codecs.vpx import Vp8Encoder
from aiortc.rtcdtlstransport import State as DtlsState
from aiortc.rtcrtpparameters import RTCRtpSendParameters
from aiortc.rtp import RTCP_PSFB_APP, RtcpPsfbPacket, pack_header_extensions, unpack_remb_fci
from pylibsrtp._binding import ffi as srtp_ffi
from pylibsrtp._binding import lib as srtp_lib

from server.media import forward  # its import checks the aiortc/aioice versions
from server.media.forward import EncodedFrame

NativeSend = Callable[..., tuple[int, int, list[bytes] | None]]


def _load_native() -> NativeSend | None:
    """``server.media._rtpsend.send_frame``; None where it was not built (setup.py: optional,
    it needs a C compiler): the same packets are then sent from Python."""
    try:
        from server.media._rtpsend import send_frame
    except ImportError:  # pragma: no cover - a build without a compiler
        return None
    return send_frame


_NATIVE_SEND = _load_native()


def native_send_built() -> bool:
    """Whether :mod:`server.media._rtpsend` is there (the package was built with a compiler)."""
    return _NATIVE_SEND is not None


logger = logging.getLogger(__name__)

#: Frames kept per subscriber and kind for answering NACKs (about 1 s of video at 30 fps).
HISTORY_FRAMES = 32
#: A subscriber whose UDP transport holds more than this many unsent bytes is stalled.
STALLED_BYTES = 256 * 1024
#: A packet is resent to one subscriber at most once in this many seconds, however often it is
#: NACKed (a viewer far behind, or a broken one, NACKing its whole history every 20 ms made the
#: server resend ~2,900 packets a second; tests/media/test_fastpath_stall.py).
RESEND_MIN_INTERVAL = 0.1

_HEADER = struct.Struct("!BBHII")
_ABS_SEND_TIME = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time"
_MID = "urn:ietf:params:rtp-hdrext:sdes:mid"
_MANGLED = "_RTCRtpSender__"
# the sender's RTCP sender-report fields (RTCRtpSender._run_rtcp reads them)
_NTP_TIMESTAMP = _MANGLED + "ntp_timestamp"
_RTP_TIMESTAMP = _MANGLED + "rtp_timestamp"
_PACKET_COUNT = _MANGLED + "packet_count"
_OCTET_COUNT = _MANGLED + "octet_count"


class _Route:
    """A subscriber's nominated ICE pair, its socket and SRTP session, looked up once."""

    __slots__ = ("addr", "in_place", "native", "pair", "sendmsg", "srtp", "transport")

    def __init__(self, pair: Any, srtp: Any, transport: Any, gso: bool, native: bool) -> None:
        self.pair, self.srtp, self.transport = pair, srtp, transport
        self.addr = pair.remote_addr
        sock = getattr(transport, "_sock", None)  # None for a TURN relay: its own sendto
        # (socket sendto, pylibsrtp's buffer as cdata and as a buffer, the srtp_t session)
        self.in_place: tuple[Any, Any, Any, Any] | None = None
        # one sendmsg for a frame's packets (UDP GSO), where wanted and possible
        self.sendmsg: Any = sock.sendmsg if sock is not None and gso and _GSO["on"] else None
        # (server.media._rtpsend.send_frame, srtp_protect's address, the srtp_t's, the socket's
        # descriptor, the struct sockaddr), where it was built and is wanted
        self.native: tuple[NativeSend, int, int, int, bytes] | None = None
        if sock is not None and _SRTP_PROTECT is not None and hasattr(srtp, "_cdata"):
            self.in_place = (sock.sendto, srtp._cdata, srtp._buffer, srtp._srtp[0])
            to = _sockaddr(sock.family, self.addr)
            if native and _NATIVE_SEND is not None and to is not None:
                session = int(srtp_ffi.cast("uintptr_t", srtp._srtp[0]))
                self.native = (_NATIVE_SEND, _SRTP_PROTECT_ADDRESS, session, sock.fileno(), to)


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
        if not {_NTP_TIMESTAMP, _RTP_TIMESTAMP, _PACKET_COUNT, _OCTET_COUNT} <= set(self._report):
            raise forward.UnsupportedMediaStack("RTCRtpSender has no sender-report counters")
        self._on_started = on_started
        self._gso = gso
        self._native = native
        self._cached_route: _Route | None = None
        self.ssrc: int = sender._ssrc
        self.rtx_ssrc: int = sender._rtx_ssrc
        self.payload_type: int | None = None
        self.rtx_payload_type: int | None = None
        self._seq = random.randint(0, 0xFFFF)
        self._rtx_seq = random.randint(0, 0xFFFF)
        self.timestamp_origin = random.getrandbits(32)
        self._ext_prefix = b""
        self._ext_suffix = b""
        self._has_abs = False
        # (first sequence number, timestamp, packets, extension block) per frame sent
        self._history: deque[tuple[int, int, PacketizedFrame, bytes]] = deque(maxlen=HISTORY_FRAMES)
        self.packets_sent = 0
        self.frames_sent = 0
        self.retransmitted = 0
        self.nacked = 0
        self.resends_refused = 0
        self.gso_sends = 0  # frames sent in one system call (UDP GSO)
        self.native_sends = 0  # frames protected and sent in C (server.media._rtpsend)
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

    @property
    def configured(self) -> bool:
        return self.payload_type is not None

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
            route = self._cached_route = _Route(
                pair, dtls._tx_srtp, transport, self._gso, self._native
            )
        if route.transport.is_closing():
            return None
        return route

    def writable(self) -> bool:
        """Connected and not backed up (a stalled viewer's frames are dropped, not queued)."""
        route = self._route()
        return route is not None and route.transport.get_write_buffer_size() <= STALLED_BYTES

    def send_frame(self, packets: PacketizedFrame, pts: int) -> bool:
        """Send one frame (RTP timestamp ``pts`` on this subscriber's timeline). False when the
        subscriber is not connected or is stalled (nothing was sent)."""
        pt = self.payload_type
        if pt is None:
            return False
        route = self._route()
        if route is None:
            return False
        transport, addr = route.transport, route.addr
        buffered = transport.get_write_buffer_size()
        if buffered > STALLED_BYTES:
            return False
        timestamp = (self.timestamp_origin + pts) & 0xFFFFFFFF
        ext = self._ext_prefix
        if self._has_abs:
            ext = ext + packets.abs_send_time + self._ext_suffix
        b0 = 0x90 if ext else 0x80
        ssrc = self.ssrc
        seq = first = self._seq
        payloads = packets.payloads
        last = len(payloads) - 1
        # straight to the socket while asyncio's transport holds nothing (else in order after it)
        if route.native is not None and not buffered:
            send_native, protect, session, fd, to = route.native
            gso, error, unsent = send_native(
                protect, session, fd, to, b0, pt, seq, timestamp, ssrc, ext, payloads,
                route.sendmsg is not None,
            )  # fmt: skip
            if error or unsent:
                _hand_over(route, bool(gso), error, unsent or [])
            elif gso:
                self.gso_sends += 1
            self.native_sends += 1
            seq = (seq + len(payloads)) & 0xFFFF
        elif route.in_place is not None and not buffered:
            # pylibsrtp's own buffer, written in place and protected by srtp_protect directly
            _, cdata, buf, session = route.in_place
            protect, length, pack_into = _SRTP_PROTECT, _LENGTH, _PACK_INTO
            start = 12 + len(ext)
            room = len(buf) - _SRTP_MAX_TRAILER
            buf[12:start] = ext  # SRTP leaves the header and its extensions as they are
            out: list[bytes] = []
            for i, payload in enumerate(payloads):
                end = start + len(payload)
                if end > room:
                    raise ValueError("RTP packet too long for the SRTP buffer")
                pack_into(buf, 0, b0, pt | 0x80 if i == last else pt, seq, timestamp, ssrc)
                buf[start:end] = payload
                length[0] = end
                if protect(session, cdata, length) == 0:
                    out.append(buf[0 : length[0]])
                seq = (seq + 1) & 0xFFFF
            if _send_datagrams(route, out):
                self.gso_sends += 1
        else:
            protect_bytes, send, pack = route.srtp.protect, transport.sendto, _HEADER.pack
            for i, payload in enumerate(payloads):
                header = pack(b0, pt | 0x80 if i == last else pt, seq, timestamp, ssrc)
                send(protect_bytes(header + ext + payload), addr)
                seq = (seq + 1) & 0xFFFF
        self._seq = seq
        self._history.append((first, timestamp, packets, ext))
        count = last + 1
        self.packets_sent += count
        self.frames_sent += 1
        report = self._report  # what the sender's RTCP sender reports read
        report[_NTP_TIMESTAMP] = packets.ntp_time
        report[_RTP_TIMESTAMP] = timestamp
        report[_PACKET_COUNT] += count
        report[_OCTET_COUNT] += packets.octets
        return True

    async def _retransmit(self, sequence_number: int) -> None:
        """Answer a NACK from the history (as RTX when negotiated)."""
        self.nacked += 1
        found = next(
            (
                (entry, index)
                for entry in reversed(self._history)
                if (index := (sequence_number - entry[0]) & 0xFFFF) < len(entry[2].payloads)
            ),
            None,
        )
        if found is None:
            return  # older than the history: the viewer waits for a keyframe
        now = time.monotonic()
        if now - self._resent.get(sequence_number, -RESEND_MIN_INTERVAL) < RESEND_MIN_INTERVAL:
            self.resends_refused += 1
            return
        (_, timestamp, packets, ext), index = found
        route = self._route()
        if route is None or self.payload_type is None:
            return
        if len(self._resent) > 4096:  # old entries: far older than the history by now
            self._resent = {s: t for s, t in self._resent.items() if now - t < 1.0}
        self._resent[sequence_number] = now
        srtp, transport, addr = route.srtp, route.transport, route.addr
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
        transport.sendto(srtp.protect(header + ext + payload), addr)
        self.retransmitted += 1

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


#: pylibsrtp 1.0.0's ``Session`` keeps a 1500-byte cffi buffer (``_cdata``/``_buffer``) and the
#: session pointer (``_srtp``); its ``protect`` checks the type, allocates a length cell, copies
#: the packet in and the result out. :meth:`FastSender.send_frame` builds each packet in that
#: buffer and calls ``srtp_protect`` itself: about half the per-packet CPU of ``Session.protect``.
_SRTP_PROTECT: Any = getattr(srtp_lib, "srtp_protect", None)
_SRTP_PROTECT_ADDRESS = (
    int(srtp_ffi.cast("uintptr_t", srtp_ffi.addressof(srtp_lib, "srtp_protect")))
    if _SRTP_PROTECT is not None
    else 0
)
_PACK_INTO = _HEADER.pack_into
_SRTP_MAX_TRAILER = 144  # pylibsrtp's SRTP_MAX_TRAILER_LEN
_LENGTH = srtp_ffi.new("int *")


#: UDP generic segmentation offload (Linux >= 4.18, ``UDP_SEGMENT``): the packets of one frame to
#: one subscriber leave in ONE ``sendmsg`` that the kernel cuts into datagrams of ``gso_size``
#: bytes (the last may be shorter). The VP8 packetizer cuts a frame into equal packets but the
#: last, and SRTP adds the same trailer to each, so a video frame of n packets costs one system
#: call instead of n (the sends were ~46% of the fast path's CPU through the product, py-spy).
#: Refused by the kernel once (an old kernel, a socket that cannot): plain ``sendto`` from then on.
_UDP_SEGMENT = 103  # linux/udp.h; socket.UDP_SEGMENT is not in Python 3.11's socket module
_SOL_UDP = 17
_GSO = {"on": sys.platform == "linux"}
#: The kernel takes at most 64 segments in one GSO send (UDP_MAX_SEGMENTS); a frame of more
#: packets or bytes (a big keyframe) goes a datagram at a time.
MAX_GSO = 64
#: ... and at most one UDP datagram's worth of bytes in all (65,507 over IPv4)
MAX_GSO_BYTES = 60000
_GSO_SIZE = struct.Struct("=H")
#: the errors of a kernel or socket that cannot segment
_GSO_REFUSED = (errno.EINVAL, errno.ENOPROTOOPT, errno.EIO, errno.EOPNOTSUPP)


def _hand_over(route: _Route, gso: bool, error: int, unsent: list[bytes]) -> None:
    """What :mod:`server.media._rtpsend` could not send: to asyncio's transport, which keeps
    it until the socket is writable (a full socket, or a GSO send this kernel refused: GSO is
    off from then on), else the error is reported as asyncio's transport would."""
    if gso and error in _GSO_REFUSED:
        _no_gso(route, OSError(error, os.strerror(error)))
    elif error not in (0, errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
        route.transport._protocol.error_received(OSError(error, os.strerror(error)))
        return
    for data in unsent:
        route.transport.sendto(data, route.addr)


def _no_gso(route: _Route, exc: OSError) -> None:
    _GSO["on"] = False
    route.sendmsg = None
    logger.info("UDP GSO unavailable (%s): sending one datagram per call", exc)


def _send_datagrams(route: _Route, out: list[bytes]) -> bool:
    """Send one frame's protected packets to a subscriber: one GSO ``sendmsg`` when they can
    be cut back apart (equal sizes, the last not longer; True), else one ``sendto`` each."""
    if not out:
        return False
    transport, addr = route.transport, route.addr
    if len(out) > 1 and route.sendmsg is not None:
        size = len(out[0])
        if (
            len(out) <= MAX_GSO
            and size * len(out) <= MAX_GSO_BYTES
            and len(out[-1]) <= size
            and all(len(p) == size for p in out[1:-1])
        ):
            try:
                route.sendmsg(out, [(_SOL_UDP, _UDP_SEGMENT, _GSO_SIZE.pack(size))], 0, addr)
                return True
            except (BlockingIOError, InterruptedError):
                for data in out:  # asyncio keeps them, sends when writable
                    transport.sendto(data, addr)
                return False
            except OSError as exc:
                if exc.errno not in _GSO_REFUSED:
                    transport._protocol.error_received(exc)
                    return False
                _no_gso(route, exc)  # this kernel or socket cannot: one datagram at a time
    sendto = route.in_place[0] if route.in_place is not None else transport.sendto
    for data in out:
        try:
            sendto(data, addr)
        except (BlockingIOError, InterruptedError):
            transport.sendto(data, addr)  # asyncio keeps it, sends when writable
        except OSError as exc:  # as asyncio's transport would: report, carry on
            transport._protocol.error_received(exc)
    return False
