from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.core.errors import Conflict, DomainError, InvalidInput
from server.core.floor import (
    FloorControl,
    FloorGranted,
    FloorHolder,
    FloorRequest,
    FloorRequested,
    FloorReturned,
    FloorWithdrawn,
    QueueItem,
    QueueItemKind,
    ReturnReason,
    SiteFloorState,
    moderator_queue,
)
from server.core.qa import QuestionBoard
from tests.core.helpers import raises_code


def floor() -> FloorControl:
    return FloorControl("s1")


# --- raising and lowering hands ---------------------------------------------------------------


def test_sites_raise_hands_into_one_queue_in_the_order_raised() -> None:
    f = floor()
    assert f.raise_hand("yinzhou", now=5.0) == [FloorRequested("s1", "yinzhou", 5.0)]
    f.raise_hand("beilun", now=3.0)  # raised earlier (clock of the caller)
    f.raise_hand("zhenhai", now=5.0)  # same instant as yinzhou: raised after it
    assert [r.site_id for r in f.requests()] == ["beilun", "yinzhou", "zhenhai"]
    assert f.state_of("beilun") is SiteFloorState.REQUESTED


def test_a_site_may_not_raise_its_hand_twice() -> None:
    f = floor()
    f.raise_hand("beilun", now=1.0)
    raises_code("floor.already_requested", lambda: f.raise_hand("beilun", now=2.0), Conflict)
    assert f.requests() == [FloorRequest("beilun", 1.0, 1)]


def test_lowering_the_hand_withdraws_the_request() -> None:
    f = floor()
    f.raise_hand("beilun", now=1.0)
    assert f.lower_hand("beilun", now=2.0) == [FloorWithdrawn("s1", "beilun", 2.0)]
    assert f.requests() == []
    assert f.lower_hand("beilun", now=3.0) == []  # nothing left to withdraw
    f.raise_hand("beilun", now=4.0)  # and it may raise again


def test_the_holder_cannot_raise_its_hand() -> None:
    f = floor()
    f.grant("beilun", now=0.0)
    raises_code("floor.already_holding", lambda: f.raise_hand("beilun", now=1.0), Conflict)
    assert f.lower_hand("beilun", now=1.0) == []  # lowering does not give the floor back
    assert f.holder is not None


# --- granting ---------------------------------------------------------------------------------


def test_granting_the_floor_with_a_time_limit_sets_the_deadline() -> None:
    f = floor()
    f.raise_hand("beilun", now=1.0)
    events = f.grant("beilun", now=10.0, time_limit=120.0, by="op")
    assert events == [FloorGranted("s1", "beilun", 130.0, "op", 10.0)]
    assert f.holder == FloorHolder("beilun", 10.0, 130.0)
    assert f.holder.remaining(100.0) == 30.0
    assert f.holder.remaining(200.0) == 0.0
    assert f.requests() == []  # the request was consumed
    assert f.state_of("beilun") is SiteFloorState.HOLDING


def test_granting_without_a_time_limit_has_no_deadline() -> None:
    f = floor()
    f.grant("beilun", now=0.0)
    assert f.holder == FloorHolder("beilun", 0.0, None)
    assert f.holder.remaining(1e9) is None
    assert f.tick(1e9) == []


def test_the_operator_may_give_the_floor_to_a_site_that_did_not_ask() -> None:
    f = floor()
    f.raise_hand("yinzhou", now=0.0)
    f.grant("beilun", now=1.0)
    assert f.holder is not None and f.holder.site_id == "beilun"
    assert [r.site_id for r in f.requests()] == ["yinzhou"]


def test_granting_while_another_site_holds_the_floor_is_refused() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    f.raise_hand("yinzhou", now=1.0)
    busy = raises_code("floor.busy", lambda: f.grant("yinzhou", now=2.0), Conflict)
    assert busy.details == {"holder": "beilun", "site_id": "yinzhou"}
    assert f.holder is not None and f.holder.site_id == "beilun"
    assert [r.site_id for r in f.requests()] == ["yinzhou"]
    raises_code("floor.busy", lambda: f.grant("beilun", now=2.0), Conflict)


@pytest.mark.parametrize("limit", [0.0, -5.0, float("inf"), float("nan")])
def test_a_time_limit_must_be_positive_and_finite(limit: float) -> None:
    raises_code(
        "floor.bad_time_limit",
        lambda: floor().grant("beilun", now=0.0, time_limit=limit),
        InvalidInput,
    )


# --- returning the floor ----------------------------------------------------------------------


def test_revoking_returns_the_floor_to_the_main_classroom() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    assert f.revoke(now=30.0) == [FloorReturned("s1", "beilun", ReturnReason.REVOKED, 30.0)]
    assert f.holder is None
    assert f.revoke(now=31.0) == []  # nobody holds it: nothing to do


