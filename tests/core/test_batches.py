"""Staggered batches (分批错时参训): examples for each rule and refusal, and properties.

The brute-force property enumerates every assignment of tiny rosters with an independent
checker (``_naive_ok``), so "the planner refuses" is proven to mean "no plan exists".
"""

from __future__ import annotations

import itertools
import math
import random
from collections import Counter
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.core import batches
from server.core.batches import (
    INFEASIBLE,
    MOVE_REFUSED,
    BatchProblem,
    BatchRules,
    Plan,
    Rule,
    Slot,
    Trainee,
    max_in_class,
    move,
    plan_batches,
    swap,
    validate_plan,
)
from server.core.errors import InvalidInput, NotFound, RuleViolation

TWO = (Slot("sat-am"), Slot("sat-pm"))
THREE = (Slot("s1"), Slot("s2"), Slot("s3"))


def unit(name: str, size: int, *, leaders: int = 0, site: str = "room") -> list[Trainee]:
    return [Trainee(f"{name}-{i:02d}", name, site, is_leader=i < leaders) for i in range(size)]


def problem(
    trainees: Sequence[Trainee],
    slots: Sequence[Slot] = TWO,
    capacity: dict[str, int] | None = None,
    **rules: object,
) -> BatchProblem:
    return BatchProblem(tuple(slots), tuple(trainees), capacity or {}, BatchRules(**rules))  # type: ignore[arg-type]


def sizes(p: BatchProblem, plan: Plan, unit_id: str) -> dict[str, int]:
    got = Counter(plan.slot_of(t.id) for t in p.trainees if t.unit_id == unit_id)
    return {s.id: got[s.id] for s in p.slots}


def refusal(p: BatchProblem) -> RuleViolation:
    with pytest.raises(RuleViolation) as caught:
        plan_batches(p)
    assert caught.value.code == INFEASIBLE
    return caught.value


def replace(ts: list[Trainee], index: int, **changes: object) -> list[Trainee]:
    t = ts[index]
    fields = {
        "id": t.id,
        "unit_id": t.unit_id,
        "site_id": t.site_id,
        "is_leader": t.is_leader,
        "unavailable": t.unavailable,
    }
    fields.update(changes)
    return [*ts[:index], Trainee(**fields), *ts[index + 1 :]]  # type: ignore[arg-type]


# --- plans that keep the rules ------------------------------------------------------------


def test_each_district_is_split_in_halves_led_by_secretary_and_head() -> None:
    p = problem(unit("district-A", 10, leaders=2) + unit("district-B", 7, leaders=2))
    plan = plan_batches(p)
    assert validate_plan(p, plan) == []
    assert sorted(sizes(p, plan, "district-A").values()) == [5, 5]
    assert sorted(sizes(p, plan, "district-B").values()) == [3, 4]
    assert plan.slot_of("district-A-00") != plan.slot_of("district-A-01")
    assert plan.slot_of("district-B-00") != plan.slot_of("district-B-01")


def test_three_slots_give_batch_sizes_that_differ_by_at_most_one() -> None:
    p = problem(unit("A", 10, leaders=3) + unit("B", 2), THREE)
    plan = plan_batches(p)
    assert sorted(sizes(p, plan, "A").values()) == [3, 3, 4]
    assert sorted(sizes(p, plan, "B").values()) == [0, 1, 1]
    assert len({plan.slot_of(f"A-0{i}") for i in range(3)}) == 3


def test_designated_leaders_lead_different_batches() -> None:
    p = problem(unit("A", 6), THREE, leaders={"A": ("A-03", "A-04", "A-05")})
    plan = plan_batches(p)
    assert {plan.slot_of(x) for x in ("A-03", "A-04", "A-05")} == {"s1", "s2", "s3"}


def test_half_of_an_odd_unit_means_its_smaller_half_stays_on_duty() -> None:
    assert max_in_class(5, 0.5) == 3
    assert max_in_class(10, 0.3) == 7
    assert max_in_class(4, 0.0) == 4
    assert max_in_class(4, 1.0) == 0


def test_one_slot_is_allowed_when_no_one_must_stay_on_duty() -> None:
    p = problem(unit("A", 4), (Slot("only"),), on_duty_share=0.0)
    assert set(plan_batches(p).assignment.values()) == {"only"}


