"""Decoding what arrives on the sockets, with limits, before any schema sees it."""

from __future__ import annotations

import json
import time
from typing import Any

import msgpack

from server.core.errors import InvalidInput, RateLimited
from server.core.messages import MAX_FRAME

WS_MAX_MSG_SIZE = MAX_FRAME + 1  # aiohttp refuses a message of max_msg_size bytes or more


def _no_ext(code: int, data: bytes) -> Any:
    raise InvalidInput(
        "message.ext_type", f"msgpack extension types are not accepted (got type {code})."
    )


def decode_msgpack(data: bytes) -> Any:
    """One msgpack object, bounded so that a header claiming 4 billion items costs nothing."""
    if len(data) > MAX_FRAME:
        raise InvalidInput("message.too_large", f"A message is at most {MAX_FRAME} bytes.")
    try:
        return msgpack.unpackb(
            data,
            raw=False,
            strict_map_key=False,  # the schema refuses non-string keys with a clear path
            use_list=True,
            max_str_len=MAX_FRAME,
            max_bin_len=MAX_FRAME,
            max_array_len=4096,
            max_map_len=1024,
            max_ext_len=64,  # small ones reach ext_hook, which refuses them with a clear code
            ext_hook=_no_ext,
        )
    except InvalidInput:
        raise
    except (ValueError, msgpack.UnpackException, TypeError, RecursionError) as exc:
        raise InvalidInput(
            "message.bad_msgpack", f"The frame is not one valid msgpack object: {exc}"[:200]
        ) from None


def decode_json(text: str) -> Any:
    if len(text) > MAX_FRAME:
        raise InvalidInput("message.too_large", f"A message is at most {MAX_FRAME} bytes.")
    try:
        return json.loads(text, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        raise InvalidInput(
            "message.bad_json", f"The frame is not valid JSON: {exc}"[:200]
        ) from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed")


class RateLimit:
    """Token bucket per connection: ``rate`` messages a second, bursts up to ``burst``."""

    __slots__ = ("burst", "rate", "tokens", "updated")

    def __init__(self, rate: float = 20.0, burst: float = 40.0) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.updated = time.monotonic()

    def take(self) -> None:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens < 1:
            raise RateLimited(
                "message.rate_limited", f"More than {self.rate:g} messages a second; slow down."
            )
        self.tokens -= 1
