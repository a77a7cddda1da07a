from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import Conflict
from server.core.presence import (
    REPORTED_STATES,
    TRANSITIONS,
    IllegalTransition,
    PresenceBoard,
    PresenceChanged,
    PresenceConfig,
    PresenceEvent,
    PresenceState,
    PresenceTimeline,
    Reason,
    SitePresence,
)
from server.core.zone import CHINA_TZ

OFFLINE, ONLINE, DEGRADED = PresenceState.OFFLINE, PresenceState.ONLINE, PresenceState.DEGRADED
SITE = 7


def make() -> tuple[SitePresence, list[PresenceChanged]]:
    sent: list[PresenceChanged] = []
    return SitePresence(SITE, send=sent.append), sent


def online_since_zero() -> tuple[SitePresence, list[PresenceChanged]]:
    """A site whose agent connected at t=0: online since then, ``sent`` holding that report."""
    p, sent = make()
    p.connected(0.0)
    return p, sent


def transitions(sent: list[PresenceChanged]) -> list[tuple[PresenceState, PresenceState, float]]:
    return [(c.old, c.new, c.at) for c in sent]


# -- the rules ----------------------------------------------------------------------------------


def test_connect_reports_online_once() -> None:
    p, sent = make()
    assert p.connected(100.0) is ONLINE
    p.heartbeat(101.0)
    p.heartbeat(106.0)
    assert sent == [PresenceChanged(SITE, OFFLINE, ONLINE, 100.0, Reason.CONNECTED)]


def test_late_heartbeat_marks_degraded_after_seven_and_a_half_seconds() -> None:
    p, sent = online_since_zero()
    p.tick(7.5)  # exactly 7.5 s of silence is not yet "more than" 7.5 s
    assert p.state is ONLINE
    p.tick(7.6)
    assert p.state is DEGRADED
    assert sent[-1] == PresenceChanged(SITE, ONLINE, DEGRADED, 7.5, Reason.HEARTBEAT_LATE)
    p.heartbeat(8.0)
    assert p.state is ONLINE
    assert sent[-1].reason is Reason.HEARTBEAT


def test_site_goes_offline_after_three_missed_heartbeats() -> None:
    p, sent = online_since_zero()
    p.heartbeat(5.0)
    for t in range(6, 21):
        p.tick(float(t))
    assert p.state is DEGRADED  # exactly 15 s of silence at t=20: not yet
    p.tick(20.5)
    assert p.state is OFFLINE
    assert transitions(sent) == [
        (OFFLINE, ONLINE, 0.0),
        (ONLINE, DEGRADED, 12.5),
        (DEGRADED, OFFLINE, 20.0),
    ]
    assert sent[-1].reason is Reason.HEARTBEAT_MISSED
    assert p.is_connected  # the socket is still open: a late heartbeat brings it back
    p.heartbeat(30.0)
    assert sent[-1] == PresenceChanged(SITE, OFFLINE, ONLINE, 30.0, Reason.HEARTBEAT)


def test_one_late_tick_applies_both_rules_at_their_own_instants() -> None:
    p, sent = online_since_zero()
    p.tick(1000.0)
    assert transitions(sent)[1:] == [(ONLINE, DEGRADED, 7.5), (DEGRADED, OFFLINE, 15.0)]


def test_heartbeat_after_a_long_gap_still_reports_the_offline_gap() -> None:
    p, sent = online_since_zero()
    p.heartbeat(40.0)  # no tick in between: the gap must not vanish
    assert [c.new for c in sent] == [ONLINE, DEGRADED, OFFLINE, ONLINE]
    assert sent[2].at == 15.0


def test_clean_close_goes_offline_at_once() -> None:
    p, sent = online_since_zero()
    p.heartbeat(2.0)
    assert p.closed(3.0, clean=True) is OFFLINE
    assert sent[-1] == PresenceChanged(SITE, ONLINE, OFFLINE, 3.0, Reason.CLEAN_CLOSE)
    assert p.next_deadline() is None