def test_larger_batch_goes_to_the_slot_that_overlaps_nothing() -> None:
    slots = (Slot("s1", 0.0, 7200.0), Slot("s2", 3600.0, 10800.0), Slot("s3", 20000.0, 27200.0))
    p = problem(unit("A", 7), slots)
    plan = plan_batches(p)
    assert sizes(p, plan, "A") == {"s1": 2, "s2": 2, "s3": 3}
    assert validate_plan(p, plan) == []


def test_slots_that_only_touch_do_not_overlap() -> None:
    slots = (Slot("s1", 0.0, 3600.0), Slot("s2", 3600.0, 7200.0))
    assert (
        validate_plan(problem(unit("A", 4), slots), plan_batches(problem(unit("A", 4), slots)))
        == []
    )


def test_units_sharing_a_site_put_their_larger_batches_in_different_slots() -> None:
    p = problem(unit("A", 3, site="hall") + unit("B", 3, site="hall"), capacity={"hall": 3})
    plan = plan_batches(p)
    assert validate_plan(p, plan) == []
    assert Counter(plan.assignment.values()) == {"sat-am": 3, "sat-pm": 3}


def test_unavailable_slots_are_respected() -> None:
    ts = replace(unit("A", 4), 2, unavailable=frozenset({"sat-am"}))
    plan = plan_batches(problem(ts))
    assert plan.slot_of("A-02") == "sat-pm"


def test_keep_apart_pair_is_never_in_one_batch() -> None:
    ts = unit("A", 4) + unit("B", 4)
    pairs = (("A-00", "A-01"), ("A-01", "B-01"), ("B-00", "B-01"), ("A-00", "B-00"))
    p = problem(ts, keep_apart=pairs)
    plan = plan_batches(p)
    for a, b in pairs:
        assert plan.slot_of(a) != plan.slot_of(b)
    assert validate_plan(p, plan) == []


def test_planning_is_deterministic_whatever_the_input_order() -> None:
    ts = unit("A", 9, leaders=2, site="x") + unit("B", 8, site="y") + unit("C", 5, site="x")
    pairs = (("A-03", "C-01"), ("B-02", "B-05"))
    p = problem(ts, THREE, {"x": 6, "y": 3}, keep_apart=pairs)
    shuffled = list(ts)
    random.Random(3).shuffle(shuffled)
    q = problem(shuffled, THREE[::-1], {"y": 3, "x": 6}, keep_apart=(("C-01", "A-03"), pairs[1]))
    assert plan_batches(p) == plan_batches(p) == plan_batches(q)


def test_two_thousand_trainees_are_planned_into_two_and_three_slots() -> None:
    rng = random.Random(1)
    ts = []
    for u in range(10):
        for t in unit(f"U{u}", 200, leaders=2, site=f"site{u}"):
            ts.append(Trainee(t.id, t.unit_id, f"site{rng.randrange(12)}", t.is_leader))
    homed = Counter(t.site_id for t in ts)
    for slots in (TWO, THREE):
        cap = {s: math.ceil(n / len(slots)) + 2 for s, n in homed.items()}
        p = problem(ts, slots, cap)
        assert validate_plan(p, plan_batches(p)) == []


# --- refusals ---------------------------------------------------------------------------------


def test_one_slot_is_refused_when_half_must_stay_on_duty() -> None:
    err = refusal(problem(unit("A", 4), (Slot("only"),)))
    assert err.rule == Rule.ON_DUTY_SHARE
    assert err.details["unit_id"] == "A"
    assert "Unit A" in err.message


def test_overlapping_slots_that_keep_too_many_in_class_are_refused() -> None:
    slots = (Slot("s1", 0.0, 7200.0), Slot("s2", 3600.0, 10800.0), Slot("s3", 20000.0, 27200.0))
    err = refusal(problem(unit("A", 6), slots))
    assert err.rule == Rule.ON_DUTY_SHARE
    assert err.details["slot_ids"] == ["s1", "s2"]
    assert "overlapping" in err.message


def test_share_that_no_arrangement_of_the_larger_batches_can_keep_is_refused() -> None:
    # 7 cadres in 3 batches of 3, 2, 2: someone's batch of 3 is over the 2 allowed in class.
    err = refusal(problem(unit("A", 7), THREE, on_duty_share=0.75))
    assert err.rule == Rule.ON_DUTY_SHARE
    assert "at least 3 are in class at once, but at most 2 may be" in err.message


