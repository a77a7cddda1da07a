"""A local cluster on this machine: N ``classroom-server`` processes sharing one PostgreSQL and
one Redis, behind a small balancer, for the tests and benchmarks. ``deploy/local-cluster`` is
the command; tests import :class:`LocalCluster`.

Balancers:

- ``python`` (always there): :class:`Balancer`, a TCP round-robin proxy run as its own process
  (``local_cluster.py balance``). It passes WebSocket upgrades untouched (it only copies
  bytes) and fails over when connecting to a node fails: a killed node refuses connections at
  once, so a client that reconnects lands on a live node. A node that refused is skipped for
  ``down_for`` seconds.
- ``nginx`` (Debian's nginx): a generated configuration with the same upstream rules as
  ``deploy/nginx/classroom.conf`` (WebSocket upgrade, ``proxy_next_upstream error``).

Everything started is stopped by :meth:`LocalCluster.stop` (and on Ctrl-C / SIGTERM by the
command), by process id: nodes with SIGTERM, then SIGKILL if they do not exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers 200; raise if ``proc`` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def _stop_process(proc: subprocess.Popen[bytes] | None, timeout: float = 15.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


# --------------------------------------------------------------------------------------------
# Server nodes
# --------------------------------------------------------------------------------------------


class Node:
    """One ``classroom-server`` process on a free port."""

    def __init__(
        self, name: str, data_dir: Path, env: dict[str, str], port: int | None = None
    ) -> None:
        self.name = name
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = {**os.environ, "CLASSROOM_NODE_ID": name, **env}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir / f"{name}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def spawn(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "server.cli", "--data-dir", str(self.data_dir)]
        cmd += ["--port", str(self.port)]
        path = os.pathsep.join([str(ROOT), self.env.get("PYTHONPATH", "")])
        env = {**self.env, "PYTHONPATH": path}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=str(ROOT)
            )

    def wait_ready(self, timeout: float = 60.0) -> None:
        try:
            wait_http(self.url + "/healthz", timeout, self.proc)
        except (RuntimeError, TimeoutError) as exc:
            raise RuntimeError(f"node {self.name}: {exc}\n{self.log_tail()}") from None

    def start(self, timeout: float = 60.0) -> Node:
        self.spawn()
        self.wait_ready(timeout)
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs (a power cut of the process)."""
        if self.alive:
            assert self.proc is not None
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        _stop_process(self.proc)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


# --------------------------------------------------------------------------------------------
# The Python balancer
# --------------------------------------------------------------------------------------------


class Balancer:
    """Round-robin TCP proxy with fail-over on connect errors (runs in an asyncio loop)."""

    def __init__(
        self,
        backends: Sequence[tuple[str, int]],
        host: str = "127.0.0.1",
        port: int = 0,
        connect_timeout: float = 2.0,
        down_for: float = 5.0,
    ) -> None:
        if not backends:
            raise ValueError("at least one backend")
        self.backends = list(backends)
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.down_for = down_for
        self._next = itertools.cycle(range(len(self.backends)))
        self._down_until = [0.0] * len(self.backends)
        self._server: asyncio.Server | None = None
        self.connections = [0] * len(self.backends)

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._serve, self.host, self.port, reuse_address=True, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def _order(self) -> list[int]:
        """Backends to try: the next in turn first, those marked down last."""
        first = next(self._next)
        order = [(first + i) % len(self.backends) for i in range(len(self.backends))]
        now = time.monotonic()
        return sorted(order, key=lambda i: self._down_until[i] > now)

    async def _connect(self) -> tuple[int, asyncio.StreamReader, asyncio.StreamWriter] | None:
        for index in self._order():
            host, port = self.backends[index]
            try:
                async with asyncio.timeout(self.connect_timeout):
                    reader, writer = await asyncio.open_connection(host, port)
            except (OSError, TimeoutError):
                self._down_until[index] = time.monotonic() + self.down_for
                continue
            self._down_until[index] = 0.0
            return index, reader, writer
        return None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            body = (
                b'{"error": {"code": "balancer.no_node", '
                b'"message": "No server node is up; retry in a few seconds."}}'
            )
            writer.write(
                b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: application/json\r\n"
                b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body)
            )
            with contextlib.suppress(OSError):
                await writer.drain()
            writer.close()
            return
        index, up_reader, up_writer = upstream
        self.connections[index] += 1
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            self.connections[index] -= 1
            for w in (writer, up_writer):
                with contextlib.suppress(Exception):
                    w.close()

    @staticmethod
    async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        try:
            while True:
                data = await source.read(65536)
                if not data:
                    break
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            # The other side went away: close this side at once (no half-open sockets, so a
            # client whose node died sees its connection end and reconnects).
            with contextlib.suppress(Exception):
                sink.close()