def test_flap_shorter_than_three_seconds_is_not_reported() -> None:
    p, sent = online_since_zero()
    p.heartbeat(4.0)
    p.closed(5.0, clean=False)
    p.tick(6.0)
    p.tick(7.9)
    assert p.state is ONLINE  # still shown as before
    p.connected(7.9)
    p.heartbeat(8.0)
    p.tick(15.0)
    assert transitions(sent) == [(OFFLINE, ONLINE, 0.0)]


def test_lost_connection_is_reported_offline_three_seconds_after_the_loss() -> None:
    p, sent = online_since_zero()
    p.heartbeat(4.0)
    p.closed(5.0, clean=False)
    p.tick(8.0)  # exactly 3 s: still debounced
    assert p.state is ONLINE
    p.tick(8.5)
    assert sent[-1] == PresenceChanged(SITE, ONLINE, OFFLINE, 8.0, Reason.CONNECTION_LOST)
    p.connected(9.0)
    assert sent[-1] == PresenceChanged(SITE, OFFLINE, ONLINE, 9.0, Reason.CONNECTED)


def test_lost_connection_never_reports_offline_later_than_fifteen_seconds_after_life() -> None:
    p, sent = online_since_zero()
    p.tick(9.0)  # degraded at 7.5
    p.closed(14.0, clean=False)  # flap window would end at 17, the heartbeat limit is 15
    p.tick(30.0)
    assert sent[-1] == PresenceChanged(SITE, DEGRADED, OFFLINE, 15.0, Reason.HEARTBEAT_MISSED)


def test_bad_stream_marks_degraded() -> None:
    p, sent = online_since_zero()
    assert p.heartbeat(5.0, stream_ok=False) is DEGRADED
    assert sent[-1] == PresenceChanged(SITE, ONLINE, DEGRADED, 5.0, Reason.STREAM_BAD)
    p.heartbeat(10.0, stream_ok=False)
    assert len(sent) == 2
    p.heartbeat(15.0, stream_ok=True)
    # the heartbeats never stopped: the stream came good, not the heartbeats (not 心跳恢复)
    assert sent[-1] == PresenceChanged(SITE, DEGRADED, ONLINE, 15.0, Reason.STREAM_OK)


def test_heartbeats_back_is_said_only_after_heartbeats_were_really_late_or_missed() -> None:
    """A broadcast's start-up (a bad stream for a few seconds) never reads "heartbeats back";
    heartbeats that stopped and came back do, even when the stream was bad before."""
    p, sent = online_since_zero()
    for t in range(1, 30):  # every beat on time, the stream bad for a while at the start
        p.heartbeat(float(t), stream_ok=t > 4)
    assert [c.reason for c in sent] == [Reason.CONNECTED, Reason.STREAM_BAD, Reason.STREAM_OK]
    p.heartbeat(30.0, stream_ok=False)
    p.tick(46.0)  # silent 16 s with a bad stream: offline (the socket still open)
    assert p.state is OFFLINE and sent[-1].reason is Reason.HEARTBEAT_MISSED
    p.heartbeat(47.0)
    assert sent[-1] == PresenceChanged(SITE, OFFLINE, ONLINE, 47.0, Reason.HEARTBEAT)


def test_flap_while_degraded_by_bad_stream_keeps_degraded_without_reports() -> None:
    p, sent = online_since_zero()
    p.heartbeat(1.0, stream_ok=False)
    p.closed(2.0, clean=False)
    assert p.connected(3.0) is DEGRADED
    assert [c.new for c in sent] == [ONLINE, DEGRADED]


def test_reconnect_after_offline_forgets_the_old_bad_stream() -> None:
    p, sent = online_since_zero()
    p.heartbeat(1.0, stream_ok=False)
    p.closed(2.0, clean=True)
    assert p.connected(10.0) is ONLINE  # the first heartbeat will tell the new stream state
    assert sent[-1] == PresenceChanged(SITE, OFFLINE, ONLINE, 10.0, Reason.CONNECTED)


def test_half_open_socket_closing_after_timeout_reports_nothing_more() -> None:
    p, sent = online_since_zero()
    p.tick(16.0)
    assert p.state is OFFLINE
    count = len(sent)
    p.closed(60.0, clean=False)
    p.tick(100.0)
    assert len(sent) == count


