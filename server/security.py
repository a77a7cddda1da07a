"""Credentials at rest: Argon2id for passwords; SHA-256 for long random tokens, agent secrets and
join codes (a slow hash buys nothing for 190+ bits of randomness and would cost every request)."""

from __future__ import annotations

import hashlib
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
# A real hash to verify against when the username is unknown, so timing does not reveal it.
DUMMY_HASH = _hasher.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_site_secret(site_id: int) -> tuple[str, str]:
    """Return (secret shown once, hash to store). The id prefix makes lookup one row."""
    secret = f"site{site_id}.{secrets.token_urlsafe(32)}"
    return secret, sha256(secret)


def new_join_code() -> tuple[str, str]:
    """A trainee's personal code: 10 characters, no look-alikes, easy to type on a phone."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    code = "".join(secrets.choice(alphabet) for _ in range(10))
    return code, sha256(code)


def normalise_join_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")
