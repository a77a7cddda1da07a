"""Heartbeat health: load average parsing and the health map the server validates."""

from __future__ import annotations

from pathlib import Path

import pytest

from classroom_agent.health import (
    Health,
    StreamHealth,
    cpu_load_share,
    parse_loadavg,
    read_cpu_load,
)
from server.core.messages import HEALTH
from server.core.validation import validate


def test_one_minute_load_is_the_first_field_of_proc_loadavg() -> None:
    assert parse_loadavg("0.52 0.58 0.59 1/467 12345\n") == 0.52
    assert parse_loadavg("12.00 3.1 2.0 9/900 1") == 12.0


@pytest.mark.parametrize("text", ["", "   \n", "abc 1 2", "-1.0 0 0", "nan 0 0", "inf 0 0"])
def test_unreadable_load_average_is_an_error(text: str) -> None:
    with pytest.raises(ValueError):
        parse_loadavg(text)


def test_cpu_load_is_the_load_per_core_clamped_to_zero_and_one() -> None:
    assert cpu_load_share(2.0, 4) == 0.5
    assert cpu_load_share(9.0, 4) == 1.0
    assert cpu_load_share(0.0, 4) == 0.0
    assert cpu_load_share(-3.0, 4) == 0.0
    assert cpu_load_share(float("nan"), 4) == 0.0


def test_unknown_core_count_counts_as_one_core() -> None:
    assert cpu_load_share(0.25, None) == 0.25
    assert cpu_load_share(0.25, 0) == 0.25


def test_reading_the_load_falls_back_when_the_file_is_missing(tmp_path: Path) -> None:
    assert 0.0 <= read_cpu_load(str(tmp_path / "no-such-file")) <= 1.0


def test_reading_the_load_uses_the_given_file(tmp_path: Path) -> None:
    path = tmp_path / "loadavg"
    path.write_text("9999.0 1 1 1/1 1\n")
    assert read_cpu_load(str(path)) == 1.0
    path.write_text("0 0 0 1/1 1\n")
    assert read_cpu_load(str(path)) == 0.0


def test_health_without_media_passes_the_server_schema() -> None:
    health = Health(uptime_s=12.5, rtt_ms=None, cpu_load=0.3, display_state="none", checked_in=7)
    wire = health.to_wire()
    clean = validate(HEALTH, wire)
    assert clean["stream"]["state"] == "none"
    assert clean["display_state"] == "none"
    assert clean["checked_in"] == 7
    assert clean["rtt_ms"] is None


def test_health_with_rtt_and_stream_figures_passes_the_server_schema() -> None:
    stream = StreamHealth("ok", fps=25.0, bitrate_kbps=1800.0, freezes_1m=0, delay_ms=900.0)
    health = Health(3600.0, 48.25, 1.7, "ok", 31, stream)
    clean = validate(HEALTH, health.to_wire())
    assert clean["rtt_ms"] == 48.2 or clean["rtt_ms"] == 48.3
    assert clean["cpu_load"] == 1.0  # clamped before sending
    assert clean["stream"] == {
        "state": "ok",
        "fps": 25.0,
        "bitrate_kbps": 1800.0,
        "freezes_1m": 0,
        "delay_ms": 900.0,
    }
