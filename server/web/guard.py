"""Who is knocking, and how often: the client address and the sign-in throttles.

``client_address`` is the ONE place that says which address a request comes from; the login
and personal-code throttles, the per-client socket cap and the request log all key on it. It is
the peer address, unless the peer is one of the configured ``trusted_proxies``: then the
forwarded address (server/core/proxies.py: X-Forwarded-For walked from the right, X-Real-IP).

Throttles (``server.core.throttle``, figures in docs/security.md): per user name 5 free
failures then a wait doubling from 2 s up to 15 min; per client address 30 free failures then
a wait doubling from 1 s up to 15 min (a classroom of trainees behind one NAT mistypes a few
codes, not hundreds). They live in this process's memory: with N server processes an attacker
gets at most N times the figures.
"""

from __future__ import annotations

import time

from aiohttp import web

from server.core.proxies import Network, parse_proxies
from server.core.proxies import client_address as proxy_client
from server.core.throttle import FailureThrottle, Policy, check_throttles
from server.web.keys import TRUSTED_PROXIES

USER_POLICY = Policy(free=5, base=2.0, max_lock=900.0, forget=3600.0)
ADDRESS_POLICY = Policy(free=30, base=1.0, max_lock=900.0, forget=3600.0)
THROTTLED = "auth.too_many_attempts"


def trusted_proxies(entries: list[str]) -> tuple[Network, ...]:
    """For ``app[TRUSTED_PROXIES]``, from the ``trusted_proxies`` setting."""
    return parse_proxies(entries)


def client_address(request: web.Request) -> str:
    """The address the request comes from, through trusted proxies only."""
    proxies = request.app.get(TRUSTED_PROXIES, ())
    if not proxies:
        return request.remote or "unknown"
    return proxy_client(
        request.remote,
        request.headers.get("X-Forwarded-For"),
        request.headers.get("X-Real-IP"),
        proxies,
    )


class SignInGuard:
    """The throttles of one server process: user names, and addresses (logins and codes)."""

    def __init__(self) -> None:
        self.users = FailureThrottle(USER_POLICY)
        self.addresses = FailureThrottle(ADDRESS_POLICY)

    @staticmethod
    def _user_key(username: str) -> str:
        return username.strip().casefold()[:64]

    def start_login(self, username: str, address: str) -> None:
        """Refuse (429) while locked; else count the attempt as failed until it succeeds."""
        now = time.monotonic()
        user = self._user_key(username)
        check_throttles(
            [(self.users, user), (self.addresses, address)], now, THROTTLED, "sign-in attempts"
        )
        self.users.failed(user, now)
        self.addresses.failed(address, now)

    def login_succeeded(self, username: str, address: str) -> None:
        self.users.succeeded(self._user_key(username))
        self.addresses.undo(address)

    def start_code(self, address: str) -> None:
        now = time.monotonic()
        check_throttles([(self.addresses, address)], now, THROTTLED, "personal code attempts")
        self.addresses.failed(address, now)

    def code_succeeded(self, address: str) -> None:
        self.addresses.undo(address)
