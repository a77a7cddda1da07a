"""The operator console in a real browser (Debian chromium via Playwright) against a real
server process with the demo data: sign-in, the live dashboard fed by a real site agent
connection, moderation, the floor, roll call, polls, the report and its downloads, language
switch, keyboard focus, and reconnecting after a server restart."""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
import pytest
from playwright.sync_api import Browser, Page, expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.session_helpers import Api, audit_rows
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess
from tests.site_agent import agent_process
from tests.web.live_helpers import AgentPeer, heartbeat, hello

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
SESSION_ID = 1  # demo session 1: 15 sites (1 main + 14 sub)


# -- a real site agent, in its own thread with its own event loop ------------------------------
class AgentThread:
    """Connects to /ws/agent with the site's secret, says hello, heartbeats every 0.5 s."""

    def __init__(
        self, base_url: str, secret: str, site_id: int, capabilities: tuple[str, ...] = ()
    ) -> None:
        self.url = base_url.replace("http://", "ws://") + "/ws/agent"
        self.secret = secret
        self.site_id = site_id
        self.capabilities = ["heartbeat", *capabilities]
        self.stream: dict[str, Any] = {"state": "ok"}  # its heartbeats say it (a test may change)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.stopping: asyncio.Event | None = None
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> AgentThread:
        self.thread.start()
        if not self.ready.wait(10):
            raise AssertionError(f"agent did not connect: {self.error!r}")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.stopping is not None:
            self.loop.call_soon_threadsafe(self.stopping.set)
        self.thread.join(10)

    def _run(self) -> None:
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as err:  # reported by __enter__ / the test
            self.error = err
            self.ready.set()
        finally:
            self.loop.close()

    async def _main(self) -> None:
        self.stopping = asyncio.Event()
        async with (
            aiohttp.ClientSession() as http,
            http.ws_connect(self.url, headers={"Authorization": f"Bearer {self.secret}"}) as ws,
        ):
            agent = AgentPeer(ws)
            await agent.send(hello(self.site_id, capabilities=self.capabilities))
            await agent.expect("welcome")
            seq = 0
            deadline = time.monotonic() + 120  # bounded: no test keeps an agent longer
            while not self.stopping.is_set() and time.monotonic() < deadline:
                seq += 1
                await agent.send(heartbeat(seq, stream=dict(self.stream), rtt_ms=42.0))
                self.ready.set()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.stopping.wait(), 0.5)
            await ws.close()


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("operator-ui"), None, "--demo") as proc:
        yield proc


@pytest.fixture(scope="module")
def world(server: ServerProcess) -> dict[str, Any]:
    """Session 1 live, Q&A screened by hand, two sites with agent secrets."""
    op = Api(server.url).login("operator")
    op.call("POST", f"/sessions/{SESSION_ID}/start")
    op.call("PUT", f"/sessions/{SESSION_ID}/qa-settings", json={"auto_approve": False})
    secrets = {s: op.call("POST", f"/sites/{s}/secret")["secret"] for s in (2, 3)}
    return {"op": op, "secrets": secrets}


browser = pytest.fixture(scope="module")(chromium_browser)


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.on(
        "console",
        lambda m: (
            errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text
            else None
        ),
    )
    pg.set_default_timeout(15_000)
    yield pg
    ARTIFACTS.mkdir(exist_ok=True)
    pg.screenshot(path=str(ARTIFACTS / f"operator-{request.node.name}.png"), full_page=True)
    context.close()
    assert not errors, f"page errors: {errors}"


def login(page: Page, server: ServerProcess, user: str = "operator") -> None:
    page.goto(server.url + "/operator/")
    page.get_by_label(re.compile("用户名|Username")).fill(user)
    page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORDS[user])
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator(".session-list table")).to_be_visible()


def open_console_at(page: Page, server: ServerProcess, route: str) -> None:
    """Sign in as the operator and open the console's page ``#/<route>``."""
    login(page, server)
    page.goto(f"{server.url}/operator/#/{route}")


def open_dashboard(page: Page, server: ServerProcess) -> None:
    login(page, server)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    expect(page.locator(".wall .tile")).to_have_count(15)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")


