"""What people see of the check-in guard, in a real browser (Debian chromium via Playwright)
against a real server process: the trainee who keeps typing wrong codes is told in Chinese (or
English) how long to wait, and the operator's dashboard lists them live and lets the operator
open every room of the session. Screenshots (phone size, both languages) go to
test-artifacts/security/."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from playwright.sync_api import Page, expect

from server.core.checkin import current_code
from server.core.checkin_guard import FREE_FAILURES
from server.store.models import utcnow
from tests.chromium import chromium
from tests.security.checkin_world import CHECKIN_KEY, KEY, seed_rooms
from tests.server_process import ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "security"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


def _wrong(site_id: int, session_id: int) -> str:
    right = current_code(CHECKIN_KEY, str(site_id), str(session_id), utcnow().timestamp()).code
    return f"{(int(right) + 500_000) % 1_000_000:06d}"


def _shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=True)


def test_the_phone_says_how_long_to_wait_and_the_dashboard_lists_the_guesser(
    tmp_path: Path,
) -> None:
    rooms = asyncio.run(seed_rooms(tmp_path / "server"))
    world, sid = rooms.world, rooms.session_id
    server = ServerProcess(rooms.data_dir, env={"CLASSROOM_SECRET_KEY": KEY}).start(60.0)
    errors: list[str] = []
    try:
        with chromium(["--no-sandbox"]) as browser:
            phone_ctx = browser.new_context(**PHONE)
            phone = phone_ctx.new_page()
            phone.on("pageerror", lambda exc: errors.append(str(exc)))
            phone.set_default_timeout(15_000)
            phone.goto(server.url + "/trainee/")
            phone.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill(
                world.trainee_code
            )
            phone.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            expect(phone.locator("#hello")).to_contain_text("张伟")
            field = phone.get_by_label(re.compile("签到码|Check-in code"))
            submit = phone.get_by_role("button", name=re.compile("^(签到|Check in)$"))
            for _ in range(FREE_FAILURES):
                field.fill(_wrong(world.site_id, sid))
                submit.click()
                expect(phone.locator("#notice")).to_contain_text("签到码不正确")
                phone.locator("#notice").evaluate("n => n.textContent = ''")
            field.fill(_wrong(world.site_id, sid))
            submit.click()
            notice = phone.locator("#notice")
            expect(notice).to_contain_text(re.compile(r"签到码输错次数过多，请 \d+ 秒后再试"))
            _shot(phone, "phone-too-many-codes-zh.png")
            phone.evaluate("() => localStorage.setItem('lang', 'en')")
            phone.reload()
            expect(phone.locator("#hello")).to_contain_text("张伟")
            phone.get_by_label(re.compile("Check-in code")).fill(_wrong(world.site_id, sid))
            phone.get_by_role("button", name=re.compile("^Check in$")).click()
            expect(phone.locator("#notice")).to_contain_text(
                re.compile(r"Too many wrong check-in codes\. Try again in \d+ s")
            )
            _shot(phone, "phone-too-many-codes-en.png")

            op_ctx = browser.new_context(**PHONE)
            op = op_ctx.new_page()
            op.on("pageerror", lambda exc: errors.append(str(exc)))
            op.set_default_timeout(15_000)
            op.goto(server.url + "/operator/")
            op.get_by_label(re.compile("用户名|Username")).fill("operator")
            op.get_by_label(re.compile("密码|Password")).fill(world.passwords["operator"])
            op.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
            expect(op.locator(".session-list table")).to_be_visible()
            op.goto(server.url + f"/operator/#/sessions/{sid}/live")
            panel = op.locator("#p-guard")
            expect(panel.locator("#guard-summary")).to_contain_text("输错签到码的学员：1 人")
            row = panel.locator(f'tr[data-trainee="{world.trainee_id}"]')
            expect(row).to_contain_text("张伟")
            any_room = panel.get_by_label(re.compile("任一分课堂"))
            expect(any_room).not_to_be_checked()
            # A further wrong code arrives live (no reload): the alert and the new total.
            phone.evaluate("() => localStorage.setItem('lang', 'zh')")
            phone.wait_for_timeout(11_000)  # the first wait (10 s) is over: one more is compared
            phone.reload()
            phone.get_by_label(re.compile("签到码")).fill(_wrong(world.site_id, sid))
            phone.get_by_role("button", name=re.compile("^签到$")).click()
            expect(op.locator("#flash")).to_contain_text("张伟 已连续输错签到码")
            expect(row.locator("td").nth(1)).to_have_text(str(FREE_FAILURES + 1))
            panel.screenshot(path=str(ARTIFACTS / "dashboard-guard-zh.png"))
            any_room.check()
            expect(op.locator("#flash")).to_contain_text("签到范围已保存")
            op.reload()
            expect(op.locator("#p-guard").get_by_label(re.compile("任一分课堂"))).to_be_checked()
            op.evaluate("() => localStorage.setItem('lang', 'en')")
            op.reload()
            expect(op.locator("#guard-summary")).to_contain_text("entered wrong check-in codes: 1")
            op.locator("#p-guard").screenshot(path=str(ARTIFACTS / "dashboard-guard-en.png"))
            browser.close()
    finally:
        server.stop()
    assert not errors, errors
