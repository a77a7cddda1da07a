"""server.media._rtpsend (a subscriber's RTP sender in C) against its Python twin.

Real SRTP sessions (pylibsrtp) and real UDP sockets on loopback: the C ``Member`` must put on the
wire exactly the datagrams that :class:`server.media.pymember.PyMember` (header built in Python,
``Session.protect``) does, for a one-packet frame, a frame cut into equal packets (one GSO
``sendmsg``) and a frame GSO cannot take; ``fan_out`` sends a frame to several members, each on
its own timeline; what could not be sent comes back protected, in order, for asyncio to send.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from collections.abc import Iterator
from typing import Any

import pytest
from pylibsrtp import Policy, Session

from server.media import fastpath, pymember
from server.media.fastpath import PacketizedFrame

KEY = bytes(range(30))  # AES_CM_128_HMAC_SHA1_80: 16-byte key + 14-byte salt
SSRC, PT, TIMESTAMP, FIRST_SEQ = 0x1234ABCD, 96, 0xFFFFFF00, 0xFFFE  # the sequence number wraps
PREFIX = struct.pack("!HH", 0xBEDE, 1) + b"\x12\xab"  # mid "\xab", then abs-send-time's id
SUFFIX = b""
KEYS = ("ntp", "rtp", "packets", "octets")

native = fastpath._NATIVE


def test_the_install_built_the_c_module() -> None:
    """`make test` installs the package with a C compiler at hand: the module must be there
    (without it the fast path quietly falls back to Python, several µs a packet slower)."""
    assert native is not None, "server.media._rtpsend was not built: see setup.py"


def outbound() -> Session:
    return Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))


def member(kind: str, gso: bool, sock: Any, to: tuple[Any, ...], report: dict[str, Any]) -> Any:
    """A configured member of ``kind`` ("c" or "python") sending to ``to`` from ``sock``."""
    m = fastpath.new_member(gso, native=kind == "c")
    assert isinstance(m, pymember.PyMember) == (kind == "python")
    m.configure(SSRC, PT, PREFIX, SUFFIX, True, report, KEYS)
    session = outbound()  # a fresh session each: the same keystream for the same packets
    address = int(fastpath.srtp_ffi.cast("uintptr_t", session._srtp[0]))
    sockaddr = fastpath._sockaddr(sock.family, to)
    assert sockaddr is not None
    m.set_route(session, address, sock, sockaddr, to)
    m.seq = FIRST_SEQ
    return m


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(2.0)
    tx.setblocking(False)
    yield rx, tx
    rx.close()
    tx.close()


def received(sock: socket.socket, count: int) -> list[bytes]:
    return [sock.recv(2048) for _ in range(count)]


@pytest.mark.parametrize(
    ("sizes", "gso", "gso_used"),
    [
        ([900], True, 0),  # one packet: one sendto
        ([1100, 1100, 1100, 700], True, 1),  # equal packets, a shorter last: one GSO send
        ([1100, 1100, 1100, 700], False, 0),  # GSO off: four sendto
        ([600, 1100, 1100], True, 0),  # a frame GSO cannot cut back apart: one at a time
    ],
)
def test_c_sends_exactly_what_python_would(
    pair: tuple[socket.socket, socket.socket], sizes: list[int], gso: bool, gso_used: int
) -> None:
    rx, tx = pair
    frame = PacketizedFrame([os.urandom(n) for n in sizes])
    got: dict[str, list[bytes]] = {}
    reports: dict[str, dict[str, Any]] = {}
    for kind in ("c", "python"):
        reports[kind] = {}
        m = member(kind, gso, tx, rx.getsockname(), reports[kind])
        assert m.send(frame, TIMESTAMP, True) == (0, 0, None)
        assert m.gso_sends == gso_used
        assert m.native_sends == (1 if kind == "c" else 0)
        assert (m.frames_sent, m.packets_sent, m.seq) == (
            1,
            len(sizes),
            (FIRST_SEQ + len(sizes)) & 0xFFFF,
        )
        got[kind] = received(rx, len(sizes))
    assert got["c"] == got["python"]
    # the sender report's fields: the frame's NTP time, its timestamp, the counters
    assert reports["c"] == reports["python"] == {
        "ntp": frame.ntp_time, "rtp": TIMESTAMP, "packets": len(sizes), "octets": frame.octets
    }  # fmt: skip
    header = got["c"][-1][:12]  # SRTP leaves the header in the clear
    assert struct.unpack("!BBHII", header) == (
        0x90, PT | 0x80, (FIRST_SEQ + len(sizes) - 1) & 0xFFFF, TIMESTAMP, SSRC
    )  # fmt: skip


def test_fan_out_sends_each_member_its_own_timeline() -> None:
    """One call, three members: each gets the frame at its own ts_offset + pts, its own
    sequence numbers, and the same bytes its Python twin would send."""
    frames = [PacketizedFrame([os.urandom(1000), os.urandom(300)]) for _ in range(3)]
    socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
    rxs, tx = socks[:3], socks[3]
    try:
        for rx in rxs:
            rx.bind(("127.0.0.1", 0))
            rx.settimeout(2.0)
        got: dict[str, list[list[bytes]]] = {}
        for kind in ("c", "python"):
            members = [member(kind, True, tx, rx.getsockname(), {}) for rx in rxs]
            for i, m in enumerate(members):
                m.ts_offset = 1000 * i
            for n, frame in enumerate(frames):
                assert fastpath.fan_out(members, frame, 0xFFFFFFF0 + 3000 * n) is None
            got[kind] = [received(rx, 6) for rx in rxs]
            for i, m in enumerate(members):
                assert m.last_timestamp == (1000 * i + 0xFFFFFFF0 + 6000) & 0xFFFFFFFF
                first, timestamp, frame = m.find((FIRST_SEQ + 5) & 0xFFFF)  # the last frame's
                assert (first, timestamp, frame) == (
                    (FIRST_SEQ + 4) & 0xFFFF,
                    m.last_timestamp,
                    frames[2],
                )
                assert m.find((FIRST_SEQ + 6) & 0xFFFF) is None  # not sent yet
        assert got["c"] == got["python"]
        timestamps = [struct.unpack_from("!I", packet, 4)[0] for packet in got["c"][2]]
        assert timestamps == [(2000 + 0xFFFFFFF0 + 3000 * (i // 2)) & 0xFFFFFFFF for i in range(6)]
    finally:
        for sock in socks:
            sock.close()


def test_ipv6_destinations_are_reached() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as tx,
    ):
        try:
            rx.bind(("::1", 0))
        except OSError:
            pytest.skip("::1 is not configured here")
        rx.settimeout(2.0)
        frame = PacketizedFrame([os.urandom(500)])
        got = []
        for kind in ("c", "python"):
            assert member(kind, True, tx, rx.getsockname(), {}).send(frame, 1, True) == (0, 0, None)
            got.append(rx.recv(2048))
        assert got[0] == got[1]


@pytest.mark.parametrize("kind", ["c", "python"])
def test_a_closed_socket_is_never_written_and_nothing_is_lost(
    pair: tuple[socket.socket, socket.socket], kind: str
) -> None:
    """A route whose socket was closed since (its descriptor may already be another socket's):
    nothing is sent from that number; every packet comes back protected, for Python to settle."""
    rx, tx = pair
    frame = PacketizedFrame([os.urandom(n) for n in (1000, 1000, 400)])
    expected = member(kind, True, tx, rx.getsockname(), {}).send(frame, TIMESTAMP, False)
    assert expected[:2] == (0, 0) and expected[2] is not None and len(expected[2]) == 3
    closed = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    m = member(kind, True, closed, rx.getsockname(), {})
    closed.close()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as reuser:  # likely the same number
        reuser.bind(("127.0.0.1", 0))
        assert m.send(frame, TIMESTAMP, True) == expected
        assert fastpath.fan_out([m], frame, 0) is not None
    rx.settimeout(0.2)
    with pytest.raises(TimeoutError):
        rx.recv(2048)


def test_a_frame_bigger_than_one_send_comes_back_whole() -> None:
    """Not sent directly (asyncio's transport still holds data): a keyframe of 100 packets
    comes back as 100 protected packets, in order."""
    frame = PacketizedFrame([os.urandom(1100) for _ in range(100)])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        answers = [
            member(kind, True, tx, ("127.0.0.1", 9), {}).send(frame, TIMESTAMP, False)
            for kind in ("c", "python")
        ]
    assert answers[0] == answers[1]
    assert answers[0][2] is not None and len(answers[0][2]) == 100


def test_addresses_that_are_not_ip_literals_are_left_to_python() -> None:
    assert fastpath._sockaddr(socket.AF_INET, ("viewer.local", 5000)) is None
    assert fastpath._sockaddr(socket.AF_INET, ("::1", 5000)) is None
    assert fastpath._sockaddr(socket.AF_UNIX, ("127.0.0.1", 5000)) is None


def test_bad_arguments_are_refused_not_sent(pair: tuple[socket.socket, socket.socket]) -> None:
    rx, tx = pair
    m = member("c", True, tx, rx.getsockname(), {})
    with pytest.raises(TypeError):
        m.send(PacketizedFrame(["not bytes"]), 0, True)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        m.send(PacketizedFrame([bytes(1500)]), 0, True)  # with the header, too long
    with pytest.raises(TypeError):
        fastpath.fan_out([m, object()], PacketizedFrame([b"x"]), 0)  # type: ignore[list-item]
    with pytest.raises(RuntimeError):
        fastpath.new_member(True, native=True).send(PacketizedFrame([b"x"]), 0, True)


async def test_what_could_not_be_sent_is_handed_to_asyncio_which_sends_it() -> None:
    """``FastSender.settle``: packets the member could not send go out through asyncio's
    transport (EAGAIN), in order."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            fast: Any = object.__new__(fastpath.FastSender)
            route: Any = type("Route", (), {})()
            route.transport, route.addr = transport, rx.getsockname()
            fast._cached_route, fast.member = route, None
            packets = [os.urandom(100), os.urandom(50)]
            fast.settle(False, 11, packets)  # EAGAIN: asyncio sends them
            got = [await asyncio.wait_for(loop.sock_recv(rx, 2048), 2) for _ in packets]
            assert got == packets
        finally:
            transport.close()
