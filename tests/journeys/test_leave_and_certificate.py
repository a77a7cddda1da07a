"""Between the live days (issue 17): a trainee asks leave on the phone, the training office
approves it in the console and the session report shows 请假; the office issues certificates,
a trainee downloads theirs and anyone checks it through the QR's public page."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    COURSE_ID,
    MAIN_SITE,
    Journey,
    homed_trainees,
    operator_signs_in,
    trainee_types_code,
)

ROOM = 3


def _tomorrow_session(admin: Api, title: str) -> int:
    """Set-up: next day's live session at the main classroom and ROOM."""
    begins = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
    return int(admin.plan_session(COURSE_ID, title, begins, 180, [MAIN_SITE, ROOM])["id"])


def test_leave_asked_approved_and_reported(journey: Journey, admin: Api) -> None:
    url = journey.url
    sid = _tomorrow_session(admin, "请假旅程专题课")
    me = homed_trainees(admin, ROOM)[0]
    phone = journey.person("trainee", "trainee")
    trainee_types_code(phone, url, me["code"])

    # 1. On the phone: the coming session is listed under 请假; ticks it, gives a reason.
    card = phone.locator("#leave-card")
    expect(card).to_contain_text("请假")
    card.get_by_label(re.compile("请假旅程专题课")).check()
    card.get_by_label("请假事由").fill("赴区里参加防汛值班")
    card.get_by_role("button", name="提交请假申请").click()
    expect(phone.locator("#leave-list li").first).to_contain_text("待审批")
    expect(phone.locator("#todo-list")).to_contain_text("请假：待审批")
    journey.shoot("asked", "trainee")

    # 2. In the console: the office sees it with the leave share, and approves it.
    console = journey.person("operator", "operator")
    operator_signs_in(console, url)
    console.goto(url + "/operator/#/leave")
    row = console.locator("#leave-table tbody tr", has_text=me["name"])
    expect(row).to_contain_text("赴区里参加防汛值班")
    expect(row).to_contain_text("%")
    journey.shoot("to-approve", "operator")
    row.get_by_role("button", name="批准", exact=True).click()
    expect(console.locator("#flash")).to_contain_text("已批准")

    # 3. The phone shows the decision; the session report counts the trainee as 请假.
    phone.reload()
    expect(phone.locator("#leave-list li").first).to_contain_text("已批准")
    console.goto(url + f"/operator/#/sessions/{sid}/report")
    expect(console.locator("#report-leave")).to_contain_text(me["name"])
    journey.shoot("reported")
    report = admin.call("GET", f"/sessions/{sid}/report")
    (line,) = [p for p in report["trainees"] if p["trainee_id"] == me["id"]]
    assert line["status"] == "leave" and report["totals"]["leave"] == 1


