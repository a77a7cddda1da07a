"""The server as people start it: from the command line, with its defaults."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.server_process import ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[1]


def _get(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        result: dict[str, object] = json.loads(response.read())
        return result


def test_help_lists_settings_and_the_agent_says_it_is_a_placeholder() -> None:
    server = subprocess.run(
        [sys.executable, "-m", "server.cli", "--help"], capture_output=True, text=True, timeout=60
    )
    assert (
        server.returncode == 0
        and "CLASSROOM_DATABASE_URL" in server.stdout
        and "--port" in server.stdout
    )
    agent = subprocess.run(
        [sys.executable, "-m", "classroom_agent.cli", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert agent.returncode == 0 and "classroom-agent" in agent.stdout


def test_no_arguments_serves_an_embedded_database_under_var_of_the_cwd(tmp_path: Path) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if _get(f"http://127.0.0.1:{port}/readyz")["status"] == "ready":
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("server did not become ready")
        assert (tmp_path / "var" / "classroom.db").exists()
        assert (tmp_path / "var" / "secret_key").exists()
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err[-2000:]
    assert f"listening on http://127.0.0.1:{port}/" in out


def test_demo_flag_loads_the_demo_once_and_prints_the_logins(tmp_path: Path) -> None:
    first = ServerProcess(tmp_path, None, "--demo").start()
    try:
        body = _get(first.url + "/healthz")
        assert body["status"] == "ok"
    finally:
        assert first.stop() == 0
    log = first.log.read_text()
    assert "operator / " in log and "agent secrets" in log and "/api/v1/docs" in log
    second = ServerProcess(tmp_path, None, "--demo").start()
    try:
        login = urllib.request.Request(
            second.url + "/api/v1/auth/login",
            method="POST",
            data=json.dumps({"username": "operator", "password": "demo-operator-2026"}).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(login, timeout=10) as response:
            cookie = response.headers["Set-Cookie"].split(";")[0]
        counts = {}
        for name in ("org-units", "sites", "trainees", "sessions"):
            request = urllib.request.Request(
                second.url + f"/api/v1/{name}?limit=1", headers={"Cookie": cookie}
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                counts[name] = json.loads(response.read())["total"]
    finally:
        second.stop()
    assert "already loaded" in second.log.read_text()
    assert counts["org-units"] == 4 and counts["sites"] >= 13 and counts["trainees"] == 200
    assert counts["sessions"] > 0


def test_sigterm_shuts_down_gracefully_and_fast(tmp_path: Path) -> None:
    server = ServerProcess(tmp_path).start()
    started = time.monotonic()
    code = server.stop()
    assert code == 0
    assert time.monotonic() - started < 10