def test_replacement_connection_while_online_reports_nothing() -> None:
    p, sent = online_since_zero()
    p.connected(4.0)
    p.tick(11.0)  # the new connection counts as a sign of life at 4.0
    assert p.state is ONLINE
    assert len(sent) == 1


@pytest.mark.parametrize(
    ("setup", "call", "event", "state"),
    [
        (lambda p: None, lambda p: p.heartbeat(1.0), "HEARTBEAT", "OFFLINE"),
        (lambda p: None, lambda p: p.closed(1.0, clean=True), "CLEAN_CLOSE", "OFFLINE"),
        (
            lambda p: (p.connected(0.0), p.closed(0.5, clean=False)),
            lambda p: p.heartbeat(1.0),
            "HEARTBEAT",
            "FLAPPING",
        ),
        (
            lambda p: (p.connected(0.0), p.closed(0.5, clean=False)),
            lambda p: p.closed(1.0, clean=False),
            "CONNECTION_LOST",
            "FLAPPING",
        ),
    ],
)
def test_illegal_transition_names_event_and_state(
    setup: Callable[[SitePresence], object],
    call: Callable[[SitePresence], object],
    event: str,
    state: str,
) -> None:
    p, _ = make()
    setup(p)
    with pytest.raises(IllegalTransition) as info:
        call(p)
    assert isinstance(info.value, Conflict)
    assert info.value.code == "presence.illegal_transition"
    assert event in info.value.message and state in info.value.message


def test_time_going_backwards_is_clamped() -> None:
    p, sent = make()
    p.connected(100.0)
    p.heartbeat(50.0)  # a wall clock stepped back: counted at 100.0
    p.tick(107.0)
    assert p.state is ONLINE
    p.tick(108.0)
    assert sent[-1].at == 107.5


def test_transition_table_only_enters_reported_or_known_internal_states() -> None:
    for (state, event, _guard), new in TRANSITIONS.items():
        assert isinstance(state, PresenceState) and isinstance(new, PresenceState)
        if event is PresenceEvent.CLEAN_CLOSE:
            assert new is OFFLINE


def test_config_rejects_late_limit_after_offline_limit() -> None:
    with pytest.raises(ValueError):
        PresenceConfig(late_factor=3.0, missed_heartbeats=3)


def test_custom_config_changes_limits() -> None:
    sent: list[PresenceChanged] = []
    p = SitePresence(1, sent.append, PresenceConfig(heartbeat_interval=2.0))
    p.connected(0.0)
    p.tick(10.0)
    assert [(c.new, c.at) for c in sent[1:]] == [(DEGRADED, 3.0), (OFFLINE, 6.0)]


# -- the property -------------------------------------------------------------------------------


@dataclass
class Op:
    kind: str  # connect / heartbeat_ok / heartbeat_bad / lost / clean / tick
    dt: float


op_kinds = st.sampled_from(["connect", "heartbeat_ok", "heartbeat_bad", "lost", "clean", "tick"])
ops_strategy = st.lists(
    st.builds(Op, op_kinds, st.floats(min_value=0.0, max_value=20.0, allow_nan=False)),
    max_size=40,
)


def run(ops: list[Op], tick_every_op: bool) -> tuple[list[PresenceChanged], dict[str, object]]:
    """Play ``ops``, skipping the ones illegal for a correct I/O layer; record the facts."""
    sent: list[PresenceChanged] = []
    p = SitePresence(SITE, sent.append)
    now = 0.0
    connected = False
    facts: dict[str, object] = {"life": None, "lost": None, "cleans": set(), "losses": []}
    for op in ops:
        now += op.dt
        if tick_every_op:
            p.tick(now)
        if op.kind == "connect":
            p.connected(now)
            connected = True
            facts["life"], facts["lost"] = now, None
        elif op.kind.startswith("heartbeat") and connected:
            p.heartbeat(now, stream_ok=op.kind == "heartbeat_ok")
            facts["life"] = now
        elif op.kind in ("lost", "clean") and connected:
            p.closed(now, clean=op.kind == "clean")
            connected = False
            if op.kind == "clean":
                facts["cleans"].add(now)  # type: ignore[attr-defined]
            else:
                facts["lost"] = now
                facts["losses"].append(now)  # type: ignore[attr-defined]
        else:
            p.tick(now)
    facts["end"] = now
    facts["state"] = p.state
    facts["connected"] = connected
    return sent, facts


