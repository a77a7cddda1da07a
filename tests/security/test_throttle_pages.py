"""What a person sees when sign-in is throttled: the operator's sign-in and the trainee's code
page say how long to wait, in Chinese and in English, on a phone (screenshots in
test-artifacts/security/)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Browser, expect

from tests.chromium import chromium_browser
from tests.server_process import ServerProcess

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "security"
PHONE = {"width": 390, "height": 844}
WAIT = {"zh": re.compile(r"尝试次数过多，请 \d+ 秒后再试"), "en": re.compile(r"try again in \d+ s")}


browser = pytest.fixture(scope="module")(chromium_browser)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    proc = ServerProcess(tmp_path_factory.mktemp("throttle-pages"), None, "--demo")
    proc.start(timeout=90)
    try:
        yield proc
    finally:
        proc.stop()


@pytest.mark.parametrize(("lang", "user"), [("zh", "admin"), ("en", "operator")])
def test_a_throttled_sign_in_says_how_long_to_wait(
    browser: Browser, server: ServerProcess, lang: str, user: str
) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=PHONE, device_scale_factor=1)
    context.add_init_script(f"window.localStorage.setItem('lang', '{lang}')")
    page = context.new_page()
    page.goto(server.url + "/operator/")
    page.get_by_label(re.compile("用户名|Username")).fill(user)
    password = page.get_by_label(re.compile("密码|Password"))
    sign_in = page.get_by_role("button", name=re.compile("^(登录|Sign in)$"))
    # wrong passwords until the wait shows: 6 are checked at once, then each wait doubles
    # (2 s, 4 s, 8 s ...), so a few more at most on a machine slower than the first waits
    form = page.locator("form.login")
    for i in range(12):
        password.fill(f"wrong-guess-{i}")
        sign_in.click()
        expect(form).to_contain_text(
            re.compile("密码错误|Wrong username|尝试次数过多|Too many"), timeout=15_000
        )
        expect(sign_in).to_be_enabled(timeout=15_000)
        if WAIT[lang].search(form.inner_text()):
            break
    expect(page.locator("form.login")).to_contain_text(WAIT[lang], timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / f"operator-sign-in-throttled-{lang}.png"))
    # wrong personal codes from this address until the wait is long enough (>= 15 s: each
    # checked failure past the 30 free ones doubles it), then the trainee's page
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        r = requests.post(server.url + "/api/v1/auth/join", json={"code": "QQQQ000000"}, timeout=10)
        if r.status_code == 429:
            wait = int(r.headers["Retry-After"])
            if wait >= 15:
                break
            time.sleep(wait)
    assert r.status_code == 429
    page.goto(server.url + "/trainee/")
    # the page's script is running (it adds the language switch) before the code is typed
    expect(page.locator("button.lang-switch")).to_be_visible(timeout=15_000)
    page.get_by_role("textbox", name=re.compile("^(个人码|Personal code)$")).fill("DEMONB0001")
    page.get_by_role("button", name=re.compile("^(登录|Sign in)$")).click()
    expect(page.locator("body")).to_contain_text(WAIT[lang], timeout=15_000)
    page.screenshot(path=str(ARTIFACTS / f"trainee-join-throttled-{lang}.png"))
    context.close()
