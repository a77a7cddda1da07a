"""Agent settings: defaults < TOML file (``--config``) < environment (``CLASSROOM_AGENT_*``)
< command line. Every setting is declared once in ``SETTINGS``; ``classroom-agent --help``
prints that table, so the help never drifts from what the agent reads."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, ClassVar

from classroom_agent.protocol import agent_url, site_id_from_secret
from server.core import settings
from server.core.broadcast import MAX_RELAY_CHILDREN

ENV_PREFIX = "CLASSROOM_AGENT_"
DEFAULT_STATE_DIR = "./classroom-agent-state"


class ConfigError(ValueError):
    """A setting is missing or wrong; the message says which and what to do."""


@dataclass(frozen=True, slots=True)
class Setting(settings.Setting):
    env_prefix: ClassVar[str] = ENV_PREFIX


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "server",
        str,
        "",
        "server address, e.g. wss://classroom.example.org (https:// works"
        " too); the agent connects to its /ws/agent",
    ),
    Setting(
        "site_secret",
        str,
        "",
        "the site secret shown once when the site was created"
        " (site<ID>.<random>); prefer the TOML file or the environment: a command line"
        " is visible to every user of the PC",
    ),
    Setting("site_id", int, 0, "the site's id; 0 = read it from the secret's site<ID>. prefix"),
    Setting(
        "state_dir",
        str,
        "",
        "directory for the outbox (outbox.db) and the stream cursor"
        " (cursor.json); empty = $STATE_DIRECTORY (systemd) or " + DEFAULT_STATE_DIR,
    ),
    Setting(
        "log_file",
        str,
        "",
        "rotating log file; empty = $LOGS_DIRECTORY/agent.log"
        " (systemd) or <state_dir>/agent.log; '-' = standard error only",
    ),
    Setting("log_level", str, "INFO", "DEBUG, INFO, WARNING or ERROR"),
    Setting(
        "display",
        str,
        "none",
        "none (headless: the program is received and measured, not shown) or window (the"
        " program full screen with its sound; needs pygame)",
    ),
    Setting(
        "source",
        str,
        "none",
        "what the site publishes when the server asks: none, testpattern (a clock and a"
        " 1 kHz tone), file:PATH (a media file, looped) or v4l2:/dev/video0 (a camera)",
    ),
    Setting("audio_device", str, "", "ALSA microphone for a v4l2 source, e.g. default or hw:1"),
    Setting("main_size", str, "640x480", "picture size when this site is the lecture's origin"),
    Setting("main_fps", float, 30.0, "frames per second when this site is the origin"),
    Setting("return_size", str, "320x240", "picture size of the site's return feed"),
    Setting("return_fps", float, 15.0, "frames per second of the site's return feed"),
    Setting(
        "media_bind",
        str,
        "",
        "comma-separated addresses offered as ICE host candidates (e.g. 127.0.0.1 on one"
        " machine); empty = every non-loopback interface",
    ),
    Setting(
        "relay_children",
        int,
        0,
        "relay the program to up to this many child sites (a district office relaying to its"
        " towns; each child costs one copy of the program on this site's uplink); 0 = no"
        " relaying",
    ),
    Setting(
        "heartbeat_interval",
        float,
        0.0,
        "seconds between heartbeats; 0 = the interval the server's welcome asks for (5 s)",
    ),
    Setting(
        "backoff_base",
        float,
        0.5,
        "first reconnect waits up to this many seconds; the ceiling doubles per failed attempt",
    ),
    Setting("backoff_cap", float, 30.0, "longest wait between reconnect attempts, seconds"),
    Setting("backoff_reset", float, 30.0, "a connection up this many seconds resets the back-off"),
    Setting("open_timeout", float, 10.0, "seconds to open the connection (TCP, TLS, upgrade)"),
    Setting("welcome_timeout", float, 15.0, "seconds to wait for the server's welcome"),
    Setting(
        "outbox_resend",
        float,
        10.0,
        "seconds after which unacknowledged outbox items are sent again",
    ),
    Setting("outbox_batch", int, 100, "outbox items per message (1 to 500)"),
)


@dataclass(frozen=True, slots=True)
class AgentConfig:
    server: str = ""
    site_secret: str = ""
    site_id: int = 0
    state_dir: str = ""
    log_file: str = ""
    log_level: str = "INFO"
    display: str = "none"
    source: str = "none"
    audio_device: str = ""
    main_size: str = "640x480"
    main_fps: float = 30.0
    return_size: str = "320x240"
    return_fps: float = 15.0
    media_bind: str = ""
    relay_children: int = 0
    heartbeat_interval: float = 0.0
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    backoff_reset: float = 30.0
    open_timeout: float = 10.0
    welcome_timeout: float = 15.0
    outbox_resend: float = 10.0
    outbox_batch: int = 100

    @property
    def url(self) -> str:
        return agent_url(self.server)

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or DEFAULT_STATE_DIR)

    def __repr__(self) -> str:  # never show the secret
        shown = ", ".join(
            f"{f.name}={'[redacted]' if f.name == 'site_secret' else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"AgentConfig({shown})"

    def checked(self) -> AgentConfig:
        """This config with the site id filled in; raises :class:`ConfigError` when unusable."""
        if not self.server:
            raise ConfigError("no server: pass --server wss://HOST or set server in the TOML file")
        try:
            agent_url(self.server)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not self.site_secret:
            raise ConfigError(
                "no site secret: set site_secret in the TOML file or CLASSROOM_AGENT_SITE_SECRET"
            )
        if any(c.isspace() for c in self.site_secret) or not self.site_secret.isprintable():
            raise ConfigError("the site secret contains spaces or control characters")
        from_secret = site_id_from_secret(self.site_secret)
        site_id = self.site_id
        if site_id < 0:
            raise ConfigError("site_id must be a positive number")
        if site_id == 0:
            if from_secret is None:
                raise ConfigError(
                    "the site id is not in the secret (no site<ID>. prefix): pass --site-id"
                )
            site_id = from_secret
        elif from_secret is not None and from_secret != site_id:
            raise ConfigError(
                f"site_id {site_id} does not match the secret, which belongs to site"
                f" {from_secret}; check the configuration"
            )
        if self.display == "window":
            from classroom_agent.media_window import available

            missing = available()
            if missing:
                raise ConfigError(missing)
        elif self.display != "none":
            raise ConfigError(f"display must be none or window, got {self.display!r}")
        from classroom_agent.media_sources import parse_size, parse_source

        try:
            parse_source(self.source)
            parse_size(self.main_size)
            parse_size(self.return_size)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        if not (0 < self.main_fps <= 60 and 0 < self.return_fps <= 60):
            raise ConfigError("main_fps and return_fps must be more than 0 and at most 60")
        if self.log_level.upper() not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ConfigError(
                f"log_level must be DEBUG, INFO, WARNING or ERROR, got {self.log_level!r}"
            )
        for name in (
            "backoff_base",
            "backoff_cap",
            "open_timeout",
            "welcome_timeout",
            "outbox_resend",
        ):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be more than 0")
        if self.heartbeat_interval < 0 or self.backoff_reset < 0:
            raise ConfigError("heartbeat_interval and backoff_reset must be 0 or more")
        if not 1 <= self.outbox_batch <= 500:
            raise ConfigError("outbox_batch must be between 1 and 500")
        if not 0 <= self.relay_children <= MAX_RELAY_CHILDREN:
            raise ConfigError(f"relay_children must be between 0 and {MAX_RELAY_CHILDREN}")
        return replace(self, site_id=site_id)

    def with_directories(self, env: Mapping[str, str]) -> AgentConfig:
        """Fill an empty state_dir / log_file from systemd's directories or the defaults."""
        state_dir = self.state_dir or env.get("STATE_DIRECTORY", "").split(":")[0]
        state_dir = state_dir or DEFAULT_STATE_DIR
        log_file = self.log_file
        if not log_file:
            logs_dir = env.get("LOGS_DIRECTORY", "").split(":")[0]
            log_file = str(Path(logs_dir or state_dir) / "agent.log")
        return replace(self, state_dir=state_dir, log_file=log_file)


