"""Turn recorded API answers into the response schemas of the OpenAPI document.

    CLASSROOM_RECORD_RESPONSES=/tmp/answers.jsonl pytest tests/web
    python -m tests.openapi_generate /tmp/answers.jsonl

writes server/web/openapi_responses.json: a schema per operation and status, inferred from
every answer the API tests saw (a property is required when every answer had it, nullable when
one had null; objects keyed by ids become maps), identical object shapes met in several places
shared as components, and one answer per operation as the example (credentials masked).
Endpoints that declare their own ``response`` schema keep it (the file gives them an example).
Re-run after changing what an endpoint answers; tests/web/conftest.py then checks every answer
of the API tests against the document, so a drift shows as a failing test.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

OUT = Path(__file__).resolve().parents[1] / "server/web/openapi_responses.json"
DATE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?([+-]\d\d:\d\d|Z)?")
SECRET_KEY = re.compile(r"secret|password|token|csrf|^qr$|link", re.I)
CODE_VALUE = re.compile(r"[A-HJ-NP-Z2-9]{10}|\d{6}")  # a personal or a screen check-in code
MIN_SHARED_PROPERTIES = 3


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _is_map(objects: list[dict[str, Any]]) -> bool:
    keys = {k for o in objects for k in o}
    return bool(keys) and all(re.fullmatch(r"-?\d+", k) for k in keys)


def infer(values: list[Any]) -> dict[str, Any]:
    kinds = Counter(_kind(v) for v in values)
    nullable = "null" in kinds
    kinds.pop("null", None)
    if "integer" in kinds and "number" in kinds:
        kinds["number"] += kinds.pop("integer")
    present = [v for v in values if v is not None]
    if not kinds:
        schema: dict[str, Any] = {}
    elif len(kinds) > 1:
        schema = {"anyOf": [infer([v for v in present if _kind(v) == k]) for k in sorted(kinds)]}
    else:
        (kind,) = kinds
        if kind == "object":
            schema = _object(present)
        elif kind == "array":
            items = [item for v in present for item in v]
            schema = {"type": "array", "items": infer(items) if items else {}}
        elif kind == "string":
            schema = {"type": "string"}
            if all(DATE_TIME.fullmatch(v) for v in present):
                schema["format"] = "date-time"
        else:
            schema = {"type": kind}
    if nullable and schema:  # only null seen: {} (any value) says as much, validly in 3.0
        schema["nullable"] = True
    return schema


def _object(objects: list[dict[str, Any]]) -> dict[str, Any]:
    if _is_map(objects):
        return {
            "type": "object",
            "description": "keyed by id",
            "additionalProperties": infer([v for o in objects for v in o.values()]),
        }
    keys: dict[str, None] = {}
    for o in objects:
        keys.update(dict.fromkeys(o))
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {k: infer([o[k] for o in objects if k in o]) for k in keys},
    }
    required = [k for k in keys if all(k in o for o in objects)]
    if required:
        schema["required"] = required
    return schema


def _camel(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text))


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("sses", "xes", "ches", "shes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def _share(operations: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Object shapes met in several places become components (``$ref``)."""
    seen: dict[str, list[str]] = defaultdict(list)

    def walk(schema: Any, key: str, noun: str) -> None:
        if isinstance(schema, dict):
            if schema.get("type") == "object" and len(schema.get("properties", {})) >= (
                MIN_SHARED_PROPERTIES
            ):
                seen[json.dumps(schema, sort_keys=True)].append(key)
            for name, sub in schema.get("properties", {}).items():
                walk(sub, noun if name in ("items", "item") else name, noun)
            walk(schema.get("items"), _singular(key), noun)
            walk(schema.get("additionalProperties"), _singular(key), noun)
            for sub in schema.get("anyOf", []):
                walk(sub, key, noun)

    for op, entry in operations.items():
        method, template, status = op.split(" ")
        static = [s for s in template.split("/") if s and "{" not in s]
        noun = _singular(static[-1]) if static else "item"
        walk(entry["schema"], op_name(method, template, status), noun)
    components: dict[str, Any] = {}
    names: dict[str, str] = {}
    for text, keys in sorted(seen.items(), key=lambda kv: -len(kv[1])):
        if len(keys) < 2:
            continue
        first = Counter(keys).most_common(1)[0][0]
        base = first if first.endswith("Response") else _camel(first) or "Object"
        name, n = base, 2
        while name in components:
            name, n = f"{base}{n}", n + 1
        components[name] = json.loads(text)
        names[text] = name

    def replace(schema: Any, top: bool) -> Any:
        if isinstance(schema, list):
            return [replace(s, False) for s in schema]
        if not isinstance(schema, dict):
            return schema
        text = json.dumps(schema, sort_keys=True)
        if not top and text in names:
            ref: dict[str, Any] = {"$ref": f"#/components/schemas/{names[text]}"}
            return ref
        return {k: replace(v, False) for k, v in schema.items()}

    for name in list(components):
        components[name] = replace(components[name], True)
    for entry in operations.values():
        entry["schema"] = replace(entry["schema"], False)
    return components


def op_name(method: str, template: str, status: str) -> str:
    """``GET /api/v1/sessions/{id}/report 200`` -> ``GetSessionsIdReportResponse``."""
    name = _camel(f"{method.lower()} {template}").replace("ApiV1", "")
    return name + (status if status != "200" else "") + "Response"


def _mask(value: Any, key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _mask(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_mask(v, key) for v in value[:3]]
    if isinstance(value, str) and (
        SECRET_KEY.search(key) or ("code" in key.lower() and CODE_VALUE.fullmatch(value))
    ):
        return "…"
    return value


def generate(recording: Path) -> dict[str, Any]:
    answers: dict[str, list[Any]] = defaultdict(list)
    for line in recording.read_text(encoding="utf-8").splitlines():
        method, template, status, body = json.loads(line)
        answers[f"{method} {template} {status}"].append(body)
    operations = {
        key: {"schema": infer(bodies), "example": _mask(bodies[0])}
        for key, bodies in sorted(answers.items())
    }
    components = _share(operations)
    for key, entry in operations.items():  # every answer a named component of its own
        name = op_name(*key.split(" "))
        if "$ref" not in entry["schema"]:
            components[name] = entry["schema"]
            entry["schema"] = {"$ref": f"#/components/schemas/{name}"}
    return {"components": components, "operations": operations}


def main(argv: list[str]) -> int:
    result = generate(Path(argv[0]))
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(result['operations'])} answers, {len(result['components'])} components -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
