"""Someone tries to cheat (JOURNEYS.md 7): a leaked old site secret stops working the moment a
new one is issued, including on the room's screen whose socket is already open. The screen
does not go on showing the live check-in code under "network down, reconnecting": it returns to
its sign-in form at once and says why."""

from __future__ import annotations

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import MAIN_SITE, Journey, screen_signs_in, session_now, site_secret

ROOM, ROOM_NAME = 2, "海曙区分课堂"


def test_screen_with_a_replaced_secret_signs_out_at_once(journey: Journey, admin: Api) -> None:
    session_now(admin, "换密钥旅程", [MAIN_SITE, ROOM])
    old = site_secret(admin, ROOM)
    screen = journey.person("screen", "screen")
    screen_signs_in(screen, journey.url, old, ROOM_NAME)
    expect(screen.locator("#checkin-code")).not_to_be_empty()
    journey.shoot("signed-in-with-the-old-secret")

    site_secret(admin, ROOM)  # the office issues a new secret: the old one has leaked

    # Well before the code's next rotation (30 s) or the next session look-up: the socket the
    # server closed is enough to tell.
    expect(screen.locator("#signin-view")).to_be_visible(timeout=6000)
    expect(screen.locator("#screen-view")).to_be_hidden()
    expect(screen.get_by_role("alert")).to_have_text(
        "本课堂的登录已失效（课堂密钥可能已更换），请输入新的课堂密钥。"
    )
    journey.shoot("back-to-sign-in")
    assert Api(journey.url).bearer(old).status("GET", "/site/current-session") == 401
