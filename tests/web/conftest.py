"""Every JSON success answer an API test receives must fit the OpenAPI document the server
publishes (tests/openapi_check.py): a test whose answers drift from the document fails."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from server.web.keys import REGISTRY
from tests.openapi_check import document_for, response_problems


@pytest.fixture(autouse=True)
def responses_match_the_openapi_document(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    original = TestClient._request
    problems: list[str] = []

    async def checked(self: TestClient[Any, Any], method: str, path: Any, **kwargs: Any) -> Any:
        response = await original(self, method, path, **kwargs)
        app = getattr(self.server, "app", None)
        if (
            app is not None
            and REGISTRY in app
            and 200 <= response.status < 300
            and response.content_type == "application/json"
        ):
            body = await response.json()
            doc = document_for(app[REGISTRY])
            problems.extend(
                response_problems(doc, method, response.url.path, response.status, body)
            )
        return response

    monkeypatch.setattr(TestClient, "_request", checked)
    yield
    assert problems == [], "answers that do not fit /api/v1/openapi.json:\n" + "\n".join(problems)
