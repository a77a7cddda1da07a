"""The training office sets what completing a program needs (结业要求) on #/completion: while
nothing is set the page says so (zh and en), nobody is 已结业 and the issue button is off; a
share the browser refuses (0.755) is said out loud, not dropped; 0.75, 0.8 and 0.9 are taken."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import Journey, operator_signs_in

UNSET = {
    "min_hours": None,
    "min_attendance_share": None,
    "quiz_pass_mark": None,
    "writeup_required": False,
}


def test_requirements_set_before_anyone_completes(journey: Journey, admin: Api) -> None:
    url = journey.url
    program = admin.call("GET", "/programs")["items"][0]
    rules = f"/programs/{program['id']}/completion-rules"
    admin.call("PUT", rules, json=UNSET)  # set-up: a program whose requirements are not set
    total = admin.call("GET", f"/programs/{program['id']}/completion")["total"]
    assert total > 0

    # 1. In English: the page says nothing is set, nobody completed, no certificate to issue.
    reader = journey.person("operator-en", "operator", lang="en")
    operator_signs_in(reader, url)
    reader.goto(url + f"/operator/#/completion/{program['id']}")
    expect(reader.locator("#cp-unset")).to_contain_text("No completion requirements are set")
    expect(reader.locator("#cp-list h2")).to_contain_text(f"0 of {total} completed")
    expect(reader.locator("#completion-table")).to_contain_text("no requirements set")
    expect(reader.locator("#cp-issue")).to_be_disabled()
    journey.shoot("unset-en", "operator-en")

    # 2. In Chinese, the same.
    console = journey.person("operator", "operator")
    operator_signs_in(console, url)
    console.goto(url + f"/operator/#/completion/{program['id']}")
    expect(console.locator("#cp-unset")).to_contain_text("尚未设置结业要求")
    expect(console.locator("#cp-list h2")).to_contain_text(f"已结业 0 / {total} 人")
    expect(console.locator("#completion-table tbody tr").first).to_contain_text("结业要求未设置")
    expect(console.locator("#completion-table")).not_to_contain_text("已结业")
    expect(console.locator("#cp-issue")).to_be_disabled()
    journey.shoot("unset", "operator")

    # 3. A share the browser refuses is shown as an error; nothing is saved.
    share = console.get_by_label("最低出勤比例（0–1）")
    share.fill("0.755")
    console.get_by_role("button", name="保存要求").click()
    expect(console.locator("#flash")).to_contain_text("须在 0.01 到 1 之间")
    expect(console.locator("#flash")).to_contain_text("结业要求未保存")
    journey.shoot("refused", "operator")
    assert admin.call("GET", rules)["min_attendance_share"] is None

    # 4. The usual shares are taken; 0.75 is saved and the list is judged by it.
    for value in ("0.8", "0.9", "0.75"):
        share.fill(value)
        assert share.evaluate("el => el.checkValidity()"), value
    console.get_by_role("button", name="保存要求").click()
    expect(console.locator("#flash")).to_contain_text("结业要求已保存")
    assert admin.call("GET", rules)["min_attendance_share"] == 0.75
    expect(console.locator("#cp-unset")).to_have_count(0)
    done = admin.call("GET", f"/programs/{program['id']}/completion")
    assert 0 < done["completed"] < total
    expect(console.locator("#cp-list h2")).to_contain_text(
        f"已结业 {done['completed']} / {total} 人"
    )
    expect(console.locator("#cp-issue")).to_be_enabled()
    expect(console.locator("#completion-table")).to_contain_text(re.compile(r"出勤 0\.\d+/0\.75"))
    journey.shoot("saved", "operator")