@settings(max_examples=200, deadline=None)
@given(ops_strategy)
def test_reported_changes_are_consistent_for_any_event_sequence(ops: list[Op]) -> None:
    sent, facts = run(ops, tick_every_op=False)
    previous, last_at = OFFLINE, float("-inf")
    for change in sent:
        assert change.old is previous, "changes must chain"
        assert change.new is not change.old, "no change to the same state"
        assert change.new in REPORTED_STATES and change.old in REPORTED_STATES
        assert change.at >= last_at, "changes are reported in time order"
        previous, last_at = change.new, change.at
        if change.new is OFFLINE:
            assert change.reason in (
                Reason.CLEAN_CLOSE,
                Reason.CONNECTION_LOST,
                Reason.HEARTBEAT_MISSED,
            )
            if change.reason is Reason.CLEAN_CLOSE:
                assert change.at in facts["cleans"]  # type: ignore[operator]
            if change.reason is Reason.CONNECTION_LOST:
                assert any(change.at == lost + 3.0 for lost in facts["losses"])  # type: ignore[attr-defined]
    assert facts["state"] is previous
    life, end = facts["life"], facts["end"]
    assert isinstance(end, float)
    if life is not None and end > life + 15.0:  # type: ignore[operator]
        assert facts["state"] is OFFLINE, "offline within 15 s of the last sign of life"
        assert sent[-1].at <= life + 15.0  # type: ignore[operator]
    lost = facts["lost"]
    if lost is not None and not facts["connected"] and end > lost + 3.0:  # type: ignore[operator]
        assert facts["state"] is OFFLINE


@settings(max_examples=200, deadline=None)
@given(ops_strategy)
def test_reported_changes_do_not_depend_on_how_often_tick_runs(ops: list[Op]) -> None:
    assert run(ops, tick_every_op=False)[0] == run(ops, tick_every_op=True)[0]


# -- the board ----------------------------------------------------------------------------------


def test_board_ticks_only_sites_with_a_due_deadline() -> None:
    sent: list[PresenceChanged] = []
    board = PresenceBoard(sent.append)
    for site in range(500):
        board.connected(site, 0.0)
    for site in range(1, 500):
        board.heartbeat(site, 5.0)
    assert board.tick(7.0) == 0
    assert board.tick(7.6) == 1  # only site 0 is late
    assert board.state(0) is DEGRADED
    assert board.counts() == {ONLINE: 499, DEGRADED: 1, OFFLINE: 0}
    assert board.tick(7.7) == 0


def test_board_reports_the_same_changes_as_single_machines() -> None:
    sent_board: list[PresenceChanged] = []
    board = PresenceBoard(sent_board.append)
    sent_single: list[PresenceChanged] = []
    singles = {s: SitePresence(s, sent_single.append) for s in range(3)}
    script: list[tuple[str, int, float]] = [
        ("connect", 0, 0.0),
        ("connect", 1, 0.5),
        ("connect", 2, 1.0),
        ("heartbeat", 1, 5.0),
        ("lost", 2, 6.0),
        ("heartbeat", 1, 10.0),
        ("tick", -1, 40.0),
    ]
    for kind, site, now in script:
        if kind == "connect":
            board.connected(site, now)
            singles[site].connected(now)
        elif kind == "heartbeat":
            board.heartbeat(site, now)
            singles[site].heartbeat(now)
        elif kind == "lost":
            board.closed(site, now, clean=False)
            singles[site].closed(now, clean=False)
        else:
            board.tick(now)
            for p in singles.values():
                p.tick(now)
    key = lambda c: (c.at, c.site_id)  # noqa: E731
    assert sorted(sent_board, key=key) == sorted(sent_single, key=key)
    assert board.states() == {s: OFFLINE for s in range(3)}


