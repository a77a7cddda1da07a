"""A subscription that the server cannot answer because Redis does not answer in time.

Before, the topic stayed *held* on the still-open socket: the page got an ``error`` it does not
act on, every later event of that topic was queued behind the unanswered subscription and
never sent, and the wall silently stopped (seen once in a full CI run, under load, in the
node-failover test). Now the socket is closed with 1013 (try again later): the page reconnects
with back-off, subscribes with its cursors and follows the topic again.
"""

from __future__ import annotations

import signal
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp

from server.config import Config
from server.web.app import create_app
from server.web.checkin.events import ALERTS_TOPIC
from server.web.hub import CLOSE_TRY_AGAIN
from server.web.keys import LIVE
from tests.cluster_helpers import RedisServer
from tests.conftest import World
from tests.web.live_helpers import browser_socket


async def test_an_unanswerable_subscription_closes_the_socket_and_the_page_follows_again(
    aiohttp_client: Any, aiohttp_server: Any, config: Config, world: World, tmp_path: Path
) -> None:
    redis = RedisServer(tmp_path / "redis").start()
    try:
        prefix = f"test:{uuid.uuid4().hex[:10]}:"
        server = await aiohttp_server(
            create_app(replace(config, redis_url=redis.url, redis_prefix=prefix))
        )
        client = await aiohttp_client(server)
        r = await client.post(
            "/api/v1/auth/login",
            json={"username": "operator", "password": world.passwords["operator"]},
        )
        assert r.status == 200, await r.text()
        page = await browser_socket(client)

        assert redis.proc is not None
        redis.proc.send_signal(signal.SIGSTOP)  # Redis hangs: its socket is open, nothing comes
        try:
            await page.subscribe(ALERTS_TOPIC)
            seen: list[Any] = []
            for _ in range(10):  # the bus gives up after its 1 s operation timeout
                try:
                    msg = await page.ws.receive(timeout=10)
                except TimeoutError:  # the socket stayed open with nothing more to say
                    break
                seen.append((msg.type, msg.data))
                if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                    break
        finally:
            redis.proc.send_signal(signal.SIGCONT)
        assert seen[-1][0] == aiohttp.WSMsgType.CLOSE, seen
        assert page.ws.close_code == CLOSE_TRY_AGAIN, seen

        # the page reconnects, subscribes again and follows the topic's events
        again = await browser_socket(client)
        await again.subscribe(ALERTS_TOPIC)
        answer = await again.expect("resync", timeout=10, topic=ALERTS_TOPIC)
        await server.app[LIVE].bus.publish(ALERTS_TOPIC, "checkin_alert", {"n": 1})
        event = await again.expect("event", timeout=10, topic=ALERTS_TOPIC)
        assert event["seq"] == answer["seq"] + 1 and event["data"] == {"n": 1}
        await again.ws.close()
    finally:
        redis.stop()
