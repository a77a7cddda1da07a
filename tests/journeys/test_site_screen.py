"""A sub-classroom's screen: the kiosk browser on the projector (JOURNEYS.md 3). Signs in once
with the site secret, plays the programme with sound (the element is not muted, its audio track
is live, its time and decoded frames advance), shows the check-in QR and code, raises the room's
hand, shows the question on air and which room has the floor, in Chinese and in English. The
programme is a real classroom agent's test pattern (a clock and a tone); the operator and the
trainees act through the API (set-up)."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    MAIN_SITE,
    WAIT,
    Journey,
    homed_trainees,
    media_plays,
    session_now,
    site_secret,
    trainee_api,
    wait_until,
)

ROOM, ROOM_NAME = 2, "海曙区分课堂"  # the room whose screen this is
OTHER, OTHER_NAME = 6, "江北区分课堂"  # another district's room, with an agent and a camera


def test_site_screen(journey: Journey, admin: Api, agents: Any) -> None:
    url = journey.url
    sid = session_now(admin, "课堂屏幕旅程", [MAIN_SITE, ROOM, OTHER])
    title = admin.call("GET", f"/sessions/{sid}")["title"]
    secret = site_secret(admin, ROOM)  # handed to the room by the training office
    agents(OTHER, site_secret(admin, OTHER))
    wait_until(lambda: _online(admin, sid, OTHER), "the other room's agent is not online")
    admin.call(
        "POST", f"/sessions/{sid}/broadcast/start", json={"source": "site", "site_id": OTHER}
    )
    screen = journey.person("screen", "screen")

    # 1. The kiosk opens the screen page and the secret is typed once.
    screen.goto(url + "/screen/")
    expect(screen.get_by_role("heading", name="课堂屏幕登录")).to_be_visible()
    journey.shoot("sign-in")
    screen.get_by_label("课堂密钥").fill(secret)
    screen.get_by_role("button", name="登录").click()
    expect(screen.locator("#site-name")).to_have_text(ROOM_NAME)
    expect(screen.locator("#session-title")).to_have_text(title)
    expect(screen.locator("#conn")).to_have_attribute("data-state", "open")

    # 2. The programme plays with sound, without anyone tapping.
    program = screen.locator("#program")
    expect(program).to_be_visible()
    media_plays(program, "the room's programme", sound=True, timeout=20)
    expect(screen.locator("#waiting")).to_be_hidden()
    expect(screen.get_by_role("button", name=re.compile("开启声音"))).to_have_count(0)
    journey.shoot("programme-playing")

    # 3. The check-in QR and code: a trainee types the code and is checked in.
    code = screen.locator("#checkin-code")
    expect(code).to_have_text(re.compile(r"^\d{6}$"))
    expect(screen.locator("#qr")).to_be_visible()
    assert (screen.locator("#qr").get_attribute("data-url") or "").startswith(
        url + "/trainee/#checkin="
    )
    trainee = homed_trainees(admin, ROOM)[0]
    phone = trainee_api(url, trainee["code"])
    phone.call(
        "POST", f"/sessions/{sid}/checkin", json={"code": code.inner_text(), "client_id": "s1"}
    )

    # 4. The room raises its hand from the screen; the operator gives it the floor.
    screen.get_by_role("button", name="举手发言").click()
    expect(screen.get_by_role("button", name="取消举手")).to_be_visible(timeout=WAIT)
    expect(screen.locator("body")).to_contain_text("已举手")
    journey.shoot("hand-raised")
    admin.call("POST", f"/sessions/{sid}/floor/grant", json={"site_id": ROOM, "time_limit": 120})
    expect(screen.locator(".prompt.floor")).to_contain_text("本课堂正在发言", timeout=WAIT)
    expect(screen.locator("body")).not_to_contain_text("已举手")  # the hand was answered
    journey.shoot("has-the-floor")

    # 5. A trainee's question goes on air: the screen shows it over the programme.
    question = "乡镇街道如何承接下放的审批事项？"
    asked = phone.call(
        "POST", f"/sessions/{sid}/questions", json={"text": question, "anonymous": True}
    )
    admin.call("POST", f"/questions/{asked['id']}/on-air")  # approved at once (no flagged word)
    expect(screen.locator("#onair-text")).to_have_text(question, timeout=WAIT)
    expect(screen.locator("#onair")).to_contain_text("正在讨论")

    # 6. The floor passes to another room: the banner names it.
    admin.call("POST", f"/sessions/{sid}/floor/revoke")
    admin.call("POST", f"/sessions/{sid}/floor/grant", json={"site_id": OTHER, "time_limit": 120})
    banner = screen.locator(".prompt.floor")
    expect(banner).to_contain_text(OTHER_NAME, timeout=WAIT)
    journey.shoot("other-room-speaks")

    # 7. The same screen in English (the language switch on the screen).
    screen.locator("#lang-slot button").click()
    expect(screen.locator("#onair")).to_contain_text("On air")
    expect(banner).to_contain_text(OTHER_NAME)
    expect(banner).to_contain_text(re.compile("has the floor|is speaking"))
    # No Chinese left on the screen's own words (names and the question stay as typed).
    expect(screen.locator("body")).not_to_contain_text(re.compile("举手|签到|正在讨论|发言|等待"))
    media_plays(program, "the programme after switching language", sound=True)
    journey.shoot("english")
    journey.watch.check()


def _online(admin: Api, session_id: int, site_id: int) -> bool:
    sites = admin.call("GET", f"/sessions/{session_id}/presence")["sites"]
    (site,) = [s for s in sites if s["site_id"] == site_id]
    return bool(site["intervals"]) and site["intervals"][-1]["state"] == "online"
