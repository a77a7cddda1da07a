"""The OpenAPI document an integrator reads (/api/v1/openapi.json, /api/v1/docs).

``server.web.api.openapi_document`` lists the operations from the registry; this adds what the
answers look like: a schema per JSON success answer, shared shapes as ``components``, an example
each (server/web/openapi_responses.json, made from the API tests' own answers by
tests/openapi_generate.py, and checked against every answer of the API tests by
tests/web/conftest.py), and the ``Location`` header of 201 answers that create a resource.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from server.web.api import ERROR_SCHEMA, Endpoint, Registry, openapi_document

RESPONSES = Path(__file__).with_name("openapi_responses.json")
LOCATION_HEADER = {
    "description": "URL of the created resource",
    "schema": {"type": "string", "example": "/api/v1/sessions/42"},
}


@cache
def _recorded() -> dict[str, Any]:
    if not RESPONSES.exists():
        return {"components": {}, "operations": {}}
    loaded: dict[str, Any] = json.loads(RESPONSES.read_text(encoding="utf-8"))
    return loaded


def location_template(registry: Registry, ep: Endpoint) -> str | None:
    """Where a 201 of ``ep`` puts what it created, as a GET operation's path:

    - ``<path>/{id}`` (``POST /api/v1/sessions`` -> ``/api/v1/sessions/{id}``), else
    - ``/api/v1/<last segment>/{id}`` (``POST /api/v1/sessions/{id}/questions`` ->
      ``/api/v1/questions/{id}``): both with the answer's ``id``; else
    - the same path, if it can be read back (``/api/v1/courses/{id}/batch-plan``), else
    - the parent it belongs to (``POST /api/v1/trainees/{id}/join-code`` ->
      ``/api/v1/trainees/{id}``).
    """
    if ep.status != 201:
        return None
    gets = {e.path for e in registry.endpoints if e.method == "GET"}
    path = ep.path.rstrip("/")
    parent, last = path.rsplit("/", 1)
    if "{id}" not in path and path + "/{id}" in gets:
        return path + "/{id}"
    if "{" not in last and f"/api/v1/{last}/{{id}}" in gets:
        return f"/api/v1/{last}/{{id}}"
    for candidate in (path, parent):
        if candidate in gets and candidate.count("{id}") <= 1:
            return candidate
    return None


def location(registry: Registry, ep: Endpoint, request_path: str, body: bytes) -> str | None:
    """The Location of one 201 answer, or None."""
    template = location_template(registry, ep)
    if template is None:
        return None
    path = ep.path.rstrip("/")
    if template == path:
        return request_path
    if template == path.rsplit("/", 1)[0]:
        return request_path.rstrip("/").rsplit("/", 1)[0]
    try:
        created = json.loads(body).get("id")
    except (ValueError, AttributeError):
        return None
    if isinstance(created, bool) or not isinstance(created, int):
        return None
    return template.replace("{id}", str(created))


def document(registry: Registry, version: str) -> dict[str, Any]:
    doc = openapi_document(registry, version)
    recorded = _recorded()
    doc["components"]["schemas"] = {
        "Error": ERROR_SCHEMA,
        **recorded["components"],
    }
    by_path = {(e.method, e.path): e for e in registry.endpoints}
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            ep = by_path[(method.upper(), path)]
            for status, answer in op["responses"].items():
                if status.startswith("2"):
                    _describe_success(registry, ep, status, answer, recorded["operations"])
                elif "application/json" in answer.get("content", {}):
                    answer["content"]["application/json"] = {
                        "schema": {"$ref": "#/components/schemas/Error"}
                    }
    return doc


def _describe_success(
    registry: Registry, ep: Endpoint, status: str, answer: dict[str, Any], recorded: dict[str, Any]
) -> None:
    entry = recorded.get(f"{ep.method} {ep.path} {status}")
    if entry is None and ep.method in ("POST", "PATCH"):
        # a catalogue resource (server/web/resources.py) answers a create or an update with
        # the same view as a read of the item
        item = ep.path if ep.path.endswith("/{id}") else ep.path + "/{id}"
        read = recorded.get(f"GET {item} 200")
        if read is not None and any(
            e.method == "GET" and e.path == item and e.tag == ep.tag for e in registry.endpoints
        ):
            entry = {"schema": read["schema"]}
    content = answer.get("content", {}).get("application/json")
    if content is not None and entry is not None:
        if ep.response is None or _loose(ep.response):
            content["schema"] = entry["schema"]
        if "example" in entry:
            content["example"] = entry["example"]
    template = location_template(registry, ep)
    if template is not None:
        answer["headers"] = {
            "Location": {**LOCATION_HEADER, "description": f"the created resource: {template}"}
        }


def _loose(schema: Any) -> bool:
    """A declared schema with an untyped object in it (``{"type": "object"}``): the recorded
    one says more."""
    if isinstance(schema, dict):
        if schema == {"type": "object"}:
            return True
        return any(_loose(v) for v in schema.values())
    if isinstance(schema, list):
        return any(_loose(v) for v in schema)
    return False


def untyped(doc: dict[str, Any]) -> list[str]:
    """Operations whose JSON success answer is still typed only as ``{"type": "object"}``."""
    loose = []
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                schema = answer.get("content", {}).get("application/json", {}).get("schema")
                if status.startswith("2") and schema == {"type": "object"}:
                    loose.append(f"{method.upper()} {path} {status}")
    return loose


__all__ = ["document", "location", "location_template", "untyped"]
