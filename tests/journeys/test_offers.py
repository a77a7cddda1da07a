"""What the pages offer a person matches what the server allows (walker seams): the console
offers 开始直播 only in a live session and says why not before the start and after the end; a
trainee checked in to the running session is neither asked to attend it nor offered leave."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    MAIN_SITE,
    WAIT,
    Journey,
    homed_trainees,
    operator_signs_in,
    session_now,
    trainee_api,
    trainee_types_code,
)

ROOM = 2  # 海曙区分课堂


def test_console_offers_a_broadcast_in_a_live_session_only(journey: Journey, admin: Api) -> None:
    sid = session_now(admin, "直播按钮", [MAIN_SITE, ROOM], start=False)
    for lang in ("zh", "en"):
        op = journey.person(f"operator-{lang}", "operator", lang)
        operator_signs_in(op, journey.url)
        op.goto(f"{journey.url}/operator/#/sessions/{sid}/live")
        expect(op.locator("#session-status")).to_have_text(re.compile("未开始|Scheduled"))
        # Before the start: no 开始直播, the way there instead.
        expect(op.locator("#bc-start")).to_be_hidden()
        expect(op.locator("#bc-stop")).to_be_hidden()  # nothing broadcasts yet
        expect(op.locator("#bc-why")).to_have_text(
            "课次尚未开始：请先点击上方的“开始课次”，再开始直播。"
            if lang == "zh"
            else re.compile("has not started: click “Start session” above first")
        )
    journey.shoot("scheduled")
    op = journey.pages["operator-zh"]
    op.get_by_role("button", name="开始课次").click()
    expect(op.locator("#session-status")).to_have_text("进行中")
    expect(op.locator("#bc-start")).to_be_visible()
    expect(op.locator("#bc-why")).to_be_hidden()
    journey.shoot("live", "operator-zh")
    admin.call("POST", f"/sessions/{sid}/end")
    for lang in ("zh", "en"):
        op = journey.pages[f"operator-{lang}"]
        op.reload()
        expect(op.locator("#session-status")).to_have_text(re.compile("已结束|Ended"))
        expect(op.locator("#bc-why")).to_have_text(
            "课次已结束，不能再直播。"
            if lang == "zh"
            else "The session has ended; it can no longer broadcast."
        )
        expect(op.get_by_role("button", name=re.compile("开始直播|Start broadcast"))).to_have_count(
            0
        )
        expect(op.locator("#bc-start")).to_be_hidden()
    journey.shoot("ended")
    journey.watch.check()


def test_trainee_checked_in_is_not_asked_to_attend_or_offered_leave(
    journey: Journey, admin: Api
) -> None:
    """A trainee checked in to the running session: 我的待办 does not ask them to attend it and
    the leave card does not offer it; a classmate not checked in is still asked and offered."""
    sid = session_now(admin, "已签到的课", [MAIN_SITE, ROOM])
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    inside, outside = homed_trainees(admin, ROOM)[:2]
    admin.call(
        "POST",
        f"/sessions/{sid}/attendance/mark",
        json={"trainee_id": inside["id"], "reason": "手机没电，课堂管理员代签", "site_id": ROOM},
    )
    late = journey.person("classmate", "trainee")
    trainee_types_code(late, journey.url, outside["code"])
    expect(late.locator("#todo-area")).to_contain_text(f"参加集中授课：{title}")
    expect(late.locator("#leave-area")).to_contain_text(title)
    for lang in ("zh", "en"):
        phone = journey.person(f"trainee-{lang}", "trainee", lang)
        trainee_types_code(phone, journey.url, inside["code"])
        expect(phone.locator("#checkin-state")).to_have_attribute("data-checked-in", "yes")
        expect(phone.locator("#session-area")).to_contain_text(title)
        expect(phone.locator("#leave-area")).to_be_visible()
        expect(phone.locator("#todo-area")).not_to_contain_text(title)
        expect(phone.locator("#leave-area")).not_to_contain_text(title)
        boxes = phone.locator("#leave-area input[name=leave-session]")
        assert str(sid) not in [b.get_attribute("value") for b in boxes.all()]
    journey.shoot("checked-in")
    # The server refuses it too, should an old page still send it.
    api = trainee_api(journey.url, inside["code"])
    r = api.http.post(
        api.base + "/trainee/leave",
        json={"session_ids": [sid], "reason": "临时有事"},
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"]["code"] == "leave.session_attended", r.text
    journey.watch.check()


def test_wall_shows_the_main_classroom_live_while_the_console_camera_broadcasts(
    journey: Journey, admin: Api
) -> None:
    """No agent in the main classroom: the operator broadcasts this computer's camera. The
    main classroom's tile says it is live from the console, not 离线; the other room, with no
    agent either, stays offline."""
    sid = session_now(admin, "控制台推流", [MAIN_SITE, ROOM])
    op = journey.person("operator-zh", "operator")
    operator_signs_in(op, journey.url)
    op.goto(f"{journey.url}/operator/#/sessions/{sid}/live")
    main = op.locator(f'.tile[data-site-id="{MAIN_SITE}"]')
    expect(main).to_have_attribute("data-state", "offline")
    op.locator("#bc-source").select_option("main")
    expect(op.locator("#bc-use-camera")).to_be_checked()
    op.locator("#bc-start").click()
    expect(op.locator("#bc-state")).to_contain_text("直播中", timeout=20_000)
    expect(main).to_have_attribute("data-state", "publishing", timeout=WAIT)
    expect(main.locator(".tile-state")).to_have_text("直播中（控制台推流）")
    expect(main.locator(".f-stream")).to_have_text("控制台摄像头推流")
    expect(op.locator(f'.tile[data-site-id="{ROOM}"]')).to_have_attribute("data-state", "offline")
    expect(op.locator(".wall-summary")).to_contain_text("在线 1 · 降级 0 · 离线 1")
    # Another operator's console, in English, sees the same.
    other = journey.person("operator-en", "operator", "en")
    operator_signs_in(other, journey.url)
    other.goto(f"{journey.url}/operator/#/sessions/{sid}/live")
    tile = other.locator(f'.tile[data-site-id="{MAIN_SITE}"]')
    expect(tile.locator(".tile-state")).to_have_text("Live (console camera)", timeout=WAIT)
    expect(tile.locator(".f-stream")).to_have_text("console camera")
    expect(other.locator(".wall-summary")).to_contain_text("Online 1 · degraded 0 · offline 1")
    journey.shoot("console-broadcasting")
    # The broadcast stops: the room without its agent is offline again.
    op.locator("#bc-stop").click()
    expect(main).to_have_attribute("data-state", "offline", timeout=WAIT)
    journey.watch.check()


def test_audit_trail_names_sessions_trainees_and_sites(journey: Journey, admin: Api) -> None:
    """The office reads the audit trail by the names it knows: the session's title, the
    trainee's and the room's names, each with its number; not 课次 12, 学员编号 40, 课堂编号 2."""
    sid = session_now(admin, "审计看名字", [MAIN_SITE, ROOM])
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    trainee = homed_trainees(admin, ROOM)[0]
    room = admin.call("GET", f"/sites/{ROOM}")["name"]
    admin.call(
        "POST",
        f"/sessions/{sid}/attendance/mark",
        json={"trainee_id": trainee["id"], "reason": "审计看名字的补签", "site_id": ROOM},
    )
    words = {
        "zh": (f"课次「{title}」#{sid}", f"「{trainee['name']} · {title}」", f"{room}（#{ROOM}）"),
        "en": (f"session “{title}” #{sid}", f"“{trainee['name']} · {title}”", f"{room} (#{ROOM})"),
    }
    for lang, (session, record, site) in words.items():
        op = journey.person(f"admin-{lang}", "operator", lang)
        operator_signs_in(op, journey.url, "admin")
        op.goto(f"{journey.url}/operator/#/audit")
        started = op.locator(
            "#audit-list tbody tr", has_text=re.compile("开始课次|session started")
        )
        expect(started.first).to_contain_text(session)
        marked = op.locator("#audit-list tbody tr", has_text="审计看名字的补签")
        expect(marked).to_contain_text(record)
        changes = marked.locator(".changes")
        expect(changes).to_contain_text(site)
        expect(changes).to_contain_text(f"{trainee['name']}")
        # the session's creation: its rooms by name, its fields in words
        created = op.locator("#audit-list tbody tr", has_text=re.compile("新建|created")).first
        expect(created.locator(".changes")).to_contain_text(site)
        for raw in ("site_ids", "teaching_method", "created_at"):
            expect(created).not_to_contain_text(raw)
    journey.shoot("audit-names")
    journey.watch.check()
