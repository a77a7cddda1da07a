"""The schema toolkit: declarative field specs that check decoded data and return a clean copy.

One toolkit for everything that arrives from outside: HTTP request bodies (``Map(absent="omit")``
and :meth:`Map.partial` for a PATCH, checked by the handlers with :func:`validate`) and the
socket messages (the agent's msgpack, the browsers' JSON), whose schemas and
``validate_message`` live in :mod:`server.core.messages`. The I/O layer decodes with size
limits, then validates; the core only ever sees what comes back: fresh dicts and lists holding
checked ``str``/``int``/``float``/``bool``/``None`` values.

Rules every spec enforces:

- map keys must be ``str`` (msgpack may decode ``bytes`` or ``int`` keys) of at most
  ``MAX_KEY_LEN`` characters: ``message.invalid``;
- ``bool`` is never accepted where a number is expected (``True`` is an ``int`` in Python);
- integers must lie within bounds (64-bit by default; protocol fields use the JSON-safe
  ``MAX_SAFE_INT``); floats must be finite (NaN and infinity are rejected);
- strings and bytes have a maximum length; strings may not hold NUL or unpaired surrogates;
- lists have a maximum number of items; tuples are accepted as lists;
- nesting deeper than ``max_depth`` containers raises ``message.too_deep``; depth is checked
  before descending, including into unknown fields;
- timestamps (epoch seconds) too far from the caller's ``now`` raise ``message.bad_timestamp``.

Unknown fields are DROPPED by default (``Map(extra="drop")``), so a 1.x agent of a newer
minor version can add optional fields without breaking an older server. They are still
checked to be bounded (string keys, depth, sizes, finite numbers) and at most
``max_extra`` of them are allowed. ``Map(extra="reject")`` makes them an error instead.

Absent :class:`Optional` fields come back as ``None``, so the core can index every field.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any, Literal

from server.core.errors import InvalidInput
from server.core.text import clean_field

INVALID = "message.invalid"
TOO_DEEP = "message.too_deep"
BAD_CHARACTERS = "text.bad_characters"
BAD_TIMESTAMP = "message.bad_timestamp"

MAX_DEPTH = 10
"""Default limit on nested containers (maps and lists), the message itself being depth 1."""

MAX_KEY_LEN = 128
"""Longest map key accepted anywhere, known field or not."""

MAX_SAFE_INT = 2**53 - 1
"""The largest integer a browser's JSON numbers carry exactly."""

_INT64_MIN = -(2**63)
_INT64_MAX = 2**63 - 1
_FORBIDDEN_CHARS = re.compile("[\x00\ud800-\udfff]")


class _Context:
    __slots__ = ("max_depth", "now")

    def __init__(self, now: float | None, max_depth: int) -> None:
        self.now = now
        self.max_depth = max_depth


def _invalid(path: str, reason: str, code: str = INVALID) -> InvalidInput:
    return InvalidInput(code, f"{path}: {reason}", {"path": path})


def _key_path(path: str, key: str) -> str:
    shown = key if len(key) <= 40 else key[:37] + "..."
    return f"{path}.{shown}"


def _enter(path: str, depth: int, ctx: _Context) -> None:
    if depth > ctx.max_depth:
        raise _invalid(path, f"nested deeper than {ctx.max_depth} levels", TOO_DEEP)


def _check_str(value: object, path: str, max_len: int) -> str:
    if not isinstance(value, str):
        raise _invalid(path, "must be a string")
    if len(value) > max_len:
        raise _invalid(path, f"must be at most {max_len} characters")
    if _FORBIDDEN_CHARS.search(value):
        raise _invalid(path, "must not contain NUL characters or unpaired surrogates")
    return value


def _check_int(value: object, path: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool):
        raise _invalid(path, "must be an integer, not a boolean")
    if not isinstance(value, int):
        raise _invalid(path, "must be an integer")
    if not minimum <= value <= maximum:
        raise _invalid(path, f"must be between {minimum} and {maximum}")
    return int(value)


