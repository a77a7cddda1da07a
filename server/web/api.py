"""The endpoint registry: one declaration per endpoint drives routing, role checks and OpenAPI.

An endpoint's ``allowed`` set is the only place its roles are written; the auth middleware reads
it, the OpenAPI document shows it, and the role-matrix test checks it against its own table.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from server.core.errors import InvalidInput
from server.core.roles import Actor
from server.core.validation import Int, Map, validate

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
JsonHandler = Callable[[web.Request], Awaitable[Any]]
"""A handler that returns its JSON answer (see :meth:`Routes.json`)."""
Answer = dict[str, Any]
"""A JSON object a handler answers."""
Body = dict[str, Any]
"""A request body, validated against the endpoint's declared schema."""
BodyHandler = Callable[[web.Request, Body], Awaitable[Any]]
"""A handler that takes its validated body and returns its JSON answer (see
:meth:`Routes.json_body`)."""

MAX_ID = 2**31 - 1
ID = Int(1, MAX_ID)
"""A row id in a request body."""


def body(fields: dict[str, Any], required: set[str]) -> Map:
    """A JSON request body: these fields, the ``required`` ones required, no others; absent
    fields are left out (so store defaults apply and a change touches only what was sent)."""
    return Map(fields, frozenset(required), extra="reject", absent="omit")


async def read_json(request: web.Request) -> Any:
    """The one JSON body parser of every handler: any body that cannot be parsed (bad syntax,
    bad UTF-8, NaN/Infinity, nesting deep enough to exhaust the parser) is a 400 with a code."""
    if not request.can_read_body:
        raise InvalidInput("request.body_required", "Send a JSON object as the request body.")
    raw = await request.read()
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise InvalidInput("request.bad_json", "The request body is not valid JSON.") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


async def read_body(request: web.Request, schema: Any) -> Body:
    """The request's JSON body, validated against ``schema`` (errors name their ``body.`` path)."""
    data: Body = validate(schema, await read_json(request), path="body")
    return data


BAD_QUERY = "request.bad_query"
_WHOLE = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only: str.isdigit() also takes "²"
_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_TRUE, _FALSE = frozenset({"true", "1"}), frozenset({"false", "0"})


@dataclass(frozen=True, slots=True)
class Param:
    """A query parameter, declared once: the OpenAPI document shows its schema and the handler
    reads it with ``parse``, which checks the same schema (integer with minimum/maximum, boolean,
    string with enum, date format or maxLength). A bad value is a 400 with ``code``."""

    name: str
    schema: dict[str, Any]
    description: str = ""
    required: bool = False
    code: str = BAD_QUERY

    def parse(self, request: web.Request, default: Any = None) -> Any:
        """The value sent, as its type; when absent (or empty, but for free text): ``default``,
        else the schema's default, else None."""
        raw = request.query.get(self.name)
        text = "" if raw is None else raw.strip()
        kind = self.schema.get("type", "string")
        free_text = kind == "string" and "enum" not in self.schema and "format" not in self.schema
        if raw is None or (not text and not free_text):
            if self.required:
                raise InvalidInput(self.code, f"Give {self.name}.")
            return self.schema.get("default") if default is None else default
        if kind == "integer":
            return self._whole(text)
        if kind == "boolean":
            if text.lower() not in _TRUE | _FALSE:
                raise InvalidInput(self.code, f"{self.name} must be true or false.")
            return text.lower() in _TRUE
        if "enum" in self.schema:
            if text not in self.schema["enum"]:
                allowed = ", ".join(str(v) for v in self.schema["enum"])
                raise InvalidInput(self.code, f"{self.name} must be one of: {allowed}.")
            return text
        if self.schema.get("format") == "date":
            return self._day(text)
        longest = int(self.schema.get("maxLength", 100))
        if len(text) > longest or any(ord(ch) < 32 for ch in text):
            raise InvalidInput(
                self.code, f"{self.name} must be at most {longest} printable characters."
            )
        return text

    def _whole(self, text: str) -> int:
        low, high = self.schema.get("minimum"), self.schema.get("maximum")
        if (
            _WHOLE.fullmatch(text) is None
            or (low is not None and int(text) < low)
            or (high is not None and int(text) > high)
        ):
            span = f" from {low} to {high}" if low is not None and high is not None else ""
            raise InvalidInput(self.code, f"{self.name} must be a whole number{span}.")
        return int(text)

    def _day(self, text: str) -> date:
        try:
            if _DAY.fullmatch(text) is None:
                raise ValueError(text)
            return date.fromisoformat(text)
        except ValueError:
            raise InvalidInput(self.code, f"{self.name} must be a date like 2026-03-01.") from None


