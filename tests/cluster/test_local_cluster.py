"""``deploy/local_cluster.py``: N real server processes behind a local balancer (the built-in
Python one and Debian's nginx). Requests and WebSocket upgrades pass through it, reach every
node, fail over when a node is killed, and ``stop()`` ends every process it started."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest

from deploy.local_cluster import ROOT, LocalCluster, nginx_available
from tests.cluster_helpers import shared_backends, staff_login
from tests.server_process import free_port

TIMEOUT = aiohttp.ClientTimeout(total=10)


async def _hello_node(http: aiohttp.ClientSession, base: str) -> str:
    async with http.ws_connect(base + "/ws/client") as ws:
        hello = await ws.receive_json(timeout=5)
        assert hello["type"] == "hello"
        return str(hello["node_id"])


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie of ours would still answer; Popen.wait() reaped ours in stop()
    return False


@pytest.mark.parametrize("balancer", ["python", "nginx"])
async def test_balancer_spreads_fails_over_and_stop_ends_everything(
    tmp_path: Path, balancer: str
) -> None:
    if balancer == "nginx" and nginx_available() is None:
        pytest.fail("nginx is not installed: run deploy/test-services.sh")
    async with shared_backends(tmp_path, log_level="WARNING") as backends:
        cluster = LocalCluster(tmp_path / "cluster", 2, backends.env, balancer)
        await asyncio.to_thread(cluster.start)
        pids = cluster.pids()
        try:
            assert len(pids) == 3
            async with aiohttp.ClientSession(
                cookie_jar=aiohttp.CookieJar(unsafe=True), timeout=TIMEOUT
            ) as http:
                await staff_login(http, cluster.url, backends.world, "operator")
                seen = {await _hello_node(http, cluster.url) for _ in range(6)}
                assert seen == {"node-a", "node-b"}  # upgrades pass and reach both nodes

                cluster.nodes[0].kill()
                killed_at = time.monotonic()
                statuses = []
                for _ in range(10):  # every request after the kill lands on the live node
                    async with http.get(cluster.url + "/api/v1/sessions") as r:
                        statuses.append(r.status)
                nodes = {await _hello_node(http, cluster.url) for _ in range(4)}
                took = time.monotonic() - killed_at
                assert statuses == [200] * 10
                assert nodes == {"node-b"}
                assert took < 5.0
        finally:
            await asyncio.to_thread(cluster.stop)
        assert cluster.running() == []
        assert all(_gone(pid) for pid in pids)


async def test_local_cluster_command_starts_and_stops_everything(tmp_path: Path) -> None:
    """The command itself: SIGTERM stops the balancer and every node it started."""
    async with shared_backends(tmp_path, log_level="WARNING") as backends:
        port = free_port()
        env = {**os.environ, **backends.env, "PYTHON": sys.executable}
        cmd = [str(ROOT / "deploy" / "local-cluster"), "--nodes", "2", "--port", str(port)]
        cmd += ["--balancer", "python", "--work-dir", str(tmp_path / "cmd")]
        cmd += ["--redis-prefix", backends.env["CLASSROOM_REDIS_PREFIX"]]
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            lines: list[str] = []
            deadline = time.monotonic() + 60
            assert proc.stdout is not None
            while time.monotonic() < deadline:
                line = (await asyncio.to_thread(proc.stdout.readline)).decode()
                if not line:
                    break
                lines.append(line)
                if line.startswith("  logs:"):
                    break
            pids = [int(x.rsplit("pid ", 1)[1]) for x in lines if " pid " in x]
            assert len(pids) == 3, "".join(lines)  # the balancer and two nodes
            async with (
                aiohttp.ClientSession(timeout=TIMEOUT) as http,
                http.get(f"http://127.0.0.1:{port}/readyz") as r,
            ):
                assert r.status == 200
            proc.terminate()
            out = (await asyncio.to_thread(proc.communicate, None, 30))[0].decode()
            assert "local-cluster: stopped" in out
            assert all(_gone(pid) for pid in pids)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