def _qr_link(pdf: Path) -> str:
    """What a phone camera reads from the printed certificate (pdftoppm + zbarimg, installed
    by deploy/test-services.sh)."""
    pdftoppm, zbarimg = shutil.which("pdftoppm"), shutil.which("zbarimg")
    assert pdftoppm and zbarimg, "install poppler-utils and zbar-tools"
    png = pdf.with_suffix("")
    subprocess.run(
        [pdftoppm, "-r", "100", "-png", "-singlefile", str(pdf), str(png)], check=True, timeout=60
    )
    out = subprocess.run(
        [zbarimg, "--quiet", "--raw", str(png) + ".png"], capture_output=True, text=True, timeout=30
    )
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def test_certificate_issued_downloaded_and_verified(
    journey: Journey, admin: Api, tmp_path: Path
) -> None:
    url = journey.url
    program = admin.call("GET", "/programs")["items"][0]
    # Set-up (tests/journeys/test_completion_rules.py sets them in the page): a bar most meet.
    admin.call(
        "PUT",
        f"/programs/{program['id']}/completion-rules",
        json={"min_hours": 10, "min_attendance_share": 0.75},
    )
    listed = admin.call("GET", f"/programs/{program['id']}/completion")
    done: dict[str, Any] = next(i for i in listed["items"] if i["completed"])

    # 1. The office issues the certificates of those who completed.
    console = journey.person("operator", "operator")
    operator_signs_in(console, url)
    console.goto(url + f"/operator/#/completion/{program['id']}")
    expect(console.locator("#completion-table")).to_contain_text(done["name"])
    console.locator("#cp-issue").click()
    expect(console.locator("#flash")).to_contain_text(re.compile(r"已颁发 \d+ 份证书"))
    expect(console.locator("#completion-table tbody tr", has_text=done["name"])).to_contain_text(
        "下载"
    )
    journey.shoot("issued", "operator")

    # 2. The trainee downloads theirs on the phone.
    phone = journey.person("trainee", "trainee", lang="en")
    trainee_types_code(phone, url, f"DEMO{done['staff_no']}")
    cert_card = phone.locator("#cert-card")
    expect(cert_card).to_be_visible()
    journey.shoot("certificate", "trainee")
    with phone.expect_download() as got:
        cert_card.get_by_role("link", name="Download certificate (PDF)").click()
    pdf = tmp_path / "certificate.pdf"
    got.value.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")

    # 3. Anyone scans the QR: the public page says it is valid, with the name masked.
    link = _qr_link(pdf)
    assert link.startswith(url + "/verify/")
    checker = journey.person("public", "trainee")
    checker.goto(link)
    expect(checker.locator("#result")).to_contain_text("证书有效")
    expect(checker.locator("#verify-name")).to_have_text(
        done["name"][0] + "*" * (len(done["name"]) - 2) + done["name"][-1]
        if len(done["name"]) > 2
        else done["name"][0] + "*"
    )
    expect(checker.locator("#result")).to_contain_text(program["name"])
    journey.shoot("verified", "public")
    # In English too, on the phone: the code stays inside the card (no sideways scrolling).
    reader = journey.person("public-en", "trainee", lang="en")
    reader.goto(link)
    expect(reader.locator("#result")).to_contain_text("This certificate is valid")
    page_width, screen = reader.evaluate(
        "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert page_width <= screen, f"the check page is {page_width} px wide on a {screen} px phone"
    journey.shoot("verified-en", "public-en")
    checker.goto(url + "/verify/AAAAAAAAAAAAAAAA")
    expect(checker.locator("#result")).to_contain_text("查无此证书")
    journey.shoot("unknown", "public")

    # 4. The office finds the hours were wrong and revokes it, saying why.
    row = console.locator("#completion-table tbody tr", has_text=done["name"])
    row.get_by_role("button", name="撤销").click()
    row.get_by_label("撤销原因").fill("考勤更正后学时不足")
    row.get_by_role("button", name="确认撤销").click()
    expect(console.locator("#flash")).to_contain_text("证书已撤销")
    row = console.locator("#completion-table tbody tr", has_text=done["name"])
    expect(row).to_contain_text("已撤销")
    expect(row).to_contain_text("考勤更正后学时不足")
    expect(row.get_by_role("link")).to_have_count(0)
    journey.shoot("revoked", "operator")

    # 5. The public page now says it is revoked, in both languages; the trainee's card has no
    # download left, and the PDF itself is refused with a clear code.
    checker.goto(link)
    expect(checker.locator("#result")).to_contain_text("证书已撤销，不再有效")
    expect(checker.locator("#result")).not_to_contain_text("证书有效 ")
    expect(checker.locator(".verify-ok")).to_have_count(0)
    journey.shoot("verified-revoked", "public")
    reader.goto(link)
    expect(reader.locator("#result")).to_contain_text("This certificate has been revoked")
    journey.shoot("verified-revoked-en", "public-en")
    phone.reload()
    expect(cert_card).to_contain_text("Revoked, no longer valid")
    expect(cert_card.get_by_role("link", name="Download certificate (PDF)")).to_have_count(0)
    journey.shoot("certificate-revoked", "trainee")
    mine = phone.request.get(url + "/api/v1/trainee/certificates").json()["items"]
    refused = phone.request.get(url + f"/api/v1/certificates/{mine[0]['id']}/pdf")
    assert refused.status == 409 and refused.json()["error"]["code"] == "certificate.revoked"

    # 6. A check finds two more trainees' hours wrong: the office ticks both certificates and
    # revokes them together, with one reason and one confirmation; each is audited and each
    # check page says revoked.
    listed = admin.call("GET", f"/programs/{program['id']}/completion")["items"]
    two = [i for i in listed if i["certificate"] and not i["certificate"]["revoked_at"]][:2]
    assert len(two) == 2
    console.reload()
    for item in two:
        console.get_by_label(f"选择{item['name']}的证书").check()
    console.locator("#cp-revoke-many").click()
    reason = "批量核查：学时记录有误"
    console.get_by_label("撤销原因", exact=True).fill(reason)
    journey.shoot("revoke-many-ask", "operator")
    console.get_by_role("button", name="确认撤销这 2 份证书").click()
    expect(console.locator("#flash")).to_contain_text("已撤销 2 份证书")
    for item in two:
        row = console.locator("#completion-table tbody tr", has_text=item["name"])
        expect(row).to_contain_text("已撤销")
        expect(row).to_contain_text(reason)
        checker.goto(url + "/verify/" + item["certificate"]["code"])
        expect(checker.locator("#result")).to_contain_text("证书已撤销，不再有效")
    journey.shoot("revoked-many", "operator")
    trail = admin.call("GET", "/audit", params={"action": "revoke", "entity": "certificate"})
    audited = {e["entity_id"]: e["reason"] for e in trail["items"]}
    assert all(audited.get(str(i["certificate"]["id"])) == reason for i in two), audited
    # The same on a phone and in English.
    console.get_by_role("button", name="English").click()
    first = console.locator("#completion-table tbody tr", has_text=two[0]["name"])
    expect(first).to_contain_text("Revoked")
    console.locator(".cp-pick").first.check()
    console.locator("#cp-revoke-many").click()
    expect(console.locator("#cp-revoke-many-confirm")).to_have_text("Revoke them (1)")
    journey.shoot("revoke-many-ask-en", "operator")
    console.set_viewport_size({"width": 390, "height": 844})
    journey.shoot("revoke-many-ask-en-phone", "operator")
    console.get_by_role("button", name="中文").click()
    console.locator(".cp-pick").first.check()
    console.locator("#cp-revoke-many").click()
    expect(console.locator("#cp-revoke-many-confirm")).to_have_text("确认撤销这 1 份证书")
    journey.shoot("revoke-many-ask-zh-phone", "operator")
    # All of them at once: the column's heading ticks every valid certificate (not the
    # revoked ones); unticking one leaves the heading half-ticked.
    valid = console.locator(".cp-pick")
    count = valid.count()
    assert count >= 2
    console.get_by_label("选择全部有效证书").check()
    expect(console.locator("#cp-revoke-many")).to_have_text(f"撤销所选证书（{count}）")
    # the question still open for one certificate went: it was about that one
    expect(console.locator("#cp-revoke-many-confirm")).to_have_count(0)
    valid.first.uncheck()
    expect(console.locator("#cp-revoke-many")).to_have_text(f"撤销所选证书（{count - 1}）")
    assert console.locator("#cp-pick-all").evaluate("box => box.indeterminate") is True
    journey.shoot("revoke-pick-all-phone", "operator")
