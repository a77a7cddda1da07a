"""How fast can a trainee at home guess the check-in code? (issue 14 item 1)

Starts a real ``classroom-server`` process (SQLite) with one live session of ``--sites`` rooms,
signs one trainee in (the trainee's home room takes part) and sends wrong typed codes as fast as
one client on loopback can, for ``--seconds`` or ``--tries``. Prints the tries per second, how
many codes the server actually compared (answers other than 429) and the compared-guess rate:
the rate that decides how long guessing takes. Works on any revision of the server (it only
uses the public API), so it measures the rate before and after the guard.

Run: .venv/bin/python bench/checkin_guess.py [--sites 15] [--seconds 20] [--tries 5000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path.cwd()
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from server.config import Config  # noqa: E402
from server.core.checkin import current_code  # noqa: E402
from server.store import db as store_db  # noqa: E402
from server.store.models import ClassSession, Site  # noqa: E402
from server.web.checkin.service import checkin_secret  # noqa: E402
from tests.conftest import seed_world  # noqa: E402
from tests.security.checkin_world import go_live  # noqa: E402
from tests.server_process import ServerProcess  # noqa: E402

KEY = "bench-guess-secret-key-0123456789"


async def seed(data_dir: Path, sites: int) -> tuple[int, int, str]:
    config = Config(data_dir=str(data_dir), secret_key=KEY)
    await store_db.migrate(config.effective_database_url)
    world = await seed_world(config)
    engine = store_db.create_engine(config.effective_database_url)
    try:
        async with store_db.session_factory(engine)() as db, db.begin():
            session = await db.get(ClassSession, world.session_id)
            assert session is not None
            extra = [Site(name=f"分课堂{n}", code=f"B{n}") for n in range(max(0, sites - 2))]
            db.add_all(extra)
            await db.flush()
            await db.run_sync(lambda _: session.sites.extend(extra))
            await go_live(
                db,
                world.session_id,
                scheduled_ago=timedelta(minutes=5),
                started_ago=timedelta(0),
                ends_in=timedelta(hours=3),
            )
    finally:
        await engine.dispose()
    return world.session_id, world.site_id, world.trainee_code


async def guess(
    base: str, session_id: int, site_id: int, code: str, args: argparse.Namespace
) -> None:
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(base_url=base, cookie_jar=jar) as http:
        async with http.post("/api/v1/auth/join", json={"code": code}) as r:
            assert r.status == 200, await r.text()
            http.headers["X-CSRF-Token"] = (await r.json())["csrf_token"]
        answers: Counter[str] = Counter()
        started = time.monotonic()
        tries = 0
        while tries < args.tries and time.monotonic() - started < args.seconds:
            right = current_code(checkin_secret(KEY), str(site_id), str(session_id), time.time())
            wrong = f"{(int(right.code) + 1 + tries) % 1_000_000:06d}"
            async with http.post(
                f"/api/v1/sessions/{session_id}/checkin",
                json={"code": wrong, "client_id": f"guess-{tries}"},
            ) as r:
                body = await r.json(content_type=None)
                answers[str(r.status) if r.status == 200 else body["error"]["code"]] += 1
            tries += 1
        elapsed = time.monotonic() - started
    compared = sum(n for k, n in answers.items() if k != "checkin.too_many_attempts")
    print(f"sites={args.sites} tries={tries} in {elapsed:.1f} s = {tries / elapsed:.0f}/s")
    print(f"answers: {dict(answers)}")
    print(f"codes compared: {compared} = {compared / elapsed:.2f}/s")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", type=int, default=15)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--tries", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "server"
        session_id, site_id, code = await seed(data_dir, args.sites)
        server = ServerProcess(data_dir, env={"CLASSROOM_SECRET_KEY": KEY})
        server.start(60.0)
        try:
            await guess(server.url, session_id, site_id, code, args)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
