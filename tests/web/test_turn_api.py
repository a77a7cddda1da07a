"""Browsers ask for their STUN/TURN servers and get their own TURN REST credentials."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from dataclasses import replace

import pytest

from server.config import Config
from server.core.broadcast import make_plan
from server.media.broadcasts import Broadcast, Broadcasts
from server.media.peers import MediaSettings, parse_ice_servers
from tests.conftest import ClientFactory
from tests.core.test_broadcast import SITES

TURN = "turn:turn.example.org:3478?transport=udp"


@pytest.fixture
def config(config: Config) -> Config:
    """The shared test configuration (tests/conftest.py) with STUN, TURN and its REST secret."""
    return replace(
        config,
        media_ice_servers=["stun:stun.example.org:3478", TURN],
        media_turn_secret="coturn-secret",
        media_turn_ttl=600,
    )


async def test_each_caller_gets_its_own_short_lived_turn_credentials(
    client_as: ClientFactory,
) -> None:
    operator = await client_as("operator")
    answer = await operator.get("/api/v1/media/ice-servers")
    assert answer.status == 200 and answer.headers["Cache-Control"] == "no-store"
    body = await answer.json()
    stun, turn = body["ice_servers"]
    assert stun == {"urls": ["stun:stun.example.org:3478"]}  # STUN needs no credentials
    expiry, who = turn["username"].split(":")
    assert re.fullmatch(r"user-\d+", who) and 590 <= int(expiry) - time.time() <= 600
    digest = hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
    assert body["ttl_s"] == 600
    trainee = await (await (await client_as("trainee")).get("/api/v1/media/ice-servers")).json()
    assert re.fullmatch(r"\d+:trainee-\d+", trainee["ice_servers"][1]["username"])
    assert (await (await client_as("anonymous")).get("/api/v1/media/ice-servers")).status == 401


def test_agents_get_theirs_in_the_broadcast_instruction() -> None:
    settings = MediaSettings(
        ice_servers=parse_ice_servers([TURN]), turn_secret="coturn-secret", turn_ttl=600
    )
    broadcasts = Broadcasts(settings, lambda _site, _msg: True, lambda *_a: None)
    plan = make_plan(7, {"source": "main"}, SITES, [1])
    live = Broadcast(plan, relay=None, started_at=0.0)  # type: ignore[arg-type]
    message = broadcasts.instruction(live, 2)
    (turn,) = message["ice_servers"]
    assert turn["urls"] == [TURN] and turn["username"].endswith(":site-2")
    digest = hmac.new(b"coturn-secret", turn["username"].encode(), hashlib.sha1).digest()
    assert turn["credential"] == base64.b64encode(digest).decode()
