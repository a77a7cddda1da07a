"""Check API answers against the OpenAPI document the server publishes (/api/v1/openapi.json).

Library: jsonschema_rs, already in the test environment (schemathesis brings it), fast, and a
strict JSON Schema validator; the document's schemas are OpenAPI 3.0 (``nullable``), turned into
plain JSON Schema here, and ``#/components/...`` references resolve against the document itself.
openapi-core would also match paths and parameters, but would add a dependency tree for what
this needs: the success body of a known operation.

With CLASSROOM_RECORD_RESPONSES=<file> every checked answer is also appended to that file (one
JSON line: method, path template, status, body): ``python -m tests.openapi_generate <file>``
turns such a recording into server/web/openapi_responses.json.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

import jsonschema_rs

from server import __version__
from server.web.api import Registry
from server.web.openapi import document


def json_schema(schema: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: ``nullable: true`` becomes a "null" type."""
    if isinstance(schema, list):
        return [json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: json_schema(v) for k, v in schema.items() if k not in ("nullable", "example")}
    if schema.get("nullable"):
        if "type" in out:
            kinds = out["type"] if isinstance(out["type"], list) else [out["type"]]
            out["type"] = [*kinds, "null"]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


_DOCUMENTS: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}


def document_for(registry: Registry) -> dict[str, Any]:
    """The document as /api/v1/openapi.json serves it (every app of a test run builds the same
    registry: built once per set of operations)."""
    key = tuple((e.method, e.path) for e in registry.endpoints)
    if key not in _DOCUMENTS:
        _DOCUMENTS[key] = document(registry, __version__)
    return _DOCUMENTS[key]


def template_for(doc: dict[str, Any], method: str, path: str) -> str | None:
    for template, ops in doc["paths"].items():
        if method.lower() in ops and re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path):
            return template
    return None


_VALIDATORS: dict[tuple[int, str, str, int], Any] = {}


def response_problems(
    doc: dict[str, Any], method: str, path: str, status: int, body: Any
) -> list[str]:
    """Why ``body`` does not fit the document's schema for this answer ([] = it fits)."""
    template = template_for(doc, method, path)
    if template is None:
        return []  # pages, /metrics and the like are not API operations
    where = f"{method} {template} -> {status}"
    recording = os.environ.get("CLASSROOM_RECORD_RESPONSES")
    if recording:
        with open(recording, "a", encoding="utf-8") as out:
            out.write(json.dumps([method.upper(), template, status, body], default=str) + "\n")
    answer = doc["paths"][template][method.lower()]["responses"].get(str(status))
    if answer is None:
        return [f"{where}: status not in the document"]
    schema = answer.get("content", {}).get("application/json", {}).get("schema")
    if schema is None:
        return [f"{where}: no JSON schema in the document"]
    key = (id(doc), template, method, status)
    if key not in _VALIDATORS:
        root = {**json_schema(schema), "components": json_schema(doc.get("components", {}))}
        _VALIDATORS[key] = jsonschema_rs.validator_for(root)
    return [
        f"{where}: {error.message} at {list(error.instance_path)}"
        for error in _VALIDATORS[key].iter_errors(body)
    ][:5]
