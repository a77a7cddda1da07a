"""TURN REST API credentials (coturn's ``use-auth-secret`` / ``static-auth-secret``). Pure.

The server and coturn share one secret. For each peer the server makes a username
``<expiry unix time>:<who>`` and the credential ``base64(HMAC-SHA1(secret, username))``; coturn
recomputes it and refuses it after the expiry. No user list lives on the TURN server, and a
leaked credential stops working by itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

_WHO = re.compile(r"[^A-Za-z0-9_.-]")


def turn_credentials(secret: str, who: str, now: float, ttl_s: int) -> tuple[str, str]:
    """``(username, credential)`` valid until ``now + ttl_s``; ``who`` names the peer in coturn's
    logs (``site-12``, ``user-3``); anything but letters, digits, ``_.-`` becomes ``_``."""
    if ttl_s <= 0:
        raise ValueError("ttl_s must be positive")
    username = f"{int(now) + ttl_s}:{_WHO.sub('_', who)[:64]}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode("ascii")
