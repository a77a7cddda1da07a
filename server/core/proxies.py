"""Which address a request really comes from, behind reverse proxies. Pure: no I/O.

A proxy appends the address it saw to ``X-Forwarded-For`` (nginx: ``$proxy_add_x_forwarded_for``)
and may set ``X-Real-IP``. Anyone can send those headers, so they are believed only when the
peer is a configured trusted proxy, and only as far back as the chain stays trusted: walking
``X-Forwarded-For`` from the right, the first address that is not a trusted proxy is the client.
Whatever a client wrote to the left of that is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from server.core.errors import InvalidInput

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_proxies(entries: Sequence[str]) -> tuple[Network, ...]:
    """``["127.0.0.1", "10.0.0.0/24", "::1"]`` -> networks; a bad entry is a config error."""
    networks: list[Network] = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise InvalidInput(
                "config.trusted_proxies",
                f"trusted_proxies: {entry!r} is not an IP address or network (10.0.0.0/24)",
            ) from None
    return tuple(networks)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("[") and "]" in text:  # [2001:db8::1]:443
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:  # 203.0.113.9:5123
        text = text.split(":")[0]
    try:
        found = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(found, ipaddress.IPv6Address) and found.ipv4_mapped is not None:
        return found.ipv4_mapped
    return found


def _trusted(
    address: ipaddress.IPv4Address | ipaddress.IPv6Address, proxies: Sequence[Network]
) -> bool:
    return any(address.version == net.version and address in net for net in proxies)


def client_address(
    peer: str | None,
    forwarded_for: str | None,
    real_ip: str | None,
    proxies: Sequence[Network],
) -> str:
    """The client's address as text; ``"unknown"`` when the peer itself is unknown."""
    if not peer:
        return "unknown"
    current = _address(peer)
    if current is None or not _trusted(current, proxies):
        return peer
    hops = [h for h in (forwarded_for or "").split(",") if h.strip()]
    if not hops:
        real = _address(real_ip or "")
        return str(real) if real is not None else str(current)
    for hop in reversed(hops):
        found = _address(hop)
        if found is None:  # garbage in the chain: stop at the last address a proxy vouched for
            return str(current)
        current = found
        if not _trusted(current, proxies):
            return str(current)
    return str(current)  # every hop a proxy: the leftmost is the best we know