def _check_number(value: object, path: str) -> float:
    """A finite int or float (not bool) as a float; huge ints that overflow are rejected."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(path, "must be a finite number")
    try:
        number = float(value)
    except OverflowError:
        raise _invalid(path, "must be a finite number") from None
    if not math.isfinite(number):
        raise _invalid(path, "must be a finite number")
    return number


class Spec:
    """A field spec: checks one decoded value and returns its clean copy."""

    __slots__ = ()

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        """The JSON Schema (OpenAPI 3.0 dialect) this spec accepts, for the API document."""
        raise NotImplementedError


class Str(Spec):
    """A string. By default the one text policy for human-entered fields applies
    (``server.core.text.clean_field``: zero-width characters stripped, bidi and control
    characters refused with ``text.bad_characters``); ``raw=True`` keeps the value exactly as
    sent (passwords; fields that a stricter rule of their own checks next, like questions)."""

    __slots__ = ("max_len", "min_len", "pattern", "raw")

    def __init__(
        self, max_len: int = 500, min_len: int = 0, pattern: str | None = None, raw: bool = False
    ) -> None:
        self.max_len = max_len
        self.min_len = min_len
        self.pattern = re.compile(pattern) if pattern is not None else None
        self.raw = raw

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> str:
        text = _check_str(value, path, self.max_len)
        if not self.raw:
            text, bad = clean_field(text)
            if bad:
                raise InvalidInput(
                    BAD_CHARACTERS,
                    f"{path}: remove the hidden control characters (e.g. text direction "
                    "overrides) and send it again",
                    {"path": path, "characters": list(bad)},
                )
        if len(text) < self.min_len:
            raise _invalid(path, f"must be at least {self.min_len} characters")
        if self.pattern is not None and self.pattern.fullmatch(text) is None:
            raise _invalid(path, "has an invalid format")
        return text

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string", "maxLength": self.max_len}
        if self.min_len:
            schema["minLength"] = self.min_len
        if self.pattern is not None:
            schema["pattern"] = f"^(?:{self.pattern.pattern})$"
        return schema


class Bytes(Spec):
    __slots__ = ("max_len",)

    def __init__(self, max_len: int) -> None:
        self.max_len = max_len

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> bytes:
        if not isinstance(value, bytes | bytearray):
            raise _invalid(path, "must be bytes")
        if len(value) > self.max_len:
            raise _invalid(path, f"must be at most {self.max_len} bytes")
        return bytes(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "binary", "maxLength": self.max_len}


class Int(Spec):
    __slots__ = ("maximum", "minimum")

    def __init__(self, minimum: int = _INT64_MIN, maximum: int = _INT64_MAX) -> None:
        self.minimum = minimum
        self.maximum = maximum

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> int:
        return _check_int(value, path, self.minimum, self.maximum)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "integer", "minimum": self.minimum, "maximum": self.maximum}


class Float(Spec):
    """A number; ints are accepted and returned as float."""

    __slots__ = ("finite", "maximum", "minimum")

    def __init__(
        self,
        minimum: float | None = None,
        maximum: float | None = None,
        finite: bool = True,
    ) -> None:
        self.minimum = minimum
        self.maximum = maximum
        self.finite = finite

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> float:
        if not self.finite and isinstance(value, float) and not math.isnan(value):
            number = value
        else:
            number = _check_number(value, path)
        if self.minimum is not None and number < self.minimum:
            raise _invalid(path, f"must be at least {self.minimum:g}")
        if self.maximum is not None and number > self.maximum:
            raise _invalid(path, f"must be at most {self.maximum:g}")
        return number

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


class Bool(Spec):
    __slots__ = ()

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> bool:
        if not isinstance(value, bool):
            raise _invalid(path, "must be true or false")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Enum(Spec):
    """One of a fixed set of strings."""

    __slots__ = ("values",)

    def __init__(self, *values: str) -> None:
        self.values = frozenset(values)

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> str:
        if not isinstance(value, str) or value not in self.values:
            raise _invalid(path, f"must be one of: {', '.join(sorted(self.values))}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": sorted(self.values)}


class Timestamp(Spec):
    """Epoch seconds within ``[now - max_past, now + max_future]`` of the caller's ``now``."""

    __slots__ = ("max_future", "max_past")

    def __init__(self, max_past: float = 600.0, max_future: float = 600.0) -> None:
        self.max_past = max_past
        self.max_future = max_future

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> float:
        ts = _check_number(value, path)
        if ctx.now is None:
            raise ValueError(f"{path}: validate() needs now= to check timestamps")
        if ts < ctx.now - self.max_past:
            raise _invalid(
                path, f"is {ctx.now - ts:.0f} s in the past; set the clock (NTP)", BAD_TIMESTAMP
            )
        if ts > ctx.now + self.max_future:
            raise _invalid(
                path, f"is {ts - ctx.now:.0f} s in the future; set the clock (NTP)", BAD_TIMESTAMP
            )
        return ts

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "number",
            "description": "epoch seconds, within minutes of the server clock",
        }