# -- tests ------------------------------------------------------------------------------------
def test_login_and_site_wall_follows_a_real_agent(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_dashboard(page, server)
    tile = page.locator('.tile[data-site-id="2"]')
    expect(tile).to_have_attribute("data-state", "offline")
    expect(tile.locator(".f-headcount")).to_have_text(re.compile(r"^\d+ / \d+$"))
    with AgentThread(server.url, world["secrets"][2], 2):
        expect(tile).to_have_attribute("data-state", "online", timeout=10_000)
        expect(tile.locator(".pill.ps-online")).to_have_text("在线")
        expect(tile.locator(".f-stream")).to_contain_text("42 ms")
        expect(tile.locator(".f-beat")).to_have_text(re.compile(r"^\d+ 秒前$"))
        expect(page.locator(".wall-summary")).to_contain_text("在线 1")
        page.screenshot(path=str(ARTIFACTS / "operator-wall-online.png"), full_page=True)
    # A clean close is reported at once (no flapping grace for a goodbye).
    expect(tile).to_have_attribute("data-state", "offline", timeout=15_000)


def test_a_killed_agent_shows_offline_as_a_lost_connection_then_back(
    page: Page, server: ServerProcess, world: dict[str, Any], tmp_path: Path
) -> None:
    """The room's PC dies (the agent is killed, no goodbye): its tile goes offline within a
    few seconds (the flap window, not the heartbeat limit) saying the connection was lost,
    and shows it connected again once the agent is back."""
    open_dashboard(page, server)
    tile = page.locator('.tile[data-site-id="3"]')
    since = tile.locator(".f-since")
    agent = agent_process(server.url, world["secrets"][3], tmp_path, "none")
    try:
        expect(tile).to_have_attribute("data-state", "online", timeout=15_000)
        agent.kill()
        agent.wait(10)
        expect(tile).to_have_attribute("data-state", "offline", timeout=9_000)
        expect(since).to_contain_text("连接丢失")
        agent = agent_process(server.url, world["secrets"][3], tmp_path, "none")
        expect(tile).to_have_attribute("data-state", "online", timeout=15_000)
        expect(since).to_contain_text("已连接")
    finally:
        agent.kill()
        agent.wait(10)


def test_approve_a_question_and_put_it_on_air(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_dashboard(page, server)
    agent = Api(server.url).bearer(world["secrets"][3])
    text = f"<b>如何</b> 落实? {uuid.uuid4().hex[:6]}"
    q = agent.call("POST", f"/sessions/{SESSION_ID}/questions", json={"text": text})
    item = page.locator(f'.q-item[data-question-id="{q["id"]}"][data-state]')
    expect(item).to_have_attribute("data-state", "submitted")
    expect(item.locator(".q-text")).to_have_text(text)  # shown as text, never as markup
    assert item.locator("b").count() == 0
    item.locator('button[data-action="approve"]').click()
    expect(item).to_have_attribute("data-state", "approved")
    # The one queue (floor requests + approved questions) lists it too.
    expect(page.locator(f'#queue-list [data-question-id="{q["id"]}"]')).to_be_visible()
    item.locator('button[data-action="on-air"]').click()
    expect(item).to_have_attribute("data-state", "on_air")
    on_air = world["op"].call("GET", f"/sessions/{SESSION_ID}/on-air")
    assert on_air["current"]["id"] == q["id"]
    item.locator('button[data-action="answered"]').click()
    expect(item).to_have_attribute("data-state", "answered")


def test_grant_and_revoke_the_floor_with_a_countdown(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_dashboard(page, server)
    agent = Api(server.url).bearer(world["secrets"][2])
    agent.call("POST", f"/sessions/{SESSION_ID}/floor/raise")
    hand = page.locator('#queue-list .hand-item[data-site-id="2"]')
    expect(hand).to_be_visible()
    expect(page.locator('.tile[data-site-id="2"]')).to_have_class(re.compile("hand-up"))
    page.locator("#floor-seconds").fill("90")
    hand.get_by_role("button").click()
    # no agent socket: the room is offline, so the console asks once more
    ask = hand.get_by_role("alertdialog")
    expect(ask).to_be_visible()
    # another room raises its hand while the question is open: the queue is drawn again, and
    # the operator's question stays beside site 2's grant button
    Api(server.url).bearer(world["secrets"][3]).call("POST", f"/sessions/{SESSION_ID}/floor/raise")
    expect(page.locator('#queue-list .hand-item[data-site-id="3"]')).to_be_visible()
    expect(ask).to_be_visible()
    ask.get_by_role("button", name="仍然给予发言权").click()
    holder = page.locator("#floor-holder")
    expect(holder).to_have_attribute("data-site-id", "2")
    countdown = page.locator("#floor-countdown")
    expect(countdown).to_have_text(re.compile(r"剩余 1:[23]\d"))
    first = countdown.inner_text()
    page.wait_for_timeout(2100)
    assert countdown.inner_text() != first  # it counts down
    assert world["op"].call("GET", f"/sessions/{SESSION_ID}/floor")["holder"]["site_id"] == 2
    page.locator("#floor-revoke").click()
    expect(holder).to_have_text(re.compile("主课堂"))
    assert world["op"].call("GET", f"/sessions/{SESSION_ID}/floor")["holder"] is None


def test_giving_the_floor_to_an_offline_room_is_asked_on_the_page_first(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """A room whose agent and screen are not connected would speak to nobody: the console asks
    on the page (not a browser dialog) before giving it the floor; an online room gets it at
    once."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_dashboard(page, server)
    holder = page.locator("#floor-holder")
    tile = page.locator('.tile[data-site-id="5"]')
    expect(tile).to_have_attribute("data-state", "offline")
    name = tile.locator(".tile-name").inner_text()
    tile.locator('button[data-key="grant-5"]').click()
    ask = tile.get_by_role("alertdialog")
    expect(ask).to_have_text(re.compile(f"^{name} 当前离线.*确定给予发言权？"))
    tile.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "operator-floor-offline-ask-zh.png"))
    ask.get_by_role("button", name="取消").click()
    expect(ask).to_have_count(0)
    assert world["op"].call("GET", f"/sessions/{SESSION_ID}/floor")["holder"] is None
    tile.locator('button[data-key="grant-5"]').click()
    ask.get_by_role("button", name="仍然给予发言权").click()
    expect(holder).to_have_attribute("data-site-id", "5")
    expect(ask).to_have_count(0)
    page.locator("#floor-revoke").click()
    expect(holder).to_have_text(re.compile("主课堂"))
    # in English, and on a phone
    page.get_by_role("button", name="English").click()
    tile.locator('button[data-key="grant-5"]').click()
    expect(ask).to_contain_text("is offline")
    expect(ask).to_contain_text("Give it the floor anyway?")
    expect(ask.get_by_role("button", name="Give the floor anyway")).to_be_focused()
    tile.scroll_into_view_if_needed()
    page.screenshot(path=str(ARTIFACTS / "operator-floor-offline-ask-en.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    tile.screenshot(path=str(ARTIFACTS / "operator-floor-offline-ask-phone-en.png"))
    ask.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="中文").click()
    tile.locator('button[data-key="grant-5"]').click()
    tile.screenshot(path=str(ARTIFACTS / "operator-floor-offline-ask-phone-zh.png"))
    ask.get_by_role("button", name="取消").click()
    # an online room: given at once, nothing asked
    online = page.locator('.tile[data-site-id="2"]')
    with AgentThread(server.url, world["secrets"][2], 2):
        expect(online).to_have_attribute("data-state", "online", timeout=10_000)
        online.locator('button[data-key="grant-2"]').click()
        expect(holder).to_have_attribute("data-site-id", "2")
        expect(page.get_by_role("alertdialog")).to_have_count(0)
        page.locator("#floor-revoke").click()
        expect(holder).to_have_text(re.compile("主课堂"))
    assert not dialogs, dialogs


def _in_the_room(server: ServerProcess, world: dict[str, Any], code: str, site_id: int) -> Api:
    """A demo trainee signed in (their API client), marked present at this site by the operator."""
    trainee = Api(server.url)
    me = trainee.join(code)
    world["op"].call(
        "POST",
        f"/sessions/{SESSION_ID}/attendance/mark",
        json={"trainee_id": me["trainee_id"], "site_id": site_id, "reason": "UI test"},
    )
    return trainee


def test_roll_call_shows_live_per_site_tallies(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    trainee = _in_the_room(server, world, "DEMONB0002", site_id=3)
    open_dashboard(page, server)
    page.locator("#roll-seconds").fill("120")
    page.locator("#roll-start").click()
    call = page.locator(".rollcall").first
    row = call.locator('tr[data-site-id="3"]')
    expect(row.locator("td.answered")).to_have_text("0")
    call_id = int(call.get_attribute("data-roll-call-id") or 0)
    trainee.call("POST", f"/roll-calls/{call_id}/answer")
    expect(row.locator("td.answered")).to_have_text("1")  # from the live tally event
    expect(row.locator("td").last).to_have_text("100%")


def test_roll_calls_are_numbered_within_their_session(page: Page, tmp_path: Path) -> None:
    """第 N 次点名 counts the session's own roll calls: its first is 第 1 次 although another
    session had one before (the heading once showed the roll call's database id)."""
    with ServerProcess(tmp_path / "srv", None, "--demo") as other:
        op = Api(other.url).login("operator")
        op.call("POST", "/sessions/2/start")
        op.call("POST", "/sessions/2/roll-calls", json={"seconds": 60})
        op.call("POST", "/sessions/2/end")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        login(page, other)
        page.locator(f'a[data-session="{SESSION_ID}"]').click()
        headings = page.locator(".rollcall h3")
        page.locator("#roll-start").click()
        expect(headings).to_have_count(1)
        expect(headings.first).to_contain_text("第 1 次点名")
        page.locator("#roll-start").click()
        expect(headings).to_have_count(2)
        expect(headings).to_contain_text(["第 2 次点名", "第 1 次点名"])
        page.get_by_role("button", name="English").click()
        expect(page.locator(".rollcall h3")).to_contain_text(["Roll call 2", "Roll call 1"])


def test_poll_controls_with_live_results(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    trainee = _in_the_room(server, world, "DEMONB0003", site_id=2)
    open_dashboard(page, server)
    page.locator("#p-poll summary").click()
    page.locator("#poll-prompt").fill("哪个专题最有帮助？")
    page.locator("#poll-options").fill("专题一\n专题二\n专题三")
    page.locator("#poll-correct").fill("2")
    page.locator("#poll-create").click()
    poll = page.locator(".poll").first
    expect(poll).to_have_attribute("data-state", "draft")
    poll.get_by_role("button", name="发布").click()
    expect(poll).to_have_attribute("data-state", "open")
    poll_id = int(poll.get_attribute("data-poll-id") or 0)
    trainee.call("POST", f"/polls/{poll_id}/answers", json={"choices": [1]})
    expect(poll.locator(".poll-options li").nth(1).locator(".num")).to_have_text("1 (100%)")
    expect(poll.locator("meter").nth(1)).to_have_attribute("value", "1")
    # Per room: each column names its option (not only its number), over its counts.
    poll.get_by_text("各课堂结果").click()
    table = poll.locator("details table")
    expect(table.locator("thead th")).to_have_text(["课堂", "1. 专题一", "2. 专题二", "3. 专题三"])
    expect(table.locator('tbody tr th[scope="row"]')).to_have_text("海曙区分课堂")
    expect(table.locator("tbody td")).to_have_text(["0", "1", "0"])
    poll.get_by_role("button", name="结束").click()
    expect(poll).to_have_attribute("data-state", "closed")
    # A closed quiz says how many got it right, and their share of the answers.
    expect(poll.locator(".quiz-correct")).to_have_text("答对 1 人（占作答 100%）")
    poll.screenshot(path=str(ARTIFACTS / "operator-quiz-closed-zh.png"))
    page.get_by_role("button", name="English").click()
    expect(poll.locator(".quiz-correct")).to_have_text("1 answered correctly (100% of answers)")
    poll.screenshot(path=str(ARTIFACTS / "operator-quiz-closed-en.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    poll.screenshot(path=str(ARTIFACTS / "operator-quiz-closed-phone-en.png"))
    page.get_by_role("button", name="中文").click()
    poll.screenshot(path=str(ARTIFACTS / "operator-quiz-closed-phone-zh.png"))


def test_the_poll_form_starts_afresh_after_a_create_and_keeps_a_refused_one(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_dashboard(page, server)
    page.locator("#p-poll summary").click()
    fields = {"#poll-prompt": "哪些是新发展理念？", "#poll-options": "创新\n协调\n守旧"}
    for selector, text in fields.items():
        page.locator(selector).fill(text)
    page.locator("#poll-correct").fill("1,2")
    # single choice with two correct answers: refused, and nothing typed is lost
    page.locator("#poll-create").click()
    expect(page.locator("#flash .flash-text")).to_contain_text("题目设置有误")
    for selector, text in fields.items():
        expect(page.locator(selector)).to_have_value(text)
    expect(page.locator("#poll-mode")).to_have_value("single")
    expect(page.locator("#poll-correct")).to_have_value("1,2")
    page.locator("#poll-mode").select_option("multiple")
    page.locator("#poll-create").click()
    expect(page.locator(".poll").first).to_contain_text("哪些是新发展理念？")
    # created: the next question starts from the defaults, 单选 included
    for selector in ("#poll-prompt", "#poll-options", "#poll-correct"):
        expect(page.locator(selector)).to_have_value("")
    expect(page.locator("#poll-mode")).to_have_value("single")


def test_replacing_a_site_secret_is_asked_on_the_page(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """The site has a secret: a new one stops the old one, so the console asks first, on the
    page as it does before replacing personal codes (no browser dialog)."""
    old = world["op"].call("POST", "/sites/6/secret")["secret"]
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    open_console_at(page, server, "manage/sites")
    row = page.locator('#resource-table tr[data-id="6"]')
    row.get_by_role("button", name="生成课堂密钥").click()
    ask = page.get_by_role("alertdialog")
    expect(ask.locator("p")).to_have_text(
        "“江北区分课堂”已有密钥，生成新密钥后旧密钥失效，该课堂的代理程序要换用新密钥。继续吗？"
    )
    expect(ask.get_by_role("button", name="生成新密钥")).to_be_focused()
    page.screenshot(path=str(ARTIFACTS / "operator-secret-ask-zh.png"))
    ask.get_by_role("button", name="取消").click()
    expect(ask).to_have_count(0)
    expect(page.locator("#manage-form code.secret")).to_have_count(0)
    agent = Api(server.url).bearer(old)
    floor = f"/sessions/{SESSION_ID}/floor"
    assert agent.status("GET", floor) != 401  # the old secret still signs in
    row.get_by_role("button", name="生成课堂密钥").click()
    ask.get_by_role("button", name="生成新密钥").click()
    expect(page.locator("#manage-form code.secret")).to_have_text(re.compile(r"^site6\."))
    expect(ask).to_have_count(0)
    assert agent.status("GET", floor) == 401  # ... and no longer
    page.get_by_role("button", name="English").click()
    page.locator('#resource-table tr[data-id="6"]').get_by_role(
        "button", name="Issue agent secret"
    ).click()
    expect(ask).to_contain_text("“江北区分课堂” has a secret; a new one makes the old one stop")
    page.screenshot(path=str(ARTIFACTS / "operator-secret-ask-en.png"))
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "operator-secret-ask-phone-en.png"))
    ask.get_by_role("button", name="Cancel").click()
    page.get_by_role("button", name="中文").click()
    page.locator('#resource-table tr[data-id="6"]').get_by_role(
        "button", name="生成课堂密钥"
    ).click()
    page.screenshot(path=str(ARTIFACTS / "operator-secret-ask-phone-zh.png"))
    assert not dialogs, dialogs


def test_the_top_bar_fits_at_1366_and_on_a_phone(page: Page, server: ServerProcess) -> None:
    """The admin's bar (every page in the menu, the longest): the language switch stays on the
    brand's row, the menu is one row at 1366 px, nothing is wider than the screen."""
    login(page, server, "admin")
    bar = page.locator(".topbar")
    for lang, switch_to in (("zh", "English"), ("en", "中文")):
        for width, height in ((1366, 768), (390, 844)):
            page.set_viewport_size({"width": width, "height": height})
            brand = page.locator(".topbar .brand").bounding_box()
            switch = page.locator("#lang-slot button").bounding_box()
            nav = page.locator(".topbar nav").bounding_box()
            assert brand and switch and nav
            where = f"{lang} at {width} px"
            assert switch["y"] < brand["y"] + brand["height"], where  # the brand's row
            assert brand["y"] < switch["y"] + switch["height"], where
            assert nav["y"] >= brand["y"] + brand["height"], where  # the menu below it
            if width == 1366:
                assert nav["height"] < 40, where  # one row
            assert page.evaluate("document.documentElement.scrollWidth") <= width, where
            bar.screenshot(path=str(ARTIFACTS / f"operator-topbar-{width}-{lang}.png"))
        page.set_viewport_size({"width": 1366, "height": 768})
        page.get_by_role("button", name=switch_to).click()
        expect(page.locator("#lang-slot button")).to_have_text(
            "中文" if lang == "zh" else "English"
        )


def _fresh_session(op: Api, course_id: int, sites: list[int]) -> int:
    """A live session whose window is now, so presence changes fall inside it."""
    from datetime import UTC, datetime, timedelta

    begins = datetime.now(UTC) - timedelta(minutes=5)
    title = f"UI报表测试 {uuid.uuid4().hex[:4]}"
    return int(op.plan_session(course_id, title, begins, 60, sites, start=True)["id"])


def test_session_report_with_charts_and_downloads(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    op = world["op"]
    sid = _fresh_session(op, 8, [1, 2, 3])
    with AgentThread(server.url, world["secrets"][2], 2):
        time.sleep(1.5)
    trainee = Api(server.url).join("DEMONB0001")
    op.call(
        "POST",
        f"/sessions/{sid}/attendance/mark",
        json={"trainee_id": trainee["trainee_id"], "site_id": 2, "reason": "UI test"},
    )
    open_console_at(page, server, f"sessions/{sid}/report")
    report = page.locator("#session-report")
    expect(report).to_contain_text("出勤 1/")
    # uPlot draws the attendance bars on a canvas; the timeline is SVG with a segment per state.
    expect(page.locator(".rate-chart canvas").first).to_be_visible()
    assert page.locator(".rate-chart").count() == 2
    online = page.locator("#presence-timeline rect.seg-online")
    expect(online.first).to_be_attached()
    page.locator("#presence-timeline summary").click()
    expect(page.locator("#presence-timeline details")).to_contain_text("海曙区分课堂")
    with page.expect_download() as info:
        page.locator("#dl-xlsx").click()
    path = info.value.path()
    assert path is not None
    data = Path(path).read_bytes()
    assert data[:2] == b"PK" and len(data) > 1000  # a real XLSX (zip) file
    with page.expect_download() as info:
        page.locator("#dl-csv").click()
    csv = Path(info.value.path() or "").read_bytes().decode("utf-8-sig")
    assert "海曙区分课堂" in csv
    # The per-unit report over a date range, with its own chart and downloads.
    page.locator("#report-unit").select_option("1")
    page.locator("#unit-report-show").click()
    unit = page.locator("#unit-report")
    expect(unit.locator("h2")).to_contain_text("海曙区")
    expect(unit.locator(".rate-chart canvas").first).to_be_visible()
    expect(unit.locator("tbody tr").first).to_be_visible()


def test_english_switch_is_remembered(page: Page, server: ServerProcess) -> None:
    login(page, server)
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator("#nav")).to_contain_text("课次")
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("#nav")).to_contain_text("Sessions")
    expect(page.locator("main h1")).to_have_text("Sessions")
    page.reload()
    expect(page.locator("#nav")).to_contain_text("Reports")
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    expect(page.locator("#p-wall h2")).to_have_text("Site wall")
    expect(page.locator("#roll-start")).to_have_text("Start roll call")
    page.get_by_role("button", name="切换到中文").click()
    expect(page.locator("#p-wall h2")).to_have_text("课堂墙")


def _focus_ring(page: Page) -> dict[str, Any]:
    return dict(
        page.evaluate(
            """() => { const el = document.activeElement; const s = getComputedStyle(el);
            return {tag: el.tagName, id: el.id, text: el.textContent.trim().slice(0, 40),
                    style: s.outlineStyle, width: parseFloat(s.outlineWidth)}; }"""
        )
    )


def test_keyboard_only_sign_in_and_visible_focus(page: Page, server: ServerProcess) -> None:
    page.goto(server.url + "/operator/")
    expect(page.locator("input[name=username]")).to_be_focused()
    ring = _focus_ring(page)
    assert ring["style"] != "none" and ring["width"] >= 2, ring
    page.keyboard.type("operator")
    page.keyboard.press("Tab")
    expect(page.locator("input[name=password]")).to_be_focused()
    page.keyboard.type(DEMO_PASSWORDS["operator"])
    page.keyboard.press("Enter")
    expect(page.locator(".session-list table")).to_be_visible()
    link = page.locator(f'a[data-session="{SESSION_ID}"]')
    for _ in range(60):  # bounded: tab through the page to the first session's dashboard link
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the dashboard link is not reachable with Tab")
    ring = _focus_ring(page)
    assert ring["style"] != "none" and ring["width"] >= 2, ring
    page.keyboard.press("Enter")
    expect(page.locator(".wall .tile")).to_have_count(15)
    # Controls on the dashboard have labels a screen reader can announce.
    for control in ("#floor-seconds", "#roll-seconds", "#poll-prompt", "#bc-source"):
        label = page.locator(f'label[for="{control[1:]}"]')
        expect(label).to_have_count(1)


def test_batch_plan_table_refused_move_and_swap(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_console_at(page, server, "plan/1")
    page.locator("#plan-run").click()
    table = page.locator("#plan-table")
    expect(table.locator("tbody tr")).to_have_count(4)
    expect(page.locator("#plan-status")).to_have_text("草稿")
    plan = world["op"].call("GET", "/courses/1/batch-plan")
    where = {a["trainee_id"]: a["session_id"] for a in plan["assignments"]}
    first = plan["sessions"][0]["id"]
    second = plan["sessions"][1]["id"]
    # Moving one cadre alone unbalances the unit's batches: refused, cells marked.
    mover = next(t for t, s in where.items() if s == first)
    page.locator("#move-trainee").select_option(str(mover))
    page.locator("#move-to").select_option(str(second))
    page.locator("#move-submit").click()
    expect(page.locator("#move-result")).to_contain_text("不能这样调整")
    expect(page.locator("#plan-table td.refused").first).to_be_visible()
    assert world["op"].call("GET", "/courses/1/batch-plan")["assignments"] == plan["assignments"]
    # Swapping two ordinary cadres of one unit across batches keeps every rule.
    units = {
        t["id"]: t for t in world["op"].call("GET", "/trainees", params={"limit": 500})["items"]
    }
    a = next(t for t, s in where.items() if s == first and not units[t]["is_leader"])
    b = next(
        t
        for t, s in where.items()
        if s == second
        and not units[t]["is_leader"]
        and units[t]["org_unit_id"] == units[a]["org_unit_id"]
    )
    page.locator("#swap-a").select_option(str(a))
    page.locator("#swap-b").select_option(str(b))
    page.locator("#swap-submit").click()
    expect(page.locator("#flash")).to_contain_text("已互换")
    after = {
        x["trainee_id"]: x["session_id"]
        for x in world["op"].call("GET", "/courses/1/batch-plan")["assignments"]
    }
    assert after[a] == second and after[b] == first
    # The audit trail reads the swap by the cadres' names, staff numbers and batches, never
    # as "9: 2 → 1" (trainee id: session id).
    row = audit_rows(page, server.url, "互换学员批次").first
    first_title, second_title = (s["title"] for s in plan["sessions"][:2])
    expect(row).to_contain_text(
        f"{units[a]['name']}（工号 {units[a]['staff_no']}）：第1批 · {first_title} → "
        f"第2批 · {second_title}"
    )
    expect(row).to_contain_text(f"{units[b]['name']}（工号 {units[b]['staff_no']}）：第2批")
    assert not re.search(rf"(^|\s){a}: ", row.inner_text())
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "operator-audit-swap-zh-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1366, "height": 900})
    page.screenshot(path=str(ARTIFACTS / "operator-audit-swap-zh.png"), full_page=True)
    page.get_by_role("button", name="English").click()
    expect(row).to_contain_text(
        f"{units[a]['name']} (staff no. {units[a]['staff_no']}): Batch 1 · {first_title} → "
        f"Batch 2 · {second_title}"
    )
    page.screenshot(path=str(ARTIFACTS / "operator-audit-swap-en.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "operator-audit-swap-en-phone.png"), full_page=True)
    page.get_by_role("button", name="中文").click()


def test_plan_page_logs_no_console_error_with_or_without_a_plan(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """A course without a plan yet is the plan page's normal start: it says so and asks for
    nothing that fails (a 404 shows in the browser console as an error)."""
    console: list[str] = []
    page.on(
        "console",
        lambda m: (
            console.append(f"{m.text} {m.location.get('url')}") if m.type == "error" else None
        ),
    )
    unit_id = world["op"].call("GET", "/courses")["items"][0]["unit_id"]
    course = world["op"].call("POST", "/courses", json={"unit_id": unit_id, "title": "尚未分批课"})
    open_console_at(page, server, f"plan/{course['id']}")
    expect(page.locator("#plan-body")).to_contain_text("该课程还没有分批计划，请先生成。")
    expect(page.locator("#plan-run")).to_be_visible()
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "operator-plan-none-zh.png"), full_page=True)
    page.get_by_role("button", name="English").click()
    expect(page.locator("#plan-body")).to_contain_text("no batch plan yet")
    page.screenshot(path=str(ARTIFACTS / "operator-plan-none-en.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(ARTIFACTS / "operator-plan-none-en-phone.png"), full_page=True)
    page.get_by_role("button", name="中文").click()
    expect(page.locator("#plan-body")).to_contain_text("该课程还没有分批计划，请先生成。")
    page.screenshot(path=str(ARTIFACTS / "operator-plan-none-zh-phone.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})
    # the page without a course, and a course with a plan, load cleanly too
    for route in ("plan", "plan/1"):
        page.goto(f"{server.url}/operator/#/{route}")
        page.reload()
        expect(page.locator("#plan-course")).to_be_visible()
        page.wait_for_load_state("networkidle")
    expect(page.locator("#plan-table")).to_be_visible()
    assert not console, f"console errors on the plan page: {console}"


def test_batch_planner_refusal_names_the_rule_unit_and_share(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """With 95% to stay on duty no unit can be split: the page says which unit and why, in
    the reader's language, not a generic hint."""
    units = {u["id"]: u["name"] for u in world["op"].call("GET", "/org-units")["items"]}
    open_console_at(page, server, "plan/1")
    page.locator("#plan-share").fill("0.95")
    page.locator("#plan-run").click()
    refusal = page.locator("#plan-infeasible")
    expect(refusal).to_contain_text("排不出分批计划：")
    expect(refusal).to_contain_text("留岗人数达不到在岗比例 95%")
    text = refusal.inner_text()
    assert any(name in text for name in units.values()), text
    assert "放宽在岗比例" not in text
    page.screenshot(path=str(ARTIFACTS / "operator-plan-infeasible-zh.png"), full_page=True)
    page.get_by_role("button", name="Switch to English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("#plan-share").fill("0.95")
    page.locator("#plan-run").click()
    expect(refusal).to_contain_text("No batch plan possible:")
    expect(refusal).to_contain_text("to keep 95% on duty")
    page.screenshot(path=str(ARTIFACTS / "operator-plan-infeasible-en.png"), full_page=True)


def test_report_session_picker_dates_each_session_most_recent_past_first(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """报表: each session with its date and time in Beijing time; those started come first,
    the most recent on top (yesterday's is easy to find), then those to come, soonest first."""
    items = world["op"].call("GET", "/sessions", params={"limit": 500})["items"]
    now = datetime.now(UTC)
    start = {s["id"]: datetime.fromisoformat(s["starts_at"]) for s in items}
    past = sorted((i for i in start if start[i] <= now), key=lambda i: (start[i], i), reverse=True)
    future = sorted((i for i in start if start[i] > now), key=lambda i: (start[i], i))
    assert past and future  # the demo has both
    open_console_at(page, server, "reports")
    groups = page.locator("#report-session optgroup")
    expect(groups).to_have_count(2)
    expect(groups.nth(0)).to_have_attribute("label", "已开始（最近的在前）")
    expect(groups.nth(1)).to_have_attribute("label", "未开始")
    options = page.locator("#report-session optgroup option")
    values = [int(v) for v in options.evaluate_all("os => os.map(o => o.value)")]
    assert values == past + future
    beijing = ZoneInfo("Asia/Shanghai")
    first = start[past[0]].astimezone(beijing).strftime("%Y/%m/%d %H:%M")
    expect(options.first).to_contain_text(first)
    page.screenshot(path=str(ARTIFACTS / "operator-report-picker-zh.png"), full_page=True)


def test_roster_import_shows_every_row_error_then_imports(
    page: Page, server: ServerProcess, tmp_path: Path
) -> None:
    open_console_at(page, server, "manage/trainees")
    header = "姓名,工号,单位,职务,是否领导,所属课堂\n"
    bad = tmp_path / "bad.csv"
    bad.write_text(
        header
        + "测试甲,UT001,没有这个单位,科员,否,海曙区分课堂\n"
        + "测试乙,UT002,海曙区,科员,也许,海曙区分课堂\n",
        encoding="utf-8",
    )
    page.locator("#roster-file").set_input_files(str(bad))
    page.locator("#roster-import").click()
    errors = page.locator("#roster-errors tbody tr")
    expect(errors).to_have_count(2)
    expect(errors.nth(0).locator("td").first).to_have_text("2")
    expect(errors.nth(1).locator("td").first).to_have_text("3")
    caption = page.locator("#manage-list caption")
    expect(caption).to_contain_text(re.compile(r"\d"))
    before = int(re.sub(r"\D", "", caption.inner_text()))
    good = tmp_path / "good.csv"
    good.write_text(header + "测试甲,UT001,海曙区,科员,否,海曙区分课堂\n", encoding="utf-8")
    page.locator("#roster-file").set_input_files(str(good))
    page.locator("#roster-import").click()
    expect(page.locator("#roster-result")).to_contain_text("新增 1")
    # the list below shows the new trainee without a reload
    expect(caption).to_contain_text(str(before + 1))
    expect(page.locator("#manage-list")).to_contain_text("UT001")
    with page.expect_download() as info:
        page.get_by_role("link", name="导出名册 XLSX").click()
    assert Path(info.value.path() or "").read_bytes()[:2] == b"PK"
    # The audit trail reads the import in words: the whole roster, what was added, the file.
    row = audit_rows(page, server.url, "导入名单").first
    expect(row).to_contain_text("全部学员")
    expect(row).to_contain_text("新增: — → 1")
    expect(row).to_contain_text("文件: — → good.csv")
    assert not re.search(r"学员 \*|created|file", row.inner_text())
    page.screenshot(path=str(ARTIFACTS / "operator-audit-import-zh.png"), full_page=True)


def test_generic_crud_screen_creates_edits_and_deletes(page: Page, server: ServerProcess) -> None:
    open_console_at(page, server, "manage/programs")
    expect(page.locator("#resource-table")).to_be_visible()
    page.locator("#manage-new").click()
    name = f"界面测试项目 {uuid.uuid4().hex[:4]}"
    page.locator("#mf-name").fill(name)
    page.locator("#mf-year").fill("2027")
    page.locator("#resource-save").click()
    row = page.locator("#resource-table tr", has_text=name)
    expect(row).to_have_count(1)
    row.get_by_role("button", name=re.compile("^编辑")).click()
    page.locator("#mf-year").fill("2028")
    page.locator("#resource-save").click()
    expect(row).to_contain_text("2028")
    row.get_by_role("button", name=re.compile("^删除")).click()
    ask = page.get_by_role("alertdialog")  # asked on the page, not in a browser dialog
    expect(ask).to_contain_text(name)
    expect(row).to_have_count(1)  # nothing deleted before the answer
    ask.get_by_role("button", name="删除").click()
    expect(row).to_have_count(0)


def test_new_records_start_from_the_stores_defaults_and_a_role_is_chosen(
    page: Page, server: ServerProcess
) -> None:
    """A trainee or user made on the page is active unless unticked; a new room is a
    sub-classroom; a user's role is chosen, never admin by default; editing a user keeps the
    password when the field is left empty."""
    login(page, server, "admin")
    admin = Api(server.url).login("admin")
    tag = uuid.uuid4().hex[:4]

    page.goto(server.url + "/operator/#/manage/trainees")
    page.locator("#manage-new").click()
    expect(page.locator("#mf-active")).to_be_checked()
    page.locator("#mf-name").fill(f"新学员{tag}")
    page.locator("#mf-staff_no").fill(f"NEW{tag}")
    page.locator("#mf-org_unit_id").select_option(index=0)
    page.locator("#resource-save").click()
    expect(page.locator("#resource-table tr", has_text=f"NEW{tag}")).to_have_count(1)
    (trainee,) = admin.call("GET", "/trainees", params={"q": f"NEW{tag}"})["items"]
    assert trainee["active"] is True

    page.goto(server.url + "/operator/#/manage/sites")
    page.locator("#manage-new").click()
    expect(page.locator("#mf-kind")).to_have_value("sub")
    expect(page.locator("#mf-kind option:checked")).to_have_text("分课堂")

    page.goto(server.url + "/operator/#/manage/users")
    page.locator("#manage-new").click()
    expect(page.locator("#mf-active")).to_be_checked()
    expect(page.locator("#mf-role option:checked")).to_have_text("—请选择—")
    page.locator("#mf-username").fill(f"contact{tag}")
    page.locator("#mf-password").fill("a-long-pass-2026")
    page.locator("#resource-save").click()  # refused by the form: no role chosen
    assert page.locator("#mf-role").evaluate("(s) => !s.checkValidity()")
    page.locator("#mf-role").select_option("moderator")
    page.locator("#resource-save").click()
    row = page.locator("#resource-table tr", has_text=f"contact{tag}")
    expect(row).to_contain_text("主持人")
    row.get_by_role("button", name=re.compile("^编辑")).click()
    expect(page.locator("#mf-password")).to_have_attribute("placeholder", "留空则不修改密码")
    page.locator("#mf-display_name").fill("江北区联络员")
    page.locator("#resource-save").click()
    expect(row).to_contain_text("江北区联络员")
    # the untouched password still signs in
    Api(server.url).http.post(
        server.url + "/api/v1/auth/login",
        json={"username": f"contact{tag}", "password": "a-long-pass-2026"},
        timeout=10,
    ).raise_for_status()


def test_dashboard_reconnects_and_resyncs_after_a_server_restart(
    browser: Browser, tmp_path: Path
) -> None:
    proc = ServerProcess(tmp_path / "restart", None, "--demo").start()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(20_000)
    try:
        op = Api(proc.url).login("operator")
        op.call("POST", f"/sessions/{SESSION_ID}/start")
        secret = op.call("POST", "/sites/2/secret")["secret"]
        open_dashboard(page, proc)
        tile = page.locator('.tile[data-site-id="2"]')
        proc.stop()
        expect(page.locator("#conn")).not_to_have_attribute("data-state", "open")
        proc.start()
        expect(page.locator("#conn")).to_have_attribute("data-state", "open", timeout=30_000)
        # Re-subscribed by itself: presence of the restarted server reaches the wall.
        with AgentThread(proc.url, secret, 2):
            expect(tile).to_have_attribute("data-state", "online", timeout=15_000)
        # Q&A changes after the restart arrive too (the session topic is followed again).
        q = (
            Api(proc.url)
            .bearer(secret)
            .call("POST", f"/sessions/{SESSION_ID}/questions", json={"text": "重启之后的问题"})
        )
        expect(page.locator(f'.q-item[data-question-id="{q["id"]}"]').first).to_be_visible()
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "operator-after-restart.png"), full_page=True)
    finally:
        context.close()
        proc.stop()


def test_sensitive_word_flag_edit_and_merge(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_dashboard(page, server)
    # The session's own sensitive words, set from the dashboard; auto-approval back on.
    page.locator("#p-qa .qa-settings summary").click()
    page.locator("#qa-auto").check()
    page.locator("#qa-words").fill("内部消息")
    page.locator("#qa-settings-save").click()
    expect(page.locator("#flash")).to_contain_text("已保存")
    settings = world["op"].call("GET", f"/sessions/{SESSION_ID}/qa-settings")
    assert settings["sensitive_words"] == ["内部消息"] and settings["auto_approve"] is True
    agent = Api(server.url).bearer(world["secrets"][3])
    flagged = agent.call(
        "POST", f"/sessions/{SESSION_ID}/questions", json={"text": "能否透露内部消息？"}
    )
    clean = agent.call(
        "POST", f"/sessions/{SESSION_ID}/questions", json={"text": "基层减负怎么落实？"}
    )
    item = page.locator(f'.q-item[data-question-id="{flagged["id"]}"][data-state]')
    expect(item).to_have_attribute("data-state", "submitted")  # held back by the word
    expect(item.locator(".flags")).to_contain_text("内部消息")
    item.get_by_role("button", name="编辑").click()
    item.get_by_label("问题内容").fill("基层减负如何落实？")
    # A question arriving meanwhile re-renders the list: the draft being typed stays.
    late = agent.call("POST", f"/sessions/{SESSION_ID}/questions", json={"text": "另一个问题"})
    expect(page.locator(f'.q-item[data-question-id="{late["id"]}"]').first).to_be_visible()
    expect(item.get_by_label("问题内容")).to_have_value("基层减负如何落实？")
    item.get_by_role("button", name="保存").click()
    expect(item.locator(".q-text")).to_have_text("基层减负如何落实？")
    expect(item.locator(".original")).to_contain_text("能否透露内部消息？")
    item.locator('button[data-action="approve"]').click()
    expect(item).to_have_attribute("data-state", "approved")
    other = page.locator(f'.q-item[data-question-id="{clean["id"]}"][data-state]')
    expect(other).to_have_attribute("data-state", "approved")  # auto-approved
    item.locator(".merge select").select_option(str(clean["id"]))
    item.locator(".merge button").click()
    expect(item).to_have_count(0)
    assert world["op"].call("GET", f"/questions/{flagged['id']}")["merged_into"] == clean["id"]
    # Restore the module's setting for the other tests.
    world["op"].call("PUT", f"/sessions/{SESSION_ID}/qa-settings", json={"auto_approve": False})


def test_broadcast_buttons_call_the_media_endpoints_and_report_the_outcome(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """In the live session (``world``): the console offers 开始直播 only there."""
    open_dashboard(page, server)
    page.locator("#bc-source").select_option("site")
    page.locator("#bc-site").select_option("2")
    with page.expect_request(
        lambda r: r.method == "POST" and r.url.endswith(f"/sessions/{SESSION_ID}/broadcast/start")
    ) as info:
        page.locator("#bc-start").click()
    try:
        assert info.value.post_data_json == {"source": "site", "site_id": 2}
        response = info.value.response()
        assert response is not None
        if response.ok:
            # No agent publishes from site 2 in this module: the console says the broadcast has
            # no picture source instead of calling it live (issue 13.2).
            expect(page.locator("#bc-state")).to_contain_text("无画面来源")
            expect(page.locator("#bc-state")).not_to_contain_text("直播中")
            expect(page.locator("#bc-state")).to_contain_text("海曙区分课堂没有推流")
            expect(page.locator("#bc-state")).to_contain_text("该课堂的代理程序没有发送画面")
            expect(page.locator("#bc-state")).not_to_contain_text("从本机摄像头推流")
        else:  # not there yet, or refused: the operator reads why, the page goes on
            expect(page.locator("#flash .flash-text")).to_be_visible()
    finally:  # never leave the module's session broadcasting for the next test
        with page.expect_request(lambda r: r.url.endswith("/broadcast/stop")):
            page.locator("#bc-stop").click()


def test_a_broadcast_stopped_elsewhere_no_longer_reads_as_started(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """The broadcast stops without this console's 停止直播 (another console, or the end of the
    session): the note under the state no longer says it has started."""
    open_dashboard(page, server)
    page.locator("#bc-source").select_option("main")
    page.locator("#bc-use-camera").uncheck()  # no camera needed: the note is what is checked
    note = page.locator("#bc-msg")
    try:
        page.locator("#bc-start").click()
        expect(note).to_have_text("直播已开始（信号源：主课堂摄像机）。")
        expect(page.locator("#bc-no-publisher")).to_have_text("无画面来源")  # the console saw it
        world["op"].call("POST", f"/sessions/{SESSION_ID}/broadcast/stop")
        expect(page.locator("#bc-state .pill")).to_have_text("未在直播")
        expect(note).to_have_text("直播已停止。")
    finally:  # never leave the module's session broadcasting for the next test
        world["op"].http.post(world["op"].base + f"/sessions/{SESSION_ID}/broadcast/stop")


def test_a_console_opened_during_a_broadcast_shows_its_source_in_the_picker(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    """The console is opened (or re-drawn by the language switch) while a room is on air: the
    source picker shows that room, not the default 主课堂摄像机."""
    op = world["op"]
    op.call(
        "POST", f"/sessions/{SESSION_ID}/broadcast/start", json={"source": "site", "site_id": 2}
    )
    try:
        open_dashboard(page, server)
        expect(page.locator("#bc-state")).to_contain_text("海曙区分课堂没有推流")  # loaded
        expect(page.locator("#bc-source")).to_have_value("site")
        expect(page.locator("#bc-site")).to_have_value("2")
        expect(page.locator("#bc-camera-box")).to_be_hidden()
        page.get_by_role("button", name="English").click()
        expect(page.locator("#bc-state")).to_contain_text("is not publishing")
        expect(page.locator("#bc-source")).to_have_value("site")
        expect(page.locator("#bc-site")).to_have_value("2")
    finally:  # never leave the module's session broadcasting for the next test
        op.http.post(op.base + f"/sessions/{SESSION_ID}/broadcast/stop", timeout=10)


def test_the_recording_list_is_filled_once_however_often_it_is_asked(
    page: Page, server: ServerProcess
) -> None:
    """Two loads of the recording list in flight (in CI: the language switch picking the
    recording on air, then the operator picking it again) listed every entry twice: only the
    latest request fills the list."""
    open_dashboard(page, server)
    recordings = re.compile(r".*/recordings\?.*")

    def slow(route: Any) -> None:  # both requests leave before either is answered
        time.sleep(0.4)
        route.continue_()

    page.route(recordings, slow)
    source = page.locator("#bc-source")
    options = page.locator("#bc-rec option")
    for _ in range(2):  # Chinese, then English after the switch rebuilt the panel
        source.select_option("recording")
        source.select_option("main")
        source.select_option("recording")
        page.wait_for_timeout(1500)  # every request answered by now
        expect(options).to_have_count(1)
        expect(options).to_have_text([re.compile("没有可用录像|No recordings")])
        if page.get_by_role("button", name="English").count():
            page.get_by_role("button", name="English").click()
    page.unroute(recordings)


def test_the_wall_says_which_sites_pull_the_program_through_a_relay(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    op = world["op"]
    sites = {s["id"]: s for s in op.call("GET", "/sites", params={"limit": 100})["items"]}
    children = sorted(i for i, s in sites.items() if s["parent_id"] == 2)
    others = sorted(i for i, s in sites.items() if s["parent_id"] not in (None, 2) and i != 2)
    assert children and others, "the demo's district site 2 has rooms below it, others too"
    open_dashboard(page, server)
    op.call("POST", f"/sessions/{SESSION_ID}/broadcast/start", json={"source": "main"})
    try:
        via = re.compile(f"经{re.escape(sites[2]['name'])}转发")
        with AgentThread(server.url, world["secrets"][2], 2, capabilities=("relay.8",)):
            for child in children:
                tile = page.locator(f'.tile[data-site-id="{child}"] .f-stream')
                expect(tile).to_contain_text(via)
            other = page.locator(f'.tile[data-site-id="{others[0]}"] .f-stream')
            expect(other).not_to_contain_text("转发")
        # the relay's agent is gone: its rooms pull from the server again
        tile = page.locator(f'.tile[data-site-id="{children[0]}"] .f-stream')
        expect(tile).not_to_contain_text("转发")
    finally:
        op.call("POST", f"/sessions/{SESSION_ID}/broadcast/stop")


def test_a_moderator_gets_the_dashboard_without_manager_screens(
    page: Page, server: ServerProcess
) -> None:
    admin = Api(server.url).login("admin")
    name = f"mod{uuid.uuid4().hex[:6]}"
    admin.call(
        "POST", "/users", json={"username": name, "password": "moderate-2026", "role": "moderator"}
    )
    page.goto(server.url + "/operator/")
    page.get_by_label("用户名").fill(name)
    page.get_by_label("密码").fill("moderate-2026")
    page.get_by_role("button", name="登录").click()
    expect(page.locator(".session-list table")).to_be_visible()
    # sessions, and 请假 (a moderator may be a unit's contact who decides its trainees' leave):
    # no reports, plan, data
    expect(page.locator("#nav a")).to_have_count(2)
    expect(page.locator('#nav a[href="#/leave"]')).to_have_count(1)
    page.locator(f'a[data-session="{SESSION_ID}"]').click()
    expect(page.locator(".wall .tile")).to_have_count(15)
    expect(page.locator("#p-qa .q-group")).to_have_count(4)
    page.wait_for_timeout(1000)
    expect(page.locator("#flash .flash-text")).to_have_count(0)  # no 403 noise


def test_session_form_takes_beijing_time_and_participating_sites(
    page: Page, server: ServerProcess, world: dict[str, Any]
) -> None:
    open_console_at(page, server, "manage/sessions")
    page.locator("#manage-new").click()
    title = f"表单课次 {uuid.uuid4().hex[:4]}"
    page.locator("#mf-course_id").select_option("3")
    page.locator("#mf-title").fill(title)
    page.locator("#mf-starts_at").fill("2026-12-01T09:00")
    page.locator("#mf-ends_at").fill("2026-12-01T11:30")
    page.locator("#mf-site_ids").select_option(["1", "2", "5"])
    page.locator("#resource-save").click()
    expect(page.locator("#resource-table tr", has_text=title)).to_have_count(1)
    found = world["op"].call("GET", "/sessions", params={"q": title})["items"]
    assert len(found) == 1
    assert found[0]["starts_at"].startswith("2026-12-01T01:00:00")  # 09:00 UTC+8
    assert found[0]["ends_at"].startswith("2026-12-01T03:30:00")
    assert found[0]["site_ids"] == [1, 2, 5]
    # A rule the server checks comes back as a message in the form.
    row = page.locator("#resource-table tr", has_text=title)
    row.get_by_role("button", name=re.compile("^编辑")).click()
    page.locator("#mf-ends_at").fill("2026-12-01T08:00")
    page.locator("#resource-save").click()
    expect(page.locator("#resource-form .row-errors")).to_contain_text("结束时间必须晚于开始时间")


def test_every_room_is_one_click_and_the_list_filters_as_one_types(
    page: Page, server: ServerProcess
) -> None:
    open_console_at(page, server, "manage/sessions")
    page.locator("#manage-new").click()
    rooms = page.locator("#mf-site_ids option")
    page.locator("#mf-site_ids-all").click()
    expect(page.locator("#mf-site_ids option:checked")).to_have_count(rooms.count())
    page.locator("#mf-site_ids-none").click()
    expect(page.locator("#mf-site_ids option:checked")).to_have_count(0)
    page.get_by_role("button", name="取消").click()
    # typing filters (no Enter): one demo course's sessions only
    page.locator("#manage-search").press_sequentially("枫桥")
    rows = page.locator("#resource-table tbody tr")
    expect(rows).to_have_count(2)  # its two batches
    expect(rows.first).to_contain_text("枫桥")
