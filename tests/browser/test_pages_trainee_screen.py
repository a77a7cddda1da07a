"""The trainee phone page and the site screen in a real browser (Debian chromium via
Playwright) against a real server process with the demo data: join, check in with the code and
with the QR link the screen shows, ask (hostile text stays text), upvote, roll call, class hours,
the English switch; the screen's sign-in, site name, rotating code and QR, the question on air
within 1 s, the roll-call prompt; both pages reconnect by themselves after the server process is
killed and restarted on the same port. No request may leave 127.0.0.1."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.netcut import CuttableProxy
from tests.browser.session_helpers import Api
from tests.chromium import ROOM, chromium
from tests.server_process import ServerProcess, free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SESSION_ID = 1  # demo session 1: every site takes part
SITE_ID = 2  # 海曙区分课堂, the home site of the demo trainee DEMONB0001
HOSTILE = "<img src=x onerror=alert(1)> <script>window.__pwned=1</script> 为什么？"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PROJECTOR = {"viewport": {"width": 1280, "height": 720}}


class Guard:
    """Every request and socket of a browser context: anything not to the server is blocked
    and remembered; CSP violations, page errors and dialogs (an alert would be XSS) too."""

    def __init__(self, server: ServerProcess | CuttableProxy) -> None:
        self.origin = server.url
        self.ws_origin = server.url.replace("http://", "ws://")
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.dialogs: list[str] = []
        self.csp_headers: dict[str, str] = {}

    def attach(self, context: Any) -> None:
        def route(r: Any) -> None:
            url = r.request.url
            if url.startswith((self.origin + "/", "data:", "blob:")):
                r.continue_()
            else:
                self.foreign.append(url)
                r.abort()

        context.route("**/*", route)
        context.on("request", self._request)

    def _request(self, request: Any) -> None:
        if not request.url.startswith((self.origin + "/", "data:", "blob:")):
            self.foreign.append(request.url)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on(
            "console",
            lambda m: (
                self.errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text
                else None
            ),
        )
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.on(
            "websocket",
            lambda ws: (
                None if ws.url.startswith(self.ws_origin + "/") else self.foreign.append(ws.url)
            ),
        )
        page.on("response", self._response)

    def _response(self, response: Any) -> None:
        if response.request.resource_type == "document":
            self.csp_headers[response.url] = response.headers.get("content-security-policy", "")

    def check(self) -> None:
        assert not self.foreign, f"requests left 127.0.0.1: {self.foreign}"
        assert not self.errors, f"page errors: {self.errors}"
        assert not self.dialogs, f"dialogs opened (script ran): {self.dialogs}"
        assert self.csp_headers, "no page was loaded"
        for url, csp in self.csp_headers.items():
            assert "script-src 'self'" in csp and "unsafe-inline" not in csp, (url, csp)


def _artifact(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def _decode_qr(locator: Any, tmp_path: Path) -> str:
    """What a phone camera would read from the QR on screen (zbarimg: Debian's zbar-tools,
    installed by deploy/test-services.sh)."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg is not None, "zbarimg missing: apt-get install zbar-tools"
    shot = tmp_path / "qr.png"
    locator.screenshot(path=str(shot))
    out = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(shot)], capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(ROOM) as launched:
        yield launched


def _prepare(server: ServerProcess) -> tuple[Api, str]:
    """Session 1 live; a fresh agent secret for site 2 (what the screen signs in with)."""
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    secret = op.call("POST", f"/sites/{SITE_ID}/secret")["secret"]
    return op, secret


def _context(browser: Any, guard: Guard, **kw: Any) -> tuple[Any, Page]:
    context = browser.new_context(**kw)
    guard.attach(context)
    page = context.new_page()
    guard.watch(page)
    page.set_default_timeout(15_000)
    return context, page


@contextmanager
def _screen_and_phone(browser: Any, guard: Guard) -> Iterator[tuple[Page, Page]]:
    """A projector-sized screen page and a phone page, both watched by ``guard``, whose findings
    are checked when the test's steps pass; both contexts closed in any case."""
    screen_ctx, screen = _context(browser, guard, **PROJECTOR)
    phone_ctx, phone = _context(browser, guard, **PHONE)
    try:
        yield screen, phone
        guard.check()
    finally:
        phone_ctx.close()
        screen_ctx.close()