def test_more_leaders_than_slots_is_refused() -> None:
    err = refusal(problem(unit("A", 6, leaders=3) + unit("B", 2)))
    assert err.rule == Rule.LEADERS_APART
    assert err.details["unit_id"] == "A"
    assert err.details["trainee_ids"] == ["A-00", "A-01", "A-02"]


def test_leaders_who_can_only_attend_the_same_slot_are_refused() -> None:
    ts = unit("A", 4, leaders=2)
    ts = replace(ts, 0, unavailable=frozenset({"sat-pm"}))
    ts = replace(ts, 1, unavailable=frozenset({"sat-pm"}))
    err = refusal(problem(ts))
    assert err.rule == Rule.LEADERS_APART
    assert err.details["slot_ids"] == ["sat-am"]


def test_trainee_unavailable_in_every_slot_is_refused() -> None:
    ts = replace(unit("A", 4), 3, unavailable=frozenset({"sat-am", "sat-pm"}))
    err = refusal(problem(ts))
    assert err.rule == Rule.AVAILABILITY
    assert err.details["trainee_ids"] == ["A-03"]


def test_unavailability_that_prevents_balanced_batches_is_refused() -> None:
    ts = unit("A", 4) + unit("B", 2)
    for i in range(3):
        ts = replace(ts, i, unavailable=frozenset({"sat-am"}))
    err = refusal(problem(ts))
    assert err.rule == Rule.BALANCED_SIZES
    assert err.details["unit_id"] == "A"
    assert "only 1 cadre(s) can attend slot(s) sat-am, which need 2" in err.message


def test_site_too_small_for_its_trainees_is_refused() -> None:
    err = refusal(problem(unit("A", 5, site="village-7"), capacity={"village-7": 2}))
    assert err.rule == Rule.SITE_CAPACITY
    assert err.details["site_id"] == "village-7"
    assert err.details["unit_id"] == "A"


def test_site_whose_trainees_can_only_come_in_one_slot_is_refused() -> None:
    ts = [Trainee(f"t{i}", f"U{i}", "room", unavailable=frozenset({"sat-pm"})) for i in range(3)]
    err = refusal(problem(ts, capacity={"room": 2}))
    assert err.rule == Rule.SITE_CAPACITY
    assert err.details["slot_ids"] == ["sat-am"]


def test_keep_apart_group_larger_than_the_slot_count_is_refused() -> None:
    pairs = (("A-00", "A-01"), ("A-01", "B-00"), ("A-00", "B-00"))
    err = refusal(problem(unit("A", 4) + unit("B", 2), keep_apart=pairs))
    assert err.rule == Rule.KEEP_APART
    assert err.details["trainee_ids"] == ["A-00", "A-01", "B-00"]
    assert err.details["unit_ids"] == ["A", "B"]


def test_keep_apart_that_clashes_with_balance_is_refused_after_full_search() -> None:
    # B's two cadres must be in different batches, and A-00 must avoid both: impossible.
    err = refusal(
        problem(unit("A", 2) + unit("B", 2), keep_apart=(("A-00", "B-00"), ("A-00", "B-01")))
    )
    assert err.rule == Rule.KEEP_APART
    assert err.details["proven"] is True
    assert "A-00" in err.details["trainee_ids"]


def test_malformed_problems_are_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        plan_batches(problem(unit("A", 2) + unit("A", 2)))
    with pytest.raises(InvalidInput):
        plan_batches(problem(unit("A", 2), on_duty_share=1.5))
    with pytest.raises(InvalidInput):
        plan_batches(problem(replace(unit("A", 2), 0, unavailable=frozenset({"sunday"}))))
    with pytest.raises(InvalidInput):
        plan_batches(problem(unit("A", 2), leaders={"B": ("A-00",)}))
    with pytest.raises(InvalidInput):
        plan_batches(problem(unit("A", 2), ()))


# --- validate_plan, move, swap ------------------------------------------------------------


def test_validate_plan_reports_each_broken_rule() -> None:
    ts = unit("A", 4, leaders=2, site="room")
    ts = replace(ts, 3, unavailable=frozenset({"sat-am"}))
    p = problem(ts, capacity={"room": 3}, keep_apart=(("A-02", "A-03"),))
    everyone_am = Plan({t.id: "sat-am" for t in ts})
    rules = {v.rule for v in validate_plan(p, everyone_am)}
    assert rules == {
        Rule.AVAILABILITY,
        Rule.BALANCED_SIZES,
        Rule.LEADERS_APART,
        Rule.ON_DUTY_SHARE,
        Rule.SITE_CAPACITY,
        Rule.KEEP_APART,
    }
    missing = Plan({"A-00": "sat-am", "A-01": "sat-pm", "ghost": "sat-am"})
    assert [v.rule for v in validate_plan(p, missing)][:3] == [Rule.ALL_PLACED] * 3


