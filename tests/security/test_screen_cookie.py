"""Issue 14 item 3 against a real server process: the kiosk screen's cookie cannot be forged
from the database, cannot live for ever, and the data files are the server user's alone."""

from __future__ import annotations

import base64
import hmac
import stat
from pathlib import Path

import aiohttp
from sqlalchemy import select

from server.config import Config
from server.core.checkin_guard import SCREEN_MAX_DAYS, derive_key, screen_mac
from server.store import db as store_db
from server.store.models import Site, utcnow
from server.web.auth import SESSION_COOKIE
from tests.security.checkin_world import KEY, TIMEOUT, answer, healthy, running_server, seed_rooms
from tests.server_process import ServerProcess


async def _secret_hash(data_dir: Path, site_id: int) -> str:
    engine = store_db.create_engine(Config(data_dir=str(data_dir)).effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db:
            found = await db.scalar(select(Site.secret_hash).where(Site.id == site_id))
    finally:
        await engine.dispose()
    assert found is not None
    return str(found)


async def _as_cookie(base: str, token: str) -> tuple[str, int, dict[str, object]]:
    """Who /auth/me says the cookie is, and what marking a trainee present with it gives."""
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=base, cookie_jar=jar, timeout=TIMEOUT) as http:
        http.cookie_jar.update_cookies({SESSION_COOKIE: token})
        async with http.get("/api/v1/auth/me") as r:
            actor = str((await r.json())["actor"])
        async with http.post("/api/v1/sessions/1/attendance/mark", json={"trainee_id": 1}) as r:
            status, body = await answer(r)
    return actor, status, body


async def test_a_screen_cookie_forged_from_the_database_or_far_in_the_future_is_refused(
    tmp_path: Path,
) -> None:
    rooms = await seed_rooms(tmp_path / "server")
    site = rooms.world.site_id
    secret_hash = await _secret_hash(rooms.data_dir, site)
    async with running_server(rooms.data_dir) as server:
        # The genuine screen sign-in works.
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(base_url=server.url, cookie_jar=jar) as screen:
            async with screen.post(
                "/api/v1/auth/screen", json={"secret": rooms.world.site_secret}
            ) as r:
                assert r.status == 200
            good = next(c.value for c in jar if c.key == SESSION_COOKIE)
        assert (await _as_cookie(server.url, good))[0] == "site_agent"

        # Forged with the secret hash read from the database (the old MAC): refused.
        expires = int(utcnow().timestamp()) + 86400
        mac = hmac.new(
            secret_hash.encode(), f"classroom-screen:v1:{site}:{expires}".encode(), "sha256"
        )
        forged = (
            f"scr1.{site}.{expires}.{base64.urlsafe_b64encode(mac.digest()).decode().rstrip('=')}"
        )
        actor, status, body = await _as_cookie(server.url, forged)
        assert actor == "anonymous" and status == 401, body

        # Even signed with the server's own key, an expiry in the year 5138 is refused.
        key = derive_key(KEY, "screen")
        for far in (99_999_999_999, int(utcnow().timestamp()) + (SCREEN_MAX_DAYS + 2) * 86400):
            token = f"scr1.{site}.{far}.{screen_mac(key, secret_hash, 'v1', site, far)}"
            actor, status, _ = await _as_cookie(server.url, token)
            assert actor == "anonymous" and status == 401
        assert await healthy(server.url) < 1.0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_install_creates_its_data_files_for_its_own_user_only(tmp_path: Path) -> None:
    """``make run`` on a fresh data directory (demo data, with its recording): every directory
    the server made is 0700 and every file 0600."""
    data_dir = tmp_path / "fresh"
    log = tmp_path / "server.log"  # the test's own log, outside the data directory
    server = ServerProcess(data_dir, None, "--demo", env={"CLASSROOM_SECRET_KEY": ""})
    server.log = log
    server.start(90.0)
    try:
        assert await healthy(server.url) < 1.0
    finally:
        server.stop()
    assert _mode(data_dir) == 0o700
    assert _mode(data_dir / "secret_key") == 0o600
    assert _mode(data_dir / "classroom.db") == 0o600
    made = list(data_dir.rglob("*"))
    assert len(made) >= 3, made
    for path in made:
        assert _mode(path) == (0o700 if path.is_dir() else 0o600), (path, oct(_mode(path)))
