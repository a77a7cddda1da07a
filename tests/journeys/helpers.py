"""What the journeys share: a person's browser window (context) and the screenshots of a
journey, the sign-in steps several journeys take, set-up through the API for what a journey does
not cover, and the checks that a media element really plays."""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.session_helpers import Api, Watch
from tests.chromium import QUIET, ROOM
from tests.server_process import ServerProcess

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "journeys"
CHROMIUM_ARGS = [*ROOM, *QUIET]
DESKTOP: dict[str, Any] = {"viewport": {"width": 1400, "height": 1000}}
PROJECTOR: dict[str, Any] = {"viewport": {"width": 1280, "height": 720}}
PHONE: dict[str, Any] = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
}
KINDS = {"operator": DESKTOP, "screen": PROJECTOR, "trainee": PHONE}
WAIT = 10_000  # ms: every single wait on a page is bounded by this
MAIN_SITE = 1  # the demo's main classroom
COURSE_ID = 8  # a demo course without a batch plan: expected = the trainees homed at its sites


class Journey:
    """The browser windows of the people in one journey and its evidence: screenshots per step,
    every page error, request leaving 127.0.0.1 or stray dialog across all its pages."""

    def __init__(self, name: str, browser: Any, server: ServerProcess) -> None:
        self.name = name
        self.browser = browser
        self.server = server
        self.url = server.url
        self.watch = Watch(server.url)
        self.pages: dict[str, Any] = {}
        self.contexts: list[Any] = []
        self.dir = ARTIFACTS / name
        shutil.rmtree(self.dir, ignore_errors=True)  # only this run's screenshots
        self.dir.mkdir(parents=True, exist_ok=True)
        self.step = 0

    def person(self, who: str, kind: str, lang: str = "zh") -> Any:
        """A new browser context (own cookies) for one person; ``kind`` sets its viewport."""
        context = self.browser.new_context(
            **KINDS[kind], locale="zh-CN" if lang == "zh" else "en-US", accept_downloads=True
        )
        if lang != "zh":
            context.add_init_script("window.localStorage.setItem('lang', 'en')")
        self.contexts.append(context)
        page = self.watch.attach(context, who)
        page.set_default_timeout(WAIT)
        self.pages[who] = page
        return page

    def scan(self, who: str, link: str) -> Any:
        """The person's phone camera reads a QR code: its link opens in a new tab of the same
        browser (same cookies), which the person goes on with."""
        old = self.pages[who]
        page = self.watch.attach(old.context, who)
        page.set_default_timeout(WAIT)
        old.close()
        page.goto(link)
        self.pages[who] = page
        return page

    def shoot(self, step: str, *who: str) -> None:
        """Full-page screenshots of the named pages (all by default): NN-step-person.png."""
        self.step += 1
        for name in who or tuple(self.pages):
            path = self.dir / f"{self.step:02d}-{step}-{name}.png"
            self.pages[name].screenshot(path=str(path), full_page=True)

    def close(self) -> None:
        for context in self.contexts:
            context.close()


# -- set-up through the API (only what the journey itself does not cover) ---------------------


def trainee_api(base: str, code: str) -> Api:
    """A trainee signed in with a personal code, for the other trainees of a room."""
    api = Api(base)
    r = api.http.post(api.base + "/auth/join", json={"code": code}, timeout=10)
    r.raise_for_status()
    api.http.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    return api


def homed_trainees(admin: Api, site_id: int) -> list[dict[str, Any]]:
    """The active demo trainees whose home room is ``site_id``, with their demo personal code."""
    roster = admin.call("GET", "/trainees", params={"limit": 500})
    assert roster["total"] <= 500
    return [
        {**t, "code": f"DEMO{t['staff_no']}"}
        for t in roster["items"]
        if t["active"] and t["home_site_id"] == site_id
    ]


def site_secret(admin: Api, site_id: int) -> str:
    """A fresh secret for a room (what the operator hands to the room's agent and screen)."""
    return str(admin.call("POST", f"/sites/{site_id}/secret")["secret"])


# -- what people do in more than one journey ---------------------------------------------------


def operator_signs_in(page: Any, url: str, username: str = "operator") -> None:
    page.goto(url + "/operator/")
    page.get_by_label(re.compile("^(用户名|Username)$")).fill(username)
    page.get_by_label(re.compile("^(密码|Password)$")).fill(DEMO_PASSWORDS[username])
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator(".session-list table")).to_be_visible()


def screen_signs_in(page: Any, url: str, secret: str, site_name: str) -> None:
    """The room's kiosk browser: the sign-in form, the secret typed once."""
    page.goto(url + "/screen/")
    page.get_by_label(re.compile("^(课堂密钥|Classroom secret)$")).fill(secret)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#site-name")).to_have_text(site_name)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")


def trainee_types_code(page: Any, url: str, code: str) -> None:
    """Signs in by typing the personal code (journeys that do not start from a slip)."""
    page.goto(url + "/trainee/")
    page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(code)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#hello")).to_contain_text(re.compile("您好|Hello"))