def id_param(name: str, description: str) -> Param:
    """A query parameter naming a row by its id (1 to the store's largest id)."""
    return Param(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description)


@dataclass(frozen=True, slots=True)
class Endpoint:
    method: str
    path: str  # OpenAPI style: /api/v1/sites/{id}
    handler: Handler
    allowed: frozenset[Actor]
    summary: str
    tag: str
    body: Any = None  # a server.core.validation schema, or "file" for uploads
    body_required: bool = True  # False: the JSON body may be left out (its fields all optional)
    query: tuple[Param, ...] = ()
    response: dict[str, Any] | None = None  # JSON schema of a 2xx answer
    status: int = 200
    produces: tuple[str, ...] = ("application/json",)

    @property
    def changes_state(self) -> bool:
        return self.method not in {"GET", "HEAD", "OPTIONS"}

    @property
    def aiohttp_path(self) -> str:
        return self.path.replace("{id}", "{id:[0-9]{1,18}}")


@dataclass
class Registry:
    endpoints: list[Endpoint] = field(default_factory=list)

    def add(self, endpoint: Endpoint) -> None:
        self.endpoints.append(endpoint)

    def install(self, app: web.Application) -> dict[Any, Endpoint]:
        """Add every endpoint to the router; return the route → endpoint map for middleware."""
        by_route: dict[Any, Endpoint] = {}
        for ep in self.endpoints:
            route = app.router.add_route(ep.method, ep.aiohttp_path, ep.handler)
            by_route[route] = ep
        return by_route


@dataclass
class Routes:
    """A feature's endpoints, each declared on its handler, so the declaration sits next to it::

        routes = Routes()

        @routes("GET", "/api/v1/things/{id}", roles.MANAGERS, "Show a thing", "things")
        async def show_thing(request: web.Request) -> web.Response: ...

    ``routes.register`` adds them, in the order declared, to the application's registry.
    """

    endpoints: list[Endpoint] = field(default_factory=list)

    def __call__(
        self,
        method: str,
        path: str,
        allowed: frozenset[Actor],
        summary: str,
        tag: str,
        **options: Any,
    ) -> Callable[[Handler], Handler]:
        def declare(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, path, handler, allowed, summary, tag, **options))
            return handler

        return declare

    def json(
        self, method: str, path: str, allowed: frozenset[Actor], tag: str, **options: Any
    ) -> Callable[[JsonHandler], Handler]:
        """Declare an endpoint whose handler returns its JSON answer (sent with the endpoint's
        ``status``); the summary is the first line of the handler's docstring::

            @routes.json("GET", "/api/v1/things/{id}", roles.MANAGERS, "things")
            async def show_thing(request: web.Request) -> dict[str, Any]:
                # docstring "Show a thing": the summary
        """

        def declare(handler: JsonHandler) -> Handler:
            summary = (handler.__doc__ or "").strip().split("\n", 1)[0]
            assert summary, f"{handler.__name__}: the first docstring line is the summary"
            status = options.get("status", 200)

            @functools.wraps(handler)
            async def answer(request: web.Request) -> web.StreamResponse:
                return web.json_response(await handler(request), status=status)

            self.endpoints.append(Endpoint(method, path, answer, allowed, summary, tag, **options))
            return answer

        return declare

    def json_body(
        self,
        method: str,
        path: str,
        allowed: frozenset[Actor],
        tag: str,
        schema: Any,
        **options: Any,
    ) -> Callable[[BodyHandler], Handler]:
        """Declare an endpoint that takes a JSON body: the body is read and validated against
        ``schema`` — the one the OpenAPI document shows — before the handler runs; the handler
        gets it and returns its JSON answer (as with :meth:`json`)::

            @routes.json_body("PUT", "/api/v1/things/{id}", roles.MANAGERS, "things", THING)
            async def change_thing(request: web.Request, data: Body) -> dict[str, Any]:
                # docstring "Change a thing": the summary
        """

        def declare(handler: BodyHandler) -> Handler:
            @functools.wraps(handler)
            async def with_body(request: web.Request) -> Any:
                return await handler(request, await read_body(request, schema))

            return self.json(method, path, allowed, tag, body=schema, **options)(with_body)

        return declare

    def register(self, registry: Registry) -> None:
        for endpoint in self.endpoints:
            registry.add(endpoint)


