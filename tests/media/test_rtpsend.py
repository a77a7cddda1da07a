"""server.media._rtpsend (the fast path's send step in C) against the Python it replaces.

Real SRTP sessions (pylibsrtp) and real UDP sockets on loopback: the C module must put on the
wire exactly the datagrams that building the packet in Python and ``Session.protect`` would, for
a one-packet frame, a frame cut into equal packets (one GSO ``sendmsg``) and a frame GSO cannot
take; what it could not send comes back protected, in order, for asyncio to send.
"""

from __future__ import annotations

import asyncio
import os
import socket
import struct
from typing import Any

import pytest
from pylibsrtp import Policy, Session

from server.media import fastpath

KEY = bytes(range(30))  # AES_CM_128_HMAC_SHA1_80: 16-byte key + 14-byte salt
SSRC, PT, TIMESTAMP, FIRST_SEQ = 0x1234ABCD, 96, 0xFFFFFF00, 0xFFFE  # the sequence number wraps
EXT = struct.pack("!HH", 0xBEDE, 1) + b"\x12\xab\xcd\x00"  # a one-byte-header extension block

native = fastpath._NATIVE_SEND


def test_the_install_built_the_c_module() -> None:
    """`make test` installs the package with a C compiler at hand: the module must be there
    (without it the fast path quietly falls back to Python, several µs a packet slower)."""
    assert native is not None, "server.media._rtpsend was not built: see setup.py"


def outbound() -> Session:
    return Session(Policy(key=KEY, ssrc_type=Policy.SSRC_ANY_OUTBOUND))


def session_address(session: Session) -> int:
    return int(fastpath.srtp_ffi.cast("uintptr_t", session._srtp[0]))


def python_packets(payloads: list[bytes]) -> list[bytes]:
    """What the Python path sends: header + extensions + payload, protected one by one."""
    session, out = outbound(), []
    for i, payload in enumerate(payloads):
        marker = 0x80 if i == len(payloads) - 1 else 0
        seq = (FIRST_SEQ + i) & 0xFFFF
        header = struct.pack("!BBHII", 0x90, PT | marker, seq, TIMESTAMP, SSRC)
        out.append(session.protect(header + EXT + payload))
    return out


def c_send(payloads: list[bytes], fd: int, to: bytes, gso: bool) -> tuple[int, int, Any]:
    assert native is not None
    session = outbound()  # kept alive while C uses its srtp_t
    return native(
        fastpath._SRTP_PROTECT_ADDRESS, session_address(session), fd, to,
        0x90, PT, FIRST_SEQ, TIMESTAMP, SSRC, EXT, payloads, gso,
    )  # fmt: skip


def received(sock: socket.socket, count: int) -> list[bytes]:
    sock.settimeout(2.0)
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
def test_c_sends_exactly_what_python_would(sizes: list[int], gso: bool, gso_used: int) -> None:
    payloads = [os.urandom(n) for n in sizes]
    with (
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx,
    ):
        rx.bind(("127.0.0.1", 0))
        to = fastpath._sockaddr(socket.AF_INET, rx.getsockname())
        assert to is not None
        used, error, unsent = c_send(payloads, tx.fileno(), to, gso)
        assert (used, error, unsent) == (gso_used, 0, None)
        assert received(rx, len(sizes)) == python_packets(payloads)


def test_ipv6_destinations_are_reached() -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 on this machine")
    payloads = [os.urandom(500)]
    with (
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as rx,
        socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as tx,
    ):
        try:
            rx.bind(("::1", 0))
        except OSError:
            pytest.skip("::1 is not configured here")
        to = fastpath._sockaddr(socket.AF_INET6, rx.getsockname())
        assert to is not None
        assert c_send(payloads, tx.fileno(), to, True) == (0, 0, None)
        assert received(rx, 1) == python_packets(payloads)


def test_what_could_not_be_sent_comes_back_protected_in_order() -> None:
    """A send that fails (here: a socket already closed) loses nothing: every packet from the
    one that failed comes back protected, for asyncio's transport to send or report."""
    payloads = [os.urandom(n) for n in (1000, 1000, 400)]
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    fd = tx.fileno()
    tx.close()
    to = fastpath._sockaddr(socket.AF_INET, ("127.0.0.1", 9))
    assert to is not None
    for gso in (False, True):
        used, error, unsent = c_send(payloads, fd, to, gso)
        assert error == 9  # EBADF
        assert used == int(gso)
        assert unsent == python_packets(payloads)


def test_addresses_that_are_not_ip_literals_are_left_to_python() -> None:
    assert fastpath._sockaddr(socket.AF_INET, ("viewer.local", 5000)) is None
    assert fastpath._sockaddr(socket.AF_INET, ("::1", 5000)) is None
    assert fastpath._sockaddr(socket.AF_UNIX, ("127.0.0.1", 5000)) is None


def test_bad_arguments_are_refused_not_sent() -> None:
    with pytest.raises(TypeError):
        c_send(["not bytes"], 0, b"", False)  # type: ignore[list-item]
    with pytest.raises(ValueError):
        c_send([bytes(1500)], 0, b"", False)  # with the header, longer than a packet can be


async def test_a_refused_send_is_handed_to_asyncio_which_sends_it() -> None:
    """``_hand_over``: packets C could not send go out through asyncio's transport."""
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        rx.setblocking(False)
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            route: Any = type("Route", (), {})()
            route.transport, route.addr, route.sendmsg = transport, rx.getsockname(), None
            packets = python_packets([b"a" * 100, b"b" * 50])
            fastpath._hand_over(route, False, 11, packets)  # EAGAIN: asyncio sends them
            got = [await asyncio.wait_for(loop.sock_recv(rx, 2048), 2) for _ in packets]
            assert got == packets
        finally:
            transport.close()
