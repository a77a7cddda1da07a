"""The rule the server and the agent read a setting's value with."""

from __future__ import annotations

from typing import Any

import pytest

from classroom_agent.config import Setting as AgentSetting
from server.core.settings import Setting, setting_value

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
