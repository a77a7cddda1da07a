"""The deployment files are checked as far as this machine can: the compose file parses and
describes the cluster the docs promise, nginx accepts the nginx configurations (``nginx -t``
with Debian's nginx), systemd accepts the units (``systemd-analyze verify``), and the example
configurations load through the server's and the agent's own loaders."""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from classroom_agent.config import load_config as load_agent_config
from deploy.local_cluster import nginx_available, nginx_conf
from server.config import load_config
from tests.server_process import free_port

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"


def _nginx() -> str:
    binary = nginx_available()
    if binary is None:
        pytest.fail("nginx is not installed: run deploy/test-services.sh (installs nginx-light)")
    return binary


def _self_signed(directory: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "classroom.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _nginx_test(binary: str, conf: Path, prefix: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [binary, "-t", "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_compose_file_describes_the_cluster() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    servers = {k: v for k, v in services.items() if k.startswith("server-")}
    assert len(servers) >= 2
    node_ids = {s["environment"]["CLASSROOM_NODE_ID"] for s in servers.values()}
    assert len(node_ids) == len(servers)  # each node its own id ...
    for service in servers.values():  # ... and the same database, Redis and settings file
        env = service["environment"]
        assert env["CLASSROOM_DATABASE_URL"].startswith("postgresql+asyncpg://")
        assert env["CLASSROOM_DATABASE_URL"].endswith("@postgres:5432/classroom")
        assert env["CLASSROOM_REDIS_URL"] == "redis://redis:6379/0"
        assert "--config" in service["command"]
        assert set(service["depends_on"]) == {"postgres", "redis"}
    redis = services["redis"]["command"]
    assert redis[redis.index("--appendonly") + 1] == "yes"
    assert {"postgres", "nginx", "coturn"} <= set(services)
    assert services["coturn"]["network_mode"] == "host"
    for volume in services["nginx"]["volumes"] + services["coturn"]["volumes"]:
        source = volume.split(":")[0]
        assert (DEPLOY / source).exists() or source == "./tls", volume
    assert (DEPLOY / services["server-a"]["build"]["dockerfile"].split("/")[-1]).exists()
    # nginx balances over exactly the compose file's server services
    site = (DEPLOY / "nginx/classroom.conf").read_text()
    upstream = re.findall(r"server (server-[a-z]+):8080", site)
    assert sorted(upstream) == sorted(servers)


def production_nginx_conf(
    tmp_path: Path, backend: int | None = None, https: int | None = None
) -> Path:
    """deploy/nginx/classroom.conf made runnable here: loopback ports, a throw-away
    certificate, temp paths under tmp_path; every upstream server is the port ``backend``."""
    _self_signed(tmp_path / "tls")
    site = (DEPLOY / "nginx/classroom.conf").read_text()
    site = re.sub(r"server-[a-z]+:8080", lambda m: f"127.0.0.1:{backend or free_port()}", site)
    site = site.replace("/etc/nginx/tls/", f"{tmp_path / 'tls'}/")
    site = site.replace("listen 80;", f"listen 127.0.0.1:{free_port()};")
    site = site.replace("listen 443 ssl", f"listen 127.0.0.1:{https or free_port()} ssl")
    (tmp_path / "site.conf").write_text(site)
    temp = "\n".join(
        f"{k}_temp_path {tmp_path / k};"
        for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        f"pid {tmp_path / 'nginx.pid'};\nevents {{}}\n"
        f"http {{\n{temp}\naccess_log off;\ninclude {tmp_path / 'site.conf'};\n}}\n"
    )
    return conf


def test_nginx_accepts_the_production_configuration(tmp_path: Path) -> None:
    binary = _nginx()
    result = _nginx_test(binary, production_nginx_conf(tmp_path), tmp_path)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_every_proxied_location_sets_the_forwarded_headers() -> None:
    """nginx drops the server-level proxy_set_header lines in a location with its own."""
    wanted = {"Host", "X-Real-IP", "X-Forwarded-For", "X-Forwarded-Proto", "X-Request-Id"}
    texts = {
        "classroom.conf": (DEPLOY / "nginx/classroom.conf").read_text(),
        "local": nginx_conf(Path("/tmp/x"), 1, [("127.0.0.1", 2)]),
    }
    for name, text in texts.items():
        blocks = re.findall(r"location [^{]+\{(.*?)\n\s*\}", text, re.S)
        proxied = [b for b in blocks if "proxy_pass" in b]
        assert len(proxied) == 2, name
        for block in proxied:
            assert set(re.findall(r"proxy_set_header ([\w-]+)", block)) >= wanted, (name, block)


def test_nginx_accepts_the_local_balancer_configuration(tmp_path: Path) -> None:
    binary = _nginx()
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, free_port(), [("127.0.0.1", 1), ("127.0.0.1", 2)]))
    result = _nginx_test(binary, conf, tmp_path)
    assert result.returncode == 0, result.stderr


def test_nginx_rejects_a_broken_configuration(tmp_path: Path) -> None:
    """The check above can fail: a configuration with an error is refused."""
    binary = _nginx()
    conf = tmp_path / "nginx.conf"
    text = nginx_conf(tmp_path, free_port(), [("127.0.0.1", 1)])
    conf.write_text(text.replace("proxy_read_timeout 60s;", "proxy_read_timeout sixty;"))
    assert _nginx_test(binary, conf, tmp_path).returncode != 0


