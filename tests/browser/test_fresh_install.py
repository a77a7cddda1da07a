"""A fresh install without demo data (JOURNEYS.md 1): the training office's first admin, made
with the server's own command, finds its way through the console's empty pages."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from openpyxl import Workbook
from playwright.sync_api import expect

from tests.browser.session_helpers import audit_rows
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

PASSWORD = "Fresh-admin-2026!"

browser = pytest.fixture(scope="module")(chromium_browser)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    data = tmp_path_factory.mktemp("fresh")
    secret = data / "password"
    secret.write_text(PASSWORD + "\n")
    admin = ["--password-file", str(secret), "office"]
    subprocess.run(
        [sys.executable, "-m", "server.cli", "create-admin", "--data-dir", str(data), *admin],
        check=True,
        capture_output=True,
        timeout=60,
    )
    with ServerProcess(data) as process:
        yield process


def signed_in(browser: Any, server: ServerProcess) -> Any:
    page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    page.set_default_timeout(10_000)
    page.goto(server.url + "/operator/")
    page.get_by_label("用户名").fill("office")
    page.get_by_label("密码").fill(PASSWORD)
    page.get_by_role("button", name="登录").click()
    expect(page.locator("#who")).to_contain_text("office")
    return page


def test_selfstudy_with_no_finished_session_says_to_upload(
    browser: Any, server: ServerProcess
) -> None:
    page = signed_in(browser, server)
    page.goto(server.url + "/operator/#/selfstudy")
    # No session has run yet: no empty session and recording lists, the upload is chosen.
    expect(page.locator("#ss-no-recordings")).to_have_text(
        "还没有已结束的课次，因此没有可用的录像；请上传视频文件。"
    )
    expect(page.get_by_label("上传视频文件")).to_be_checked()
    expect(page.get_by_label("视频文件（WebM 或 MP4）")).to_be_visible()
    expect(page.get_by_label("课次", exact=True)).to_be_hidden()


def test_roster_naming_units_and_rooms_not_yet_made_says_where_to_add_them(
    browser: Any, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The organisation department's file names units and rooms this install does not know
    yet: each bad row says which value is unknown AND where to add it (as the English did)."""
    roster = tmp_path_factory.mktemp("roster") / "名单.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["姓名", "工号", "单位", "职务", "是否领导（是/否）", "所属课堂"])
    sheet.append(["张三", "HS001", "海曙区", "区委书记", "是", "海曙分课堂"])
    book.save(roster)
    page = signed_in(browser, server)
    page.goto(server.url + "/operator/#/manage/trainees")
    page.set_input_files("#roster-file", roster)
    page.get_by_role("button", name="导入").click()
    rows = page.locator("#roster-errors tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text(
        "未知单位: 海曙区（请填写已有单位的名称或代码；新单位请先在“基础数据 · 单位”中添加）"
    )
    expect(rows.nth(1)).to_contain_text(
        "未知课堂: 海曙分课堂（请填写已有课堂的名称或代码；新课堂请先在“基础数据 · 课堂”中添加）"
    )


def test_roster_warnings_after_a_good_import_do_not_look_like_errors(
    browser: Any, server: ServerProcess, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A good file with an extra 序号 column imports; the note that the column was ignored is
    shown as a note (amber), not in the red of the rows that stop an import."""
    office = requests.Session()
    r = office.post(
        server.url + "/api/v1/auth/login",
        json={"username": "office", "password": PASSWORD},
        timeout=10,
    )
    office.headers["X-CSRF-Token"] = r.json()["csrf_token"]
    unit = office.post(server.url + "/api/v1/org-units", json={"name": "江北区"}, timeout=10)
    site = {"name": "江北分课堂", "kind": "sub", "org_unit_id": unit.json()["id"]}
    assert office.post(server.url + "/api/v1/sites", json=site, timeout=10).status_code == 201
    roster = tmp_path_factory.mktemp("roster") / "名单.xlsx"
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["序号", "姓名", "工号", "单位", "职务", "是否领导", "所属课堂"])
    sheet.append([1, "李四", "JB001", "江北区", "区长", "是", "江北分课堂"])
    book.save(roster)
    page = signed_in(browser, server)
    page.goto(server.url + "/operator/#/manage/trainees")
    page.set_input_files("#roster-file", roster)
    page.get_by_role("button", name="导入").click()
    expect(page.locator("#roster-result")).to_contain_text("导入完成：新增 1，更新 0。")
    cell = page.locator("#roster-warnings tbody tr td").last
    expect(cell).to_have_text("未识别的列已忽略: 序号")
    colours = cell.evaluate(
        """td => { const probe = document.createElement('div');
        probe.style.background = 'var(--warn-bg)'; document.body.append(probe);
        const want = getComputedStyle(probe).backgroundColor; probe.remove();
        return [getComputedStyle(td).backgroundColor, want]; }"""
    )
    assert colours[0] == colours[1], colours


def test_audit_of_codes_for_those_still_without_one_reads_in_chinese(
    browser: Any, server: ServerProcess
) -> None:
    """Codes issued "only to trainees without one" read so in the audit trail, not only_missing."""
    page = signed_in(browser, server)
    page.goto(server.url + "/operator/#/codes")
    page.get_by_label("全体学员").check()
    page.get_by_label("只发给还没有个人码的学员（已发凭条继续有效）").check()
    page.get_by_role("button", name="发放个人码").click()
    expect(page.locator("#codes-result")).not_to_be_empty()
    changes = audit_rows(page, server.url, "批量发放个人码").first
    expect(changes).to_contain_text("发给全体学员: — → 是")
    expect(changes).to_contain_text("只发给还没有个人码的学员: — → 是")
    expect(changes).not_to_contain_text("only_missing")
    expect(changes).not_to_contain_text("everyone")
