"""The Python twin of :mod:`server.media._rtpsend` (its ``Member`` and ``fan_out``).

Used where the C module was not built (no compiler at install) or ``media_native_send`` is off:
the same packets, the same state and the same answers, built in Python with pylibsrtp's
``Session.protect`` and sent with the socket's ``sendto``/``sendmsg`` (several µs a packet
slower). ``tests/media/test_rtpsend.py`` holds both to the same datagrams.
"""

from __future__ import annotations

import errno
import struct
from collections import deque
from typing import Any

_HEADER = struct.Struct("!BBHII")
#: frames kept for NACKs (as _rtpsend.c's HISTORY and fastpath.HISTORY_FRAMES)
HISTORY = 32
#: the kernel takes at most 64 segments and one datagram's worth of bytes in one GSO send
MAX_GSO = 64
MAX_GSO_BYTES = 60000
_UDP_SEGMENT = 103  # linux/udp.h; socket.UDP_SEGMENT is not in Python 3.11's socket module
_SOL_UDP = 17
_GSO_SIZE = struct.Struct("=H")

SendResult = tuple[int, int, list[bytes] | None]


class PyMember:
    """One subscriber's RTP sender of one kind; see ``_rtpsend.c`` for what each part is."""

    def __init__(self, gso: bool = True) -> None:
        self.gso = int(gso)
        self.ts_offset = 0
        self.seq = 0
        self.last_timestamp = 0
        self.frames_sent = self.packets_sent = self.octets_sent = 0
        self.gso_sends = self.native_sends = 0  # native_sends stays 0: nothing here is C
        self._configured = False
        self._srtp: Any = None
        self._sock: Any = None
        self._addr: Any = None
        self._ssrc = self._pt = 0
        self._prefix = self._suffix = b""
        self._has_abs = False
        self._report: dict[str, Any] | None = None
        self._keys: tuple[str, str, str, str] = ("", "", "", "")
        self._history: deque[tuple[int, int, Any]] = deque(maxlen=HISTORY)

    def configure(
        self,
        ssrc: int,
        payload_type: int,
        ext_prefix: bytes,
        ext_suffix: bytes,
        has_abs: bool,
        report: dict[str, Any] | None,
        report_keys: tuple[str, str, str, str],
    ) -> None:
        self._ssrc, self._pt = ssrc, payload_type & 0x7F
        self._prefix, self._suffix, self._has_abs = ext_prefix, ext_suffix, has_abs
        self._report, self._keys = report, report_keys
        self._configured = True

    def set_route(
        self, srtp: Any, session_address: int, sock: Any, sockaddr: bytes, addr: Any
    ) -> None:
        self._srtp, self._sock, self._addr = srtp, sock, addr

    def send(self, frame: Any, timestamp: int, direct: bool) -> SendResult:
        answer = self._send(frame, timestamp, direct)
        return (0, 0, None) if answer is None else answer

    def _send(self, frame: Any, timestamp: int, direct: bool) -> SendResult | None:
        if not self._configured or self._srtp is None:
            raise RuntimeError("the member has no route or was not configured")
        payloads: list[bytes] = frame.payloads
        ext = self._prefix + frame.abs_send_time + self._suffix if self._has_abs else self._prefix
        b0 = 0x90 if ext else 0x80
        sock = self._sock
        if direct and (sock is None or sock.fileno() < 0):
            direct = False  # no socket (TURN) or a closed one: the caller decides
        protect, pack, pt, ssrc = self._srtp.protect, _HEADER.pack, self._pt, self._ssrc
        first = seq = self.seq
        last = len(payloads) - 1
        out = [
            protect(
                pack(b0, pt | 0x80 if i == last else pt, (seq + i) & 0xFFFF, timestamp, ssrc)
                + ext
                + payload
            )
            for i, payload in enumerate(payloads)
        ]
        self.seq = (seq + len(payloads)) & 0xFFFF
        self.last_timestamp = timestamp
        self.frames_sent += 1
        self.packets_sent += len(payloads)
        self.octets_sent += frame.octets
        self._history.append((first, timestamp, frame))
        if self._report is not None:
            ntp, rtp, packets, octets = self._keys
            report = self._report
            report[ntp], report[rtp] = frame.ntp_time, timestamp
            report[packets], report[octets] = self.packets_sent, self.octets_sent
        if not direct:
            return 0, 0, out
        return self._transmit(out)

    def _transmit(self, out: list[bytes]) -> SendResult | None:
        sock, addr = self._sock, self._addr
        if self.gso and 1 < len(out) <= MAX_GSO and _gso_possible(out):
            try:
                sock.sendmsg(out, [(_SOL_UDP, _UDP_SEGMENT, _GSO_SIZE.pack(len(out[0])))], 0, addr)
            except OSError as exc:
                return 1, exc.errno or errno.EIO, out
            self.gso_sends += 1
            return None
        for i, data in enumerate(out):
            try:
                sock.sendto(data, addr)
            except OSError as exc:
                return 0, exc.errno or errno.EIO, out[i:]
        return None

    def find(self, seq: int) -> tuple[int, int, Any] | None:
        for first, timestamp, frame in reversed(self._history):
            if (seq - first) & 0xFFFF < len(frame.payloads):
                return first, timestamp, frame
        return None


def _gso_possible(out: list[bytes]) -> bool:
    size = len(out[0])
    return (
        size * len(out) <= MAX_GSO_BYTES
        and len(out[-1]) <= size
        and all(len(p) == size for p in out[1:-1])
    )


def fan_out(
    members: list[Any], frame: Any, source_pts: int
) -> list[tuple[Any, int, int, Any]] | None:
    """``frame`` to every member directly, at ``ts_offset + source_pts`` (``_rtpsend.fan_out``)."""
    failed = None
    for member in members:
        answer = member._send(frame, (member.ts_offset + source_pts) & 0xFFFFFFFF, True)
        if answer is not None:
            failed = failed or []
            failed.append((member, *answer))
    return failed
