"""A program's setting and the rule that reads a value for it from TOML, the environment or a
command line: the server (``server/config.py``) and the classroom agent
(``classroom_agent/config.py``) both declare their settings with these and wrap a refused
value in their own error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    kind: type
    default: Any
    help: str

    env_prefix: ClassVar[str] = "CLASSROOM_"

    @property
    def env(self) -> str:
        return self.env_prefix + self.name.upper()

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")


def setting_value(kind: type, value: Any) -> Any:
    """``value`` as a ``kind``: yes/no words for a bool, comma-separated text for a list.

    Raises ``ValueError`` (or ``TypeError``) when it is not one; a bool is never taken for a
    number.
    """
    if kind is bool:
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in TRUE_WORDS:
            return True
        if text in FALSE_WORDS:
            return False
        raise ValueError(text)
    if kind is list:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v.strip() for v in str(value).split(",") if v.strip()]
    if isinstance(value, bool):
        raise ValueError(value)
    return kind(value)
