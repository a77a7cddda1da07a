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
    assert untyped(doc) == []  # every JSON success answer has a real schema ...
    assert typed > 100 and examples > 100  # ... and (nearly all) an example that fits it
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


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _answer(doc: dict[str, Any], method: str, path: str, status: str = "200") -> dict[str, Any]:
    content = doc["paths"][path][method]["responses"][status]["content"]["application/json"]
    return _resolve(doc, content["schema"])


def test_what_has_not_happened_yet_may_be_null() -> None:
    """A session before it starts or ends, a poll without a time limit or still open, a plan not
    published, a site with no session live: the handlers answer null, the document allows it."""
    doc = _doc()
    session = _answer(doc, "get", "/api/v1/sessions/{id}")["properties"]
    for field in ("started_at", "ended_at"):
        assert session[field] == {"type": "string", "format": "date-time", "nullable": True}
    started = _answer(doc, "post", "/api/v1/sessions/{id}/start")["properties"]
    assert started["ended_at"]["nullable"] is True
    poll = _answer(doc, "post", "/api/v1/polls/{id}/launch")["properties"]
    assert all(poll[f]["nullable"] for f in ("deadline", "closed_at", "time_limit", "correct"))
    plan = _answer(doc, "get", "/api/v1/courses/{id}/batch-plan")["properties"]
    assert plan["published_at"]["nullable"] is True
    site = _answer(doc, "get", "/api/v1/site/current-session")["properties"]
    assert site["session"]["nullable"] is True
    schema = doc["paths"]["/api/v1/site/current-session"]["get"]["responses"]["200"]["content"]
    root = {**json_schema(schema["application/json"]["schema"])}
    root["components"] = json_schema(doc["components"])
    nothing_live = {"site": {"id": 1, "name": "A", "code": "A"}, "session": None, "upcoming": []}
    assert list(jsonschema_rs.validator_for(root).iter_errors(nothing_live)) == []
