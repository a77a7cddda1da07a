"""A program's setting and the rule that reads a value for it from TOML, the environment or a
command line, and the order in which those layers are read: the server (``server/config.py``)
and the classroom agent (``classroom_agent/config.py``) both declare their settings with these
and word a refused value in their own error."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


class Refused(ValueError):
    """A value its setting cannot take, or a name no setting has (``setting`` is None)."""

    def __init__(self, source: str, key: str, setting: Setting | None, value: Any) -> None:
        super().__init__(f"{source}: {key}")
        self.source = source
        self.key = key
        self.setting = setting
        self.value = value


def layered_values(
    known: Sequence[Setting],
    table: Mapping[str, Any],
    table_source: str,
    environ: Mapping[str, str],
    overrides: Mapping[str, Any],
    override_source: Callable[[str], str],
) -> dict[str, Any]:
    """The values of ``known`` settings, each layer over the one before: the settings file's
    table (``my-key`` = ``my_key``; a text setting must be a string there), the environment
    (``Setting.env``), then ``overrides`` (a command line; None = not given).

    Raises :class:`Refused` at the first name or value that cannot be taken; the program
    words its own error from it."""
    by_name = {s.name: s for s in known}
    values: dict[str, Any] = {}

    def take(key: str, value: Any, source: str) -> None:
        setting = by_name.get(key.replace("-", "_"))
        if setting is None:
            raise Refused(source, key, None, value)
        try:
            if setting.kind is str and not isinstance(value, str):
                raise ValueError(value)
            values[setting.name] = setting_value(setting.kind, value)
        except (TypeError, ValueError):
            raise Refused(source, key, setting, value) from None

    for key, value in table.items():
        take(key, value, table_source)
    for setting in known:
        if setting.env in environ:
            take(setting.name, environ[setting.env], setting.env)
    for key, value in overrides.items():
        if value is not None:
            take(key, value, override_source(key))
    return values
