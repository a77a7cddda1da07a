"""The console's smaller panels in a real browser (Debian chromium via Playwright) against a real
server process with the demo data, driven as the training office would: personal codes for a
unit printed as slips (the QR a phone camera reads signs that trainee in), saved as a workbook.
Screenshots in zh and en (desktop) and of the print layout in test-artifacts/operator-pages/."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook
from playwright.sync_api import Page, expect

from server.store.demo_loader import DEMO_PASSWORDS
from tests.browser.pages_helpers import shot, trainee_api
from tests.browser.session_helpers import Api, Watch, audit_rows
from tests.browser.test_pages_trainee_screen import _decode_qr as decode_qr
from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

DESKTOP = {"viewport": {"width": 1366, "height": 900}, "accept_downloads": True}
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


browser = pytest.fixture(scope="module")(chromium_browser)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    with ServerProcess(tmp_path_factory.mktemp("pages"), None, "--demo") as proc:
        yield proc


def sign_in(page: Page, server: ServerProcess, hash_route: str) -> None:
    page.goto(server.url + "/operator/")
    page.get_by_label(re.compile("用户名|Username")).fill("operator")
    page.get_by_label(re.compile("密码|Password")).fill(DEMO_PASSWORDS["operator"])
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("#who")).not_to_be_empty()
    page.goto(server.url + "/operator/" + hash_route)


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
        staff = next(t["staff_no"] for t in jiangbei if t["name"] == name)
        expect(first.locator(".slip-staff")).to_have_text(f"工号：{staff}")
        shot(page, "operator-pages", "codes-slips-zh.png")
        shot(page, "operator-pages", "codes-slips-zh-top.png", full_page=False)
        page.emulate_media(media="print")
        expect(page.locator(".topbar")).to_be_hidden()
        shot(page, "operator-pages", "codes-slips-print.png")
        shot(page, "operator-pages", "codes-slips-print-top.png", full_page=False)
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
        link = decode_qr(first.locator("svg.qr"), tmp_path)  # what a phone camera reads
        assert link == f"{server.url}/trainee/#join={code}"
        phone = watch.attach(phone_ctx, "phone")
        phone.goto(link)
        expect(phone.locator("#hello")).to_contain_text(name)
        assert "join" not in phone.url and code not in phone.url

        # The console in English keeps the batch on screen (shown once, not lost to a redraw).
        page.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", name="Issue personal codes in bulk")).to_be_visible()
        expect(slips).to_have_count(len(jiangbei))
        expect(first.locator(".slip-staff")).to_have_text(f"Staff no.: {staff}")  # no "："
        shot(page, "operator-pages", "codes-slips-en.png")
        watch.check()
    finally:
        phone_ctx.close()
        context.close()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_replacing_codes_is_the_consoles_one_page_question(
    browser: Any, server: ServerProcess, lang: str
) -> None:
    """发放个人码 (codes handed out would stop working) asks with the console's page question
    (askInline, as 开始课次 and 结束课次 do): its text, 确认发放 focused, 取消 takes it
    away and replaces nothing. Desktop 1366x768 and phone, in zh and en."""
    watch = Watch(server.url)
    op = Api(server.url).login("operator")
    before = op.call("GET", "/audit", params={"action": "issue_join_codes", "limit": 1})
    for device, size in {"desktop": {"width": 1366, "height": 768}, "phone": None}.items():
        context = browser.new_context(**({"viewport": size} if size else PHONE))
        try:
            page = watch.attach(context, device)
            sign_in(page, server, "#/codes")
            expect(page.locator("#codes-issue")).to_have_count(1)  # the page is drawn
            if lang == "en":
                page.get_by_role("button", name="English").click()
                expect(
                    page.get_by_role("heading", name="Issue personal codes in bulk")
                ).to_be_visible()
            expect(page.locator("#codes-issue")).to_have_count(1)
            page.get_by_role("button", name=re.compile("^(发放个人码|Issue codes)$")).click()
            question = page.locator("#codes-confirm-q")
            expect(question).to_have_attribute("role", "alertdialog")
            expect(question).to_contain_text(
                "原来的个人码会失效。继续吗？" if lang == "zh" else "replace the previous codes"
            )
            expect(page.locator("#codes-confirm-q-yes")).to_be_focused()
            shot(page, "operator-pages", f"codes-ask-{lang}-{device}.png", full_page=False)
            page.locator("#codes-confirm-q-no").click()
            expect(question).to_have_count(0)
            expect(page.locator("#slips .slip")).to_have_count(0)
        finally:
            context.close()
    assert op.call("GET", "/audit", params={"action": "issue_join_codes", "limit": 1}) == before
    watch.check()


def test_codes_for_two_units_keep_both_batches_to_print_together_or_apart(
    browser: Any, server: ServerProcess
) -> None:
    """Issuing for a second unit keeps the first unit's slips on the page: both print
    together, or one batch alone; a unit issued again keeps only its new slips. (Units whose
    demo codes no later test signs in with.)"""
    watch = Watch(server.url)
    context = browser.new_context(**DESKTOP)
    try:
        page = watch.attach(context, "console")
        page.add_init_script("window.print = () => { window.printed = (window.printed || 0) + 1; }")
        sign_in(page, server, "#/codes")
        op = Api(server.url).login("operator")
        trainees = op.call("GET", "/trainees", params={"limit": 500})["items"]
        units = {u["name"]: u["id"] for u in op.call("GET", "/org-units")["items"]}
        size = {n: sum(t["org_unit_id"] == i for t in trainees) for n, i in units.items()}

        def issue(unit: str) -> None:
            page.get_by_label("单位", exact=True).select_option(label=unit)
            page.get_by_role("button", name="发放个人码").click()
            page.get_by_role("button", name="确认发放").click()
            expect(page.locator(".slip-batch").first).to_contain_text(unit)

        issue("鄞州区")
        issue("北仑区")
        batches = page.locator("#slips .slip-batch")
        expect(batches).to_have_count(2)
        newest, older = batches.nth(0), batches.nth(1)
        expect(newest.locator("h3")).to_contain_text(f"北仑区 · {size['北仑区']} 张")
        expect(older.locator("h3")).to_contain_text(f"鄞州区 · {size['鄞州区']} 张")
        expect(page.locator("#slips .slip")).to_have_count(size["鄞州区"] + size["北仑区"])
        expect(page.locator("#codes-kept")).to_contain_text(
            f"2 批，共 {size['鄞州区'] + size['北仑区']} 张"
        )
        shot(page, "operator-pages", "codes-two-batches-zh.png")
        # One batch alone on paper: the older unit's, handed out first.
        older.get_by_role("button", name="只打印这一批").click()
        assert page.evaluate("window.printed") == 1
        page.emulate_media(media="print")
        expect(older.locator(".slip").first).to_be_visible()
        expect(newest.locator(".slip").first).to_be_hidden()
        shot(page, "operator-pages", "codes-two-batches-print-one.png", full_page=False)
        page.emulate_media(media="screen")
        page.get_by_role("button", name="打印全部凭条").click()
        page.emulate_media(media="print")
        expect(older.locator(".slip").first).to_be_visible()
        expect(newest.locator(".slip").first).to_be_visible()
        page.emulate_media(media="screen")
        # 鄞州区 again: its old slips no longer sign in, so only the new batch shows them.
        issue("鄞州区")
        expect(batches).to_have_count(2)
        expect(page.locator("#codes-replaced")).to_contain_text(f"{size['鄞州区']} 张")
        expect(batches.nth(1).locator("h3")).to_contain_text("北仑区")
        expect(page.locator("#slips .slip")).to_have_count(size["鄞州区"] + size["北仑区"])
        page.get_by_role("button", name="English").click()
        expect(batches.nth(0).locator("h3")).to_contain_text(f"鄞州区 · {size['鄞州区']} slips")
        expect(page.get_by_role("button", name="Print this batch only")).to_have_count(2)
        shot(page, "operator-pages", "codes-two-batches-en.png")
        page.set_viewport_size(PHONE["viewport"])
        page.locator("#codes-kept").scroll_into_view_if_needed()
        shot(page, "operator-pages", "codes-two-batches-en-phone.png", full_page=False)
        page.get_by_role("button", name="中文").click()
        expect(page.get_by_role("button", name="只打印这一批")).to_have_count(2)
        page.locator("#codes-kept").scroll_into_view_if_needed()
        shot(page, "operator-pages", "codes-two-batches-zh-phone.png", full_page=False)
        watch.check()
    finally:
        context.close()


def test_office_pages_corrections_audit_transcript_honour_electives_feedback_survey(
    browser: Any, server: ServerProcess
) -> None:
    op = Api(server.url).login("operator")
    sid = 2  # a demo session of its own (the codes test above used none): 第2批 of
    # today's course, whose published plan puts the head of 海曙区 (NB0002) in it
    session = op.call("GET", f"/sessions/{sid}")
    if session["status"] == "scheduled":
        op.call("POST", f"/sessions/{sid}/start")
    first = op.call("GET", "/trainees", params={"q": "NB0002"})["items"][0]
    watch = Watch(server.url)
    context = browser.new_context(**DESKTOP)
    try:
        page = watch.attach(context, "console")
        sign_in(page, server, f"#/sessions/{sid}/attendance")
        expect(page.get_by_role("heading", name=re.compile("^考勤更正与补签"))).to_be_visible()
        page.get_by_label("姓名或工号").fill("NB0002")
        row = page.locator("#att-table tbody tr").filter(has_text=first["name"])
        expect(row).to_have_count(1)
        row.get_by_role("button", name="补签").click()
        page.get_by_role("button", name="确认").click()
        expect(page.locator("#att-inline .error")).to_have_text("请填写原因。")
        page.get_by_label("原因（必填）").fill("手机没电，课堂管理员现场确认")
        page.get_by_role("button", name="确认").click()
        expect(row).to_contain_text("补签")
        shot(page, "operator-pages", "attendance-zh.png")

        # Correct a result after the session: class hours credited by hand, with the reason.
        op.call("POST", f"/sessions/{sid}/end")
        page.reload()
        page.get_by_label("姓名或工号").fill("NB0002")
        row.get_by_role("button", name="更正").click()
        page.get_by_label("学时").fill("1.5")
        page.get_by_label("原因（必填）").fill("培训办核定：中途外出公务")
        page.get_by_role("button", name="确认").click()
        expect(row).to_contain_text("已更正")
        expect(row.locator("td").nth(6)).to_have_text("1.5")

        # 补签 after the end counts the session as it ran (a stay from "now" credited nothing).
        plan = op.call("GET", f"/courses/{session['course_id']}/batch-plan")["assignments"]
        other_id = next(
            a["trainee_id"]
            for a in plan
            if a["session_id"] == sid and a["trainee_id"] != first["id"]
        )
        other = op.call("GET", f"/trainees/{other_id}")
        page.get_by_label("姓名或工号").fill(other["staff_no"])
        late_row = page.locator("#att-table tbody tr").filter(has_text=other["name"])
        expect(late_row).to_contain_text("缺勤")
        late_row.get_by_role("button", name="补签").click()
        expect(page.locator("#att-mark-span")).to_contain_text("课次已结束：补签按整堂课计在场")
        page.get_by_label("原因（必填）").fill("手机没电，班主任确认全程在场")
        page.get_by_role("button", name="确认").click()
        expect(late_row).to_contain_text("补签")
        expect(late_row).not_to_contain_text("缺勤")

        # The audit trail names who corrected what and why.
        audit = audit_rows(page, server.url, "更正考勤")
        expect(audit).to_have_count(1)
        expect(audit).to_contain_text("培训办核定：中途外出公务")
        expect(audit).to_contain_text("operator")
        expect(audit).to_contain_text("学时: ")  # field names read in Chinese (issue 13)
        expect(audit).not_to_contain_text("class_hours")
        # every action of the filter list reads in Chinese: no raw broadcast_start, roll_calls
        for option in page.locator("#audit-action option").all_inner_texts():
            assert not re.search(r"[a-z]_[a-z]", option), option
        page.get_by_label("操作", exact=True).select_option(label="开始（课次或点名）")
        page.get_by_role("button", name="查询").click()
        expect(page.locator("#audit-table")).to_contain_text("开始课次")
        expect(page.locator("#audit-table")).to_contain_text("状态: 未开始 → 进行中")
        page.get_by_label("操作", exact=True).select_option(label="更正考勤")
        page.get_by_role("button", name="查询").click()
        # the session and the trainee by name, their numbers after
        audit.get_by_role("link", name=f"学员「{first['name']}」#{first['id']}").click()
        expect(page.locator("#transcript")).to_contain_text(f"{first['name']} 的学时档案")
        shot(page, "operator-pages", "audit-zh.png")

        # The trainee's transcript shows the corrected session.
        page.goto(server.url + "/operator/#/transcripts")
        page.get_by_label("姓名或工号").fill("NB0002")
        page.get_by_role("button", name="查找").click()
        page.get_by_role("link", name="查看档案").click()
        expect(page.locator("#transcript")).to_contain_text(f"{first['name']} 的学时档案")
        expect(page.locator("#transcript-table")).to_contain_text("已更正")
        shot(page, "operator-pages", "transcript-zh.png")

        page.goto(server.url + "/operator/#/honour")
        expect(page.locator("#honour-table tbody tr").first).to_contain_text(re.compile(r"\d"))
        # The demo's ten past sessions ran: the top twenty by class hours, most first, and
        # everyone tied with the twentieth (并列) listed with the same rank.
        rows = page.locator("#honour-table tbody tr")
        expect(rows.nth(19)).to_be_visible()
        ranks = page.locator("#honour-table tbody tr td:nth-child(1)").all_inner_texts()
        assert len(ranks) >= 20 and set(ranks[19:]) == {ranks[19]}, ranks
        hours = [
            float(h)
            for h in page.locator("#honour-table tbody tr td:nth-child(5)").all_inner_texts()
        ]
        assert hours == sorted(hours, reverse=True) and hours[-1] > 0, hours
        shot(page, "operator-pages", "honour-zh.png")

        # Electives: open registration with two seats; a trainee registers from the phone API.
        nxt = next(
            s
            for s in op.call("GET", "/sessions", params={"limit": 500})["items"]
            if s["status"] == "scheduled"
        )
        page.goto(server.url + f"/operator/#/sessions/{nxt['id']}/electives")
        page.get_by_label("名额（留空为不限）").fill("2")
        page.get_by_label("开放报名").check()
        page.get_by_role("button", name="保存设置").click()
        expect(page.locator("#flash")).to_contain_text("报名设置已保存")
        trainee_api(server, "DEMONB0003").call("POST", f"/sessions/{nxt['id']}/registration")
        page.reload()
        expect(page.locator("#el-summary")).to_have_text("已报名 1 人 · 候补 0 人 · 名额 2")
        expect(page.locator("#el-table tbody tr")).to_have_count(1)

        # Feedback given on the phone is read here.
        trainee_api(server, "DEMONB0002").call(
            "POST", f"/sessions/{sid}/feedback", json={"course_rating": 5, "comment": "很受启发"}
        )
        page.goto(server.url + f"/operator/#/sessions/{sid}/feedback")
        expect(page.locator("#fb-course")).to_contain_text("平均 5 分")
        expect(page.locator("#fb-comments")).to_have_text("很受启发")
        # No lecturer was rated: the page says nothing about lecturers (it printed "null").
        expect(page.locator("main")).not_to_contain_text("null")
        shot(page, "operator-pages", "feedback-zh.png")

        # A needs survey: topics set here, answered on a phone, ranked here.
        program = op.call("GET", "/programs")["items"][0]
        page.goto(server.url + "/operator/#/surveys")
        page.get_by_role("link", name="设置与结果").first.click()
        page.get_by_label("调研主题（每行一个）").fill("基层治理\n乡村振兴\n数字政府")
        page.get_by_role("button", name="保存主题").click()
        expect(page.locator("#sv-count")).to_have_text("已有 0 名学员作答")
        trainee_api(server, "DEMONB0002").call(
            "POST",
            f"/programs/{program['id']}/needs-survey/response",
            json={"ranking": ["数字政府", "乡村振兴"], "needs_text": "希望多讲案例"},
        )
        page.reload()
        expect(page.locator("#sv-ranked tbody tr").first).to_contain_text("数字政府")
        expect(page.locator("#sv-texts")).to_have_text("希望多讲案例")
        shot(page, "operator-pages", "survey-zh.png")
        page.get_by_role("button", name="English").click()
        expect(page.locator("#sv-count")).to_have_text("Answers: 1")
        shot(page, "operator-pages", "survey-en.png")
        page.goto(server.url + "/operator/#/audit")
        expect(page.locator("#audit-table")).to_contain_text("attendance corrected")
        shot(page, "operator-pages", "audit-en.png")
        page.goto(server.url + f"/operator/#/sessions/{sid}/attendance")
        expect(
            page.get_by_role("heading", name=re.compile("^Attendance corrections"))
        ).to_be_visible()
        shot(page, "operator-pages", "attendance-en.png")
        watch.check()
    finally:
        context.close()


def test_a_new_agent_secret_and_a_new_personal_code_are_shown_once_and_sign_in(
    browser: Any, server: ServerProcess
) -> None:
    """管理 → 课堂 / 学员: a site that has a secret asks before replacing it; the new secret and
    the new personal code are shown once, and each signs in. (Last in this module: it replaces
    a demo site's secret and a demo trainee's code.)"""
    context = browser.new_context(**DESKTOP)
    dialogs: list[str] = []  # browser dialogs: none (the page asks in itself)
    try:
        page = context.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        sign_in(page, server, "#/manage/sites")
        row = page.locator("tr", has=page.get_by_role("rowheader", name="海曙区分课堂", exact=True))
        row.get_by_role("button", name="生成课堂密钥").click()
        ask = page.get_by_role("alertdialog")
        expect(ask).to_contain_text("“海曙区分课堂”已有密钥，生成新密钥后旧密钥失效")
        ask.get_by_role("button", name="生成新密钥").click()
        shown = page.get_by_role("alert")
        expect(shown).to_contain_text("海曙区分课堂 的课堂密钥")
        secret = shown.locator("code.secret").inner_text()
        screen = Api(server.url).http.post(
            server.url + "/api/v1/auth/screen", json={"secret": secret}, timeout=10
        )
        assert screen.status_code == 200, screen.text

        page.goto(server.url + "/operator/#/manage/trainees")
        first = page.locator("tbody tr").first
        name = first.locator("th").inner_text()
        first.get_by_role("button", name="生成个人码").click()
        expect(shown).to_contain_text("的个人码")
        code = shown.locator("code.secret").inner_text()
        expect(page.get_by_role("alertdialog")).to_have_count(0)  # a new code is not asked
        assert not dialogs, dialogs
        assert Api(server.url).join(code)["actor"] == "trainee", name
    finally:
        context.close()