@contextmanager
def _demo_live(
    browser: Any, tmp_path: Path
) -> Iterator[tuple[ServerProcess, Api, str, Page, Page]]:
    """A demo server with session 1 live (``_prepare``: the operator's API and site 2's fresh
    secret) and a guarded screen page and phone page on it (``_screen_and_phone``)."""
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op, secret = _prepare(server)
        with _screen_and_phone(browser, Guard(server)) as (screen, phone):
            yield server, op, secret, screen, phone


def _screen_sign_in(page: Page, server: ServerProcess | CuttableProxy, secret: str) -> None:
    page.goto(f"{server.url}/screen/#secret={secret}")
    expect(page.locator("#site-name")).to_have_text("海曙区分课堂")
    # The secret does not stay in the address bar.
    assert "#" not in page.url and secret not in page.url


def _checkin(phone: Page, screen: Page) -> None:
    """Type the code the screen shows now into the phone; the phone says it is checked in."""
    code = screen.locator("#checkin-code").text_content() or ""
    assert re.fullmatch(r"\d{6}", code), code
    phone.get_by_label(re.compile("签到码|Check-in code")).fill(code)
    phone.get_by_role("button", name=re.compile("^(签到|Check in)$")).click()
    state = phone.locator("#checkin-state")
    try:
        expect(state).to_have_attribute("data-checked-in", "yes")
    except AssertionError as err:
        raise AssertionError(f"not checked in: {phone.locator('#notice').text_content()}") from err


def _join(page: Page, server: ServerProcess | CuttableProxy, code: str) -> None:
    page.goto(server.url + "/trainee/")
    page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(code)
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#hello")).to_contain_text("您好")


