"""Every endpoint × every kind of caller: allowed or denied exactly as this table says.

The table is written out here on purpose, independently of the registry, so that a change of an
endpoint's roles must be made twice: in the code and in this expectation.
"""

from __future__ import annotations

from typing import Any

from tests.conftest import ClientFactory, World

ACTORS = ("anonymous", "trainee", "site_agent", "moderator", "operator", "admin")
EVERYONE = set(ACTORS)
SIGNED_IN = EVERYONE - {"anonymous"}
STAFF = {"moderator", "operator", "admin"}
MANAGERS = {"operator", "admin"}
ADMIN = {"admin"}

EXPECTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/api/v1/auth/login"): EVERYONE,
    ("GET", "/api/v1/time"): EVERYONE,
    ("POST", "/api/v1/auth/join"): EVERYONE,
    ("GET", "/api/v1/auth/me"): EVERYONE,
    ("POST", "/api/v1/sites/{id}/secret"): MANAGERS,
    ("POST", "/api/v1/trainees/{id}/join-code"): MANAGERS,
    ("POST", "/api/v1/trainees/import"): MANAGERS,
    ("GET", "/api/v1/trainees/export"): MANAGERS,
    ("POST", "/api/v1/join-codes"): MANAGERS,
    ("POST", "/api/v1/join-codes/xlsx"): MANAGERS,
    # the audit reader and the phone's own lists (server/web/audit/http.py, trainee_api.py)
    ("GET", "/api/v1/audit"): MANAGERS,
    ("GET", "/api/v1/audit/facets"): MANAGERS,
    ("GET", "/api/v1/trainee/electives"): {"trainee"},
    ("GET", "/api/v1/trainee/surveys"): {"trainee"},
    ("GET", "/api/v1/trainee/feedback"): {"trainee"},
    ("POST", "/api/v1/sessions/{id}/start"): MANAGERS,
    ("POST", "/api/v1/sessions/{id}/end"): MANAGERS,
    ("GET", "/api/v1/agent/site"): {"site_agent"},
    ("GET", "/api/v1/sessions/{id}/presence"): STAFF,
    ("POST", "/api/v1/sessions/{id}/roll-calls"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/roll-calls"): STAFF,
    ("GET", "/api/v1/roll-calls/{id}"): STAFF,
    ("POST", "/api/v1/roll-calls/{id}/answer"): {"trainee"},
    ("GET", "/api/v1/trainee/me"): {"trainee"},
    # site screen sign-in and what the screen and the phone page need (server/web/screen_api.py)
    ("POST", "/api/v1/auth/screen"): EVERYONE,
    ("GET", "/api/v1/site/current-session"): {"site_agent"},
    ("POST", "/api/v1/site/screen-status"): {"site_agent"},
    ("GET", "/api/v1/sessions/{id}/site-names"): SIGNED_IN,
    ("GET", "/api/v1/trainee/live-sessions"): {"trainee"},
    ("GET", "/api/v1/sessions/{id}/roll-calls/open"): {"trainee", "site_agent"},
    # staggered batches, check-in, electives, ledger and reports (server/web/batches, checkin, …)
    ("POST", "/api/v1/courses/{id}/batch-plan"): MANAGERS,
    ("GET", "/api/v1/courses/{id}/batch-plan"): MANAGERS,
    ("POST", "/api/v1/courses/{id}/batch-plan/move"): MANAGERS,
    ("POST", "/api/v1/courses/{id}/batch-plan/swap"): MANAGERS,
    ("POST", "/api/v1/courses/{id}/batch-plan/publish"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/checkin-code"): MANAGERS | {"site_agent"},
    ("GET", "/api/v1/sessions/{id}/checkin-failures"): STAFF,
    ("POST", "/api/v1/sessions/{id}/checkin"): {"trainee"},
    ("POST", "/api/v1/sessions/{id}/checkout"): {"trainee"},
    ("POST", "/api/v1/sessions/{id}/attendance/mark"): MANAGERS | {"site_agent"},
    ("GET", "/api/v1/sessions/{id}/attendance"): MANAGERS | {"site_agent"},
    ("POST", "/api/v1/sessions/{id}/attendance/correct"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/settings"): MANAGERS,
    ("PUT", "/api/v1/sessions/{id}/settings"): MANAGERS,
    ("POST", "/api/v1/sessions/{id}/registration"): {"trainee"},
    ("DELETE", "/api/v1/sessions/{id}/registration"): {"trainee"},
    ("GET", "/api/v1/sessions/{id}/registrations"): MANAGERS,
    ("GET", "/api/v1/trainees/{id}/transcript"): MANAGERS,
    ("GET", "/api/v1/trainee/transcript"): {"trainee"},
    ("GET", "/api/v1/reports/honour-list"): MANAGERS,
    # leave (server/web/leave/http.py)
    ("GET", "/api/v1/trainee/leave"): {"trainee"},
    ("POST", "/api/v1/trainee/leave"): {"trainee"},
    ("POST", "/api/v1/leave/{id}/withdraw"): {"trainee"},
    ("GET", "/api/v1/leave"): STAFF,
    ("POST", "/api/v1/leave/{id}/decide"): STAFF,
    ("GET", "/api/v1/programs/{id}/leave"): MANAGERS,
    ("GET", "/api/v1/org-units/{id}/contacts"): MANAGERS,
    ("PUT", "/api/v1/org-units/{id}/contacts"): MANAGERS,
    # completion, set reading, write-ups, certificates, reminders (server/web/completion/)
    ("GET", "/api/v1/programs/{id}/completion-rules"): MANAGERS,
    ("PUT", "/api/v1/programs/{id}/completion-rules"): MANAGERS,
    ("GET", "/api/v1/programs/{id}/completion"): MANAGERS,
    ("GET", "/api/v1/programs/{id}/honour-list"): MANAGERS,
    ("POST", "/api/v1/programs/{id}/certificates"): MANAGERS,
    ("GET", "/api/v1/certificates/{id}/pdf"): MANAGERS | {"trainee"},
    ("POST", "/api/v1/certificates/{id}/revoke"): MANAGERS,
    ("POST", "/api/v1/certificates/revoke"): MANAGERS,
    ("GET", "/api/v1/trainee/certificates"): {"trainee"},
    ("GET", "/api/v1/verify"): EVERYONE,
    ("GET", "/api/v1/programs/{id}/readings"): STAFF | {"trainee"},
    ("POST", "/api/v1/programs/{id}/readings"): MANAGERS,
    ("POST", "/api/v1/readings/{id}/file"): MANAGERS,
    ("GET", "/api/v1/readings/{id}/file"): STAFF | {"trainee"},
    ("DELETE", "/api/v1/readings/{id}"): MANAGERS,
    ("GET", "/api/v1/trainee/writeup"): {"trainee"},
    ("POST", "/api/v1/trainee/writeup"): {"trainee"},
    ("POST", "/api/v1/trainee/writeup/file"): {"trainee"},
    ("GET", "/api/v1/writeups/{id}/file"): MANAGERS | {"trainee"},
    ("GET", "/api/v1/programs/{id}/writeups"): MANAGERS,
    ("POST", "/api/v1/writeups/{id}/mark"): MANAGERS,
    ("GET", "/api/v1/trainee/todo"): {"trainee"},
    ("GET", "/api/v1/programs/{id}/outstanding"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/report"): MANAGERS,
    ("GET", "/api/v1/org-units/{id}/report"): MANAGERS,
    # interview-style Q&A, the floor, polls, surveys (server/web/qa, floor, polls)
    ("POST", "/api/v1/sessions/{id}/questions"): {"trainee", "site_agent"},
    ("GET", "/api/v1/sessions/{id}/questions"): STAFF | {"trainee", "site_agent"},
    ("GET", "/api/v1/questions/{id}"): STAFF | {"trainee", "site_agent"},
    ("POST", "/api/v1/questions/{id}/vote"): {"trainee"},
    ("DELETE", "/api/v1/questions/{id}/vote"): {"trainee"},
    **{
        ("POST", f"/api/v1/questions/{{id}}/{action}"): STAFF
        for action in (
            "approve",
            "reject",
            "edit",
            "merge",
            "pin",
            "unpin",
            "send-back",
            "on-air",
            "answered",
            "archive",
        )
    },
    ("GET", "/api/v1/sessions/{id}/on-air"): STAFF | {"trainee", "site_agent"},
    ("GET", "/api/v1/sessions/{id}/moderator-queue"): STAFF,
    ("GET", "/api/v1/sessions/{id}/qa-settings"): STAFF,
    ("PUT", "/api/v1/sessions/{id}/qa-settings"): MANAGERS,
    ("GET", "/api/v1/qa/sensitive-words"): STAFF,
    ("PUT", "/api/v1/qa/sensitive-words"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/floor"): STAFF | {"trainee", "site_agent"},
    ("POST", "/api/v1/sessions/{id}/floor/raise"): {"site_agent"},
    ("POST", "/api/v1/sessions/{id}/floor/lower"): {"site_agent"},
    ("POST", "/api/v1/sessions/{id}/floor/grant"): MANAGERS,
    ("POST", "/api/v1/sessions/{id}/floor/revoke"): MANAGERS,
    ("POST", "/api/v1/sessions/{id}/polls"): STAFF,
    ("GET", "/api/v1/sessions/{id}/polls"): STAFF | {"trainee", "site_agent"},
    ("GET", "/api/v1/polls/{id}"): STAFF | {"trainee", "site_agent"},
    ("POST", "/api/v1/polls/{id}/launch"): STAFF,
    ("POST", "/api/v1/polls/{id}/close"): STAFF,
    ("POST", "/api/v1/polls/{id}/answers"): {"trainee"},
    ("GET", "/api/v1/trainees/{id}/quiz-scores"): MANAGERS,
    ("GET", "/api/v1/trainee/quiz-scores"): {"trainee"},
    ("PUT", "/api/v1/programs/{id}/needs-survey"): MANAGERS,
    ("GET", "/api/v1/programs/{id}/needs-survey"): STAFF | {"trainee"},
    ("POST", "/api/v1/programs/{id}/needs-survey/response"): {"trainee"},
    ("POST", "/api/v1/sessions/{id}/feedback"): {"trainee"},
    ("GET", "/api/v1/sessions/{id}/feedback"): STAFF,
    ("GET", "/api/v1/sessions/{id}/interaction-log"): STAFF,
    # self-study courses (server/web/selfstudy/http.py)
    ("GET", "/api/v1/selfstudy/courses"): STAFF,
    ("POST", "/api/v1/selfstudy/courses"): MANAGERS,
    ("POST", "/api/v1/selfstudy/courses/upload"): MANAGERS,
    ("PATCH", "/api/v1/selfstudy/courses/{id}"): MANAGERS,
    ("GET", "/api/v1/selfstudy/courses/{id}/completion"): STAFF,
    ("GET", "/api/v1/selfstudy/courses/{id}/completion/export"): STAFF,
    ("GET", "/api/v1/selfstudy/courses/{id}/video"): STAFF | {"trainee"},
    ("POST", "/api/v1/selfstudy/courses/{id}/progress"): {"trainee"},
    ("POST", "/api/v1/selfstudy/courses/{id}/answer"): {"trainee"},
    ("GET", "/api/v1/trainee/selfstudy"): {"trainee"},
    # live broadcast, recordings (server/web/media_api.py)
    ("POST", "/api/v1/sessions/{id}/broadcast/start"): MANAGERS,
    ("POST", "/api/v1/sessions/{id}/broadcast/stop"): MANAGERS,
    ("GET", "/api/v1/sessions/{id}/broadcast"): STAFF,
    ("GET", "/api/v1/sessions/{id}/recordings"): STAFF,
    ("GET", "/api/v1/recordings/{id}/file"): STAFF,
    ("GET", "/api/v1/media/ice-servers"): SIGNED_IN,  # TURN credentials (server/web/turn_api.py)
    ("POST", "/api/v1/auth/logout"): SIGNED_IN,  # run last for each caller: it signs out
}
CRUD_READERS = {
    "org-units": STAFF,
    "sites": STAFF,
    "trainees": MANAGERS,
    "users": ADMIN,
    "programs": STAFF,
    "units": STAFF,
    "courses": STAFF,
    "sessions": STAFF | {"trainee", "site_agent"},
}
CRUD_WRITERS = {name: (ADMIN if name == "users" else MANAGERS) for name in CRUD_READERS}
for name, readers in CRUD_READERS.items():
    EXPECTED[("GET", f"/api/v1/{name}")] = readers
    EXPECTED[("GET", f"/api/v1/{name}/{{id}}")] = readers
    EXPECTED[("POST", f"/api/v1/{name}")] = CRUD_WRITERS[name]
    EXPECTED[("PATCH", f"/api/v1/{name}/{{id}}")] = CRUD_WRITERS[name]
    EXPECTED[("DELETE", f"/api/v1/{name}/{{id}}")] = CRUD_WRITERS[name]

MISSING_ID = (
    "999999"  # item endpoints act on a row that does not exist: allowed → 404, never a change
)


async def _call(client: Any, method: str, path: str) -> int:
    url = path.replace("{id}", MISSING_ID)
    kwargs: dict[str, Any] = {}
    if method in {"POST", "PATCH", "PUT"}:
        kwargs["json"] = {}
    if path.endswith("/import"):
        kwargs = {"data": b"not a multipart body", "headers": {"Content-Type": "text/plain"}}
    async with client.request(method, url, **kwargs) as response:
        await response.read()
        return int(response.status)


async def test_every_endpoint_allows_and_denies_each_role_as_declared(
    client_as: ClientFactory, world: World
) -> None:
    first = await client_as("anonymous")
    spec = await (await first.get("/api/v1/openapi.json")).json()
    declared = {(m.upper(), p) for p, ops in spec["paths"].items() for m in ops}
    assert declared == set(EXPECTED), (
        f"endpoints without an expectation: {sorted(declared - set(EXPECTED))}; "
        f"expectations without an endpoint: {sorted(set(EXPECTED) - declared)}"
    )
    cells = 0
    wrong: list[str] = []
    ordered = sorted(EXPECTED, key=lambda k: k[1] == "/api/v1/auth/logout")
    for actor in ACTORS:
        client = first if actor == "anonymous" else await client_as(actor)
        for method, path in ordered:
            status = await _call(client, method, path)
            allowed = actor in EXPECTED[(method, path)]
            cells += 1
            if allowed and status in (401, 403):
                wrong.append(f"{actor} {method} {path}: denied with {status}, expected allowed")
            if not allowed and status not in (401, 403):
                wrong.append(f"{actor} {method} {path}: answered {status}, expected denied")
            if not allowed:
                assert status == (401 if actor == "anonymous" else 403), (
                    actor,
                    method,
                    path,
                    status,
                )
            assert status < 500, (actor, method, path, status)
    assert not wrong, "\n".join(wrong)
    assert cells == len(EXPECTED) * len(ACTORS)
