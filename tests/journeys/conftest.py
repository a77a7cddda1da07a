"""Fixtures of the journeys: a real server process on a free port (fresh SQLite database with
the demo data), real classroom agents (``--source testpattern``) for the rooms that must be
online, one Debian chromium per journey module, and a Journey (browser windows per person,
screenshots under test-artifacts/journeys/<journey>/, a last one of every page when it fails)."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser.session_helpers import Api
from tests.chromium import chromium
from tests.journeys.helpers import CHROMIUM_ARGS, Journey, camera_file
from tests.server_process import ServerProcess
from tests.site_agent import agent_process


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    clip = camera_file(tmp_path_factory.mktemp("camera") / "camera.y4m")
    args = [*CHROMIUM_ARGS, f"--use-file-for-fake-video-capture={clip}"]
    with chromium(args) as browser:
        yield browser


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    """The real server: demo data in a fresh SQLite file, media offered on loopback only."""
    env = {"CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1", "CLASSROOM_MEDIA_RECORD": "false"}
    with ServerProcess(tmp_path / "server", None, "--demo", env=env) as process:
        yield process


@pytest.fixture
def admin(server: ServerProcess) -> Api:
    """Set-up only (what a journey does not cover): the demo admin through the API."""
    return Api(server.url).login("admin")


@pytest.fixture
def journey(
    request: pytest.FixtureRequest, browser: Any, server: ServerProcess
) -> Iterator[Journey]:
    name = request.node.name.removeprefix("test_").split("[")[0]
    trip = Journey(name, browser, server)
    began = time.monotonic()
    yield trip
    trip.close()
    print(f"journey {name}: {time.monotonic() - began:.1f} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    trip = getattr(item, "funcargs", {}).get("journey")
    if outcome.get_result().when == "call" and outcome.get_result().failed and trip:
        trip.shoot("FAILED-here")  # where the journey stopped, every page, agents still up


AgentStarter = Callable[..., subprocess.Popen[bytes]]


@pytest.fixture
def agents(server: ServerProcess, tmp_path: Path) -> Iterator[AgentStarter]:
    """``agents(site_id, secret, source="testpattern")`` starts a real classroom agent process
    for that room; every agent started is stopped (SIGTERM, then SIGKILL) at the end."""
    started: list[subprocess.Popen[bytes]] = []

    def start(site_id: int, secret: str, source: str = "testpattern") -> subprocess.Popen[bytes]:
        state = tmp_path / f"agent-{site_id}"
        state.mkdir(parents=True, exist_ok=True)
        proc = agent_process(server.url, secret, state, source)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc in started:
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