@pytest.mark.parametrize(
    ("unit", "name", "scope"),
    [
        ("classroom-server.service", "classroom-server@a.service", "system"),
        ("classroom-agent.service", "classroom-agent.service", "system"),
        ("classroom-agent-display.service", "classroom-agent-display.service", "user"),
    ],
)
def test_systemd_accepts_the_units(tmp_path: Path, unit: str, name: str, scope: str) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.fail("systemd-analyze is missing (Debian package systemd)")
    target = tmp_path / (name.replace("@a", "@") if "@" in name else name)
    target.write_text((DEPLOY / unit).read_text())
    runtime = tmp_path / "runtime"  # a user manager needs a runtime dir, even offline
    runtime.mkdir(mode=0o700)
    result = subprocess.run(
        [analyze, *(["--user"] if scope == "user" else []), "verify", str(tmp_path / name)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "XDG_RUNTIME_DIR": str(runtime)},
    )
    # The only complaint allowed: the program is not installed on this machine.
    problems = [
        line
        for line in (result.stdout + result.stderr).splitlines()
        if line.strip() and "is not executable: No such file or directory" not in line
    ]
    assert problems == []


def test_server_example_configuration_loads() -> None:
    config = load_config(str(DEPLOY / "server.example.toml"), env={})
    assert config.database_url.startswith("postgresql+asyncpg://")
    assert config.redis_url.startswith("redis://")
    assert config.cookie_secure is True
    assert config.allowed_origins == ["https://classroom.example.org"]
    # nginx's body limit is at least the server's
    site = (DEPLOY / "nginx/classroom.conf").read_text()
    limit = re.search(r"client_max_body_size (\d+)m;", site)
    assert limit is not None and int(limit.group(1)) * 1024 >= config.max_body_kib


def test_agent_example_configuration_loads() -> None:
    config = load_agent_config(str(DEPLOY / "agent.example.toml"), env={})
    assert config.server.startswith("wss://")


def test_compose_sets_only_variables_the_server_reads_and_shares_the_recordings() -> None:
    """No container engine runs here; what can be checked without one is checked: every
    CLASSROOM_* variable the compose file sets is a setting the loader reads (with the value
    it gets), the only shell variable it interpolates is documented, and every node mounts the
    one recordings volume under its data dir."""
    from server.config import SETTINGS

    text = (DEPLOY / "compose.yaml").read_text()
    compose = yaml.safe_load(text)
    known = {s.env for s in SETTINGS}
    servers = {k: v for k, v in compose["services"].items() if k.startswith("server-")}
    for service in servers.values():
        env = {k: str(v) for k, v in service["environment"].items()}
        assert set(env) <= known, set(env) - known
        config = load_config(None, env=env)
        assert config.data_dir == "/var/lib/classroom"
        assert config.node_id == env["CLASSROOM_NODE_ID"]
        assert "recordings:/var/lib/classroom/recordings" in service["volumes"]
    assert "recordings" in compose["volumes"]
    interpolated = set(re.findall(r"\$\{([A-Z_]+)", text))
    assert interpolated == {"POSTGRES_PASSWORD"}
    header = text.split("name: classroom")[0]
    assert all(v in header for v in interpolated)
    assert "CLASSROOM_PUBLIC_HOST" not in text


def test_dockerfile_installs_the_wheel_as_a_user_with_a_data_volume() -> None:
    lines = (DEPLOY / "Dockerfile").read_text().splitlines()
    runs = " ".join(line for line in lines if not line.startswith("#"))
    assert "pip wheel" in runs and "pip install --no-cache-dir /dist/*.whl" in runs
    assert " -e " not in runs
    final = runs.split("FROM ")[-1]  # the image that runs
    assert 'VOLUME ["/var/lib/classroom"]' in final
    assert "ENV CLASSROOM_DATA_DIR=/var/lib/classroom" in final
    assert "USER classroom" in final
    assert "-o classroom -g classroom /var/lib/classroom" in final


def _unit(name: str) -> dict[str, list[str]]:
    entries: dict[str, list[str]] = {}
    for line in (DEPLOY / name).read_text().splitlines():
        if "=" in line and not line.startswith(("#", "[")):
            key, value = line.split("=", 1)
            entries.setdefault(key, []).append(value)
    return entries


def test_units_allow_netlink_for_webrtc_interfaces() -> None:
    """aioice lists interfaces over AF_NETLINK when no bind addresses are configured."""
    for name in ("classroom-server.service", "classroom-agent.service"):
        (families,) = _unit(name)["RestrictAddressFamilies"]
        assert "AF_NETLINK" in families.split(), name


def test_agent_units_match_the_example_configuration() -> None:
    """The headless system unit and the display user unit both read agent.example.toml; each
    passes its display mode, and the headless one lets the example's camera through."""
    example = load_agent_config(str(DEPLOY / "agent.example.toml"), env={})
    headless, display = _unit("classroom-agent.service"), _unit("classroom-agent-display.service")
    for unit, mode in ((headless, "none"), (display, "window")):
        (command,) = unit["ExecStart"]
        args = command.split()
        assert args[args.index("--config") + 1] == "/etc/classroom-agent/agent.toml"
        assert args[args.index("--display") + 1] == mode
        assert "2" in unit["RestartPreventExitStatus"][0].split()  # no display: no restart loop
    assert example.source.startswith("v4l2:/dev/video")
    assert "PrivateDevices" not in headless and headless["DevicePolicy"] == ["closed"]
    assert "char-video4linux rw" in headless["DeviceAllow"]
    assert "char-alsa rw" in headless["DeviceAllow"]  # audio_device
    assert "video" in headless["SupplementaryGroups"][0].split()
    assert "User" not in display and display["WantedBy"] == ["graphical-session.target"]