def test_trainee_phone_page_join_checkin_ask_vote_rollcall_hours_english(
    browser: Any, tmp_path: Path
) -> None:
    with _demo_live(browser, tmp_path) as (server, op, secret, screen, phone):
        _screen_sign_in(screen, server, secret)
        code_el = screen.locator("#checkin-code")
        expect(code_el).to_have_text(re.compile(r"^\d{6}$"))

        # Keyboard only: the code field has the focus, Enter signs in.
        phone.goto(server.url + "/trainee/")
        expect(phone.locator("#join-code")).to_be_focused()
        phone.keyboard.type("DEMONB0001")
        phone.keyboard.press("Enter")
        expect(phone.locator("#hello")).to_contain_text("方涛华")
        expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "no")
        # Asking before checking in is refused with a readable reason.
        phone.get_by_label(re.compile("我的问题|My question")).fill("签到前提问")
        phone.get_by_role("button", name=re.compile("提交问题|Submit question")).click()
        expect(phone.locator("#notice")).to_contain_text("请先签到")

        typed = code_el.text_content()
        assert typed and re.fullmatch(r"\d{6}", typed)
        phone.get_by_label(re.compile("签到码|Check-in code")).fill(typed)
        phone.get_by_role("button", name=re.compile("^(签到|Check in)$")).click()
        expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
        records = op.call("GET", f"/sessions/{SESSION_ID}/attendance")
        rows = records["items"] if isinstance(records, dict) else records
        assert any(r["trainee_id"] == 1 and r["site_id"] == SITE_ID for r in rows), rows

        # Ask with hostile text: shown as text, nothing runs, no element is made.
        phone.get_by_label(re.compile("我的问题|My question")).fill(HOSTILE)
        phone.get_by_role("button", name=re.compile("提交问题|Submit question")).click()
        item = phone.locator("#questions li.question").first
        expect(item.locator(".q-text")).to_have_text(HOSTILE)
        assert phone.locator("#questions img, #questions script").count() == 0
        assert phone.evaluate("window.__pwned") is None

        # Upvote (a toggle button with aria-pressed), seen by the server.
        vote = item.locator("button.vote")
        expect(vote).to_have_attribute("aria-pressed", "false")
        vote.focus()
        phone.keyboard.press("Space")
        expect(vote).to_have_attribute("aria-pressed", "true")
        expect(vote).to_have_text("▲ 1")
        question_id = int(item.get_attribute("data-id") or 0)
        assert op.call("GET", f"/questions/{question_id}")["vote_count"] == 1

        # A roll call: the phone shows it live, answering is recorded.
        call = op.call("POST", f"/sessions/{SESSION_ID}/roll-calls", json={"seconds": 60})
        answer = phone.get_by_role("button", name=re.compile("我在|I'm here"))
        expect(answer).to_be_visible(timeout=5_000)
        expect(screen.locator(".prompt.rollcall")).to_be_visible()
        answer.click()
        expect(phone.locator("#rollcall-done")).to_be_visible()
        shown = op.call("GET", f"/roll-calls/{call['id']}")
        assert [a["trainee_id"] for a in shown["answered"]] == [1]

        # A quiz (multiple choice): the phone shows it live and answers once.
        poll = op.call(
            "POST",
            f"/sessions/{SESSION_ID}/polls",
            json={
                "prompt": "哪些是<b>正确</b>的？",
                "options": ["甲", "乙", "丙"],
                "mode": "multiple",
                "correct": [0, 2],
            },
        )
        op.call("POST", f"/polls/{poll['id']}/launch", json={})
        form = phone.locator(f'form.poll[data-poll-id="{poll["id"]}"]')
        expect(form.locator("legend")).to_contain_text("哪些是<b>正确</b>的？", timeout=5_000)
        form.get_by_label("甲").check()
        form.get_by_label("丙").check()
        form.get_by_role("button", name=re.compile("提交答案|Submit answer")).click()
        expect(phone.locator("#polls-area")).to_contain_text("已提交答案")
        tally = op.call("GET", f"/polls/{poll['id']}")["tally"]
        assert tally["answers"] == 1 and tally["per_option"] == [1, 0, 1], tally
        expect(screen.locator(".prompt.poll")).to_contain_text("哪些是<b>正确</b>的？")
        op.call("POST", f"/polls/{poll['id']}/close")
        expect(phone.locator("#polls-card")).to_be_hidden(timeout=5_000)

        # Class hours this year against the requirement.
        expect(phone.locator("#hours-summary")).to_contain_text("要求 32 学时")
        expect(phone.locator("progress.hours")).to_have_attribute("max", "32")
        _artifact(phone, "trainee-phone-zh.png")

        # The English switch: applies at once and is remembered over a reload.
        phone.get_by_role("button", name="Switch to English").click()
        expect(phone.locator("header h1")).to_have_text("Trainee")
        assert phone.evaluate("document.documentElement.lang") == "en"
        expect(phone.locator("#hours-summary")).to_contain_text("of 32 class hours")
        phone.reload()
        expect(phone.locator("#ask-h")).to_have_text("Ask a question")
        expect(phone.locator("#checkin-state")).to_contain_text("Checked in")
        expect(phone.locator("#questions .q-text")).to_have_text([HOSTILE])
        expect(phone.locator("button.vote")).to_have_attribute("aria-pressed", "true")
        _artifact(phone, "trainee-phone-en.png")

        # Keyboard: the page's controls are reachable with Tab and labelled; read in one go in
        # the page (the cards are drawn again as their loads answer after the reload).
        unlabelled = phone.evaluate(
            """() => [...document.querySelectorAll("button, input, textarea, select")]
              .filter((e) => e.getClientRects().length > 0
                             && getComputedStyle(e).visibility !== "hidden")
              .filter((e) => !(e.getAttribute("aria-label") || e.textContent || "").trim()
                             && !(e.labels && e.labels.length > 0))
              .map((e) => e.outerHTML)"""
        )
        assert not unlabelled, unlabelled


