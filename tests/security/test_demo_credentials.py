"""Demo passwords and personal codes are random per install and printed once (issue 14 item 6)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path

from tests.server_process import ServerProcess


def _post(url: str, body: dict[str, str]) -> int:
    request = urllib.request.Request(
        url,
        method="POST",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def test_a_real_install_gets_random_demo_credentials_printed_once(tmp_path: Path) -> None:
    real = {"CLASSROOM_DEMO_TEST_CREDENTIALS": "0"}
    logins: dict[str, list[str]] = {}
    for run in ("a", "b"):
        with ServerProcess(tmp_path / run, None, "--demo", env=real) as server:
            log = server.log.read_text()
            passwords = dict(re.findall(r"^    (admin|operator) / (\S+)$", log, re.M))
            codes = re.findall(r"[\u4e00-\u9fff]+ ([A-Z0-9]{10})\b", log)
            assert set(passwords) == {"admin", "operator"} and len(codes) == 3, log
            assert "demo-admin-2026" not in log and "DEMONB" not in log
            login = server.url + "/api/v1/auth/login"
            assert _post(login, {"username": "admin", "password": passwords["admin"]}) == 200
            assert _post(login, {"username": "admin", "password": "demo-admin-2026"}) == 401
            join = server.url + "/api/v1/auth/join"
            assert _post(join, {"code": codes[0]}) == 200
            assert _post(join, {"code": "DEMONB0001"}) == 401
            logins[run] = [*passwords.values(), *codes]
        with ServerProcess(tmp_path / run, None, "--demo", env=real) as again:
            log = again.log.read_text().split("listening on")[-1]
            assert "already loaded" in log
            assert not any(secret in log for secret in logins[run])  # printed once only
    assert not set(logins["a"]) & set(logins["b"])  # per install
