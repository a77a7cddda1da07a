"""Stopping the app stops what it owns: a floor grant's expiry and a roll call's close still
waiting are cancelled, the check-in writer is closed and so are the live sockets' batched reads
(nothing is left running after it)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

from server.config import Config
from server.web.app import create_app
from server.web.keys import ADMISSION, CHECKIN_WRITER, TIMERS
from tests.conftest import World
from tests.web.http_helpers import expect_ok as _ok


def _timer_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the roll-call and floor timers (by the module of their coroutine)."""
    found = []
    for task in asyncio.all_tasks():
        code = getattr(task.get_coro(), "cr_code", None)
        if code is not None and any(
            part in code.co_filename for part in ("rollcall", "floor", "qa_api")
        ):
            found.append(task)
    return found


async def test_stopping_the_app_cancels_its_timers_and_closes_the_check_in_writer(
    aiohttp_server: Any, aiohttp_client: Any, config: Config, world: World
) -> None:
    app = create_app(replace(config))
    server = await aiohttp_server(app)
    op = await aiohttp_client(server)
    r = await op.post(
        "/api/v1/auth/login",
        json={"username": "operator", "password": world.passwords["operator"]},
    )
    op.session.headers["X-CSRF-Token"] = (await _ok(r))["csrf_token"]
    sid = world.session_id
    await _ok(await op.post(f"/api/v1/sessions/{sid}/start"))
    await _ok(
        await op.post(
            f"/api/v1/sessions/{sid}/floor/grant",
            json={"site_id": world.site_id, "time_limit": 600},
        )
    )
    await _ok(await op.post(f"/api/v1/sessions/{sid}/roll-calls", json={"seconds": 60}), 201)
    timers, writer = app[TIMERS], app[CHECKIN_WRITER]
    assert timers.pending() == 2  # the grant's expiry and the roll call's close, both waiting

    await server.close()

    assert timers.pending() == 0
    assert _timer_tasks() == []
    assert writer.closed
    # a late job is not started once the app has stopped
    ran: list[int] = []

    async def job() -> None:
        ran.append(1)

    timers.later(0, job, "a late job")
    await asyncio.sleep(0.05)
    assert ran == [] and timers.pending() == 0


async def test_stopping_the_app_closes_the_live_sockets_batched_reads(
    aiohttp_server: Any, config: Config, world: World
) -> None:
    app = create_app(replace(config))
    server = await aiohttp_server(app)
    admission = app[ADMISSION]
    asked = asyncio.ensure_future(admission.session_snapshot(world.session_id))
    await asyncio.sleep(0)  # asked: its read is on its way when the app stops

    await server.close()

    await asyncio.wait([asked], timeout=5)
    assert asked.done()  # answered before the stop, or cancelled by it: never left waiting
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("batcher:")] == []
    reads = admission.snapshots.reads
    # no read starts once the app has stopped (its database is gone)
    with pytest.raises(RuntimeError, match="closed"):
        await admission.session_snapshot(world.session_id)
    with pytest.raises(RuntimeError, match="closed"):
        await admission.principal("a-token")
    assert admission.snapshots.reads == reads
