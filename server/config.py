"""Settings: defaults < TOML file (``--config``) < environment (``CLASSROOM_*``) < command line.

Every setting is declared once in ``SETTINGS``; ``classroom-server --help`` prints that table,
so the help can never drift from what the server reads.
"""

from __future__ import annotations

import os
import secrets
import tomllib
from dataclasses import dataclass, field, fields, replace
from datetime import tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.core.errors import InvalidInput
from server.core.proxies import parse_proxies
from server.core.settings import Refused, Setting, layered_values
from server.core.zone import CHINA_TZ
from server.private_files import private_file

SETTINGS: tuple[Setting, ...] = (
    Setting("host", str, "127.0.0.1", "address to listen on"),
    Setting("port", int, 8080, "TCP port to listen on"),
    Setting("data_dir", str, "./var", "where the embedded database, secret key and logs live"),
    Setting(
        "database_url",
        str,
        "",
        "SQLAlchemy URL; empty = SQLite file <data_dir>/classroom.db. "
        "PostgreSQL: postgresql+asyncpg://user@host:5432/dbname",
    ),
    Setting(
        "redis_url",
        str,
        "",
        "Redis URL for scale-out (redis://127.0.0.1:6379/0); empty = in-memory bus",
    ),
    Setting(
        "redis_prefix",
        str,
        "classroom:",
        "key prefix for everything this deployment keeps in Redis",
    ),
    Setting(
        "secret_key",
        str,
        "",
        "server secret for check-in codes; empty = generated once into <data_dir>/secret_key",
    ),
    Setting(
        "allowed_origins",
        list,
        [],
        "browser Origins allowed on /ws/client and for cookies; empty = http://<host>:<port> "
        "and http://localhost:<port>",
    ),
    Setting(
        "session_hours", float, 12.0, "how long a login (operator, moderator, trainee) stays valid"
    ),
    Setting("cookie_secure", bool, False, "mark cookies Secure (set true behind HTTPS)"),
    Setting("max_body_kib", int, 6144, "largest accepted request body (roster files included)"),
    Setting("db_pool_size", int, 10, "PostgreSQL connection pool size"),
    Setting(
        "header_timeout",
        float,
        10.0,
        "seconds a new connection has to send its first request head (slowloris guard)",
    ),
    Setting(
        "max_pending_per_client",
        int,
        1000,
        "connections one address may hold open before sending a request head",
    ),
    Setting(
        "max_sockets_per_client",
        int,
        400,
        "live WebSockets one client address may hold open (a classroom behind one NAT)",
    ),
    Setting(
        "metrics_public",
        bool,
        False,
        "serve /metrics to any address; false = to loopback (same host) scrapers only",
    ),
    Setting("log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting("log_file", str, "", "also write JSON logs to this file; empty = stderr only"),
    Setting(
        "log_requests",
        bool,
        False,
        "log every HTTP request (method, path, status, ms, client, user) at INFO; off = only"
        " server errors (5xx) are logged, and every request at DEBUG",
    ),
    Setting(
        "trusted_proxies",
        list,
        [],
        "addresses or networks of the reverse proxies (nginx) whose X-Forwarded-For and"
        " X-Real-IP are believed (e.g. 127.0.0.1, 10.0.0.0/24); empty = none: the peer address"
        " is the client's (in logs, sign-in throttles and socket caps)",
    ),
    Setting("demo", bool, False, "load the demo data into an empty database on start"),
    Setting("node_id", str, "", "name of this server process in a cluster; empty = random"),
    Setting(
        "media_ice_servers",
        list,
        [],
        "STUN/TURN URLs given to every WebRTC peer (stun:host:3478, turn:host:3478?transport=udp);"
        " empty = host candidates only (a LAN or one machine)",
    ),
    Setting(
        "media_turn_secret",
        str,
        "",
        "coturn's static-auth-secret (use-auth-secret): every peer gets its own short-lived"
        " TURN REST credentials for the TURN URLs (overrides the static username/credential)",
    ),
    Setting(
        "media_turn_ttl",
        int,
        43200,
        "seconds the TURN REST credentials stay valid (a peer keeps its allocation past it)",
    ),
    Setting("media_turn_username", str, "", "static username for the TURN URLs (no secret)"),
    Setting("media_turn_credential", str, "", "static credential for the TURN URLs (no secret)"),
    Setting(
        "media_bind_addresses",
        list,
        [],
        "addresses the media relay offers as ICE host candidates (e.g. the LAN address);"
        " empty = every non-loopback interface",
    ),
    Setting(
        "media_port_range",
        str,
        "",
        "UDP ports LOW-HIGH (e.g. 40000-40100) the media relay binds its ICE host candidates"
        " to, one port per media peer and bind address; open exactly this UDP range to the"
        " server in the firewall. Empty = an ephemeral port per peer",
    ),
    Setting("media_video_codec", str, "VP8", "VP8 (recordings in WebM) or H264 (MP4)"),
    Setting(
        "media_record", bool, True, "record every broadcast's program under <data_dir>/recordings"
    ),
    Setting(
        "media_fast_path",
        bool,
        True,
        "send subscribers' RTP through the forwarding fast path (false: aiortc's own sender,"
        " several times the CPU per viewer)",
    ),
    Setting(
        "media_udp_gso",
        bool,
        True,
        "fast path: send the packets of a video frame to a viewer in one system call (Linux UDP"
        " segmentation offload; turned off by itself where the kernel refuses it)",
    ),
    Setting(
        "media_native_send",
        bool,
        True,
        "fast path: protect and send RTP in C (server.media._rtpsend, built with the package"
        " where a C compiler is; false, or not built: the same packets from Python)",
    ),
    Setting(
        "media_fan_out",
        bool,
        True,
        "fast path: send each frame to every viewer that takes it as it comes in one call"
        " (false: one call per viewer and frame, to compare or to rule it out)",
    ),
    Setting(
        "time_zone",
        str,
        "Asia/Shanghai",
        "IANA time zone for everything a person reads: exports, transcripts, the site screen's"
        " clock and next session",
    ),
    Setting(
        "selfstudy_max_upload_mib",
        int,
        1024,
        "largest self-study video an operator may upload (WebM or MP4), in MiB",
    ),
    Setting(
        "selfstudy_counts_toward_year",
        bool,
        True,
        "self-study class hours count toward the yearly requirement (32 h) with live hours",
    ),
)


def time_zone(name: str) -> tzinfo:
    """An IANA zone by name. China has no daylight saving, so Asia/Shanghai still works as a
    fixed UTC+8 on a host without the time zone database."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        if name in {"Asia/Shanghai", "PRC", "Asia/Chongqing"}:
            return CHINA_TZ
        raise InvalidInput(
            "config.invalid",
            f"time_zone {name!r} is not a known IANA time zone (e.g. Asia/Shanghai)",
        ) from exc


@dataclass(frozen=True, slots=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 8080
    data_dir: str = "./var"
    database_url: str = ""
    redis_url: str = ""
    redis_prefix: str = "classroom:"
    secret_key: str = ""
    allowed_origins: list[str] = field(default_factory=list)
    session_hours: float = 12.0
    cookie_secure: bool = False
    max_body_kib: int = 6144
    db_pool_size: int = 10
    header_timeout: float = 10.0
    max_pending_per_client: int = 1000
    max_sockets_per_client: int = 400
    metrics_public: bool = False
    log_level: str = "INFO"
    log_file: str = ""
    log_requests: bool = False
    trusted_proxies: list[str] = field(default_factory=list)
    demo: bool = False
    node_id: str = ""
    media_ice_servers: list[str] = field(default_factory=list)
    media_turn_secret: str = ""
    media_turn_ttl: int = 43200
    media_turn_username: str = ""
    media_turn_credential: str = ""
    media_bind_addresses: list[str] = field(default_factory=list)
    media_port_range: str = ""
    media_video_codec: str = "VP8"
    media_record: bool = True
    media_fast_path: bool = True
    media_udp_gso: bool = True
    media_native_send: bool = True
    media_fan_out: bool = True
    time_zone: str = "Asia/Shanghai"
    selfstudy_max_upload_mib: int = 1024
    selfstudy_counts_toward_year: bool = True

    @property
    def zone(self) -> tzinfo:
        """The configured time zone (validated by :func:`load_config`)."""
        return time_zone(self.time_zone)

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir)

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_path / 'classroom.db').resolve()}"

    @property
    def effective_origins(self) -> list[str]:
        if self.allowed_origins:
            return list(self.allowed_origins)
        hosts = {self.host, "localhost", "127.0.0.1"}
        return sorted(f"http://{h}:{self.port}" for h in hosts)

    def ensure_secret_key(self) -> Config:
        """Return a config whose secret key is set, creating ``<data_dir>/secret_key`` once."""
        if self.secret_key:
            return self
        path = self.data_path / "secret_key"
        if not path.exists():
            private_file(path)  # 0600 before the key is written into it
            path.write_text(secrets.token_hex(32))
        return replace(self, secret_key=path.read_text().strip())


def load_config(
    config_file: str | None = None,
    env: dict[str, str] | None = None,
    overrides: dict[str, Any] | None = None,
) -> Config:
    """Build the configuration from a TOML file, the environment and explicit overrides."""
    section: dict[str, Any] = {}
    if config_file:
        try:
            raw = tomllib.loads(Path(config_file).read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput("config.unreadable", f"cannot read {config_file}: {exc}") from exc
        section = raw.get("server", raw)
    try:
        values = layered_values(
            SETTINGS,
            section,
            config_file or "",
            os.environ if env is None else env,
            overrides or {},
            lambda key: "--" + key.replace("_", "-"),
        )
    except Refused as refused:
        if refused.setting is None:
            raise InvalidInput(
                "config.unknown_setting",
                f"{refused.source}: unknown setting {refused.key!r}; see classroom-server --help",
            ) from None
        raise InvalidInput(
            "config.invalid",
            f"{refused.source}: {refused.key} must be a {refused.setting.kind.__name__},"
            f" got {refused.value!r}",
        ) from None
    known = {f.name for f in fields(Config)}
    config = Config(**{k: v for k, v in values.items() if k in known})
    parse_proxies(config.trusted_proxies)  # a typo stops the start: config.trusted_proxies
    time_zone(config.time_zone)  # refuse an unknown zone at start, not at the first export
    return config


def settings_help() -> str:
    lines = ["settings (TOML key under [server] / environment variable: meaning [default]):"]
    for s in SETTINGS:
        default = s.default if s.default not in ("", []) else "unset"
        lines.append(f"  {s.name} / {s.env}: {s.help} [{default}]")
    return "\n".join(lines)
