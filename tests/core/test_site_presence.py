"""A site is present when its agent or its screen page is (server/core/site_presence.py)."""

from __future__ import annotations

from server.core.broadcast import START_GRACE
from server.core.presence import PresenceChanged, PresenceState
from server.core.site_presence import SiteBoard, combine, screen_ok

ON, DEG, OFF = PresenceState.ONLINE, PresenceState.DEGRADED, PresenceState.OFFLINE


def board() -> tuple[SiteBoard, list[PresenceChanged]]:
    changes: list[PresenceChanged] = []
    return SiteBoard(changes.append), changes


def test_combine_takes_the_better_of_agent_and_screen() -> None:
    assert combine(OFF, ON) is ON and combine(ON, OFF) is ON
    assert combine(DEG, ON) is ON and combine(OFF, DEG) is DEG and combine(OFF, OFF) is OFF


def test_screen_ok_needs_a_playing_picture_during_a_broadcast() -> None:
    assert screen_ok("playing", 60.0) and screen_ok("playing", None)
    assert screen_ok("idle", None) and not screen_ok("idle", 60.0)
    assert not screen_ok("stalled", None) and not screen_ok("stalled", 60.0)


def test_a_screen_is_not_at_fault_while_the_broadcast_starts_to_reach_it() -> None:
    # the broadcast reaching the screen, no picture yet: not a fault (the room is receiving)
    assert screen_ok("starting", 3.0) and screen_ok("starting", None)
    # live for 3 s: the page has not attached it yet (it reports every 5 s)
    assert screen_ok("idle", 3.0)
    assert not screen_ok("idle", START_GRACE)


def test_a_screen_only_site_is_online_while_it_reports_and_offline_after_15_s() -> None:
    b, changes = board()
    assert b.screen_report(7, 100.0, ok=True) is ON
    for at in (105.0, 110.0, 115.0):
        b.screen_report(7, at, ok=True)
    b.tick(122.5)
    assert b.state(7) is ON  # a report late by exactly 2.5 s: not yet
    b.tick(130.0)
    assert b.state(7) is DEG  # late, like an agent's heartbeat
    b.tick(130.1)
    assert b.state(7) is OFF  # 3 missed reports
    assert [(c.old, c.new, c.at) for c in changes] == [
        (OFF, ON, 100.0),
        (ON, DEG, 122.5),
        (DEG, OFF, 130.0),
    ]
    assert b.screen_report(7, 140.0, ok=True) is ON  # the page came back


def test_a_frozen_or_empty_screen_during_a_broadcast_degrades_the_site() -> None:
    b, changes = board()
    b.screen_report(3, 0.0, ok=True)
    assert b.screen_report(3, 5.0, ok=False) is DEG
    assert b.screen_report(3, 10.0, ok=True) is ON
    assert [c.new for c in changes] == [ON, DEG, ON]
    b2, _ = board()
    assert b2.screen_report(3, 0.0, ok=False) is DEG  # first report already bad


def test_a_closed_screen_page_is_offline_at_once() -> None:
    b, changes = board()
    b.screen_report(5, 0.0, ok=True)
    assert b.screen_closed(5, 2.0) is OFF
    assert b.screen_closed(5, 3.0) is OFF  # twice: no error, no second change
    assert [c.new for c in changes] == [ON, OFF]


def test_an_agent_and_a_screen_together_report_one_state() -> None:
    b, changes = board()
    b.connected(9, 0.0)
    b.screen_report(9, 1.0, ok=False)  # the screen is worse: the agent decides
    assert b.state(9) is ON
    b.closed(9, 2.0, clean=True)  # agent gone, the frozen screen remains
    assert b.state(9) is DEG
    b.screen_closed(9, 3.0)
    assert [c.new for c in changes] == [ON, DEG, OFF]
