"""Settings, the command line and the logs (which never show the secret)."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from classroom_agent import cli
from classroom_agent.config import SETTINGS, ConfigError, load_config
from classroom_agent.logs import configure_logging, secret_variants

SECRET = "site12.Q2hlY2staW4tY29kZXMtYXJlLXNlY3JldA"


def test_toml_then_environment_then_command_line(tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text(
        f'[agent]\nserver = "wss://a.example.org"\nsite_secret = "{SECRET}"\n'
        "backoff_cap = 12\noutbox_batch = 50\n"
    )
    env = {"CLASSROOM_AGENT_BACKOFF_CAP": "9.5", "CLASSROOM_AGENT_SERVER": "wss://b.example.org"}
    config = load_config(str(toml), env, {"server": "https://c.example.org", "site_id": None})
    config = config.checked()
    assert config.server == "https://c.example.org"
    assert config.url == "wss://c.example.org/ws/agent"
    assert config.backoff_cap == 9.5
    assert config.outbox_batch == 50
    assert config.site_id == 12


def test_site_id_must_match_the_secret() -> None:
    config = load_config(None, {}, {"server": "ws://h", "site_secret": SECRET, "site_id": 13})
    with pytest.raises(ConfigError, match="does not match"):
        config.checked()


def test_a_secret_without_prefix_needs_a_site_id() -> None:
    config = load_config(None, {}, {"server": "ws://h", "site_secret": "opaque-secret"})
    with pytest.raises(ConfigError, match="--site-id"):
        config.checked()
    assert (
        load_config(None, {}, {"server": "ws://h", "site_secret": "opaque-secret", "site_id": 4})
        .checked()
        .site_id
        == 4
    )


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"site_secret": SECRET}, "no server"),
        ({"server": "ws://h"}, "no site secret"),
        ({"server": "ftp://h", "site_secret": SECRET}, "wss://"),
        ({"server": "ws://h", "site_secret": SECRET, "display": "window"}, "needs pygame"),
        ({"server": "ws://h", "site_secret": SECRET, "source": "webcam"}, "testpattern"),
        ({"server": "ws://h", "site_secret": SECRET, "main_size": "640x481"}, "even"),
        ({"server": "ws://h", "site_secret": SECRET, "outbox_batch": 501}, "outbox_batch"),
        ({"server": "ws://h", "site_secret": SECRET, "backoff_base": 0}, "backoff_base"),
    ],
)
def test_unusable_settings_are_explained(
    overrides: dict[str, object], message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_pygame(monkeypatch)
    with pytest.raises(ConfigError, match=message):
        load_config(None, {}, overrides).checked()


def test_unknown_or_mistyped_toml_settings_are_errors(tmp_path: Path) -> None:
    toml = tmp_path / "agent.toml"
    toml.write_text('sever = "wss://typo"\n')
    with pytest.raises(ConfigError, match="unknown setting 'sever'"):
        load_config(str(toml), {})
    toml.write_text('backoff_cap = "soon"\n')
    with pytest.raises(ConfigError, match="backoff_cap must be a float"):
        load_config(str(toml), {})


def test_the_example_file_in_deploy_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "deploy" / "agent.example.toml"
    config = load_config(str(example), {}).checked()
    assert config.site_id == 12 and config.display == "none"  # each unit passes --display
    assert config.source == "v4l2:/dev/video0"


def test_systemd_directories_fill_empty_paths() -> None:
    config = load_config(None, {}, {"server": "ws://h", "site_secret": SECRET})
    placed = config.with_directories(
        {"STATE_DIRECTORY": "/var/lib/classroom-agent", "LOGS_DIRECTORY": "/var/log/ca"}
    )
    assert placed.state_dir == "/var/lib/classroom-agent"
    assert placed.log_file == "/var/log/ca/agent.log"
    local = config.with_directories({})
    assert local.log_file.endswith("agent.log") and local.state_dir


def test_the_secret_is_not_in_the_config_repr() -> None:
    config = load_config(None, {}, {"server": "ws://h", "site_secret": SECRET})
    assert SECRET not in repr(config)
    assert "Q2hlY2st" not in repr(config)


def test_help_documents_every_setting_and_the_display_plan(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    text = " ".join(capsys.readouterr().out.split())
    for setting in SETTINGS:
        assert setting.flag in text and setting.env in text
    assert "pygame" in text and "--source" in text and "--config" in text


def _without_pygame(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a site PC without pygame (this machine may have it installed)."""
    from classroom_agent import media_window

    monkeypatch.setattr(
        media_window, "available", lambda: "display = window needs pygame: pip install pygame"
    )


def test_command_line_config_errors_exit_with_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _without_pygame(monkeypatch)
    for name in [k for k in os.environ if k.startswith("CLASSROOM_AGENT_")]:
        monkeypatch.delenv(name)
    assert cli.main(["--server", "ws://127.0.0.1:9"]) == 2
    assert "no site secret" in capsys.readouterr().err
    code = cli.main(["--server", "ws://h", "--site-secret", SECRET, "--display", "window"])
    assert code == 2
    assert SECRET not in capsys.readouterr().err


def test_log_file_never_shows_the_secret(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "agent.log"
    root = logging.getLogger()
    saved_handlers, saved_level = list(root.handlers), root.level
    handlers = configure_logging("INFO", str(log_file), secret_variants(SECRET))
    try:
        logger = logging.getLogger("classroom_agent.test")
        logger.info("connecting with Authorization: Bearer %s", SECRET)
        logger.warning("random part alone: %s", SECRET.split(".", 1)[1])
        try:
            raise RuntimeError(f"bad secret {SECRET}")
        except RuntimeError:
            logger.exception("failed")
    finally:
        for handler in handlers:
            handler.flush()
            root.removeHandler(handler)
            handler.close()
        for handler in saved_handlers:
            root.addHandler(handler)
        root.setLevel(saved_level)
    text = log_file.read_text(encoding="utf-8")
    assert "Bearer [redacted]" in text
    assert SECRET not in text and SECRET.split(".", 1)[1] not in text
    first = text.splitlines()[0]
    assert first[:4].isdigit() and "Z INFO classroom_agent.test: connecting" in first