def test_site_screen_code_qr_on_air_within_a_second_and_roll_call(
    browser: Any, tmp_path: Path
) -> None:
    with _demo_live(browser, tmp_path) as (server, op, secret, screen, phone):
        # Signing in by typing the secret works too (a wrong one is refused first).
        screen.goto(server.url + "/screen/")
        screen.get_by_label(re.compile("课堂密钥|Classroom secret")).fill("site2.wrong")
        screen.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
        expect(screen.locator("#signin-notice")).to_contain_text("密钥无效")
        screen.get_by_label(re.compile("课堂密钥|Classroom secret")).fill(secret)
        screen.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
        expect(screen.locator("#site-name")).to_have_text("海曙区分课堂")
        expect(screen.locator("#conn")).to_have_attribute("data-state", "open")
        expect(screen.locator("#waiting")).to_be_visible()

        # The code and a QR of the trainee page's check-in link for that code.
        code = screen.locator("#checkin-code")
        expect(code).to_have_text(re.compile(r"^\d{6}$"))
        first_code = code.text_content() or ""
        qr = screen.locator("#qr")
        expect(qr).to_have_attribute(
            "data-url",
            re.compile(
                re.escape(f"{server.url}/trainee/#checkin=")
                + rf"cr2%3A{SITE_ID}%3A{SESSION_ID}%3A\d+%3A[A-Za-z0-9_-]{{22}}$"
            ),
        )
        url = qr.get_attribute("data-url") or ""
        assert (code.text_content() or "x") not in url.split("%3A")  # no typeable code
        dark = screen.evaluate(
            """() => { const c = document.getElementById('qr');
            const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
            let n = 0; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++;
            return n / (c.width * c.height); }"""
        )
        assert 0.2 < dark < 0.7, dark  # a drawn QR code, not a blank canvas
        assert _decode_qr(qr, tmp_path) == url  # the real image, read like a phone would
        seconds = screen.locator("#checkin-rotation").text_content() or ""
        assert re.fullmatch(r"\d+ 秒后更新", seconds), seconds

        # Opening the QR link on a phone checks in (after the trainee signs in).
        phone.goto(url)
        assert "#" not in phone.url  # the payload is taken out of the address bar
        expect(phone.locator("#notice")).to_contain_text("登录后将自动完成扫码签到")
        phone.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill("DEMONB0002")
        phone.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
        expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
        expect(phone.locator("#notice")).to_contain_text("签到成功")

        # A question put on air appears on the screen within 1 s, as text.
        phone.get_by_label(re.compile("我的问题|My question")).fill(HOSTILE)
        phone.get_by_role("button", name=re.compile("提交问题|Submit question")).click()
        expect(phone.locator("#questions li.question")).to_have_count(1)
        qid = int(phone.locator("#questions li.question").first.get_attribute("data-id") or 0)
        started = time.monotonic()
        op.call("POST", f"/questions/{qid}/on-air")
        expect(screen.locator("#onair-text")).to_have_text(HOSTILE, timeout=1_000)
        elapsed = time.monotonic() - started
        assert elapsed < 1.0, elapsed
        assert screen.locator("#onair img, #onair script").count() == 0
        assert screen.evaluate("window.__pwned") is None
        expect(phone.locator("#onair-text")).to_have_text(HOSTILE)
        print(f"on-air to screen overlay: {elapsed * 1000:.0f} ms")

        # A roll call prompt with its countdown; it goes when the roll call ends.
        op.call("POST", f"/sessions/{SESSION_ID}/roll-calls", json={"seconds": 10})
        prompt = screen.locator(".prompt.rollcall")
        expect(prompt).to_be_visible(timeout=3_000)
        expect(prompt).to_contain_text(re.compile(r"剩余 \d+ 秒"))
        _artifact(screen, "screen-projector.png")
        expect(prompt).to_have_count(0, timeout=15_000)

        # The floor with a countdown: this room (no hand to raise while it speaks), then
        # back to the main classroom (the room may raise its hand again).
        hand = screen.locator("#raise-hand")
        expect(hand).to_be_visible()
        op.call(
            "POST",
            f"/sessions/{SESSION_ID}/floor/grant",
            json={"site_id": SITE_ID, "time_limit": 60},
        )
        floor = screen.locator(".prompt.floor")
        expect(floor).to_contain_text(re.compile(r"本课堂正在发言\s*剩余 (60|59|58) 秒"))
        expect(hand).to_be_hidden()
        op.call("POST", f"/sessions/{SESSION_ID}/floor/revoke", json={})
        expect(floor).to_have_count(0, timeout=3_000)
        expect(hand).to_be_visible()
        expect(hand).to_have_text("举手发言")

        # Off air: the overlay goes away.
        op.call("POST", f"/questions/{qid}/answered")
        expect(screen.locator("#onair")).to_be_hidden(timeout=2_000)

        # The English switch on the screen.
        screen.get_by_role("button", name="Switch to English").click()
        expect(screen.locator("#checkin-h")).to_have_text("Scan to check in")
        expect(screen.locator("#conn")).to_have_text("Online")

        # The code rotates by itself (30 s windows): wait for the next one, bounded.
        expect(code).not_to_have_text(first_code, timeout=35_000)
        expect(code).to_have_text(re.compile(r"^\d{6}$"))


