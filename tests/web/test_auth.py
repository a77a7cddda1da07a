"""Sign-in for each kind of caller, cookies, CSRF, and credentials shown once."""

from __future__ import annotations

from typing import Any

from server.web import auth
from tests.conftest import ClientFactory, World


async def test_login_sets_httponly_strict_cookie_and_returns_csrf(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    r = await client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": world.passwords["operator"]}
    )
    assert r.status == 200
    cookie = r.cookies[auth.SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert (await r.json())["csrf_token"] == r.cookies[auth.CSRF_COOKIE].value
    me = await (await client.get("/api/v1/auth/me")).json()
    assert me["actor"] == "operator"


async def test_wrong_password_and_unknown_user_answer_the_same(client_as: ClientFactory) -> None:
    client = await client_as("anonymous")
    a = await client.post(
        "/api/v1/auth/login", json={"username": "operator", "password": "nope-nope"}
    )
    b = await client.post("/api/v1/auth/login", json={"username": "ghost", "password": "nope-nope"})
    assert a.status == b.status == 401
    assert (await a.json()) == (await b.json())


async def test_state_changes_need_the_csrf_header(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    token = op.session.headers.pop(auth.CSRF_HEADER)
    r = await op.post("/api/v1/org-units", json={"name": "江北区"})
    assert r.status == 403 and (await r.json())["error"]["code"] == "auth.csrf_failed"
    r = await op.post(
        "/api/v1/org-units", json={"name": "江北区"}, headers={auth.CSRF_HEADER: "forged"}
    )
    assert r.status == 403
    r = await op.post(
        "/api/v1/org-units", json={"name": "江北区"}, headers={auth.CSRF_HEADER: token}
    )
    assert r.status == 201


async def test_logout_ends_the_login(client_as: ClientFactory) -> None:
    op = await client_as("operator")
    assert (await op.post("/api/v1/auth/logout")).status == 204
    r = await op.get("/api/v1/sites")
    assert r.status == 401 and (await r.json())["error"]["code"] == "auth.required"


async def test_site_secret_is_shown_once_and_replaces_the_old_one(
    client_as: ClientFactory, world: World
) -> None:
    op = await client_as("operator")
    agent = await client_as("site_agent")
    assert (await agent.get("/api/v1/agent/site")).status == 200
    r = await op.post(f"/api/v1/sites/{world.site_id}/secret")
    new_secret = (await r.json())["secret"]
    assert r.status == 201 and new_secret.startswith(f"site{world.site_id}.")
    old = await agent.get("/api/v1/agent/site")
    assert old.status == 401 and (await old.json())["error"]["code"] == "auth.bad_site_secret"
    fresh = await agent.get("/api/v1/agent/site", headers={"Authorization": f"Bearer {new_secret}"})
    body: Any = await fresh.json()
    assert fresh.status == 200 and body["site"]["id"] == world.site_id
    assert new_secret not in str(await (await op.get(f"/api/v1/sites/{world.site_id}")).json())


async def test_malformed_bearer_headers_are_refused(client_as: ClientFactory, world: World) -> None:
    client = await client_as("anonymous")
    for header in ("Basic abc", "Bearer", f"Bearer site{world.site_id}.wrong", "Bearer siteX.abc"):
        r = await client.get("/api/v1/agent/site", headers={"Authorization": header})
        assert r.status == 401, header


async def test_trainee_joins_with_personal_code(client_as: ClientFactory, world: World) -> None:
    client = await client_as("anonymous")
    spaced = " ".join([world.trainee_code[:5].lower(), world.trainee_code[5:]])
    r = await client.post("/api/v1/auth/join", json={"code": spaced})
    assert r.status == 200
    client.session.headers[auth.CSRF_HEADER] = (await r.json())["csrf_token"]
    me = await (await client.get("/api/v1/trainee/me")).json()
    assert me["id"] == world.trainee_id and "join_code_hash" not in me
    r = await client.post("/api/v1/auth/join", json={"code": "WRONGCODE1"})
    assert r.status == 401 and (await r.json())["error"]["code"] == "auth.bad_join_code"


async def test_unparseable_bodies_answer_400_with_a_code_on_the_anonymous_endpoints(
    client_as: ClientFactory,
) -> None:
    client = await client_as("anonymous")
    for path in ("/api/v1/auth/login", "/api/v1/auth/join"):
        for raw in ("[" * 100_000, '{"code": NaN}', "\xff\xfe", '{"a":'):
            r = await client.post(path, data=raw.encode("utf-8", "surrogateescape"))
            assert r.status == 400, (path, raw[:10])
            assert (await r.json())["error"]["code"] == "request.bad_json"
    assert (await client.get("/healthz")).status == 200


async def test_wrong_passwords_are_throttled_per_user_name_and_a_right_one_waits_too(
    client_as: ClientFactory, world: World
) -> None:
    client = await client_as("anonymous")
    statuses = []
    for _ in range(7):
        r = await client.post(
            "/api/v1/auth/login", json={"username": "Operator ", "password": "guess-guess"}
        )
        statuses.append(r.status)
    assert statuses[:5] == [401] * 5 and statuses[6] == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 3
    assert (await r.json())["error"]["code"] == "auth.too_many_attempts"
    right = {"username": "operator", "password": world.passwords["operator"]}
    r = await client.post("/api/v1/auth/login", json=right)
    assert r.status == 429  # a lock answers the same whatever the password
    other = await client.post(
        "/api/v1/auth/login", json={"username": "admin", "password": world.passwords["admin"]}
    )
    assert other.status == 200  # other accounts are not locked by the address's 6 failures


async def test_passwords_set_through_the_api_follow_the_strength_rule(
    client_as: ClientFactory,
) -> None:
    """The same rule as ``classroom-server create-admin`` (server/core/passwords.py), with its
    stable codes, for a new user and for a password changed or reset by an admin."""
    admin = await client_as("admin")
    new = {"username": "deputy", "display_name": "副科长", "role": "operator"}
    for password, code in (
        ("short-1A", "password.too_short"),
        ("alllowercase", "password.too_simple"),
        ("Password1234", "password.common"),
        ("Deputy-2026-spring", "password.contains_username"),
        ("x" * 300, "message.invalid"),
    ):
        r = await admin.post("/api/v1/users", json={**new, "password": password})
        body = await r.json()
        assert r.status in (400, 422) and body["error"]["code"].startswith(code[:8]), password
        if code != "message.invalid":
            assert body["error"]["code"] == code
    created = await admin.post("/api/v1/users", json={**new, "password": "Spring-Term-2026"})
    assert created.status == 201, await created.text()
    user = f"/api/v1/users/{(await created.json())['id']}"
    weak = await admin.patch(user, json={"password": "aaaaaaaaaaaaaaaaaa"})
    assert (await weak.json())["error"]["code"] == "password.repeated"
    assert (await admin.patch(user, json={"password": "Autumn-Term-2026"})).status == 200
    anonymous = await client_as("anonymous")
    login = {"username": "deputy", "password": "Autumn-Term-2026"}
    assert (await anonymous.post("/api/v1/auth/login", json=login)).status == 200
