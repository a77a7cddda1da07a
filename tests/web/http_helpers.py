"""Assertions on API answers, and set-up steps through the API, shared by the HTTP tests."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestClient

from tests.conftest import ClientFactory


async def expect_ok(response: Any, status: int = 200) -> Any:
    """The JSON body of a successful answer with this status (None for 204)."""
    body = await response.json() if response.status != 204 else None
    assert response.status == status, body
    return body


async def expect_error(response: Any, status: int, code: str) -> dict[str, Any]:
    """The error object of a refusal with this status and stable code."""
    body = await response.json()
    assert response.status == status, body
    assert body["error"]["code"] == code, body
    error: dict[str, Any] = body["error"]
    return error


async def check_in_from_screen(agent: Any, trainee: Any, session_id: int, client_id: str) -> Any:
    """The trainee types the code the site's screen (agent) shows: the check-in answer."""
    shown = await expect_ok(await agent.get(f"/api/v1/sessions/{session_id}/checkin-code"))
    body = {"code": shown["code"], "client_id": client_id}
    return await expect_ok(await trainee.post(f"/api/v1/sessions/{session_id}/checkin", json=body))


async def operator_site_trainee(
    client_as: ClientFactory,
) -> tuple[TestClient[Any, Any], TestClient[Any, Any], TestClient[Any, Any]]:
    """Clients signed in as the seeded operator, site agent and trainee, in that order."""
    return await client_as("operator"), await client_as("site_agent"), await client_as("trainee")


async def add_trainee(
    op: Any, name: str, staff_no: str, org_unit_id: int, **more: Any
) -> dict[str, Any]:
    """A trainee created through the API by the operator (201): the trainee as answered.
    ``more``: other fields of the request (``home_site_id``, ``is_leader``...)."""
    body = {"name": name, "staff_no": staff_no, "org_unit_id": org_unit_id, **more}
    trainee: dict[str, Any] = await expect_ok(await op.post("/api/v1/trainees", json=body), 201)
    return trainee


async def trainee_browser(op: Any, trainee_id: int) -> tuple[aiohttp.ClientSession, dict[str, str]]:
    """The operator issues the trainee a join code and a browser of its own (its own cookies)
    signs in with it: that browser and the CSRF header its writes carry. The caller closes it."""
    made = await expect_ok(await op.post(f"/api/v1/trainees/{trainee_id}/join-code"), 201)
    http = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
    r = await http.post(op.make_url("/api/v1/auth/join"), json={"code": made["code"]})
    assert r.status == 200, await r.text()
    return http, {"X-CSRF-Token": (await r.json())["csrf_token"]}