def test_screen_and_trainee_page_reconnect_after_the_server_is_killed_and_restarted(
    browser: Any, tmp_path: Path
) -> None:
    port = free_port()
    data = tmp_path / "srv"
    server = ServerProcess(data, port, "--demo").start()
    try:
        op, secret = _prepare(server)
        guard = Guard(server)
        with _screen_and_phone(browser, guard) as (screen, phone):
            sent: list[dict[str, Any]] = []  # what the screen's live sockets send
            screen.on(
                "websocket",
                lambda ws: ws.on(
                    "framesent",
                    lambda frame: sent.append(
                        json.loads(frame if isinstance(frame, str) else "{}")
                    ),
                ),
            )
            _screen_sign_in(screen, server, secret)
            expect(screen.locator("#conn")).to_have_attribute("data-state", "open")
            _join(phone, server, "DEMONB0001")
            _checkin(phone, screen)
            expect(phone.locator("#conn")).to_have_attribute("data-state", "open")

            server.kill()
            expect(screen.locator("#conn")).not_to_have_attribute("data-state", "open")
            expect(phone.locator("#conn")).not_to_have_attribute("data-state", "open")
            _artifact(screen, "screen-server-down.png")
            server = ServerProcess(data, port).start()
            expect(screen.locator("#conn")).to_have_attribute("data-state", "open", timeout=25_000)
            expect(phone.locator("#conn")).to_have_attribute("data-state", "open", timeout=25_000)
            # The screen subscribed again by itself, resuming from where it was.
            topic = f"session:{SESSION_ID}"
            subscribes = [m for m in sent if m.get("type") == "subscribe"]
            assert subscribes[0]["topics"] == [topic] and "resume" not in subscribes[0]
            resumed = [m for m in subscribes[1:] if topic in m.get("resume", {})]
            assert resumed, subscribes
            assert set(resumed[0]["resume"][topic]) == {"epoch", "last_seq"}

            # Both follow the session again: a new question on air reaches both pages.
            op = Api(server.url).login("operator")
            phone.get_by_label(re.compile("我的问题|My question")).fill("重启后的问题")
            phone.get_by_role("button", name=re.compile("提交问题|Submit question")).click()
            item = phone.locator("#questions li.question").first
            expect(item.locator(".q-text")).to_have_text("重启后的问题")
            op.call("POST", f"/questions/{item.get_attribute('data-id')}/on-air")
            expect(screen.locator("#onair-text")).to_have_text("重启后的问题", timeout=3_000)
            expect(phone.locator("#onair-text")).to_have_text("重启后的问题", timeout=3_000)
            expect(screen.locator("#checkin-code")).to_have_text(re.compile(r"^\d{6}$"))
            _artifact(screen, "screen-after-restart.png")
            _artifact(phone, "trainee-after-restart.png")
    finally:
        server.stop()


PUBLISH = """async (sid) => {
  const { LiveSocket } = await import('/static/shared/live.js');
  const media = await import('/static/shared/media.js');
  const live = new LiveSocket({}).connect();
  const stream = await navigator.mediaDevices.getUserMedia(
    { video: { width: 640, height: 480 }, audio: true });
  window.__publish = await media.publishCamera(live, sid, stream);
  return true;
}"""
PLAYED = """() => { const v = document.getElementById('program');
  return v.srcObject ? v.getVideoPlaybackQuality().totalVideoFrames : 0; }"""


def _wait_frames(page: Page, frames: int, timeout: float) -> None:
    """Poll the video's decoded frames (wait_for_function would need eval, which CSP forbids)."""
    deadline = time.monotonic() + timeout
    seen = 0
    while time.monotonic() < deadline:
        seen = int(page.evaluate(PLAYED))
        if seen > frames:
            return
        time.sleep(0.2)
    raise AssertionError(f"only {seen} frames decoded within {timeout} s, wanted > {frames}")


