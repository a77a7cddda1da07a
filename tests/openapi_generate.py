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

Two corrections no recording can make, applied on every run:

* ``MAY_BE_NULL``: fields a handler answers as null until the thing happens (a session not yet
  started or ended, a poll without a time limit or not closed, a plan not published) or for some
  viewers; the tests' answers may all have had a value, the document must still allow null.
* ``WRITTEN``: the answers of operations the API tests do not record, typed from their handlers.

    python -m tests.openapi_generate --amend

applies both to the existing file without a new recording.
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

DATE_TIME_NULL = {"type": "string", "format": "date-time", "nullable": True}
MAY_BE_NULL: dict[str, dict[str, Any]] = {
    # sessions (server/web/batches/service.py, iso(None) -> None) and batch plans
    "started_at": DATE_TIME_NULL,
    "ended_at": DATE_TIME_NULL,
    "published_at": DATE_TIME_NULL,
    # polls (polls.service.poll_view): no time limit, not launched or not closed; ``correct`` is
    # null for a poll that is not a quiz and, for trainees, until the quiz closes
    "opened_at": DATE_TIME_NULL,
    "closed_at": DATE_TIME_NULL,
    "deadline": DATE_TIME_NULL,
    "time_limit": {"type": "number", "nullable": True},
    "correct": {"type": "array", "items": {"type": "integer"}, "nullable": True},
    # attendance records (checkin.records.record_view): a manual mark has no first scan
    "first_in": DATE_TIME_NULL,
    "last_out": DATE_TIME_NULL,
}
NULLABLE_OBJECTS = {
    # GET /api/v1/site/current-session: no session live at the site now
    "GetSiteCurrentSessionResponse": ("session",),
    # GET /api/v1/courses/{id}/batch-plan of a course without a plan yet (status "none")
    "PostCoursesIdBatchPlan201Response": ("plan_id", "rules", "created_at"),
}