def test_board_forgets_removed_sites() -> None:
    board = PresenceBoard(lambda c: None)
    board.connected(1, 0.0)
    board.remove(1)
    assert board.tick(100.0) == 0
    assert board.state(1) is OFFLINE and len(board) == 0


# -- the timeline -------------------------------------------------------------------------------


def at(hh: int, mm: int, ss: int) -> float:
    """Epoch seconds of 2024-05-11 hh:mm:ss China time."""
    return datetime(2024, 5, 11, hh, mm, ss, tzinfo=CHINA_TZ).timestamp()


def test_timeline_describes_offline_interval_in_china_time() -> None:
    changes = [
        PresenceChanged(7, OFFLINE, ONLINE, at(9, 55, 0), Reason.CONNECTED),
        PresenceChanged(7, ONLINE, OFFLINE, at(10, 3, 12), Reason.CONNECTION_LOST),
        PresenceChanged(7, OFFLINE, ONLINE, at(10, 5, 40), Reason.CONNECTED),
    ]
    timeline = PresenceTimeline(at(10, 0, 0), at(11, 0, 0), changes)
    assert timeline.describe(7) == ["site 7 offline 10:03:12–10:05:40"]
    assert timeline.describe(7, tz=UTC) == ["site 7 offline 02:03:12–02:05:40"]


def test_timeline_clips_intervals_to_the_session_window() -> None:
    changes = [
        PresenceChanged(3, OFFLINE, ONLINE, 50.0, Reason.CONNECTED),
        PresenceChanged(3, ONLINE, DEGRADED, 120.0, Reason.STREAM_BAD),
        PresenceChanged(3, DEGRADED, ONLINE, 130.0, Reason.HEARTBEAT),
        PresenceChanged(3, ONLINE, OFFLINE, 150.0, Reason.CLEAN_CLOSE),
        PresenceChanged(3, OFFLINE, ONLINE, 170.0, Reason.CONNECTED),
        PresenceChanged(3, ONLINE, OFFLINE, 250.0, Reason.CLEAN_CLOSE),
    ]
    timeline = PresenceTimeline(100.0, 200.0, changes)
    assert [(i.state, i.start, i.end) for i in timeline.intervals(3)] == [
        (ONLINE, 100.0, 120.0),
        (DEGRADED, 120.0, 130.0),
        (ONLINE, 130.0, 150.0),
        (OFFLINE, 150.0, 170.0),
        (ONLINE, 170.0, 200.0),
    ]
    assert timeline.online_intervals(3) == [(100.0, 150.0), (170.0, 200.0)]
    assert timeline.online_intervals(3, include_degraded=False) == [
        (100.0, 120.0),
        (130.0, 150.0),
        (170.0, 200.0),
    ]
    assert timeline.online_seconds(3) == 80.0
    # each interval carries why it began (the one before the window: why the state then held)
    assert [i.reason for i in timeline.intervals(3)] == [
        Reason.CONNECTED,
        Reason.STREAM_BAD,
        Reason.HEARTBEAT,
        Reason.CLEAN_CLOSE,
        Reason.CONNECTED,
    ]


def test_timeline_of_a_site_that_never_connected_is_offline_throughout() -> None:
    timeline = PresenceTimeline(0.0, 60.0)
    assert timeline.online_intervals(9) == []
    assert [(i.state, i.duration) for i in timeline.offline_intervals(9)] == [(OFFLINE, 60.0)]
    assert timeline.intervals(9)[0].reason is None  # no change known: no reason to give


def test_timeline_from_a_live_machine_matches_its_reports() -> None:
    p, sent = online_since_zero()
    p.heartbeat(5.0)
    p.closed(6.0, clean=True)
    p.connected(30.0)
    for t in range(35, 60, 5):
        p.heartbeat(float(t))
    p.tick(60.0)
    timeline = PresenceTimeline(0.0, 60.0, sent)
    assert timeline.online_intervals(SITE) == [(0.0, 6.0), (30.0, 60.0)]
    assert timeline.describe(SITE)[0].startswith("site 7 offline ")
    assert timeline.sites() == [SITE]