class DateTime(Spec):
    """An ISO 8601 date-time WITH a UTC offset (``2026-11-22T09:00:00+08:00``).

    Gives an aware datetime in UTC.
    """

    __slots__ = ("earliest", "latest")

    def __init__(self, earliest_year: int = 2000, latest_year: int = 2100) -> None:
        self.earliest = earliest_year
        self.latest = latest_year

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> dt.datetime:
        text = _check_str(value, path, 40)
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            raise _invalid(
                path, "must be an ISO 8601 date-time like 2026-11-22T09:00:00+08:00"
            ) from None
        if parsed.tzinfo is None:
            raise _invalid(path, "must carry a UTC offset, e.g. +08:00 or Z")
        if not self.earliest <= parsed.year <= self.latest:
            raise _invalid(path, f"must be between the years {self.earliest} and {self.latest}")
        return parsed.astimezone(dt.UTC)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "format": "date-time", "maxLength": 40}


class Optional(Spec):
    """The field may be absent or null (both give ``None``)."""

    __slots__ = ("spec",)

    def __init__(self, spec: Spec) -> None:
        self.spec = spec

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> Any:
        if value is None:
            return None
        return self.spec.check(value, path, ctx, depth)

    def json_schema(self) -> dict[str, Any]:
        return {**self.spec.json_schema(), "nullable": True}


class List(Spec):
    __slots__ = ("item", "max_items", "min_items")

    def __init__(self, item: Spec, max_items: int, min_items: int = 0) -> None:
        self.item = item
        self.max_items = max_items
        self.min_items = min_items

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> list[Any]:
        if not isinstance(value, list | tuple):
            raise _invalid(path, "must be a list")
        _enter(path, depth, ctx)
        if len(value) > self.max_items:
            raise _invalid(path, f"must have at most {self.max_items} items")
        if len(value) < self.min_items:
            raise _invalid(path, f"must have at least {self.min_items} items")
        return [self.item.check(v, f"{path}[{i}]", ctx, depth + 1) for i, v in enumerate(value)]

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "array",
            "items": self.item.json_schema(),
            "maxItems": self.max_items,
        }
        if self.min_items:
            schema["minItems"] = self.min_items
        return schema


def _check_map_shape(value: object, path: str, ctx: _Context, depth: int) -> dict[Any, Any]:
    if not isinstance(value, dict):
        raise _invalid(path, "must be a map")
    _enter(path, depth, ctx)
    for key in value:
        if not isinstance(key, str):
            raise _invalid(path, f"keys must be strings, got {type(key).__name__} {key!r:.40}")
        if len(key) > MAX_KEY_LEN:
            raise _invalid(path, f"keys must be at most {MAX_KEY_LEN} characters")
    return value


class Map(Spec):
    """A map with known fields. ``required`` defaults to every field not wrapped in Optional.

    ``absent="none"`` (protocol messages) gives every absent field as ``None``;
    ``absent="omit"`` (REST bodies) leaves absent fields out, so store defaults apply and a
    PATCH changes only what was sent.
    """

    __slots__ = ("absent", "extra", "fields", "max_extra", "required")

    def __init__(
        self,
        fields: Mapping[str, Spec],
        required: frozenset[str] | set[str] | None = None,
        extra: Literal["drop", "reject"] = "drop",
        max_extra: int = 32,
        absent: Literal["none", "omit"] = "none",
    ) -> None:
        self.absent = absent
        self.fields = dict(fields)
        if required is None:
            required = frozenset(k for k, s in self.fields.items() if not isinstance(s, Optional))
        unknown = required - self.fields.keys()
        if unknown:
            raise ValueError(f"required fields not in the schema: {sorted(unknown)}")
        self.required = frozenset(required)
        self.extra = extra
        self.max_extra = max_extra

    def partial(self) -> Map:
        """The same fields, none required, absent ones left out: the body of a PATCH."""
        return Map(self.fields, frozenset(), self.extra, self.max_extra, absent="omit")

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "properties": {k: v.json_schema() for k, v in self.fields.items()},
            "additionalProperties": self.extra == "drop",
        }
        if self.required:
            schema["required"] = sorted(self.required)
        return schema

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> dict[str, Any]:
        data = _check_map_shape(value, path, ctx, depth)
        out: dict[str, Any] = {}
        extras = 0
        for key, item in data.items():
            spec = self.fields.get(key)
            if spec is not None:
                out[key] = spec.check(item, _key_path(path, key), ctx, depth + 1)
                continue
            if self.extra == "reject":
                raise _invalid(_key_path(path, key), "unknown field")
            extras += 1
            if extras > self.max_extra:
                raise _invalid(path, f"more than {self.max_extra} unknown fields")
            _UNKNOWN_FIELD.check(item, _key_path(path, key), ctx, depth + 1)
        for key in self.fields:
            if key not in out:
                if key in self.required:
                    raise _invalid(_key_path(path, key), "is required")
                if self.absent == "none":
                    out[key] = None
        return out


