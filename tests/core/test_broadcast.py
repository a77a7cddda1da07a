"""Broadcast rules: plans, the program, instructions to sites, stream verdicts, relay trees."""

from __future__ import annotations

import pytest

from server.core.broadcast import (
    MAIN_PEER,
    FrameClock,
    Plan,
    Source,
    check_can_start,
    judge_stream,
    make_plan,
    peer_site,
    relay_capacity,
    relay_tree,
    stream_state,
)
from server.core.errors import Conflict, InvalidInput

SITES = [1, 2, 3, 4]  # 1 is the main classroom


def plan(**body: object):  # type: ignore[no-untyped-def]
    return make_plan(7, {"source": "main", **body}, SITES, [1], recording_ids=[9])


def test_main_broadcast_program_follows_the_floor() -> None:
    p = plan()
    assert p.origin == MAIN_PEER and p.program == MAIN_PEER
    assert p.peer_of(1) == MAIN_PEER and p.peer_of(2) == "site:2"
    assert p.site_of(MAIN_PEER) == 1 and p.site_of("site:3") == 3
    assert p.with_floor(3).program == "site:3"
    assert p.with_floor(99).program == MAIN_PEER  # a site outside the session never airs
    assert p.instruction(1) == {"publish": True, "quality": "main", "subscribe": True}
    assert p.instruction(2) == {"publish": True, "quality": "return", "subscribe": True}
    assert p.instruction(99) == {"publish": False, "subscribe": False}