def test_the_floor_expires_at_the_deadline() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    assert f.tick(59.9) == []
    assert f.holder is not None
    assert f.tick(60.0) == [FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 60.0)]
    assert f.holder is None
    assert f.tick(61.0) == []


def test_a_late_tick_reports_the_expiry_at_the_deadline() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    assert f.tick(75.0) == [FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 60.0)]


def test_an_expired_holder_does_not_block_the_next_grant() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    events = f.grant("yinzhou", now=61.0, time_limit=30.0)
    assert events == [
        FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 60.0),
        FloorGranted("s1", "yinzhou", 91.0, None, 61.0),
    ]


def test_revoking_after_the_deadline_reports_an_expiry() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    assert f.revoke(now=70.0) == [FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 60.0)]


def test_a_refused_call_does_not_swallow_a_due_expiry() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=60.0)
    f.raise_hand("yinzhou", now=1.0)
    with pytest.raises(Conflict):
        f.raise_hand("yinzhou", now=70.0)
    assert f.tick(70.0) == [FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 60.0)]


def test_after_expiry_the_former_holder_may_raise_its_hand_again() -> None:
    f = floor()
    f.grant("beilun", now=0.0, time_limit=10.0)
    events = f.raise_hand("beilun", now=20.0)
    assert events == [
        FloorReturned("s1", "beilun", ReturnReason.EXPIRED, 10.0),
        FloorRequested("s1", "beilun", 20.0),
    ]


# --- the moderator's one queue ----------------------------------------------------------------


def test_floor_requests_and_approved_questions_form_one_queue_in_order_raised() -> None:
    f = floor()
    b = QuestionBoard("s1")
    b.submit("q-early", site_id="zhenhai", text="早", now=1.0, asker="t1")
    b.submit("q-tie", site_id="zhenhai", text="同时", now=3.0, asker="t2")
    b.submit("q-unscreened", site_id="zhenhai", text="未审", now=0.5, asker="t3")
    for qid in ["q-early", "q-tie"]:
        b.approve(qid, by="mod", now=4.0)
    f.raise_hand("beilun", now=2.0)
    f.raise_hand("yinzhou", now=3.0)
    assert moderator_queue(f, b) == [
        QueueItem(QueueItemKind.QUESTION, "q-early", "zhenhai", 1.0, 0),
        QueueItem(QueueItemKind.FLOOR_REQUEST, "beilun", "beilun", 2.0, 1),
        QueueItem(QueueItemKind.FLOOR_REQUEST, "yinzhou", "yinzhou", 3.0, 2),
        QueueItem(QueueItemKind.QUESTION, "q-tie", "zhenhai", 3.0, 1),
    ]
    b.put_on_air("q-early", by="mod", now=5.0)
    f.grant("beilun", now=5.0)
    assert [i.ref for i in moderator_queue(f, b)] == ["yinzhou", "q-tie"]


# --- property ---------------------------------------------------------------------------------

SITES = ["a", "b", "c"]
FLOOR_OPS = st.one_of(
    st.tuples(st.just("raise"), st.sampled_from(SITES)),
    st.tuples(st.just("lower"), st.sampled_from(SITES)),
    st.tuples(st.just("grant"), st.sampled_from(SITES), st.sampled_from([None, 1.0, 5.0])),
    st.tuples(st.just("revoke")),
    st.tuples(st.just("tick")),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(FLOOR_OPS, st.floats(0.0, 4.0)), max_size=40))
def test_at_most_one_site_ever_holds_the_floor(
    ops: list[tuple[tuple[object, ...], float]],
) -> None:
    f = floor()
    now = 0.0
    holder: str | None = None  # rebuilt from the events alone
    for op, step in ops:
        now += step
        try:
            if op[0] == "raise":
                events = f.raise_hand(str(op[1]), now=now)
            elif op[0] == "lower":
                events = f.lower_hand(str(op[1]), now=now)
            elif op[0] == "grant":
                limit = op[2]
                assert limit is None or isinstance(limit, float)
                events = f.grant(str(op[1]), now=now, time_limit=limit)
            elif op[0] == "revoke":
                events = f.revoke(now=now)
            else:
                events = f.tick(now)
        except DomainError:
            events = []
        for event in events:
            if isinstance(event, FloorGranted):
                assert holder is None, "granted while another site held the floor"
                holder = event.site_id
            elif isinstance(event, FloorReturned):
                assert holder == event.site_id
                holder = None
        holding = [s for s in SITES if f.state_of(s) is SiteFloorState.HOLDING]
        assert len(holding) <= 1
        assert holder == (f.holder.site_id if f.holder else None)
        queued = [r.site_id for r in f.requests()]
        assert len(queued) == len(set(queued))
        assert holder not in queued