class Dict(Spec):
    """A map with free keys (checked by ``key``) and values of one spec."""

    __slots__ = ("key", "max_items", "value")

    def __init__(self, key: Str, value: Spec, max_items: int) -> None:
        self.key = key
        self.value = value
        self.max_items = max_items

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> dict[str, Any]:
        data = _check_map_shape(value, path, ctx, depth)
        if len(data) > self.max_items:
            raise _invalid(path, f"must have at most {self.max_items} entries")
        out: dict[str, Any] = {}
        for key, item in data.items():
            item_path = _key_path(path, key)
            self.key.check(key, item_path, ctx, depth + 1)
            out[key] = self.value.check(item, item_path, ctx, depth + 1)
        return out

    def json_schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": self.value.json_schema(),
            "maxProperties": self.max_items,
        }


class Data(Spec):
    """Free-form JSON-like data (a ``body``), bounded in size, depth, keys and numbers."""

    __slots__ = ("max_items", "max_len")

    def __init__(self, max_items: int = 64, max_len: int = 2000) -> None:
        self.max_items = max_items
        self.max_len = max_len

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> Any:
        return self._any(value, path, ctx, depth)

    def _any(self, value: object, path: str, ctx: _Context, depth: int) -> Any:
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            return _check_int(value, path, _INT64_MIN, _INT64_MAX)
        if isinstance(value, float):
            return _check_number(value, path)
        if isinstance(value, str):
            return _check_str(value, path, self.max_len)
        if isinstance(value, bytes | bytearray):
            if len(value) > self.max_len:
                raise _invalid(path, f"must be at most {self.max_len} bytes")
            return bytes(value)
        if isinstance(value, list | tuple):
            _enter(path, depth, ctx)
            if len(value) > self.max_items:
                raise _invalid(path, f"must have at most {self.max_items} items")
            return [self._any(v, f"{path}[{i}]", ctx, depth + 1) for i, v in enumerate(value)]
        if isinstance(value, dict):
            data = _check_map_shape(value, path, ctx, depth)
            if len(data) > self.max_items:
                raise _invalid(path, f"must have at most {self.max_items} entries")
            return {k: self._any(v, _key_path(path, k), ctx, depth + 1) for k, v in data.items()}
        raise _invalid(path, f"unsupported value of type {type(value).__name__}")

    def json_schema(self) -> dict[str, Any]:
        return {"description": "free-form JSON data, bounded in size and depth"}


class MapOf(Data):
    """Free-form data whose top level must be a map."""

    __slots__ = ()

    def check(self, value: object, path: str, ctx: _Context, depth: int) -> Any:
        if not isinstance(value, dict):
            raise _invalid(path, "must be a map")
        return self._any(value, path, ctx, depth)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "maxProperties": self.max_items}


_UNKNOWN_FIELD = Data(max_items=64, max_len=4096)


def validate(
    schema: Spec,
    obj: object,
    *,
    now: float | None = None,
    path: str = "message",
    max_depth: int = MAX_DEPTH,
) -> Any:
    """Check ``obj`` against ``schema``; returns the clean copy (a dict for a Map).

    Raises :class:`InvalidInput` whose message names the field path. ``now`` (epoch seconds)
    is needed only by :class:`Timestamp` fields.
    """
    return schema.check(obj, path, _Context(now, max_depth), 1)