def wait_until(check: Callable[[], Any], what: str, timeout: float = 10.0) -> Any:
    """Polls ``check`` (bounded) until it returns something truthy; returns that."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"{what} (last seen: {last!r})")


PLAYING = """(video) => ({
  time: video.currentTime,
  frames: video.getVideoPlaybackQuality().totalVideoFrames,
  paused: video.paused,
  muted: video.muted,
  volume: video.volume,
  audio: video.srcObject ? video.srcObject.getAudioTracks().map((t) => t.readyState) : [],
  width: video.videoWidth,
})"""


def media_plays(video: Any, what: str, sound: bool, timeout: float = 15.0) -> dict[str, Any]:
    """The element really plays: its time advances and it decodes new frames; with ``sound``
    it is not muted, its volume is up and its stream has a live audio track."""
    first = video.evaluate(PLAYING)

    def advanced() -> dict[str, Any] | None:
        now = dict(video.evaluate(PLAYING))
        moving = now["time"] > first["time"] + 1 and now["frames"] >= first["frames"] + 5
        return now if moving and now["width"] > 0 and not now["paused"] else None

    state = wait_until(advanced, f"{what}: the video does not play (first {first})", timeout)
    if sound:
        assert not state["muted"] and state["volume"] > 0, f"{what}: sound is off: {state}"
        assert "live" in state["audio"], f"{what}: no live audio track: {state}"
    return dict(state)


def time_passes(server: ServerProcess, session_id: int, minutes: float) -> None:
    """``minutes`` go by in a second: the session's plan, its start and the start of every
    trainee's stay move that far back in the server's SQLite file, so what is recorded next
    (check-outs, the end) comes that much later. A class hour is 45 minutes in the room; a
    journey cannot wait for one. Ends already recorded are not moved."""
    shift = timedelta(minutes=minutes)
    with closing(sqlite3.connect(server.data_dir / "classroom.db", timeout=10)) as db, db:
        row = db.execute(
            "SELECT starts_at, ends_at, started_at FROM class_sessions WHERE id = ?",
            (session_id,),
        ).fetchone()
        assert row is not None, session_id
        moved = [None if v is None else _sql_time(_from_sql(v) - shift) for v in row]
        db.execute(
            "UPDATE class_sessions SET starts_at = ?, ends_at = ?, started_at = ? WHERE id = ?",
            (*moved, session_id),
        )
        records = db.execute(
            "SELECT id, stays, first_in FROM attendance_records WHERE session_id = ?",
            (session_id,),
        ).fetchall()
        for record_id, stays, first_in in records:
            spans = json.loads(stays or "[]")
            for stay in spans:
                stay["start"] -= shift.total_seconds()
            first = None if first_in is None else _sql_time(_from_sql(first_in) - shift)
            db.execute(
                "UPDATE attendance_records SET stays = ?, first_in = ? WHERE id = ?",
                (json.dumps(spans), first, record_id),
            )


def _from_sql(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _sql_time(value: datetime) -> str:
    return value.isoformat(sep=" ")


def session_now(
    admin: Api, title: str, site_ids: list[int], *, late_by: float = 0.0, start: bool = True
) -> int:
    """Set-up: a session of COURSE_ID planned ``late_by`` minutes ago (2 min ago by default)
    for an hour, at these rooms, started now unless ``start`` is False."""
    now = datetime.now(UTC)
    begins = now - timedelta(minutes=late_by or 2)
    titled = f"{title} {now:%H%M%S}"
    return int(admin.plan_session(COURSE_ID, titled, begins, 60, site_ids, start=start)["id"])


def open_poll(admin: Api, session_id: int, prompt: str, options: list[str]) -> int:
    """Set-up: the operator creates and publishes a poll."""
    poll = admin.call(
        "POST",
        f"/sessions/{session_id}/polls",
        json={"prompt": prompt, "options": options, "mode": "single"},
    )
    admin.call("POST", f"/polls/{poll['id']}/launch", json={})
    return int(poll["id"])


def camera_file(path: Path, width: int = 320, height: int = 180, frames: int = 30) -> Path:
    """A small Y4M clip (a bar sweeping over a grey ramp, 15 fps, looped by Chromium) for the
    fake camera: a 720p fake camera costs more to encode, relay and receive than this 2-core
    machine spares while other tests run; the journey is about the path, not the pixels."""
    header = f"YUV4MPEG2 W{width} H{height} F15:1 Ip A1:1 C420jpeg\n".encode()
    ramp = bytes(16 + (200 * x) // width for x in range(width))
    chroma = bytes([128]) * ((width // 2) * (height // 2) * 2)
    with path.open("wb") as out:
        out.write(header)
        for n in range(frames):
            left = (n * width) // frames
            line = ramp[:left] + bytes([235]) * (width // 10) + ramp[left + width // 10 :]
            out.write(b"FRAME\n" + line[:width] * height + chroma)
    return path
