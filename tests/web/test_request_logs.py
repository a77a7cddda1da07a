"""Request lines: off at INFO unless asked for (log_requests), and when on they name the client
and the user. Noisy libraries stay quiet at INFO. Redirects are counted as what they are."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

import pytest

from server.config import Config
from server.logs import configure_logging
from server.web.app import create_app
from tests.conftest import World


def _request_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == "request"]


async def _sign_in_and_list_sites(client: Any, world: World) -> None:
    login = await client.post(
        "/api/v1/auth/login",
        json={"username": "operator", "password": world.passwords["operator"]},
    )
    assert login.status == 200
    assert (await client.get("/api/v1/sites")).status == 200


async def test_request_lines_are_off_at_info_by_default(
    aiohttp_client: Any, config: Config, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(create_app(config))
    with caplog.at_level(logging.INFO, logger="server"):
        await _sign_in_and_list_sites(client, world)
    assert _request_records(caplog) == []
    with caplog.at_level(logging.DEBUG, logger="server"):
        assert (await client.get("/api/v1/sites")).status == 200
    (line,) = _request_records(caplog)
    assert line.levelno == logging.DEBUG


async def test_log_requests_names_the_client_and_the_user(
    aiohttp_client: Any, config: Config, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = await aiohttp_client(create_app(replace(config, log_requests=True)))
    with caplog.at_level(logging.INFO, logger="server"):
        await _sign_in_and_list_sites(client, world)
    login, sites = _request_records(caplog)
    assert login.levelno == logging.INFO and login.__dict__["user_id"] is None
    entry = sites.__dict__
    assert entry["path"] == "/api/v1/sites" and entry["status"] == 200
    assert entry["client"] == "127.0.0.1" and entry["actor"] == "operator"
    assert isinstance(entry["user_id"], int) and entry["request_id"]


async def test_a_redirect_is_counted_as_302_not_500(aiohttp_client: Any, config: Config) -> None:
    client = await aiohttp_client(create_app(config))
    response = await client.get("/operator", allow_redirects=False)
    assert response.status == 302 and response.headers["Location"] == "/operator/"
    text = await (await client.get("/metrics")).text()
    assert 'route="/operator",status="302"' in text
    assert 'status="500"' not in text


def test_aioice_info_lines_are_off_at_info_and_on_at_debug() -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO")
        ice = logging.getLogger("aioice.ice")
        assert not ice.isEnabledFor(logging.INFO) and ice.isEnabledFor(logging.WARNING)
        assert logging.getLogger("server.web").isEnabledFor(logging.INFO)
        configure_logging("DEBUG")
        assert ice.isEnabledFor(logging.INFO)
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name in ("aioice", "aiortc"):
            logging.getLogger(name).setLevel(logging.NOTSET)
