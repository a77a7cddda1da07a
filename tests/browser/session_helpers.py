"""Helpers for the whole-session browser test: a signed-in API client for the set-up and the
cross-checks, a watcher for every browser context (requests leaving 127.0.0.1, page errors,
CSP violations, alert dialogs), screenshots of every page per step, timestamps taken inside the
pages, and a recorder for steps that may fail without spoiling the ones after them."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests

from server.store.demo_loader import DEMO_PASSWORDS

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "whole-session"


class Api:
    """A requests session for set-up and cross-checks, signed in as staff (password), a trainee
    (join code) or a site agent (bearer secret)."""

    def __init__(self, base: str) -> None:
        self.base = base + "/api/v1"
        self.http = requests.Session()

    def login(self, username: str) -> Api:
        r = self.http.post(
            self.base + "/auth/login",
            json={"username": username, "password": DEMO_PASSWORDS[username]},
            timeout=10,
        )
        r.raise_for_status()
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return self

    def join(self, code: str) -> dict[str, Any]:
        """Sign in as a trainee with a personal join code; the answer of the sign-in."""
        r = self.http.post(self.base + "/auth/join", json={"code": code}, timeout=10)
        r.raise_for_status()
        self.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return dict(r.json())

    def bearer(self, secret: str) -> Api:
        """Speak as a site agent with its secret."""
        self.http.headers["Authorization"] = f"Bearer {secret}"
        return self

    def call(self, method: str, path: str, **kw: Any) -> Any:
        r = self.http.request(method, self.base + path, timeout=10, **kw)
        assert r.status_code < 400, f"{method} {path}: {r.status_code} {r.text}"
        return r.json() if r.content and "json" in r.headers.get("Content-Type", "") else r

    def status(self, method: str, path: str, **kw: Any) -> int:
        return self.http.request(method, self.base + path, timeout=10, **kw).status_code

    def plan_session(
        self,
        course_id: int,
        title: str,
        starts: datetime,
        minutes: float,
        site_ids: list[int],
        *,
        start: bool = False,
    ) -> dict[str, Any]:
        """Plan a lecture of the course from ``starts`` (aware) for ``minutes`` at these sites,
        and start it if ``start``: the session as planning answered it (still "scheduled")."""
        session: dict[str, Any] = self.call(
            "POST",
            "/sessions",
            json={
                "course_id": course_id,
                "title": title,
                "starts_at": starts.astimezone(UTC).isoformat(),
                "ends_at": (starts + timedelta(minutes=minutes)).astimezone(UTC).isoformat(),
                "teaching_method": "lecture",
                "site_ids": site_ids,
            },
        )
        if start:
            self.call("POST", f"/sessions/{session['id']}/start")
        return session


class Watch:
    """Everything a set of browser contexts does that it must not: a request or socket to
    anything but the server, a page error, a CSP violation, an alert/prompt (script ran)."""

    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.ws_origin = origin.replace("http://", "ws://")
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []

    def _local(self, url: str) -> bool:
        return url.startswith((self.origin + "/", self.ws_origin + "/", "data:", "blob:"))

    def attach(self, context: Any, name: str) -> Any:
        def route(r: Any) -> None:
            if self._local(r.request.url):
                r.continue_()
            else:
                self.foreign.append(f"{name}: {r.request.url}")
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.on("pageerror", lambda e: self.errors.append(f"{name} pageerror: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(f"{name}: {m.text}")
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.on(
            "websocket", lambda ws: None if self._local(ws.url) else self.foreign.append(ws.url)
        )

        def dialog(d: Any) -> None:
            # The pages ask in themselves: any browser dialog is a script that should not have
            # run (an alert from an injected handler) or a question asked the wrong way.
            self.dialogs.append(f"{name} {d.type}: {d.message}")
            d.dismiss()

        page.on("dialog", dialog)
        return page

    def check(self) -> None:
        assert not self.foreign, f"requests left 127.0.0.1: {self.foreign}"
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.dialogs, f"dialogs opened (script ran): {self.dialogs}"


def shoot(pages: dict[str, Any], step: str) -> None:
    """A full-page screenshot of every page, named <step>-<page>.png."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, page in pages.items():
        page.screenshot(path=str(ARTIFACTS / f"{step}-{name}.png"), full_page=True)


class Steps:
    """Checks whose failure must not stop the scenario (the pages after them still get tested):
    each failure is kept with a screenshot, and ``finish`` fails the test listing them all."""

    def __init__(self, pages: dict[str, Any]) -> None:
        self.pages = pages
        self.failed: list[str] = []

    def soft(self, name: str, check: Callable[..., None], *args: Any) -> bool:
        try:
            check(*args)
        except AssertionError as err:
            self.failed.append(f"{name}: {str(err).splitlines()[0][:400]}")
            shoot(self.pages, f"FAILED-{re.sub(r'[^a-z0-9]+', '-', name.lower())}")
            return False
        return True

    def finish(self) -> None:
        assert not self.failed, "failed steps:\n" + "\n".join(self.failed)


# -- timestamps inside the pages (one browser, one clock) ------------------------------------
NOW = "() => performance.timeOrigin + performance.now()"

WATCH_TEXT = """([selector, text]) => {
  window.__seenAt = null;
  const el = document.querySelector(selector);
  const look = () => {
    if (window.__seenAt === null && el.textContent === text) {
      window.__seenAt = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(look).observe(el, {childList: true, characterData: true, subtree: true});
  look();
}"""

WATCH_CLICK = """(selector) => {
  window.__clickAt = null;
  document.addEventListener('click', (ev) => {
    if (ev.target.closest(selector)) window.__clickAt = performance.timeOrigin + performance.now();
  }, {capture: true, once: true});
}"""

INERT = """() => ({
  xss: typeof window.__xss,
  imgs: document.querySelectorAll('img[src="x"], img[src$="/x"], img[onerror]').length,
  scripts: [...document.scripts].filter((s) => !s.src).length,
})"""


def seen_at(page: Any, timeout: float = 10.0) -> float:
    """The page-clock time the watched text appeared (bounded wait)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        at = page.evaluate("() => window.__seenAt")
        if at is not None:
            return float(at)
        time.sleep(0.05)
    raise AssertionError("the watched text never appeared")


def audit_rows(page: Any, url: str, action: str) -> Any:
    """The audit trail's rows for one action (its Chinese label), newest first, as the office
    finds them: open the page, choose the action, press 查询."""
    page.goto(url + "/operator/#/audit")
    page.get_by_label("操作", exact=True).select_option(label=action)
    page.get_by_role("button", name="查询").click()
    return page.locator("#audit-table tbody tr")