async def _run_balancer(
    backends: list[tuple[str, int]], host: str, port: int, down_for: float
) -> None:
    balancer = Balancer(backends, host, port, down_for=down_for)
    await balancer.start()
    print(f"balancer listening on {host}:{balancer.port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await balancer.close()


# --------------------------------------------------------------------------------------------
# nginx as the balancer
# --------------------------------------------------------------------------------------------


def nginx_available() -> str | None:
    return shutil.which("nginx") or (
        "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None
    )


FORWARDED_HEADERS = """\
            proxy_set_header Host $http_host;
            proxy_set_header X-Real-IP $remote_addr;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Request-Id $request_id;"""


def nginx_conf(prefix: Path, port: int, backends: Sequence[tuple[str, int]]) -> str:
    """A stand-alone nginx.conf for the local balancer (same rules as deploy/nginx)."""
    servers = "\n".join(
        f"        server {host}:{p} max_fails=1 fail_timeout=5s;" for host, p in backends
    )
    temp = "\n".join(
        f"    {kind}_temp_path {prefix / ('tmp-' + kind)};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""daemon off;
master_process on;
worker_processes 1;
pid {prefix / "nginx.pid"};
error_log {prefix / "error.log"} warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
{temp}
    map $http_upgrade $connection_upgrade {{ default upgrade; '' close; }}
    upstream classroom_nodes {{
{servers}
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 7m;
        proxy_http_version 1.1;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout http_502;
        proxy_next_upstream_tries 3;
        # Every location sets ALL its headers: one proxy_set_header in a location drops every
        # proxy_set_header inherited from the server level (deploy/nginx/classroom.conf).
        location /ws/ {{
            proxy_pass http://classroom_nodes;
{FORWARDED_HEADERS}
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_read_timeout 3600s;
            proxy_send_timeout 3600s;
            proxy_buffering off;
        }}
        location / {{
            proxy_pass http://classroom_nodes;
{FORWARDED_HEADERS}
            proxy_set_header Connection "";
            proxy_read_timeout 60s;
        }}
    }}
}}
"""


# --------------------------------------------------------------------------------------------
# The cluster
# --------------------------------------------------------------------------------------------


class LocalCluster:
    """N server nodes and one balancer; ``url`` is the balancer's address."""

    def __init__(
        self,
        work_dir: Path,
        nodes: int = 2,
        env: dict[str, str] | None = None,
        balancer: str = "python",
        port: int | None = None,
        down_for: float = 5.0,
    ) -> None:
        if nodes < 1:
            raise ValueError("at least one node")
        if balancer not in ("python", "nginx"):
            raise ValueError("balancer is python or nginx")
        self.work_dir = work_dir
        self.balancer_kind = balancer
        self.port = port or free_port()
        self.down_for = down_for
        shared = {"CLASSROOM_SECRET_KEY": "local-cluster-secret-key-0123456789", **(env or {})}
        if balancer == "nginx":  # it forwards the client's address; the Python one passes TCP
            shared.setdefault("CLASSROOM_TRUSTED_PROXIES", "127.0.0.1")
        self.nodes = [
            Node(f"node-{chr(ord('a') + i)}", work_dir / f"node-{chr(ord('a') + i)}", shared)
            for i in range(nodes)
        ]
        self.balancer: subprocess.Popen[bytes] | None = None
        self.balancer_log = work_dir / f"balancer-{balancer}.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> LocalCluster:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        try:
            # The first node migrates the database (and loads demo data) alone; the others
            # then start side by side.
            self.nodes[0].start(timeout)
            for node in self.nodes[1:]:
                node.spawn()
            for node in self.nodes[1:]:
                node.wait_ready(timeout)
            self._start_balancer(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_balancer(self, timeout: float) -> None:
        backends = [("127.0.0.1", n.port) for n in self.nodes]
        if self.balancer_kind == "nginx":
            binary = nginx_available()
            if binary is None:
                raise RuntimeError("nginx is not installed (apt-get install nginx-light)")
            prefix = self.work_dir / "nginx"
            prefix.mkdir(parents=True, exist_ok=True)
            conf = prefix / "nginx.conf"
            conf.write_text(nginx_conf(prefix, self.port, backends))
            cmd = [binary, "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")]
        else:
            cmd = [sys.executable, str(Path(__file__).resolve()), "balance"]
            cmd += ["--port", str(self.port), "--down-for", str(self.down_for)]
            cmd += [f"127.0.0.1:{p}" for _, p in backends]
        with self.balancer_log.open("ab") as log:
            self.balancer = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_http(self.url + "/healthz", timeout, self.balancer)
        except (RuntimeError, TimeoutError) as exc:
            tail = self.balancer_log.read_text(errors="replace")[-2000:]
            raise RuntimeError(f"balancer: {exc}\n{tail}") from None

    def stop(self) -> None:
        """Stop everything this cluster started (balancer first, then the nodes)."""
        _stop_process(self.balancer)
        for node in self.nodes:
            node.stop()

    def pids(self) -> list[int]:
        procs = [self.balancer, *(n.proc for n in self.nodes)]
        return [p.pid for p in procs if p is not None]

    def running(self) -> list[int]:
        procs = [self.balancer, *(n.proc for n in self.nodes)]
        return [p.pid for p in procs if p is not None and p.poll() is None]

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="local-cluster",
        description=(
            "Start N classroom-server processes on this machine, sharing one PostgreSQL and "
            "one Redis, behind a local balancer; Ctrl-C stops everything it started."
        ),
    )
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="start the cluster (the default)")
    for p in (parser, run):
        p.add_argument("--nodes", type=int, default=2, help="server processes [2]")
        p.add_argument("--port", type=int, default=8080, help="balancer port [8080]")
        p.add_argument(
            "--balancer",
            choices=("auto", "python", "nginx"),
            default="auto",
            help="nginx when installed, else the built-in Python one [auto]",
        )
        p.add_argument(
            "--database-url",
            default=os.environ.get("CLASSROOM_DATABASE_URL", ""),
            help="PostgreSQL URL shared by the nodes (postgresql+asyncpg://...) "
            "[$CLASSROOM_DATABASE_URL]",
        )
        p.add_argument(
            "--redis-url",
            default=os.environ.get("CLASSROOM_REDIS_URL", "redis://127.0.0.1:6379/0"),
            help="Redis shared by the nodes [redis://127.0.0.1:6379/0]",
        )
        p.add_argument("--redis-prefix", default="local-cluster:", help="[local-cluster:]")
        p.add_argument(
            "--work-dir", default="", help="node data and logs; empty = a new temporary directory"
        )
        p.add_argument("--demo", action="store_true", help="load the demo data on first start")
    bal = sub.add_parser("balance", help="run only the Python balancer (used by run)")
    bal.add_argument("backends", nargs="+", help="HOST:PORT of each node")
    bal.add_argument("--host", default="127.0.0.1")
    bal.add_argument("--port", type=int, default=8080)
    bal.add_argument("--down-for", type=float, default=5.0)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "balance":
        backends = []
        for item in args.backends:
            host, _, port = item.rpartition(":")
            backends.append((host or "127.0.0.1", int(port)))
        asyncio.run(_run_balancer(backends, args.host, args.port, args.down_for))
        return 0
    if not args.database_url.startswith("postgresql"):
        print(
            "local-cluster: give --database-url postgresql+asyncpg://... (the nodes must share "
            "one PostgreSQL; SQLite cannot be shared)",
            file=sys.stderr,
        )
        return 2
    kind = args.balancer
    if kind == "auto":
        kind = "nginx" if nginx_available() else "python"
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="local-cluster-"))
    env = {
        "CLASSROOM_DATABASE_URL": args.database_url,
        "CLASSROOM_REDIS_URL": args.redis_url,
        "CLASSROOM_REDIS_PREFIX": args.redis_prefix,
    }
    if args.demo:
        env["CLASSROOM_DEMO"] = "true"
    cluster = LocalCluster(work, args.nodes, env, kind, args.port)
    stop = False

    def on_signal(signum: int, frame: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    cluster.start()
    try:
        print(f"local-cluster: {kind} balancer on {cluster.url}/ (Ctrl-C stops everything)")
        print(f"  balancer: pid {cluster.balancer.pid if cluster.balancer else '?'}")
        for node in cluster.nodes:
            print(f"  {node.name}: {node.url}/  pid {node.proc.pid if node.proc else '?'}")
        print(f"  logs: {work}", flush=True)
        while not stop:
            for node in cluster.nodes:
                if node.proc is not None and node.proc.poll() is not None:
                    print(f"local-cluster: {node.name} exited ({node.proc.returncode})")
                    node.proc = None
            time.sleep(0.5)
    finally:
        cluster.stop()
        print("local-cluster: stopped", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