def test_site_and_recording_sources() -> None:
    p = plan(source="site", site_id=3)
    assert p.source is Source.SITE and p.origin == "site:3" and p.peer_of(1) == "site:1"
    assert p.instruction(3)["quality"] == "main" and p.instruction(1)["quality"] == "return"
    r = plan(source="recording", recording_id=9)
    assert r.origin == "rec:9" and r.program == "rec:9"
    assert all(r.instruction(s)["quality"] == "return" for s in SITES)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"source": "site"}, "broadcast.site_required"),
        ({"source": "site", "site_id": 42}, "broadcast.site_not_in_session"),
        ({"source": "main", "site_id": 2}, "broadcast.unexpected_site"),
        ({"source": "recording"}, "broadcast.recording_required"),
        ({"source": "recording", "recording_id": 8}, "broadcast.unknown_recording"),
        ({"source": "main", "recording_id": 9}, "broadcast.unexpected_recording"),
    ],
)
def test_bad_start_bodies_have_stable_codes(body: dict[str, object], code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        make_plan(7, body, SITES, [1], recording_ids=[9])
    assert info.value.code == code


def test_start_needs_a_live_session_not_already_broadcasting() -> None:
    check_can_start("live", False)
    with pytest.raises(Conflict, match="Start the session"):
        check_can_start("scheduled", False)
    with pytest.raises(Conflict) as info:
        check_can_start("live", True)
    assert info.value.code == "broadcast.already_live"


def test_peer_site_parses_only_site_peers() -> None:
    assert peer_site("site:12") == 12
    assert peer_site("main") is None and peer_site("site:x") is None and peer_site("rec:1") is None


def test_server_judges_the_stream_once_the_grace_is_over() -> None:
    ok = {"state": "ok", "fps": 25.0, "freezes_1m": 0}
    assert judge_stream({"state": "none"}, None, 100.0) == "none"  # no broadcast for it
    assert judge_stream({"state": "none"}, 95.0, 100.0) == "starting"  # told 5 s ago
    assert judge_stream({"state": "none"}, 80.0, 100.0) == "bad"  # told 20 s ago, nothing
    assert judge_stream(ok, 80.0, 100.0) == "ok"
    assert judge_stream({**ok, "fps": 2.0}, 80.0, 100.0) == "bad"
    assert judge_stream({**ok, "freezes_1m": 9}, 80.0, 100.0) == "bad"
    assert judge_stream({"state": "bad"}, None, 100.0) == "bad"  # the agent's word stands
    assert judge_stream({"state": "bad", "fps": 0.0}, 80.0, 100.0) == "bad"


def test_a_site_told_to_receive_moments_ago_with_no_picture_yet_is_starting_not_bad() -> None:
    """The broadcast's start-up: an agent still connecting says ``bad`` (no frame after its own
    short grace); the server says ``starting`` (正在接收) until START_GRACE has passed."""
    assert judge_stream({"state": "bad", "fps": 0.0, "freezes_1m": 0}, 94.0, 100.0) == "starting"
    assert judge_stream({"state": "bad"}, 94.0, 100.0) == "starting"
    # a picture came and is poor: the agent's bad stands even within the grace
    assert judge_stream({"state": "bad", "fps": 2.0}, 94.0, 100.0) == "bad"
    # an agent that says ok is taken at its word
    assert judge_stream({"state": "ok"}, 94.0, 100.0) == "ok"


def test_frame_clock_counts_rate_bitrate_and_freezes() -> None:
    clock = FrameClock()
    t = 0.0
    for _ in range(150):  # 10 s at 15 fps, 1000 bytes a frame
        t += 1 / 15
        clock.add(t, 1000)
    s = clock.summary(t)
    assert s["fps"] == pytest.approx(15, abs=0.3)
    assert s["bitrate_kbps"] == pytest.approx(120, abs=3)
    assert s["freezes_1m"] == 0
    assert stream_state(s, 15) == "ok"
    t += 0.8  # one long gap: a freeze
    clock.add(t, 1000)
    assert clock.summary(t)["freezes_1m"] == 1
    # a stalled stream is bad and counts as a freeze while it lasts
    stalled = clock.summary(t + 3)
    assert stalled["freezes_1m"] == 2 and stream_state(stalled, 15) == "bad"
    # a minute later the old freezes are forgotten
    for _ in range(15 * 70):
        t += 1 / 15
        clock.add(t, 1000)
    assert clock.summary(t)["freezes_1m"] == 0


def test_slow_stream_is_bad() -> None:
    clock = FrameClock()
    for i in range(40):
        clock.add(i * 0.5, 500)  # 2 fps
    assert stream_state(clock.summary(19.6), 15) == "bad"
    assert stream_state({"since_last": None, "fps": 0, "freezes_1m": 0}, 15) == "bad"


def test_relay_tree_pulls_from_the_nearest_live_relay() -> None:
    #   1 (main) ── 2 ── 5
    #            └─ 3 ── 6 ── 7
    #   4 (no parent)
    parents = {1: None, 2: 1, 3: 1, 4: None, 5: 2, 6: 3, 7: 6}
    sites = [2, 3, 4, 5, 6, 7]
    relays = {2: 8, 3: 8, 6: 8}
    tree = relay_tree(sites, parents, relays)
    assert tree == {2: None, 3: None, 4: None, 5: 2, 6: 3, 7: 6}
    # one copy per top-level site from the server
    assert sorted(s for s, parent in tree.items() if parent is None) == [2, 3, 4]
    # relay 6 dies: 7 re-parents to 3; relay 3 dies too: 6 and 7 go to the server
    assert relay_tree(sites, parents, relays, dead=[6])[7] == 3
    both = relay_tree(sites, parents, relays, dead=[6, 3])
    assert both[6] is None and both[7] is None and both[5] == 2
    # a relay outside the session is not used; a cycle in bad data ends
    assert relay_tree([5], parents, {2: 8})[5] is None
    assert relay_tree([8], {8: 9, 9: 8}, {})[8] is None


def test_a_full_relay_sends_further_children_up_the_tree() -> None:
    # 1 ── 2 ── 3 ── {10, 11, 12}
    parents = {1: None, 2: 1, 3: 2, 10: 3, 11: 3, 12: 3}
    tree = relay_tree([2, 3, 10, 11, 12], parents, {2: 2, 3: 2})
    assert tree == {2: None, 3: 2, 10: 3, 11: 3, 12: 2}
    # a relay that takes no children is no relay
    assert relay_tree([2, 3], parents, {2: 0})[3] is None


def test_the_floor_site_and_the_origin_pull_from_the_server_and_relay_for_nobody() -> None:
    # 1 (main) ── 2 ── {5, 6}
    parents = {1: None, 2: 1, 5: 2, 6: 2}
    relays = {1: 8, 2: 8}
    # the floor at child 5: 5 receives the main classroom, not the program (its own feed)
    assert relay_tree([1, 2, 5, 6], parents, relays, direct=[1, 5]) == {
        1: None,
        2: None,
        5: None,
        6: 2,
    }
    # the floor at relay 2: 2 receives the main classroom, its children the program directly
    assert relay_tree([1, 2, 5, 6], parents, relays, direct=[1, 2]) == dict.fromkeys([1, 2, 5, 6])
    plan = Plan(1, Source.MAIN, frozenset({1, 2, 5, 6}), main_site_id=1)
    assert plan.direct_sites == {1}
    assert plan.with_floor(5).direct_sites == {1, 5}
    site_plan = Plan(1, Source.SITE, frozenset({1, 2}), main_site_id=1, origin_site_id=2)
    assert site_plan.direct_sites == {2}


def test_relay_capacity_comes_from_the_hello_capabilities() -> None:
    assert relay_capacity(["heartbeat", "outbox"]) == 0
    assert relay_capacity(["relay"]) == 8
    assert relay_capacity(["relay.3"]) == 3
    assert relay_capacity(["relay.0"]) == 0
    assert relay_capacity(["relay.999"]) == 64
    assert relay_capacity(["relay.x", "relayx"]) == 0
