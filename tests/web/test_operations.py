"""What an operator of the server relies on: health, readiness, metrics, API docs, logs, errors."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from server.logs import JsonFormatter, redact
from tests.conftest import ClientFactory, World


async def test_health_and_readiness(client_as: ClientFactory) -> None:
    client = await client_as("anonymous")
    assert (await (await client.get("/healthz")).json())["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["database"] == "ok"


async def test_metrics_count_requests_by_route(client_as: ClientFactory) -> None:
    client = await client_as("operator")
    await client.get("/api/v1/sites")
    await client.get("/api/v1/sites/999")
    text = await (await client.get("/metrics")).text()
    assert (
        'classroom_http_requests_total{method="GET",route="/api/v1/sites",status="200"} 1.0' in text
    )
    assert 'route="/api/v1/sites/{id}",status="404"' in text
    assert "classroom_http_request_seconds_bucket" in text
    assert "classroom_db_connections_in_use" in text


async def test_openapi_document_lists_every_endpoint_with_its_roles(
    client_as: ClientFactory,
) -> None:
    client = await client_as("anonymous")
    doc = await (await client.get("/api/v1/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    ops = [op for path in doc["paths"].values() for op in path.values()]
    assert len(ops) >= 50
    assert all(op["x-allowed-roles"] for op in ops)
    assert len({op["operationId"] for op in ops}) == len(ops)
    page = await client.get("/api/v1/docs")
    assert page.status == 200 and "docs.js" in await page.text()
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]


async def test_pages_and_scripts_are_revalidated_so_an_upgrade_reaches_the_browser(
    client_as: ClientFactory,
) -> None:
    """No cache keeps a page or script on its own reckoning: each load asks again, and an
    unchanged file answers 304 (cheap); the API is never stored at all."""
    client = await client_as("anonymous")
    for path in ("/operator/", "/static/operator/app.js", "/static/shared/i18n.js"):
        first = await client.get(path)
        assert first.status == 200 and first.headers["Cache-Control"] == "no-cache", path
        again = await client.get(path, headers={"If-None-Match": first.headers["ETag"]})
        assert again.status == 304, path
    assert (await client.get("/api/v1/openapi.json")).headers["Cache-Control"] == "no-store"
    assert "max-age" in (await client.get("/favicon.ico")).headers["Cache-Control"]


async def test_unknown_paths_and_methods_answer_json_errors(client_as: ClientFactory) -> None:
    client = await client_as("operator")
    r = await client.get("/api/v1/nothing-here")
    assert r.status == 404 and (await r.json())["error"]["code"] == "http.not_found"
    r = await client.put("/api/v1/sites")
    assert r.status == 405 and (await r.json())["error"]["code"] == "http.method_not_allowed"


async def test_too_large_body_is_refused_cleanly(client_as: ClientFactory) -> None:
    client = await client_as("operator")
    r = await client.post(
        "/api/v1/org-units",
        data=b"x" * (7 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert r.status == 413
    assert (await client.get("/healthz")).status == 200


def test_redact_hides_credentials_anywhere_in_a_structure() -> None:
    data: dict[str, Any] = {
        "username": "operator",
        "password": "p",
        "nested": {"site_secret": "s", "items": [{"Authorization": "Bearer x"}]},
        "csrf_token": "c",
    }
    clean = redact(data)
    assert clean["username"] == "operator"
    assert clean["password"] == clean["csrf_token"] == "[redacted]"
    assert clean["nested"]["site_secret"] == "[redacted]"
    assert clean["nested"]["items"][0]["Authorization"] == "[redacted]"


async def test_request_logs_are_json_and_carry_no_secrets(
    client_as: ClientFactory, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    formatter = JsonFormatter()
    with caplog.at_level(logging.DEBUG, logger="server.web"):  # request lines are DEBUG
        client = await client_as("operator")
        agent = await client_as("site_agent")
        await agent.get("/api/v1/agent/site")
        await client.get("/api/v1/sites")
    lines = [formatter.format(record) for record in caplog.records]
    assert lines
    for line in lines:
        entry = json.loads(line)
        assert {"ts", "level", "logger", "msg"} <= entry.keys()
    text = "\n".join(lines)
    for secret in (world.site_secret, world.passwords["operator"], world.trainee_code):
        assert secret not in text
