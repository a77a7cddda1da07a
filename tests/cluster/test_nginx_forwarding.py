"""Debian's nginx with the shipped deploy/nginx/classroom.conf in front of a real server: the
client's address, the Host, and nginx's request id reach the server on HTTP and on a WebSocket
upgrade; the server believes them only from its trusted proxy.

The client connects from 127.0.0.2 (any 127/8 address is loopback on Linux) so that its address
differs from nginx's own (127.0.0.1, the trusted proxy), and forges an X-Forwarded-For, which
must be ignored.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from tests.cluster.test_deploy_files import _nginx, production_nginx_conf
from tests.server_process import ServerProcess, free_port

PASSWORD = "Tr4ining-Office!"
HOST = "classroom.test"
CLIENT = "127.0.0.2"
FORGED = {"X-Forwarded-For": "6.6.6.6", "X-Real-IP": "6.6.6.6"}


def _request_lines(log: Path) -> list[dict[str, Any]]:
    lines = []
    for raw in log.read_text(errors="replace").splitlines():
        if raw.startswith("{") and '"msg": "request"' in raw:
            lines.append(json.loads(raw))
    return lines


def _line_for(log: Path, path: str, deadline_s: float = 10.0) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        found = [line for line in _request_lines(log) if line["path"] == path]
        if found:
            return found[-1]
        time.sleep(0.1)
    raise AssertionError(f"no request line for {path}: {log.read_text()[-2000:]}")


def _start_nginx(conf: Path, prefix: Path, port: int) -> subprocess.Popen[bytes]:
    args = ["-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
    proc = subprocess.Popen(
        [_nginx(), *args, "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        assert proc.poll() is None, (prefix / "error.log").read_text()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("nginx did not listen")


async def test_client_address_host_and_request_id_reach_the_server_through_nginx(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    command = ["create-admin", "head", "--password-file", "/dev/stdin"]
    created = subprocess.run(
        [sys.executable, "-m", "server.cli", "--data-dir", str(data), *command],
        input=PASSWORD,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert created.returncode == 0, created.stderr
    https = free_port()
    env = {
        "CLASSROOM_TRUSTED_PROXIES": "127.0.0.1",
        "CLASSROOM_LOG_REQUESTS": "true",
        "CLASSROOM_ALLOWED_ORIGINS": f"https://{HOST}",
    }
    server = ServerProcess(data, env=env).start()
    nginx = _start_nginx(
        production_nginx_conf(tmp_path / "nginx", server.port, https), tmp_path / "nginx", https
    )
    try:
        base = f"https://127.0.0.1:{https}"
        connector = aiohttp.TCPConnector(ssl=False, local_addr=(CLIENT, 0))
        jar = aiohttp.CookieJar(unsafe=True)
        async with aiohttp.ClientSession(connector=connector, cookie_jar=jar) as http:
            headers = {"Host": HOST, **FORGED}
            async with http.post(
                base + "/api/v1/auth/login",
                json={"username": "head", "password": PASSWORD},
                headers=headers,
            ) as response:
                assert response.status == 200, await response.text()
                login_id = response.headers["X-Request-Id"]
            async with http.get(base + "/api/v1/auth/me", headers=headers) as response:
                assert response.status == 200
            async with http.get(base + "/metrics", headers=headers) as response:
                assert response.status == 404  # never proxied to the public (metrics_public)
            async with http.ws_connect(
                f"wss://127.0.0.1:{https}/ws/client",
                headers={**headers, "Origin": f"https://{HOST}"},
            ) as ws:
                hello = await ws.receive_json(timeout=10)
                assert hello["type"] == "hello" and hello["actor"] == "admin"
                await ws.close()
        login = _line_for(server.log, "/api/v1/auth/login")
        assert login["client"] == CLIENT  # not nginx's 127.0.0.1, not the forged 6.6.6.6
        assert login["host"] == HOST  # not "classroom_nodes"
        assert len(login["request_id"]) == 32 and login["request_id"] == login_id  # nginx's
        me = _line_for(server.log, "/api/v1/auth/me")
        assert me["client"] == CLIENT and me["user_id"] == 1 and me["actor"] == "admin"
        socket_line = _line_for(server.log, "/ws/client")
        assert socket_line["status"] == 101
        assert socket_line["client"] == CLIENT and socket_line["host"] == HOST
        assert len(socket_line["request_id"]) == 32

        # Straight to the server (no proxy): the forged headers are not believed.
        direct = aiohttp.TCPConnector(local_addr=(CLIENT, 0))
        async with (
            aiohttp.ClientSession(connector=direct) as http,
            http.get(f"{server.url}/api/v1/auth/me", headers=FORGED) as response,
        ):
            assert response.status == 200
        lines = [line for line in _request_lines(server.log) if line["path"] == "/api/v1/auth/me"]
        assert lines[-1]["client"] == CLIENT and lines[-1]["user_id"] is None
    finally:
        nginx.terminate()
        nginx.wait(timeout=15)
        server.stop()
