"""The OpenAPI document an integrator uses: typed answers with shared components and examples,
Location on 201s, and the checker that holds every API test's answers to it
(tests/web/conftest.py) really refuses an answer that does not fit."""

from __future__ import annotations

import json
from typing import Any

import jsonschema_rs

from server import __version__
from server.web.openapi import document, untyped
from server.web.routes import build_registry
from tests.conftest import ClientFactory, World
from tests.openapi_check import json_schema, response_problems

MIN_TYPED = 60  # JSON success answers with a real schema (the rest: see untyped())


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        return [node["$ref"]] if "$ref" in node else [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _doc() -> dict[str, Any]:
    return document(build_registry(), __version__)


def test_answers_are_typed_with_shared_components_and_valid_examples() -> None:
    doc = _doc()
    schemas = doc["components"]["schemas"]
    assert {"Error"} <= schemas.keys()
    for ref in _refs(doc):
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[1] in schemas, ref
    typed = examples = 0
    for ops in doc["paths"].values():
        for op in ops.values():
            for status, answer in op["responses"].items():
                content = answer.get("content", {}).get("application/json")
                if not status.startswith("2") or content is None:
                    continue
                if content["schema"] != {"type": "object"}:
                    typed += 1
                if "example" in content:
                    examples += 1
                    root = {
                        **json_schema(content["schema"]),
                        "components": json_schema(doc["components"]),
                    }
                    errors = list(jsonschema_rs.validator_for(root).iter_errors(content["example"]))
                    assert errors == [], (op["operationId"], errors[0].message)
                else:
                    assert "example" not in content
            assert all(
                a["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
                for s, a in op["responses"].items()
                if s.startswith(("4", "5"))
            )
    assert typed >= MIN_TYPED, untyped(doc)
    assert examples >= MIN_TYPED
    json.dumps(doc)  # serialisable as served


def test_the_checker_refuses_an_answer_that_does_not_fit() -> None:
    doc = _doc()
    assert response_problems(doc, "GET", "/api/v1/sites/7", 200, ["not", "an", "object"])
    assert response_problems(doc, "GET", "/api/v1/sites/7", 299, {})  # status not documented
    assert response_problems(doc, "GET", "/no/such/operation", 200, None) == []


async def test_a_201_says_where_the_created_resource_is(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    created = await op.post("/api/v1/org-units", json={"name": "新建单位", "code": "NEW-1"})
    assert created.status == 201
    location = created.headers["Location"]
    assert location == f"/api/v1/org-units/{(await created.json())['id']}"
    assert (await op.get(location)).status == 200
    secret = await op.post(f"/api/v1/sites/{world.site_id}/secret")
    assert secret.status == 201 and secret.headers["Location"] == f"/api/v1/sites/{world.site_id}"
    doc = _doc()
    headers = doc["paths"]["/api/v1/org-units"]["post"]["responses"]["201"]["headers"]
    assert "Location" in headers
