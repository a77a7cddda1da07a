"""A refused leave request on the phone: the trainee reads why (the office must give the reason
when it refuses), not only 未批准."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import Journey, homed_trainees, trainee_api, trainee_types_code

WHY = "该场为结业考核，不能请假"


def test_the_trainee_reads_why_the_leave_was_refused(journey: Journey, admin: Api) -> None:
    me = homed_trainees(admin, 3)[0]
    mine = trainee_api(journey.url, me["code"])
    offered = mine.call("GET", "/trainee/leave")["sessions"]
    body = {"session_ids": [offered[0]["id"]], "reason": "家中有事"}
    asked = mine.call("POST", "/trainee/leave", json=body)
    office = Api(journey.url).login("operator")
    decide = f"/leave/{asked['id']}/decide"
    assert office.status("POST", decide, json={"decision": "refuse"}) == 400
    office.call("POST", decide, json={"decision": "refuse", "note": WHY})
    for lang, text in (("zh", f"未批准的原因：{WHY}"), ("en", f"Reason for refusal: {WHY}")):
        phone = journey.person(f"trainee-{lang}", "trainee", lang)
        trainee_types_code(phone, journey.url, me["code"])
        row = phone.locator("#leave-list li[data-state=refused]")
        expect(row).to_contain_text(text)
        row.scroll_into_view_if_needed()
        journey.shoot(f"refused-{lang}", f"trainee-{lang}")
    journey.watch.check()