def test_site_screen_shows_the_program_video_once_the_broadcast_starts(
    browser: Any, tmp_path: Path
) -> None:
    env = {"CLASSROOM_MEDIA_BIND_ADDRESSES": "127.0.0.1", "CLASSROOM_MEDIA_RECORD": "false"}
    with ServerProcess(tmp_path / "srv", None, "--demo", env=env) as server:
        op, secret = _prepare(server)
        guard = Guard(server)
        screen_ctx, screen = _context(browser, guard, **PROJECTOR)
        publisher_ctx = browser.new_context()
        try:
            _screen_sign_in(screen, server, secret)
            # No broadcast yet: the room is told it is waiting.
            expect(screen.locator("#waiting")).to_be_visible()
            expect(screen.locator("#waiting-text")).to_have_text("等待直播信号")

            op.call("POST", f"/sessions/{SESSION_ID}/broadcast/start", json={"source": "main"})
            login = publisher_ctx.request.post(
                server.url + "/api/v1/auth/login",
                data={"username": "operator", "password": DEMO_PASSWORDS["operator"]},
            )
            assert login.ok
            publisher = publisher_ctx.new_page()
            publisher.goto(server.url + "/")
            assert publisher.evaluate(PUBLISH, SESSION_ID)

            # The screen picks the program up by itself and decodes it continuously.
            _wait_frames(screen, 30, timeout=30)
            expect(screen.locator("#waiting")).to_be_hidden()
            size = screen.evaluate(
                "() => [document.getElementById('program').videoWidth,"
                " document.getElementById('program').videoHeight]"
            )
            assert size == [640, 480], size
            before = screen.evaluate(PLAYED)
            _wait_frames(screen, before + 20, timeout=5)
            _artifact(screen, "screen-program-video.png")

            # The broadcast stops: back to "waiting".
            op.call("POST", f"/sessions/{SESSION_ID}/broadcast/stop")
            expect(screen.locator("#waiting")).to_be_visible(timeout=5_000)
            guard.check()
        finally:
            publisher_ctx.close()
            screen_ctx.close()


def test_screen_and_trainee_page_recover_from_a_silent_network_cut(
    browser: Any, tmp_path: Path
) -> None:
    """The network dies without closing anything: the pages notice by themselves (no answer to
    their pings), reconnect when it is back, and resume: what happened meanwhile shows up."""
    with ServerProcess(tmp_path / "srv", None, "--demo") as server:
        op, secret = _prepare(server)
        net = CuttableProxy(server.port)
        guard = Guard(net)
        screen_ctx, screen = _context(browser, guard, **PROJECTOR)
        phone_ctx, phone = _context(browser, guard, **PHONE)
        try:
            _screen_sign_in(screen, net, secret)
            expect(screen.locator("#conn")).to_have_attribute("data-state", "open")
            _join(phone, net, "DEMONB0001")
            _checkin(phone, screen)
            phone.get_by_label(re.compile("我的问题|My question")).fill("断网期间上屏的问题")
            phone.get_by_role("button", name=re.compile("提交问题|Submit question")).click()
            item = phone.locator("#questions li.question").first
            expect(item.locator(".q-text")).to_have_text("断网期间上屏的问题")
            qid = item.get_attribute("data-id")
            expect(phone.locator("#conn")).to_have_attribute("data-state", "open")

            sockets: list[str] = []
            screen.on("websocket", lambda ws: sockets.append(ws.url))
            net.cut()
            cut_at = time.monotonic()
            op.call("POST", f"/questions/{qid}/on-air")  # straight to the server
            time.sleep(2)
            # The cut is real: nothing reached the page, and the browser still thinks it is
            # connected (no FIN or RST arrives in a real cut).
            expect(screen.locator("#onair")).to_be_hidden()
            assert screen.locator("#conn").get_attribute("data-state") == "open"
            # The page notices by itself (its pings get no answer) and says so on the screen.
            expect(screen.locator("#conn")).not_to_have_attribute(
                "data-state", "open", timeout=25_000
            )
            noticed = time.monotonic() - cut_at
            time.sleep(1.5)  # its next handshake goes into the dead network and hangs...
            net.restore()  # ...and is given up after its time-out; the one after succeeds
            expect(screen.locator("#onair-text")).to_have_text("断网期间上屏的问题", timeout=30_000)
            assert len(sockets) >= 2, sockets
            expect(phone.locator("#onair-text")).to_have_text("断网期间上屏的问题", timeout=10_000)
            recovered = time.monotonic() - cut_at
            expect(screen.locator("#conn")).to_have_attribute("data-state", "open")
            expect(screen.locator("#checkin-code")).to_have_text(re.compile(r"^\d{6}$"))
            print(
                f"silent cut: noticed after {noticed:.1f} s, network back after {noticed + 1.5:.1f}"
                f" s, missed on-air shown after {recovered:.1f} s; sockets opened: {len(sockets)}"
            )
            _artifact(screen, "screen-after-network-cut.png")
            guard.check()
        finally:
            phone_ctx.close()
            screen_ctx.close()
            net.close()
