"""The middlewares every request passes: security headers, then the edge (authentication, role
and scope checks, CSRF, errors as JSON, metrics, access log)."""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from aiohttp import web
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from server.core.errors import DomainError, Forbidden, Unauthenticated
from server.core.roles import ANONYMOUS, Actor, Principal
from server.store.models import utcnow
from server.web import auth, openapi, scope
from server.web.guard import client_address
from server.web.keys import (
    CONFIG,
    ENGINE,
    METRICS,
    PRINCIPAL,
    REGISTRY,
    ROUTES,
    SESSIONS,
    principal,
)
from server.web.responses import domain_error_response, error_response

log = logging.getLogger("server.web")

DB_UNAVAILABLE = "db.unavailable"
DB_UNAVAILABLE_MESSAGE = "The database is unreachable; retry in a few seconds."


async def _authenticate(request: web.Request) -> Principal:
    header = request.headers.get("Authorization", "")
    sessions = request.app[SESSIONS]
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated("auth.bad_header", "Use 'Authorization: Bearer <site secret>'.")
        async with sessions() as db:
            found = await auth.principal_from_site_secret(db, secret.strip())
        if found is None:
            raise Unauthenticated(
                "auth.bad_site_secret",
                "This site secret is not valid; ask the operator for a new one.",
            )
        return found
    token = request.cookies.get(auth.SESSION_COOKIE)
    if token:
        found = await auth.principal_from_cookie(
            request.app[ENGINE], token, utcnow(), auth.screen_key(request.app[CONFIG].secret_key)
        )
        if found is not None:
            return found
    return ANONYMOUS


@web.middleware
async def edge_middleware(request: web.Request, handler: Any) -> web.StreamResponse:
    """Errors as JSON, metrics, access log, authentication and the role check, in one place."""
    started = time.perf_counter()
    request_id = request.headers.get("X-Request-Id", "")[:64] or uuid.uuid4().hex[:16]
    route = request.match_info.route
    endpoint = request.app[ROUTES].get(route)
    route_name = (
        endpoint.path if endpoint else (route.resource.canonical if route.resource else "unmatched")
    )
    status = 500
    error_code = ""
    try:
        if endpoint is not None:
            who = await _authenticate(request)
            request[PRINCIPAL] = who
            if who.actor not in endpoint.allowed:
                if who.actor is Actor.ANONYMOUS:
                    raise Unauthenticated("auth.required", "Sign in first.")
                raise Forbidden(
                    "auth.forbidden", f"A {who.actor.value} may not {endpoint.summary.lower()}."
                )
            await scope.check(request, endpoint, who)
            if endpoint.changes_state and who.csrf_token is not None:
                sent = request.headers.get(auth.CSRF_HEADER, "")
                if sent != who.csrf_token:
                    raise Forbidden(
                        "auth.csrf_failed",
                        f"Send the CSRF token from sign-in in the {auth.CSRF_HEADER} header.",
                    )
        response: web.StreamResponse = await handler(request)
        status = response.status
        body = response.body if isinstance(response, web.Response) else None
        if status == 201 and endpoint is not None and isinstance(body, bytes | bytearray):
            created = openapi.location(request.app[REGISTRY], endpoint, request.path, bytes(body))
            if created is not None and "Location" not in response.headers:
                response.headers["Location"] = created
    except DomainError as exc:
        response = domain_error_response(exc)
        status, error_code = response.status, exc.code
    except web.HTTPException as exc:
        if exc.status < 400:  # a redirect: counted under its own status, then sent as is
            status = exc.status
            raise
        code = {404: "http.not_found", 405: "http.method_not_allowed", 413: "http.too_large"}.get(
            exc.status, f"http.{exc.status}"
        )
        message = {
            404: "No such page or endpoint; see /api/v1/docs.",
            405: "This method is not allowed here; see /api/v1/docs.",
            413: "The request body is too large.",
        }.get(exc.status, exc.reason)
        response = error_response(exc.status, code, message)
        for key in ("Allow",):
            if key in exc.headers:
                response.headers[key] = exc.headers[key]
        status = response.status
    except IntegrityError as exc:
        log.info("integrity error", extra={"route": route_name, "error": str(exc.orig)[:200]})
        response = error_response(
            409,
            "store.conflict",
            "This would duplicate or orphan a record; check unique names and references.",
        )
        status = 409
    except (OperationalError, DBAPIError, PoolTimeout, OSError, TimeoutError) as exc:
        log.warning("database unavailable", extra={"route": route_name, "error": str(exc)[:200]})
        response = error_response(503, DB_UNAVAILABLE, DB_UNAVAILABLE_MESSAGE)
        response.headers["Retry-After"] = "5"
        status = 503
    except Exception:
        log.exception("unhandled error", extra={"route": route_name, "request_id": request_id})
        response = error_response(
            500, "server.internal", f"Internal error; quote request id {request_id} to support."
        )
        status = 500
    finally:
        elapsed = time.perf_counter() - started
        request.app[METRICS].observe_request(
            request.method, route_name, status, elapsed, error_code
        )
    response.headers["X-Request-Id"] = request_id
    if status >= 500:
        level = logging.WARNING
    else:
        level = logging.INFO if request.app[CONFIG].log_requests else logging.DEBUG
    if log.isEnabledFor(level):
        who = principal(request)
        log.log(
            level,
            "request",
            extra={
                "method": request.method,
                "path": request.path,
                "status": status,
                "ms": round(elapsed * 1000, 2),
                "client": client_address(request),
                "host": request.host,
                "actor": who.actor.value,
                "user_id": who.user_id,
                "trainee_id": who.trainee_id,
                "site_id": who.site_id,
                "request_id": request_id,
            },
        )
    return response


@web.middleware
async def security_headers(request: web.Request, handler: Any) -> web.StreamResponse:
    response = await handler(request)
    assert isinstance(response, web.StreamResponse)
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "media-src 'self' blob:; connect-src 'self'; object-src 'none'; frame-ancestors 'none'; "
        "base-uri 'none'; form-action 'self'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.path.startswith("/api/"):
        # personal data and exports (transcripts, reports, rosters): never kept by a cache
        response.headers.setdefault("Cache-Control", "no-store")
    else:
        # pages and their scripts: asked again each time (a 304 while unchanged), so after an
        # upgrade a reload gets the new JavaScript; without this browsers kept the old one for
        # a while on their own reckoning from Last-Modified
        response.headers.setdefault("Cache-Control", "no-cache")
    return response
