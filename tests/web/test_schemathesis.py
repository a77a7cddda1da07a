"""Property-based fuzzing of every operation in the OpenAPI document against a real server
process: no input may produce a 5xx answer."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.server_process import ServerProcess

EXAMPLES = 25  # per operation and caller; bounded so the whole run takes about a minute
# These would lock the fuzzing admin out of its own session; the role matrix covers them.
MEDIA = {
    "application/json",
    "text/csv",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "video/webm",  # a recording's download
    "video/mp4",
    # certificates (PDF) and set-reading / write-up files (server/core/writeup.py: by their bytes)
    "application/pdf",
    "image/png",
    "image/jpeg",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
SKIP = {
    ("POST", "/api/v1/auth/logout"),
    ("PATCH", "/api/v1/users/{id}"),
    ("DELETE", "/api/v1/users/{id}"),
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data_dir: Path = tmp_path_factory.mktemp("fuzz")
    with ServerProcess(data_dir, None, "--demo") as proc:
        yield proc


def _session(server: ServerProcess, signed_in: bool) -> requests.Session:
    session = requests.Session()
    if signed_in:
        from server.store.demo_loader import DEMO_PASSWORDS

        r = session.post(
            server.url + "/api/v1/auth/login",
            json={"username": "admin", "password": DEMO_PASSWORDS["admin"]},
            timeout=10,
        )
        r.raise_for_status()
        session.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return session


@pytest.mark.parametrize("signed_in", [True, False], ids=["admin", "anonymous"])
def test_no_generated_request_gets_a_server_error(server: ServerProcess, signed_in: bool) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/api/v1/openapi.json")
    session = _session(server, signed_in)
    failures: list[str] = []
    operations = skipped = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIP:
            skipped += 1
            continue
        operations += 1

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def run(case: schemathesis.Case) -> None:
            response = case.call(session=session, base_url=server.url, timeout=15)
            if response.status_code >= 500:
                where = f"{case.method} {case.formatted_path}"
                failures.append(f"{where} -> {response.status_code}: {response.text[:300]}")
            elif response.status_code != 204:
                media = (response.headers.get("content-type") or [""])[0].split(";")[0]
                assert media in MEDIA, (
                    case.method,
                    case.formatted_path,
                    response.status_code,
                    media,
                )

        run()
    assert skipped == len(SKIP) and operations >= 45
    assert not failures, "\n".join(failures[:20])
    assert requests.get(server.url + "/readyz", timeout=5).status_code == 200