def test_moving_a_cadre_out_of_a_perfectly_balanced_unit_is_refused() -> None:
    p = problem(unit("A", 4))
    plan = plan_batches(p)
    with pytest.raises(RuleViolation) as caught:
        move(p, plan, "A-00", "sat-pm" if plan.slot_of("A-00") == "sat-am" else "sat-am")
    assert caught.value.code == MOVE_REFUSED
    assert caught.value.rule == Rule.BALANCED_SIZES
    assert "Swap" in caught.value.message


def test_moving_a_cadre_from_the_larger_to_the_smaller_batch_is_allowed() -> None:
    p = problem(unit("A", 5))
    plan = Plan(
        {"A-00": "sat-am", "A-01": "sat-am", "A-02": "sat-am", "A-03": "sat-pm", "A-04": "sat-pm"}
    )
    moved = move(p, plan, "A-00", "sat-pm")
    assert sizes(p, moved, "A") == {"sat-am": 2, "sat-pm": 3}
    assert plan.slot_of("A-00") == "sat-am"  # the original plan is unchanged


def test_moving_a_leader_into_the_other_leaders_batch_is_refused() -> None:
    p = problem(unit("A", 5, leaders=2))
    plan = Plan(
        {"A-00": "sat-am", "A-02": "sat-am", "A-03": "sat-am", "A-01": "sat-pm", "A-04": "sat-pm"}
    )
    with pytest.raises(RuleViolation) as caught:
        move(p, plan, "A-00", "sat-pm")
    assert caught.value.rule == Rule.LEADERS_APART


def test_swapping_two_cadres_of_one_unit_keeps_the_plan_valid() -> None:
    p = problem(unit("A", 6, leaders=2) + unit("B", 3))
    plan = plan_batches(p)
    plain = ("A-02", "A-03", "A-04", "A-05")
    a = next(x for x in plain if plan.slot_of(x) == "sat-am")
    b = next(x for x in plain if plan.slot_of(x) == "sat-pm")
    swapped = swap(p, plan, a, b)
    assert (swapped.slot_of(a), swapped.slot_of(b)) == (plan.slot_of(b), plan.slot_of(a))
    assert validate_plan(p, swapped) == []


def test_swap_into_an_unavailable_slot_is_refused() -> None:
    ts = replace(unit("A", 2), 0, unavailable=frozenset({"sat-pm"}))
    p = problem(ts)
    plan = Plan({"A-00": "sat-am", "A-01": "sat-pm"})
    with pytest.raises(RuleViolation) as caught:
        swap(p, plan, "A-00", "A-01")
    assert caught.value.code == MOVE_REFUSED
    assert caught.value.rule == Rule.AVAILABILITY


def test_move_to_an_unknown_slot_is_not_found() -> None:
    p = problem(unit("A", 2))
    with pytest.raises(NotFound):
        move(p, plan_batches(p), "A-00", "sunday")


# --- properties -----------------------------------------------------------------------------


