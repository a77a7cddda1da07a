"""The console's smaller panels in a real browser (Debian chromium via Playwright) against a real
server process with the demo data, driven as the training office would: personal codes for a
unit printed as slips (the QR a phone camera reads signs that trainee in), saved as a workbook.
Screenshots in zh and en (desktop) and of the print layout in test-artifacts/operator-pages/."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright import sync_api as playwright_sync
from playwright.sync_api import Page, expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.session_helpers import Api, Watch
from tests.server_process import ServerProcess

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "operator-pages"
DESKTOP = {"viewport": {"width": 1366, "height": 900}, "accept_downloads": True}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with playwright_sync.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--headless=new"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("pages"), None, "--demo") as proc:
        yield proc


def shot(page: Page, name: str, full_page: bool = True) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / name), full_page=full_page)


def sign_in(page: Page, server: ServerProcess, hash_route: str) -> None:
    page.goto(server.url + "/operator/")
    page.get_by_label(re.compile("用户名|Username")).fill("operator")
    page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORDS["operator"])
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#who")).not_to_be_empty()
    page.goto(server.url + "/operator/" + hash_route)


def decode_qr(locator: Any, tmp_path: Path) -> str:
    """What a phone camera reads from the QR on the page (zbarimg from Debian's zbar-tools)."""
    zbarimg = shutil.which("zbarimg")
    assert zbarimg is not None, "zbarimg missing: apt-get install zbar-tools"
    path = tmp_path / "slip-qr.png"
    locator.screenshot(path=str(path))
    out = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(path)], capture_output=True, text=True, timeout=20
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_codes_for_a_unit_printed_as_slips_whose_qr_signs_in(
    browser: Any, server: ServerProcess, tmp_path: Path
) -> None:
    watch = Watch(server.url)
    context = browser.new_context(**DESKTOP)
    phone_ctx = browser.new_context(**PHONE)
    try:
        page = watch.attach(context, "console")
        sign_in(page, server, "#/codes")
        expect(page.get_by_role("heading", name="批量发放个人码")).to_be_visible()
        page.get_by_label("单位", exact=True).select_option(label="江北区")
        page.get_by_role("button", name="发放个人码").click()
        page.get_by_role("button", name="确认发放").click()
        slips = page.locator("#slips .slip")
        expect(page.locator("#codes-result")).to_contain_text("个人码只显示这一次")
        op = Api(server.url).login("operator")
        trainees = op.call("GET", "/trainees", params={"limit": 500})["items"]
        units = {u["name"]: u for u in op.call("GET", "/org-units")["items"]}
        assert all(u["parent_id"] is None for u in units.values())  # no sub-units in the demo
        jiangbei = [t for t in trainees if t["org_unit_id"] == units["江北区"]["id"]]
        assert jiangbei
        expect(slips).to_have_count(len(jiangbei))
        first = slips.first
        name = first.locator(".slip-name").inner_text()
        code = first.locator(".slip-code").inner_text()
        assert name in {t["name"] for t in jiangbei}
        expect(first).to_contain_text("江北区")
        shot(page, "codes-slips-zh.png")
        shot(page, "codes-slips-zh-top.png", full_page=False)
        page.emulate_media(media="print")
        expect(page.locator(".topbar")).to_be_hidden()
        shot(page, "codes-slips-print.png")
        shot(page, "codes-slips-print-top.png", full_page=False)
        page.emulate_media(media="screen")

        # The workbook holds the same codes (issued once: saving it replaces nothing).
        with page.expect_download() as download:
            page.get_by_role("button", name="下载 Excel").click()
        sheet = load_workbook(io.BytesIO(Path(download.value.path()).read_bytes())).active
        assert sheet is not None
        rows = [[c.value for c in row] for row in sheet.iter_rows()]
        assert rows[0][:5] == ["姓名", "工号", "单位", "课堂", "个人码"]
        assert [name, code] == [rows[1][0], rows[1][4]]

        # A phone camera reads the slip's QR: the link opens the phone page signed in.
        link = decode_qr(first.locator("svg.qr"), tmp_path)
        assert link == f"{server.url}/trainee/#join={code}"
        phone = watch.attach(phone_ctx, "phone")
        phone.goto(link)
        expect(phone.locator("#hello")).to_contain_text(name)
        assert "join" not in phone.url and code not in phone.url

        # The console in English keeps the batch on screen (shown once, not lost to a redraw).
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="Issue personal codes in bulk")).to_be_visible()
        expect(slips).to_have_count(len(jiangbei))
        shot(page, "codes-slips-en.png")
        watch.check()
    finally:
        phone_ctx.close()
        context.close()
