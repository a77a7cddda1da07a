"""The rule the server and the agent read a setting's value with."""

from __future__ import annotations

from typing import Any

import pytest

from classroom_agent.config import Setting as AgentSetting
from server.core.settings import Refused, Setting, layered_values, setting_value

YES = ["1", "TRUE", " yes ", "on", True]
NO = ["0", "false", "No", "off", "", False]


@pytest.mark.parametrize(("text", "value"), [(t, True) for t in YES] + [(t, False) for t in NO])
def test_a_bool_is_read_from_yes_and_no_words(text: Any, value: bool) -> None:
    assert setting_value(bool, text) is value


@pytest.mark.parametrize(
    ("kind", "value"), [(bool, "maybe"), (int, True), (float, False), (int, "8x")]
)
def test_a_value_that_is_not_of_the_kind_is_refused(kind: type, value: Any) -> None:
    with pytest.raises(ValueError):
        setting_value(kind, value)


def test_numbers_text_and_lists_are_read_as_their_kind() -> None:
    assert setting_value(int, "8080") == 8080
    assert setting_value(float, "0.5") == 0.5
    assert setting_value(str, "wss://x") == "wss://x"
    assert setting_value(list, " 10.0.0.1 , ,10.0.0.2") == ["10.0.0.1", "10.0.0.2"]
    assert setting_value(list, ["a", 1]) == ["a", "1"]


def test_a_setting_names_its_environment_variable_and_flag() -> None:
    assert Setting("data_dir", str, "", "").env == "CLASSROOM_DATA_DIR"
    assert AgentSetting("site_id", int, 0, "").env == "CLASSROOM_AGENT_SITE_ID"
    assert Setting("site_id", int, 0, "").flag == "--site-id"


KNOWN = (
    Setting("port", int, 8080, ""),
    Setting("host", str, "", ""),
    Setting("demo", bool, False, ""),
)


def layers(table: dict[str, Any], env: dict[str, str], overrides: dict[str, Any]) -> dict[str, Any]:
    return layered_values(KNOWN, table, "a.toml", env, overrides, lambda key: "--" + key)


def test_the_environment_wins_over_the_file_and_the_command_line_over_both() -> None:
    file = {"port": 81, "host": "file", "demo": True}
    env = {"CLASSROOM_PORT": "82", "CLASSROOM_HOST": "env"}
    assert layers(file, env, {"port": 83, "host": None}) == {
        "port": 83,  # the command line
        "host": "env",  # None on the command line = not given
        "demo": True,  # only in the file
    }


REFUSALS = [  # (file, environment, command line), then what is refused: where, which, known?
    (({"prot": 1}, {}, {}), ("a.toml", "prot", False)),
    (({"host": 5}, {}, {}), ("a.toml", "host", True)),  # TOML text must be a string
    (({}, {"CLASSROOM_PORT": "80a"}, {}), ("CLASSROOM_PORT", "port", True)),
    (({}, {}, {"demo": "maybe"}), ("--demo", "demo", True)),
]


@pytest.mark.parametrize(("given", "refused"), REFUSALS)
def test_the_first_name_or_value_that_cannot_be_taken_is_refused_with_its_source(
    given: tuple[dict[str, Any], dict[str, str], dict[str, Any]], refused: tuple[str, str, bool]
) -> None:
    with pytest.raises(Refused) as caught:
        layers(*given)
    error = caught.value
    assert (error.source, error.key, error.setting is not None) == refused


def test_a_file_key_may_be_written_with_dashes() -> None:
    known = (Setting("log_level", str, "INFO", ""),)
    assert layered_values(known, {"log-level": "DEBUG"}, "f", {}, {}, str) == {"log_level": "DEBUG"}
