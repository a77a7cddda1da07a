"""`pip install .` as README and docs/deploy.md say: the wheel carries the pages.

The wheel is built from a copy of the source tree (the checkout stays clean), installed into a
fresh virtualenv (pip resolves the dependencies from its configured index and its cache), and
the installed ``classroom-server`` is started from an empty directory, where no source tree is
near. Every page and every file of web_client/ must then come back byte for byte, and the
media fast path's C part (setup.py) was compiled by the wheel build, not copied from the checkout.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from tests.server_process import free_port

ROOT = Path(__file__).resolve().parents[1]
PAGES = ("/", "/operator/", "/trainee/", "/screen/", "/api/v1/docs")


def _run(cmd: list[str], cwd: Path, timeout: float) -> None:
    result = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{cmd}: {result.stdout[-2000:]}\n{result.stderr[-3000:]}"


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return int(response.status), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _build_wheel(tmp: Path) -> Path:
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.so")  # the checkout's own build
    for name in ("server", "classroom_agent", "web_client"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), "."],
        source,
        300,
    )
    (wheel,) = (tmp / "dist").glob("classroom_orchestrator-*.whl")
    return wheel


def test_wheel_installs_a_server_that_serves_every_page_from_an_empty_directory(
    tmp_path: Path,
) -> None:
    wheel = _build_wheel(tmp_path)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", str(venv)], tmp_path, 120)
    _run([str(venv / "bin/pip"), "install", "-q", str(wheel)], tmp_path, 600)
    # the installed package, not the checkout: nothing of the source tree on the path
    where = subprocess.run(
        [
            str(venv / "bin/python"),
            "-c",
            "import server, web_client, server.media._rtpsend as c; print(server.__file__, c)",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert where.returncode == 0, where.stderr
    assert "site-packages" in where.stdout

    empty = tmp_path / "empty"
    empty.mkdir()
    port = free_port()
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [str(venv / "bin/classroom-server"), "--port", str(port)],
        cwd=empty,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert proc.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            try:
                if _get(base + "/readyz")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("the installed server did not become ready")
        for page in PAGES:
            status, body = _get(base + page)
            assert status == 200 and b"<html" in body.lower(), page
        files = [p for p in (ROOT / "web_client").rglob("*") if p.is_file()]
        assert len(files) > 20
        for path in files:
            rel = path.relative_to(ROOT / "web_client").as_posix()
            status, body = _get(f"{base}/static/{rel}")
            assert (status, body) == (200, path.read_bytes()), rel
        assert (empty / "var" / "classroom.db").exists()  # the data dir is the cwd's ./var
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
