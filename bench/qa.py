"""Q&A under load on TWO server processes sharing PostgreSQL and Redis.

1. 2,000 trainee browser sockets (half on each process) subscribe to the session; a moderator
   puts a question on air: the time until every socket has ``question_on_air`` (p50, p99, max).
2. The sockets are closed; 1,000 trainees each ask one question, spread evenly over 10 s and
   across both processes: acknowledgement latency (p50, p99, max) and that none is lost (every
   acknowledged question is listed, and the list holds exactly the questions asked).

Needs PostgreSQL (CLASSROOM_TEST_PG, as the tests) and Redis on 127.0.0.1:6379.
Run: .venv/bin/python bench/qa.py [--browsers 2000] [--burst 1000] [--seconds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
import redis.asyncio as aioredis  # noqa: E402

from bench.measure import arguments, pct, run_and_report  # noqa: E402
from server.config import Config  # noqa: E402
from server.store import db as store_db  # noqa: E402
from tests.cluster_helpers import seed_trainees  # noqa: E402
from tests.conftest import create_pg_database, seed_world  # noqa: E402
from tests.server_process import LOAD_TEST_ENV, ServerProcess  # noqa: E402
from tests.web.live_helpers import unbatched  # noqa: E402

REDIS_URL = "redis://127.0.0.1:6379/0"


def summary(values: list[float]) -> str:
    ms = [v * 1000 for v in values]
    return f"p50 {pct(ms, 50):.1f} ms, p99 {pct(ms, 99):.1f} ms, max {max(ms):.1f} ms"


def headers(token: str) -> dict[str, str]:
    return {"Cookie": f"classroom_session={token}", "X-CSRF-Token": "c"}


class Browser:
    def __init__(self) -> None:
        self.on_air: float | None = None
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.reader: asyncio.Task[None] | None = None
        self.subscribed = asyncio.Event()

    async def start(self, http: aiohttp.ClientSession, url: str, token: str, topic: str) -> None:
        self.ws = await http.ws_connect(url + "/ws/client", headers=headers(token))
        await self.ws.send_str(json.dumps({"type": "subscribe", "topics": [topic]}))
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        assert self.ws is not None
        async for msg in self.ws:
            for message in unbatched(msg.data):
                if message.get("type") == "resync":
                    self.subscribed.set()
                elif message.get("type") == "event" and message.get("kind") == "question_on_air":
                    self.on_air = self.on_air or time.monotonic()


async def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-qa-"))
    url, drop = await create_pg_database()
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    nodes: list[ServerProcess] = []
    try:
        await store_db.migrate(url)
        world = await seed_world(Config(data_dir=str(work), database_url=url))
        tokens = [
            token
            for _, token in await seed_trainees(url, world, max(args.browsers, args.burst) + 1)
        ]
        env = {
            **LOAD_TEST_ENV,
            "CLASSROOM_DATABASE_URL": url,
            "CLASSROOM_REDIS_URL": REDIS_URL,
            "CLASSROOM_REDIS_PREFIX": prefix,
            "CLASSROOM_LOG_LEVEL": "WARNING",
            "CLASSROOM_DB_POOL_SIZE": "20",
        }
        for name in ("a", "b"):
            nodes.append(
                ServerProcess(work / name, env={**env, "CLASSROOM_NODE_ID": f"node-{name}"}).start()
            )
        urls = [n.url for n in nodes]
        sid = world.session_id
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar()
        ) as http:
            login = await http.post(
                urls[0] + "/api/v1/auth/login",
                json={"username": "moderator", "password": world.passwords["moderator"]},
            )
            assert login.status == 200
            mod_cookie = login.cookies["classroom_session"].value
            mod = {
                "Cookie": f"classroom_session={mod_cookie}",
                "X-CSRF-Token": (await login.json())["csrf_token"],
            }
            # -- 1. on air to 2,000 sockets --
            browsers = [Browser() for _ in range(args.browsers)]
            started = time.monotonic()
            for i in range(0, len(browsers), 100):
                await asyncio.gather(
                    *(
                        b.start(http, urls[(i + j) % 2], tokens[i + j + 1], f"session:{sid}")
                        for j, b in enumerate(browsers[i : i + 100])
                    )
                )
            await asyncio.wait_for(
                asyncio.gather(*(b.subscribed.wait() for b in browsers)), timeout=60
            )
            print(
                f"{len(browsers)} browser sockets subscribed on 2 processes "
                f"in {time.monotonic() - started:.1f} s"
            )
            r = await http.post(
                f"{urls[0]}/api/v1/sessions/{sid}/questions",
                json={"text": "请嘉宾谈谈如何为基层减负"},
                headers=headers(tokens[0]),
            )
            question = (await r.json())["id"]
            await asyncio.sleep(1.0)
            t0 = time.monotonic()
            r = await http.post(f"{urls[1]}/api/v1/questions/{question}/on-air", headers=mod)
            acked = time.monotonic() - t0
            assert r.status == 200, await r.text()
            deadline = t0 + 30
            while time.monotonic() < deadline and any(b.on_air is None for b in browsers):
                await asyncio.sleep(0.01)
            got = [b.on_air - t0 for b in browsers if b.on_air is not None]
            print(
                f"on air (request answered in {acked * 1000:.1f} ms): "
                f"{len(got)}/{len(browsers)} sockets have it; {summary(got)}"
            )
            for b in browsers:
                if b.ws is not None:
                    await b.ws.close()

            # -- 2. a burst of questions --
            await http.put(
                f"{urls[0]}/api/v1/sessions/{sid}/qa-settings",
                json={"rate_limit": 3},
                headers=mod,
            )
            latencies: list[float] = []
            ids: set[int] = set()
            failures: list[str] = []
            interval = args.seconds / args.burst
            begin = time.monotonic()

            async def ask(i: int) -> None:
                await asyncio.sleep(max(0.0, begin + i * interval - time.monotonic()))
                t = time.monotonic()
                async with http.post(
                    f"{urls[i % 2]}/api/v1/sessions/{sid}/questions",
                    json={"text": f"第{i}个问题：请问……", "client_id": f"burst-{i}"},
                    headers=headers(tokens[i + 1]),
                ) as response:
                    body = await response.json()
                    if response.status != 201:
                        failures.append(f"{response.status}: {body}")
                        return
                latencies.append(time.monotonic() - t)
                ids.add(body["id"])

            await asyncio.gather(*(ask(i) for i in range(args.burst)))
            took = time.monotonic() - begin
            listed: set[int] = set()
            offset = 0
            while True:
                async with http.get(
                    f"{urls[1]}/api/v1/sessions/{sid}/questions?order=time&limit=500"
                    f"&offset={offset}",
                    headers=mod,
                ) as response:
                    page = await response.json()
                listed |= {q["id"] for q in page["items"]}
                offset += 500
                if offset >= page["total"]:
                    break
            lost = ids - listed
            print(
                f"burst: {len(latencies)}/{args.burst} acknowledged in {took:.1f} s; "
                f"ack {summary(latencies) if latencies else 'n/a'}; refused {len(failures)}; "
                f"lost {len(lost)}; listed {len(listed)} (incl. the on-air question)"
            )
            if failures:
                print("first refusals:", failures[:3])
    finally:
        for node in nodes:
            node.stop()
        await drop()
        client = aioredis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--browsers", type=int, default=2000)
    parser.add_argument("--burst", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    run_and_report(run(parser.parse_args()))


if __name__ == "__main__":
    main()
