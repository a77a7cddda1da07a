"""Revocation reaches what is open (issue 14 item 4), and the last admin stays (item 6)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp import WSMsgType, WSServerHandshakeError

from server.web import auth
from tests.conftest import ClientFactory, World
from tests.web.http_helpers import expect_error, expect_ok
from tests.web.live_helpers import browser_socket, subscribed


async def _user_id(admin: Any, username: str) -> int:
    users = await expect_ok(await admin.get(f"/api/v1/users?q={username}"))
    return int(next(u["id"] for u in users["items"] if u["username"] == username))


async def _closed_within(ws: Any, seconds: float = 5.0) -> int:
    """Read until the server closes the socket; return its close code."""
    async with asyncio.timeout(seconds):
        while True:
            msg = await ws.receive()
            if msg.type is WSMsgType.CLOSE:
                return int(msg.data)
            if msg.type in (WSMsgType.CLOSED, WSMsgType.CLOSING, WSMsgType.ERROR):
                return int(ws.close_code or 0)


async def test_deactivated_operator_loses_the_open_socket_at_once(
    client_as: ClientFactory,
) -> None:
    admin, op = await client_as("admin"), await client_as("operator")
    ws = (await subscribed(op, "presence")).ws
    op_id = await _user_id(admin, "operator")
    await expect_ok(await admin.patch(f"/api/v1/users/{op_id}", json={"active": False}))
    assert await _closed_within(ws) == 1008
    await expect_error(await op.get("/api/v1/sites"), 401, "auth.required")
    with pytest.raises(WSServerHandshakeError) as refused:
        await op.ws_connect("/ws/client")
    assert refused.value.status == 401


async def test_a_new_password_ends_the_other_logins_but_keeps_the_current_one(
    client_as: ClientFactory, world: World
) -> None:
    here, elsewhere = await client_as("admin"), await client_as("admin")
    ws = (await browser_socket(elsewhere)).ws
    me = await _user_id(here, "admin")
    await expect_ok(await here.patch(f"/api/v1/users/{me}", json={"password": "a-new-pass-2"}))
    await expect_error(await elsewhere.get("/api/v1/users"), 401, "auth.required")
    assert await _closed_within(ws) == 1008
    await expect_ok(await here.get("/api/v1/users"))
    fresh = await client_as("anonymous")
    r = await fresh.post(
        "/api/v1/auth/login", json={"username": "admin", "password": world.passwords["admin"]}
    )
    assert r.status == 401


async def test_a_reissued_personal_code_ends_the_old_login(
    client_as: ClientFactory, world: World
) -> None:
    op, trainee = await client_as("operator"), await client_as("trainee")
    ws = (await browser_socket(trainee)).ws
    await expect_ok(await trainee.get("/api/v1/trainee/me"))
    code = await expect_ok(await op.post(f"/api/v1/trainees/{world.trainee_id}/join-code"), 201)
    await expect_error(await trainee.get("/api/v1/trainee/me"), 401, "auth.required")
    assert await _closed_within(ws) == 1008
    anon = await client_as("anonymous")
    await expect_error(
        await anon.post("/api/v1/auth/join", json={"code": world.trainee_code}),
        401,
        "auth.bad_join_code",
    )
    await expect_ok(await anon.post("/api/v1/auth/join", json={"code": code["code"]}))


async def test_the_last_active_admin_cannot_be_removed_demoted_or_deactivated(
    client_as: ClientFactory,
) -> None:
    admin = await client_as("admin")
    me = await _user_id(admin, "admin")
    for r in (
        await admin.delete(f"/api/v1/users/{me}"),
        await admin.patch(f"/api/v1/users/{me}", json={"active": False}),
        await admin.patch(f"/api/v1/users/{me}", json={"role": "operator"}),
    ):
        await expect_error(r, 409, "users.last_admin")
    await expect_ok(await admin.get("/api/v1/users"))
    other = await expect_ok(
        await admin.post(
            "/api/v1/users",
            json={"username": "admin2", "password": "second-admin-1", "role": "admin"},
        ),
        201,
    )
    await expect_ok(await admin.patch(f"/api/v1/users/{me}", json={"role": "operator"}))
    # the demoted login acts as an operator from the next request on
    await expect_error(await admin.delete(f"/api/v1/users/{other['id']}"), 403, "auth.forbidden")
    second = await client_as("anonymous")
    r = await second.post(
        "/api/v1/auth/login", json={"username": "admin2", "password": "second-admin-1"}
    )
    second.session.headers[auth.CSRF_HEADER] = (await expect_ok(r))["csrf_token"]
    await expect_error(
        await second.patch(f"/api/v1/users/{other['id']}", json={"active": False}),
        409,
        "users.last_admin",
    )
    await expect_ok(await second.patch(f"/api/v1/users/{me}", json={"role": "admin"}))
    await expect_ok(await second.patch(f"/api/v1/users/{other['id']}", json={"active": False}))