def _widen(schema: Any) -> Any:
    """``schema`` with every ``MAY_BE_NULL`` property allowed to be null."""
    if isinstance(schema, list):
        return [_widen(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: _widen(v) for k, v in schema.items()}
    for name, sub in out.get("properties", {}).items():
        if name in MAY_BE_NULL:
            # only null recorded ({}): the handler's type; else the recorded one, nullable
            out["properties"][name] = {**sub, "nullable": True} if sub else dict(MAY_BE_NULL[name])
    return out


VOTE = {
    "type": "object",
    "properties": {
        "question_id": {"type": "integer"},
        "vote_count": {"type": "integer"},
        "voted_by_me": {"type": "boolean"},
        "changed": {"type": "boolean", "description": "false: the vote was already so"},
    },
    "required": ["question_id", "vote_count", "voted_by_me", "changed"],
}
WRITTEN: dict[str, dict[str, Any]] = {
    # qa.service.vote
    "POST /api/v1/questions/{id}/vote 200": {
        "schema": VOTE,
        "example": {"question_id": 12, "vote_count": 5, "voted_by_me": True, "changed": True},
    },
    "DELETE /api/v1/questions/{id}/vote 200": {
        "schema": VOTE,
        "example": {"question_id": 12, "vote_count": 4, "voted_by_me": False, "changed": True},
    },
    # qa.moderation.moderate: the question as moderators see it, like pin
    "POST /api/v1/questions/{id}/unpin 200": {
        "like": "POST /api/v1/questions/{id}/pin 200",
        "example_update": {"pinned": False},
    },
    # batches.http.get_batch_plan: the plan view create_batch_plan answers
    "GET /api/v1/courses/{id}/batch-plan 200": {"like": "POST /api/v1/courses/{id}/batch-plan 201"},
    # completion.http.revoke_many: the view revoke answers, per certificate revoked
    "POST /api/v1/certificates/revoke 200": {
        "schema": {
            "type": "object",
            "properties": {
                "revoked": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/PostCertificatesIdRevokeResponse"},
                }
            },
            "required": ["revoked"],
        },
        "example": {
            "revoked": [
                {
                    "id": 1,
                    "code": "M6QIO3XY4IL36IVJ",
                    "issued_at": "2026-12-06T13:40:35.547622+00:00",
                    "revoked_at": "2026-12-06T19:40:02.118203+00:00",
                    "revoked_by": "user:2:operator",
                    "revoke_reason": "考勤记录更正后学时不足",
                }
            ]
        },
    },
    # polls.http.own_quiz_scores: the same view as a trainee's scores read by staff
    "GET /api/v1/trainee/quiz-scores 200": {"like": "GET /api/v1/trainees/{id}/quiz-scores 200"},
    # polls.service.answer_poll
    "POST /api/v1/polls/{id}/answers 201": {
        "schema": {
            "type": "object",
            "properties": {
                "poll_id": {"type": "integer"},
                "choices": {"type": "array", "items": {"type": "integer"}},
                "answers": {"type": "integer", "description": "answers to the poll so far"},
            },
            "required": ["poll_id", "choices", "answers"],
        },
        "example": {"poll_id": 7, "choices": [1], "answers": 36},
    },
    # screen_api.screen_status (server/core/screen.py)
    "POST /api/v1/site/screen-status 200": {
        "schema": {
            "type": "object",
            "properties": {
                "state": {"type": "string", "enum": ["playing", "stalled", "idle"]},
                "fps": {"type": "number"},
                "sound": {"type": "string", "enum": ["on", "muted", "none"]},
                "interval_s": {"type": "number", "description": "seconds until the next report"},
            },
            "required": ["state", "fps", "sound", "interval_s"],
        },
        "example": {"state": "playing", "fps": 24.8, "sound": "on", "interval_s": 5.0},
    },
    # checkin.http.list_failures
    "GET /api/v1/sessions/{id}/checkin-failures 200": {
        "schema": {
            "type": "object",
            "properties": {
                "session_id": {"type": "integer"},
                "total_failures": {"type": "integer"},
                "typed_codes_paused_for": {"type": "integer", "description": "seconds"},
                "session_limit": {"type": "integer"},
                "items": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "trainee_id": {"type": "integer"},
                            "name": {"type": "string"},
                            "staff_no": {"type": "string"},
                            "failures": {"type": "integer"},
                            "total": {"type": "integer"},
                            "last_failure": {"type": "string", "format": "date-time"},
                            "retry_after": {"type": "integer", "description": "seconds"},
                        },
                        "required": [
                            "trainee_id",
                            "name",
                            "staff_no",
                            "failures",
                            "total",
                            "last_failure",
                            "retry_after",
                        ],
                    },
                },
            },
            "required": [
                "session_id",
                "total_failures",
                "typed_codes_paused_for",
                "session_limit",
                "items",
            ],
        },
        "example": {
            "session_id": 3,
            "total_failures": 4,
            "typed_codes_paused_for": 0,
            "session_limit": 600,
            "items": [
                {
                    "trainee_id": 41,
                    "name": "张三",
                    "staff_no": "A0041",
                    "failures": 3,
                    "total": 4,
                    "last_failure": "2026-12-06T09:12:30+08:00",
                    "retry_after": 30,
                }
            ],
        },
    },
}


def amend(result: dict[str, Any]) -> dict[str, Any]:
    """``result`` (a generated file) with ``MAY_BE_NULL`` and ``WRITTEN`` applied."""
    components = {name: _widen(s) for name, s in result["components"].items()}
    for name, props in NULLABLE_OBJECTS.items():
        for prop in props:
            if prop in components.get(name, {}).get("properties", {}):
                components[name]["properties"][prop]["nullable"] = True
    operations = {
        key: {**e, "schema": _widen(e["schema"])} for key, e in result["operations"].items()
    }
    for key, entry in WRITTEN.items():
        if "like" in entry:
            like = operations[entry["like"]]
            operations[key] = {
                **like,
                "example": {**like["example"], **entry.get("example_update", {})},
            }
            continue
        name = op_name(*key.split(" "))
        same = [n for n, s in components.items() if s == entry["schema"]]
        if not same:
            components[name] = entry["schema"]
        ref = {"$ref": f"#/components/schemas/{same[0] if same else name}"}
        operations[key] = {"schema": ref, "example": entry["example"]}
    return {"components": components, "operations": dict(sorted(operations.items()))}


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
    return amend({"components": components, "operations": operations})


def main(argv: list[str]) -> int:
    if argv == ["--amend"]:
        result = amend(json.loads(OUT.read_text(encoding="utf-8")))
    else:
        result = generate(Path(argv[0]))
    OUT.write_text(json.dumps(result, indent=1, ensure_ascii=False, sort_keys=True) + "\n")
    print(f"{len(result['operations'])} answers, {len(result['components'])} components -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