def load_config(
    config_file: str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> AgentConfig:
    """Build the settings from a TOML file, the environment and explicit (CLI) overrides.

    ``None`` values in ``overrides`` mean "not given". Not yet checked: call
    :meth:`AgentConfig.checked`.
    """
    table: dict[str, Any] = {}
    if config_file:
        try:
            with open(config_file, "rb") as f:
                data = tomllib.load(f)
        except OSError as exc:
            raise ConfigError(f"cannot read {config_file}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{config_file} is not valid TOML: {exc}") from None
        table = data.get("agent", data)
        if not isinstance(table, dict):
            raise ConfigError(f"{config_file}: [agent] must be a table")
    try:
        values = settings.layered_values(
            SETTINGS,
            table,
            config_file or "",
            os.environ if env is None else env,
            overrides or {},
            lambda _key: "command line",
        )
    except settings.Refused as refused:
        if refused.setting is None:
            known = ", ".join(s.name for s in SETTINGS)
            raise ConfigError(
                f"{refused.source}: unknown setting {refused.key!r}; known: {known}"
            ) from None
        if refused.setting.name == "site_secret":  # never written into a log
            raise ConfigError(f"{refused.source}: site_secret must be a string") from None
        kind = refused.setting.kind.__name__
        raise ConfigError(
            f"{refused.source}: {refused.key} must be a {kind}, got {refused.value!r:.60}"
        ) from None
    return AgentConfig(**values)
