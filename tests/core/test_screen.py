"""The rule that judges a site screen's playback reports (server/core/screen.py)."""

from __future__ import annotations

import pytest

from server.core.errors import InvalidInput
from server.core.screen import (
    SCREEN_REPORT,
    ScreenReport,
    is_stale,
    judge,
    report_from_wire,
)
from server.core.validation import validate


def report(at: float, frames: int, *, attached: bool = True, paused: bool = False) -> ScreenReport:
    return ScreenReport(at, 7, attached, paused, frames, "on")


def test_frames_decoded_since_the_last_report_is_playing_with_its_frame_rate() -> None:
    status = judge(report(105.0, 225), report(100.0, 100))
    assert (status.state, status.fps, status.sound) == ("playing", 25.0, "on")


def test_no_new_frames_is_stalled_and_so_is_a_paused_element() -> None:
    assert judge(report(105.0, 100), report(100.0, 100)).state == "stalled"
    assert judge(report(105.0, 225, paused=True), report(100.0, 100)).state == "stalled"
    # below one frame a second is a frozen picture too
    assert judge(report(110.0, 105), report(100.0, 100)).state == "stalled"


def test_no_programme_attached_is_idle() -> None:
    assert judge(report(105.0, 0, attached=False), report(100.0, 50)).state == "idle"


def test_a_first_report_is_trusted_until_the_next_and_a_reloaded_page_is_not_playing_yet() -> None:
    assert judge(report(100.0, 40), None).state == "playing"
    assert judge(report(100.0, 0), None).state == "starting"  # no picture yet: just attached
    # the page reloaded: its counter started again below the previous one; it starts again
    assert judge(report(105.0, 10), report(100.0, 900)).state == "starting"


def test_the_start_of_a_broadcast_is_starting_not_a_stall_until_the_grace_is_over() -> None:
    """An empty screen (idle) gets the programme: its first reports, before and while the
    first frames arrive, are ``starting`` (正在接收); only after START_GRACE without a picture
    is it ``stalled``."""
    idle = ScreenReport(100.0, 7, False, True, 0, "none")
    before = judge(idle, None)
    assert before.state == "idle"
    attached = report(105.0, 0, paused=True)  # attached, connecting, no frame decoded yet
    first = judge(attached, report_from_wire(before.to_wire(idle, 3)))
    assert first.state == "starting" and first.attached_at == 105.0
    # a few frames by the next report (fewer than MIN_FPS over the interval): still starting
    second_report = report(110.0, 3)
    second = judge(second_report, report_from_wire(first.to_wire(attached, 3)))
    assert second.state == "starting"
    # still no real picture START_GRACE after it was attached: stalled
    third = judge(report(115.0, 3), report_from_wire(second.to_wire(second_report, 3)))
    assert third.state == "stalled"


def test_frames_in_the_first_report_after_attaching_are_playing() -> None:
    idle = ScreenReport(100.0, 7, False, False, 0, "none")
    wire = judge(idle, None).to_wire(idle, 3)
    assert judge(report(105.0, 60), report_from_wire(wire)).state == "playing"


def test_a_programme_that_played_and_freezes_is_stalled_at_once_even_within_the_grace() -> None:
    attached = report(100.0, 0)
    first = judge(attached, None)
    playing_report = report(102.0, 50)
    playing = judge(playing_report, report_from_wire(first.to_wire(attached, 3)))
    assert playing.state == "playing" and playing.played
    frozen = judge(report(104.0, 50), report_from_wire(playing.to_wire(playing_report, 3)))
    assert frozen.state == "stalled"


def test_the_wire_form_carries_what_the_next_report_is_judged_against() -> None:
    first = report(100.0, 100)
    wire = judge(first, None).to_wire(first, 3)
    assert wire["site_id"] == 3 and wire["state"] == "playing"
    assert judge(report(105.0, 225), report_from_wire(wire)).fps == 25.0


def test_stale_after_three_missed_reports() -> None:
    assert not is_stale(100.0, 115.0)
    assert is_stale(100.0, 115.01)


def test_the_report_body_is_checked() -> None:
    ok = {"attached": True, "paused": False, "frames": 3, "sound": "muted"}
    assert validate(SCREEN_REPORT, ok)["session_id"] is None
    for bad in ({**ok, "frames": -1}, {**ok, "sound": "loud"}, {**ok, "extra": 1}, {"frames": 1}):
        with pytest.raises(InvalidInput):
            validate(SCREEN_REPORT, bad)
