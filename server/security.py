"""Credentials at rest: Argon2id for passwords; SHA-256 for long random tokens, agent secrets and
join codes (a slow hash buys nothing for 190+ bits of randomness and would cost every request)."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from concurrent.futures import ThreadPoolExecutor

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


# Argon2 runs here, never on the event loop: a login storm must not slow /healthz or the live
# sockets. Two workers (argon2-cffi releases the GIL while hashing): at most two cores busy.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="argon2")


async def hash_password_async(password: str) -> str:
    return await asyncio.get_running_loop().run_in_executor(_HASHING, hash_password, password)


async def verify_password_async(stored: str, password: str) -> bool:
    return await asyncio.get_running_loop().run_in_executor(
        _HASHING, verify_password, stored, password
    )


def sha256(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def new_site_secret(site_id: int) -> tuple[str, str]:
    """Return (secret shown once, hash to store). The id prefix makes lookup one row."""
    secret = f"site{site_id}.{secrets.token_urlsafe(32)}"
    return secret, sha256(secret)


def new_password() -> str:
    """A random password for a generated account (16 characters, ~95 bits)."""
    return secrets.token_urlsafe(12)


def new_join_code() -> tuple[str, str]:
    """A trainee's personal code: 10 characters, no look-alikes, easy to type on a phone."""
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
    code = "".join(secrets.choice(alphabet) for _ in range(10))
    return code, sha256(code)


def normalise_join_code(code: str) -> str:
    return code.strip().upper().replace("-", "").replace(" ", "")
