"""Journey 5, between live days: the office turns a video into a self-study course with the
在吗？ check switched on; a trainee watches it on the phone, answers one check and misses the
next (that stretch is not credited), sees the credit; the office reads the completion."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from tests.browser.session_helpers import Api
from tests.journeys.helpers import (
    Journey,
    homed_trainees,
    operator_signs_in,
    trainee_api,
    trainee_types_code,
    wait_until,
)
from tests.selfstudy_video import write_webm

ROOM = 3
SECONDS = 30  # the course video
TITLE = "案例课：基层治理创新"


def _progress(api: Api) -> dict[str, Any]:
    (course,) = [c for c in api.call("GET", "/trainee/selfstudy")["items"] if c["title"] == TITLE]
    progress: dict[str, Any] = course["progress"]
    return progress


def _once(phone: Any, api: Api, ok: Callable[[dict[str, Any]], bool], what: str) -> dict[str, Any]:
    """Polls the trainee's progress until ``ok``; waits on the page meanwhile, so that the page's
    requests (which the journey's watch routes through this process) go on."""
    last: dict[str, Any] = {}
    for _ in range(40):
        last = _progress(api)
        if ok(last):
            return last
        phone.wait_for_timeout(500)
    raise AssertionError(f"{what} (last seen: {last!r})")


def _wait_for_check(phone: Any, timeout: float) -> None:
    expect(phone.locator("#ss-overlay")).to_be_visible(timeout=int(timeout * 1000))
    expect(phone.locator("#ss-overlay h3")).to_have_text("在吗？")
    expect(phone.locator("#ss-countdown")).to_have_text(re.compile(r"剩余 \d+ 秒"))


def test_selfstudy(journey: Journey, admin: Api, tmp_path: Path) -> None:
    url = journey.url
    video = write_webm(tmp_path / "基层治理.webm", SECONDS)
    me = homed_trainees(admin, ROOM)[0]

    # 1. The operator uploads the video as a course worth 1 class hour, check every 6 s of
    # watching (the smallest range, so the journey is short), 8 s to answer.
    office = journey.person("operator", "operator")
    operator_signs_in(office, url)
    office.get_by_role("link", name="自学课程").click()
    form = office.locator("#ss-form")
    form.get_by_label("课程名称").fill(TITLE)
    form.get_by_label("学时", exact=True).fill("1")
    form.get_by_label("最短间隔（分钟观看）").fill("0.1")
    form.get_by_label("最长间隔（分钟观看）").fill("0.1")
    form.get_by_label("作答时限（秒）").fill("8")
    form.get_by_label("上传视频文件").check()
    form.get_by_label("视频文件（WebM 或 MP4）").set_input_files(str(video))
    journey.shoot("course-form", "operator")
    form.get_by_role("button", name="创建课程").click()
    expect(office.locator("#flash")).to_contain_text("自学课程已创建")
    expect(office.locator("#ss-courses")).to_contain_text(TITLE)
    expect(office.locator("#ss-courses")).to_contain_text("开")

    # 2. The trainee opens the phone page: the course is listed, nothing watched yet.
    phone = journey.person("trainee", "trainee")
    trainee_types_code(phone, url, me["code"])
    card = phone.locator("#selfstudy-card")
    expect(card).to_contain_text(TITLE)
    expect(card).to_contain_text("已学 0% · 已计 0 学时")
    journey.shoot("course-listed", "trainee")
    card.get_by_role("button", name="开始学习").click()
    player = phone.locator("#ss-video")
    wait_until(lambda: player.evaluate("v => !v.paused && v.currentTime > 0.5"), "video plays", 10)
    expect(phone.locator("#ss-status")).to_have_text("计时中", timeout=8000)
    journey.shoot("watching", "trainee")

    # 3. After about 6 s of counted watching 在吗？ appears: the video stops; answered in time.
    _wait_for_check(phone, 20)
    assert player.evaluate("v => v.paused")
    journey.shoot("check-1", "trainee")
    phone.get_by_role("button", name="我在").click()
    expect(phone.locator("#ss-overlay")).to_be_hidden()
    expect(phone.locator("#notice")).to_contain_text("已确认，继续计时")
    wait_until(lambda: player.evaluate("v => !v.paused"), "video plays again", 10)
    api = trainee_api(url, me["code"])
    kept = _progress(api)
    assert kept["checks_answered"] == 1 and kept["watched_s"] >= 5

    # 4. The second check is missed: the countdown runs out, that stretch is not credited.
    _wait_for_check(phone, 20)
    before_miss = _progress(api)["watched_s"]
    assert before_miss > kept["watched_s"]  # the stretch counted provisionally ...
    expect(phone.locator("#ss-overlay")).to_contain_text("已超时", timeout=12_000)
    journey.shoot("check-2-missed", "trainee")
    # the next heartbeat after the deadline settles it on the server
    missed = _once(phone, api, lambda p: p["checks_missed"] == 1, "the miss is stored")
    assert missed["watched_s"] == kept["watched_s"]  # ... and is gone after the miss

    # 5. Continues to the end (answering any further check); the credit shows on the phone.
    phone.get_by_role("button", name="继续学习").click()
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not player.evaluate("v => v.ended"):
        if phone.locator("#ss-here").is_visible():
            phone.locator("#ss-here").click()
        phone.wait_for_timeout(500)
    assert player.evaluate("v => v.ended")
    phone.wait_for_timeout(1500)  # the last heartbeat may still ask: answer it
    if phone.locator("#ss-here").is_visible():
        phone.locator("#ss-here").click()
    final = _once(phone, api, lambda p: p["position_s"] >= SECONDS - 1, "the end reported")
    share = final["share"]
    assert 0.45 < share < 0.9, final  # the missed stretch (6-10 s of 30) is not credited
    assert final["credited_hours"] == 0.5 and not final["completed"]
    assert final["checks_missed"] == 1 and final["checks_answered"] >= 1
    phone.get_by_role("button", name="收起").click()
    final = _progress(api)  # after the last heartbeat and any last check
    assert 0 <= final["share"] - share < 0.05
    expect(card).to_contain_text(f"已学 {round(final['share'] * 100, 1):g}% · 已计 0.5 学时")
    expect(card.get_by_role("button", name="继续学习")).to_be_visible()
    journey.shoot("credited", "trainee")

    # 6. The office reads the completion: per unit and per trainee, with the missed check.
    office.reload()
    office.locator("#ss-courses").get_by_role("link", name=TITLE).click()
    trainees = office.locator("#ss-trainees")
    row = trainees.locator("tr", has_text=me["name"])
    expect(row).to_contain_text("0.5")
    expect(row).to_contain_text(f"{final['checks_answered']} / 1")
    expect(row).to_contain_text("否")
    expect(office.locator("#ss-units")).to_contain_text(re.compile(r"\d"))
    journey.shoot("completion", "operator")
    journey.watch.check()
