from __future__ import annotations

from pathlib import Path

import pytest

from server.cli import build_parser
from server.config import SETTINGS, load_config
from server.core.errors import InvalidInput


def test_defaults_serve_the_embedded_database_under_var() -> None:
    config = load_config(env={})
    assert (config.host, config.port) == ("127.0.0.1", 8080)
    assert config.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert config.effective_database_url.endswith("/var/classroom.db")
    assert config.redis_url == ""


def test_environment_beats_file_and_command_line_beats_both(tmp_path: Path) -> None:
    file = tmp_path / "server.toml"
    file.write_text(
        '[server]\nport = 9000\nhost = "0.0.0.0"\nallowed_origins = ["https://a.example"]\n'
    )
    config = load_config(str(file), env={"CLASSROOM_PORT": "9100"}, overrides={"host": "127.0.0.2"})
    assert config.port == 9100
    assert config.host == "127.0.0.2"
    assert config.allowed_origins == ["https://a.example"]


def test_bad_values_and_unknown_settings_are_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="CLASSROOM_PORT"):
        load_config(env={"CLASSROOM_PORT": "eighty"})
    file = tmp_path / "server.toml"
    file.write_text("[server]\nprot = 1\n")
    with pytest.raises(InvalidInput) as caught:
        load_config(str(file), env={})
    assert caught.value.code == "config.unknown_setting"


def test_help_documents_every_setting() -> None:
    text = build_parser().format_help()
    for setting in SETTINGS:
        assert setting.env in text
        assert setting.name in text


def test_secret_key_is_created_once_and_kept(tmp_path: Path) -> None:
    config = load_config(env={}, overrides={"data_dir": str(tmp_path)})
    first = config.ensure_secret_key().secret_key
    second = config.ensure_secret_key().secret_key
    assert first == second and len(first) == 64
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0
