"""Error answers: the web layer sends every error as ``{"error": {"code", "message"}}``."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from server.bus.port import BusUnavailable
from server.core.errors import (
    Conflict,
    DomainError,
    Forbidden,
    InvalidInput,
    NotFound,
    RateLimited,
    Unauthenticated,
)

_STATUS: dict[type[DomainError], int] = {
    BusUnavailable: 503,
    InvalidInput: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    RateLimited: 429,
}


def error_response(status: int, code: str, message: str, details: Any = None) -> web.Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        body["details"] = details
    return web.json_response({"error": body}, status=status, dumps=_dumps)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, default=str)


def domain_error_response(exc: DomainError) -> web.Response:
    status = next((s for cls, s in _STATUS.items() if isinstance(exc, cls)), 400)
    response = error_response(status, exc.code, exc.message, exc.details)
    if (
        isinstance(exc, RateLimited)
        and isinstance(exc.details, dict)
        and "retry_after" in exc.details
    ):
        response.headers["Retry-After"] = str(int(exc.details["retry_after"]) + 1)
    return response