@st.composite
def problems(
    draw: st.DrawFn, max_trainees: int = 8, max_slots: int = 3, min_slots: int = 1
) -> BatchProblem:
    k = draw(st.integers(min_slots, max_slots))
    timed = draw(st.booleans())
    slots = []
    for i in range(k):
        if timed:
            start = draw(st.integers(0, 4)) * 3600.0
            slots.append(Slot(f"s{i}", start, start + draw(st.integers(1, 3)) * 3600.0))
        else:
            slots.append(Slot(f"s{i}"))
    slot_ids = [s.id for s in slots]
    n = draw(st.integers(0, max_trainees))
    units = draw(st.integers(1, 4))
    sites = draw(st.integers(1, 3))
    leader_odds = draw(st.sampled_from([0.0, 0.02, 0.05])) if n > 10 else 0.25
    rnd = random.Random(draw(st.integers(0, 2**32)))  # unbiased coin flips
    no_slot: frozenset[str] = frozenset()
    options = [st.just(no_slot), st.just(no_slot)]
    if k > 1:  # one slot missed, or several but not all
        options.append(st.builds(lambda s: frozenset({s}), st.sampled_from(slot_ids)))
        options.append(st.frozensets(st.sampled_from(slot_ids), max_size=k - 1))
    if draw(st.integers(0, 9)) == 0:  # now and then someone who can come to no slot
        options.append(st.just(frozenset(slot_ids)))
    unavailability = st.one_of(options)
    trainees = []
    for i in range(n):
        trainees.append(
            Trainee(
                f"t{i}",
                f"u{draw(st.integers(0, units - 1))}",
                f"site{draw(st.integers(0, sites - 1))}",
                rnd.random() < leader_odds,
                draw(unavailability if draw(st.integers(0, 9)) < 3 else st.just(no_slot)),
            )
        )
    homed = Counter(t.site_id for t in trainees)
    capacity = {}
    for s in range(sites):
        site = f"site{s}"
        kind = draw(st.sampled_from(["none", "tight", "tight", "any"]))
        if kind == "tight":  # just enough seats: units sharing the site must take turns
            capacity[site] = -(-homed[site] // k) + rnd.choice([0, 0, 1])
        elif kind == "any":
            capacity[site] = rnd.randint(0, n // 2 + 1)
    pairs: list[tuple[str, str]] = []
    if n >= 2:
        for a, b in draw(
            st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=n)
        ):
            if a != b:
                pairs.append((f"t{a}", f"t{b}"))
    designated = {}
    if n and draw(st.booleans()):
        first = trainees[draw(st.integers(0, n - 1))]
        designated[first.unit_id] = (first.id,)
    share = draw(st.sampled_from([0.0, 0.25, 0.5, 0.5, 0.6, 1.0]))
    rules = BatchRules(on_duty_share=share, keep_apart=tuple(pairs), leaders=designated)
    return BatchProblem(tuple(slots), tuple(trainees), capacity, rules)


def _naive_ok(p: BatchProblem, where: dict[str, str]) -> bool:
    """Every rule, written out plainly and independently of server.core.batches."""
    by_unit: dict[str, list[Trainee]] = {}
    for t in p.trainees:
        if t.id not in where or where[t.id] in t.unavailable:
            return False
        by_unit.setdefault(t.unit_id, []).append(t)
    for a, b in p.rules.keep_apart:
        if where[a] == where[b]:
            return False
    for site, cap in p.site_capacity.items():
        for slot in p.slots:
            if sum(1 for t in p.trainees if t.site_id == site and where[t.id] == slot.id) > cap:
                return False
    for u, members in by_unit.items():
        count = {s.id: sum(1 for t in members if where[t.id] == s.id) for s in p.slots}
        if max(count.values()) - min(count.values()) > 1:
            return False
        leaders = {t.id for t in members if t.is_leader} | set(p.rules.leaders.get(u, ()))
        if len({where[x] for x in leaders}) < len(leaders):
            return False
        on_duty_needed = math.floor(round(p.rules.on_duty_share * len(members), 9))
        for slot in p.slots:  # the busiest moments start when some slot starts
            if slot.start is None:
                active = [slot]
            else:
                active = [
                    o
                    for o in p.slots
                    if o.start is not None and o.end is not None and o.start <= slot.start < o.end
                ]
            if len(members) - sum(count[o.id] for o in active) < on_duty_needed:
                return False
    return True


def _brute_force(p: BatchProblem) -> dict[str, str] | None:
    ids = [s.id for s in p.slots]
    for combo in itertools.product(ids, repeat=len(p.trainees)):
        where = {t.id: s for t, s in zip(p.trainees, combo, strict=True)}
        if _naive_ok(p, where):
            return where
    return None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_planner_refuses_exactly_the_tiny_rosters_that_have_no_plan(p: BatchProblem) -> None:
    witness = _brute_force(p)
    try:
        plan = plan_batches(p)
    except RuleViolation as err:
        assert err.code == INFEASIBLE
        assert err.rule in set(Rule)
        assert witness is None, f"refused ({err.message}) but {witness} keeps every rule"
        return
    assert validate_plan(p, plan) == []
    assert _naive_ok(p, dict(plan.assignment))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_exact_search_alone_finds_a_plan_whenever_one_exists(p: BatchProblem) -> None:
    # The repair step is skipped, so every clash left by construction goes to the exact search.
    def no_repair(ix: batches._Index, state: batches._State) -> tuple[list[int], int]:
        return list(state.slot_of), batches._cost(ix, state)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(batches, "_repair", no_repair)
        try:
            plan = plan_batches(p)
        except RuleViolation:
            assert _brute_force(p) is None
            return
    assert _naive_ok(p, dict(plan.assignment))


@settings(max_examples=200, deadline=None)
@given(problems(), st.randoms(use_true_random=False))
def test_validate_plan_agrees_with_the_plain_checker(p: BatchProblem, rnd: random.Random) -> None:
    where = {t.id: rnd.choice(p.slots).id for t in p.trainees}
    assert (validate_plan(p, Plan(where)) == []) == _naive_ok(p, where)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems(max_trainees=60, max_slots=4, min_slots=2))