ID_PARAM = {
    "name": "id",
    "in": "path",
    "required": True,
    "schema": {"type": "integer", "minimum": 1},
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "details": {},
            },
        }
    },
}
_ERROR_RESPONSES = {
    "400": "invalid input",
    "401": "not signed in",
    "403": "this role may not do this, or the CSRF token is missing",
    "404": "not found",
    "409": "conflicts with the current state",
    "429": "rate limited",
    "503": "the database is unreachable; retry",
}


def openapi_document(registry: Registry, version: str) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for ep in registry.endpoints:
        op: dict[str, Any] = {
            "summary": ep.summary,
            "tags": [ep.tag],
            "operationId": ep.method.lower() + "_" + re.sub(r"\W+", "_", ep.path).strip("_"),
            "x-allowed-roles": sorted(a.value for a in ep.allowed),
            "description": "Allowed: " + ", ".join(sorted(a.value for a in ep.allowed)),
        }
        params: list[dict[str, Any]] = []
        if "{id}" in ep.path:
            params.append(ID_PARAM)
        params += [
            {
                "name": p.name,
                "in": "query",
                "required": p.required,
                "schema": p.schema,
                "description": p.description,
            }
            for p in ep.query
        ]
        if params:
            op["parameters"] = params
        if ep.body == "file":
            op["requestBody"] = {
                "required": True,
                "content": {
                    "multipart/form-data": {
                        "schema": {
                            "type": "object",
                            "required": ["file"],
                            "properties": {"file": {"type": "string", "format": "binary"}},
                        }
                    }
                },
            }
        elif ep.body is not None:
            op["requestBody"] = {
                "required": ep.body_required,
                "content": {"application/json": {"schema": ep.body.json_schema()}},
            }
        ok: dict[str, Any] = {"description": "success"}
        if ep.status != 204:
            content: dict[str, Any] = {}
            for media in ep.produces:
                if media == "application/json":
                    content[media] = {"schema": ep.response or {"type": "object"}}
                else:
                    content[media] = {"schema": {"type": "string", "format": "binary"}}
            ok["content"] = content
        responses: dict[str, Any] = {str(ep.status): ok}
        for code, text in _ERROR_RESPONSES.items():
            responses[code] = {
                "description": text,
                "content": {"application/json": {"schema": ERROR_SCHEMA}},
            }
        op["responses"] = responses
        if Actor.ANONYMOUS not in ep.allowed:
            op["security"] = [{"cookie": []}, {"siteSecret": []}]
        paths.setdefault(ep.path, {})[ep.method.lower()] = op
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Classroom orchestration server API",
            "version": version,
            "description": (
                "REST API of the live-session and hybrid-classroom server. "
                "Operators and moderators "
                "sign in with POST /api/v1/auth/login (cookie + CSRF token: send it back in the "
                "X-CSRF-Token header on every state change); trainees with POST /api/v1/auth/join; "
                "site agents send `Authorization: Bearer <site secret>`. Errors are "
                '{"error": {"code", "message"}} with stable codes.'
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {
                "cookie": {"type": "apiKey", "in": "cookie", "name": "classroom_session"},
                "siteSecret": {"type": "http", "scheme": "bearer"},
            }
        },
        "paths": paths,
    }
