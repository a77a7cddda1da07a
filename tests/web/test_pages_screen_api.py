"""The site screen's sign-in (a stateless signed cookie from the site secret), what the screen
and the phone page read, and the pages' security headers."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from server.store.models import Site, utcnow
from server.web import auth
from server.web.keys import CONFIG, SESSIONS
from tests.conftest import ClientFactory, World


async def _screen(client_as: ClientFactory, world: World) -> Any:
    client = await client_as("anonymous")
    r = await client.post("/api/v1/auth/screen", json={"secret": world.site_secret})
    assert r.status == 200, await r.text()
    body = await r.json()
    assert body["actor"] == "site_agent" and body["site_id"] == world.site_id
    client.session.headers[auth.CSRF_HEADER] = body["csrf_token"]
    return client


async def _start(client_as: ClientFactory, world: World) -> Any:
    op = await client_as("operator")
    r = await op.post(f"/api/v1/sessions/{world.session_id}/start")
    assert r.status == 200, await r.text()
    return op


async def test_screen_signs_in_with_the_site_secret_and_acts_as_its_site(
    client_as: ClientFactory, world: World
) -> None:
    await _start(client_as, world)
    screen = await _screen(client_as, world)
    cookie = screen.session.cookie_jar.filter_cookies(screen.make_url("/"))
    token = cookie[auth.SESSION_COOKIE].value
    assert token.startswith("scr1.") and world.site_secret not in token
    me = await (await screen.get("/api/v1/auth/me")).json()
    assert me["actor"] == "site_agent" and me["site_id"] == world.site_id
    current = await (await screen.get("/api/v1/site/current-session")).json()
    assert current["site"]["id"] == world.site_id and current["site"]["name"] == "海曙分课堂"
    assert current["session"]["id"] == world.session_id
    assert current["session"]["status"] == "live"
    code = await screen.get(f"/api/v1/sessions/{world.session_id}/checkin-code")
    assert code.status == 200
    assert (await code.json())["qr"].startswith(f"cr2:{world.site_id}:{world.session_id}:")
    # A state change without the CSRF token is refused, with it accepted.
    no_csrf = await (await client_as("anonymous")).post(
        f"/api/v1/sessions/{world.session_id}/floor/raise",
        cookies={auth.SESSION_COOKIE: token},
    )
    assert no_csrf.status == 403 and (await no_csrf.json())["error"]["code"] == "auth.csrf_failed"
    raised = await screen.post(f"/api/v1/sessions/{world.session_id}/floor/raise")
    assert raised.status == 200, await raised.text()


async def test_wrong_tampered_expired_or_rotated_screen_credentials_are_refused(
    client_as: ClientFactory, world: World
) -> None:
    anon = await client_as("anonymous")
    for secret in (
        "nonsense",
        world.site_secret + "x",
        f"site{world.site_id}.{'A' * 43}",
        "site99999999999.x",
        "site².x",  # str.isdigit() is true for these, int() is not
        "site٣.x",
        "site0.x",
    ):
        r = await anon.post("/api/v1/auth/screen", json={"secret": secret})
        assert r.status == 401 and (await r.json())["error"]["code"] == "auth.bad_site_secret"
    r = await anon.post("/api/v1/auth/screen", json={"secret": ""})
    assert r.status == 400
    screen = await _screen(client_as, world)
    token = screen.session.cookie_jar.filter_cookies(screen.make_url("/"))[auth.SESSION_COOKIE]
    good = token.value
    prefix, site, expires, mac = good.split(".")
    forged = [
        f"{prefix}.{site}.{int(expires) + 1}.{mac}",  # longer life, same MAC
        f"{prefix}.1.{expires}.{mac}",  # another site
        f"{prefix}.{site}.{expires}.{mac[:-2]}AA",
        f"{prefix}.{site}.{expires}",
        "scr1.९.1.x",  # unicode digits
    ]
    for value in forged:
        me = await anon.get("/api/v1/auth/me", cookies={auth.SESSION_COOKIE: value})
        assert (await me.json())["actor"] == "anonymous", value
    # An expired token (signed correctly) is refused.
    async with anon.server.app[SESSIONS]() as db:
        site_row = await db.get(Site, world.site_id)
        assert site_row is not None and site_row.secret_hash
        key = auth.screen_key(anon.server.app[CONFIG].secret_key)
        old = auth.screen_token(
            key, world.site_id, site_row.secret_hash, utcnow() - timedelta(days=61)
        )
        fresh = auth.screen_token(key, world.site_id, site_row.secret_hash, utcnow())
    me = await anon.get("/api/v1/auth/me", cookies={auth.SESSION_COOKIE: old})
    assert (await me.json())["actor"] == "anonymous"
    me = await anon.get("/api/v1/auth/me", cookies={auth.SESSION_COOKIE: fresh})
    assert (await me.json())["actor"] == "site_agent"
    # Issuing a new secret for the site signs its screens out.
    op = await client_as("operator")
    r = await op.post(f"/api/v1/sites/{world.site_id}/secret")
    assert r.status == 201
    me = await screen.get("/api/v1/auth/me")
    assert (await me.json())["actor"] == "anonymous"
    r = await screen.get("/api/v1/site/current-session")
    assert r.status == 401


async def test_screen_watches_only_sessions_its_site_takes_part_in(
    client_as: ClientFactory, world: World
) -> None:
    op = await _start(client_as, world)
    # A second session without the screen's site.
    r = await op.post(
        "/api/v1/sessions",
        json={
            "course_id": world.ids["courses"],
            "starts_at": (utcnow() + timedelta(hours=1)).isoformat(),
            "ends_at": (utcnow() + timedelta(hours=2)).isoformat(),
            "teaching_method": "lecture",
            "site_ids": [],
        },
    )
    assert r.status == 201, await r.text()
    other = (await r.json())["id"]
    screen = await _screen(client_as, world)
    ws = await screen.ws_connect("/ws/client")
    try:
        hello = json.loads((await ws.receive(timeout=5)).data)
        assert hello["type"] == "hello" and hello["actor"] == "site_agent"
        await ws.send_str(json.dumps({"type": "subscribe", "topics": [f"session:{other}"]}))
        refused = json.loads((await ws.receive(timeout=5)).data)
        assert refused["type"] == "error" and refused["code"] == "ws.forbidden_topic"
        await ws.send_str(json.dumps({"type": "subscribe", "topics": ["presence"]}))
        refused = json.loads((await ws.receive(timeout=5)).data)
        assert refused["code"] == "ws.forbidden_topic"
        topic = f"session:{world.session_id}"
        await ws.send_str(json.dumps({"type": "subscribe", "topics": [topic]}))
        resync = json.loads((await ws.receive(timeout=5)).data)
        assert resync["type"] == "resync" and resync["topic"] == topic
        assert resync["snapshot"]["session"]["status"] == "live"
        # A roll call for the session reaches the screen live, and is listed as open.
        r = await op.post(f"/api/v1/sessions/{world.session_id}/roll-calls", json={"seconds": 60})
        assert r.status == 201, await r.text()
        event: dict[str, Any] = {}
        for _ in range(10):
            msg = json.loads((await ws.receive(timeout=5)).data)
            msgs = msg["messages"] if msg["type"] == "batch" else [msg]
            found = [m for m in msgs if m.get("kind") == "roll_call"]
            if found:
                event = found[0]
                break
        assert event["data"]["site_ids"] and world.site_id in event["data"]["site_ids"]
    finally:
        await ws.close()
    listed = await (await screen.get(f"/api/v1/sessions/{world.session_id}/roll-calls/open")).json()
    assert [c["id"] for c in listed["items"]] == [event["data"]["roll_call_id"]]
    assert 0 < listed["items"][0]["seconds_left"] <= 60
    r = await screen.get(f"/api/v1/sessions/{other}/roll-calls/open")
    assert r.status == 403


async def test_trainee_lists_live_sessions_and_open_roll_calls(
    client_as: ClientFactory, world: World
) -> None:
    trainee = await client_as("trainee")
    assert (await (await trainee.get("/api/v1/trainee/live-sessions")).json())["items"] == []
    op = await _start(client_as, world)
    live = (await (await trainee.get("/api/v1/trainee/live-sessions")).json())["items"]
    assert [(s["id"], s["checked_in"], s["home_site_takes_part"]) for s in live] == [
        (world.session_id, False, True)
    ]
    screen = await _screen(client_as, world)
    code = await (await screen.get(f"/api/v1/sessions/{world.session_id}/checkin-code")).json()
    r = await trainee.post(
        f"/api/v1/sessions/{world.session_id}/checkin", json={"qr": code["qr"], "client_id": "t1"}
    )
    assert r.status == 200, await r.text()
    live = (await (await trainee.get("/api/v1/trainee/live-sessions")).json())["items"]
    assert live[0]["checked_in"] is True and live[0]["site_id"] == world.site_id
    r = await op.post(f"/api/v1/sessions/{world.session_id}/roll-calls", json={"seconds": 30})
    call = (await r.json())["id"]
    path = f"/api/v1/sessions/{world.session_id}/roll-calls/open"
    listed = (await (await trainee.get(path)).json())["items"]
    assert [(c["id"], c["answered"]) for c in listed] == [(call, False)]
    assert (await trainee.post(f"/api/v1/roll-calls/{call}/answer")).status == 200
    listed = (await (await trainee.get(path)).json())["items"]
    assert [(c["id"], c["answered"]) for c in listed] == [(call, True)]
    r = await trainee.get("/api/v1/sessions/999999/roll-calls/open")
    assert r.status == 404


async def test_pages_are_served_with_a_csp_that_forbids_inline_script(
    client_as: ClientFactory,
) -> None:
    anon = await client_as("anonymous")
    for path in ("/trainee/", "/screen/", "/"):
        r = await anon.get(path)
        assert r.status == 200
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        html = await r.text()
        assert "<script>" not in html and " style=" not in html and "onclick" not in html
    for asset in (
        "/static/shared/dom.js",
        "/static/shared/i18n.js",
        "/static/shared/api.js",
        "/static/shared/live.js",
        "/static/trainee/app.js",
        "/static/screen/app.js",
        "/static/vendor/qrcode-generator/qrcode.js",
    ):
        r = await anon.get(asset)
        assert r.status == 200, asset
        assert r.headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
        if not asset.startswith("/static/vendor/"):  # our own code: text only, nothing remote
            text = await r.text()
            assert not re.search(r"\.(inner|outer)HTML|insertAdjacentHTML|document\.write", text)
            assert "http://" not in text and "https://" not in text, asset