def test_larger_rosters_get_a_valid_plan_or_a_named_refusal(p: BatchProblem) -> None:
    try:
        plan = plan_batches(p)
    except RuleViolation as err:
        assert err.code == INFEASIBLE and err.rule in set(Rule)
        assert err.details["unit_ids"] or err.details.get("site_id") or err.details["trainee_ids"]
        return
    assert validate_plan(p, plan) == []
    assert _naive_ok(p, dict(plan.assignment))


@settings(max_examples=100, deadline=None)
@given(problems(max_trainees=20), st.randoms(use_true_random=False))
def test_same_roster_in_any_order_gets_the_same_answer(p: BatchProblem, rnd: random.Random) -> None:
    trainees, slots = list(p.trainees), list(p.slots)
    rnd.shuffle(trainees)
    rnd.shuffle(slots)
    pairs = [(b, a) if rnd.random() < 0.5 else (a, b) for a, b in p.rules.keep_apart]
    rnd.shuffle(pairs)
    capacity = dict(sorted(p.site_capacity.items(), reverse=True))
    rules = BatchRules(p.rules.on_duty_share, tuple(pairs), p.rules.leaders)
    q = BatchProblem(tuple(slots), tuple(trainees), capacity, rules)

    def answer(x: BatchProblem) -> object:
        try:
            return plan_batches(x)
        except RuleViolation as err:
            return (err.rule, err.message)

    assert answer(p) == answer(q)


@settings(max_examples=100, deadline=None)
@given(problems(max_trainees=12), st.randoms(use_true_random=False))
def test_a_refused_move_names_a_rule_the_moved_plan_would_break(
    p: BatchProblem, rnd: random.Random
) -> None:
    try:
        plan = plan_batches(p)
    except RuleViolation:
        return
    if not p.trainees:
        return
    a, b = rnd.choice(p.trainees), rnd.choice(p.trainees)
    to = rnd.choice(p.slots).id
    try:
        moved = move(p, plan, a.id, to)
    except RuleViolation as err:
        assert err.code == MOVE_REFUSED
        broken = validate_plan(p, Plan({**plan.assignment, a.id: to}))
        assert err.rule in {v.rule for v in broken}
    else:
        assert validate_plan(p, moved) == []
    try:
        swapped = swap(p, plan, a.id, b.id)
    except RuleViolation as err:
        if a.unit_id == b.unit_id:
            assert err.rule != Rule.BALANCED_SIZES
    else:
        assert validate_plan(p, swapped) == []


def test_on_duty_share_counts_every_slot_in_class_at_the_same_moment() -> None:
    from server.core.batches import on_duty_share

    slots = (Slot("am", 0, 100), Slot("mid", 50, 150), Slot("pm", 200, 300))
    sizes = {"am": 2, "mid": 3, "pm": 5}
    assert on_duty_share(slots, sizes, "am", 10) == 0.5  # am and mid overlap: 5 of 10 in class
    assert on_duty_share(slots, sizes, "mid", 10) == 0.5
    assert on_duty_share(slots, sizes, "pm", 10) == 0.5
    assert on_duty_share(slots, {"pm": 1}, "pm", 3) == round(1 - 1 / 3, 4)
    assert on_duty_share(slots, {}, "am", 4) == 1.0
    assert on_duty_share(slots, sizes, "am", 0) == 1.0  # a unit with nobody is all on duty
    unscheduled = (Slot("x"), Slot("y"))
    assert on_duty_share(unscheduled, {"x": 1, "y": 3}, "x", 4) == 0.75
