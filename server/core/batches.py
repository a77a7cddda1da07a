"""Staggered batches (分批组织与错时参训): split each org unit's cadres over a course's slots.

A course is held in k time slots. Every trainee goes to exactly one slot, and the plan must keep
these rules (:class:`Rule`):

* BALANCED_SIZES: the k batches of one unit differ in size by at most one (empty batches count).
* LEADERS_APART: a unit's leaders (``is_leader`` trainees plus the unit's designated leaders)
  each lead a different batch.
* ON_DUTY_SHARE: at every moment at least ``floor(share * unit size)`` of each unit is not in
  class (在岗在位). Rounding down makes "half" of an odd unit its smaller half, so two equal-ish
  batches keep share 0.5. Slots whose ``[start, end)`` windows overlap count together; slots
  without times never overlap anything.
* SITE_CAPACITY: no site seats more than its capacity in any slot (sites without a capacity
  are unlimited).
* AVAILABILITY: nobody is put in a slot they said they cannot attend.
* KEEP_APART: the two trainees of a keep-apart pair are never in the same slot.

Algorithm (deterministic: everything is indexed in sorted id order, the repair uses a fixed
seed):

1. Prove the obvious impossibilities up front, each naming its unit/site/trainees: more leaders
   than slots, leaders or a keep-apart clique whose available slots cannot give each member
   its own slot (Hall's condition), a trainee unavailable everywhere, a site whose trainees
   cannot fit its seats, a unit whose balanced split always puts too many in class at once.
2. Construct unit by unit. Choose the r slots that get the larger batch (``n = q*k + r``) among
   those the on-duty rule allows, preferring slots where the unit's sites are least loaded;
   then place leaders, then the most constrained cadres, then the rest, each into the slot with
   room that holds no keep-apart partner and has the lowest load at the cadre's site. A cadre
   who finds no room triggers an augmenting path (max flow: cadre -> leader gate -> slot), so
   the unit step is exact: a unit that fails for every allowed choice is proven impossible.
3. Repair site overloads and keep-apart clashes between units by tabu search over moves that
   keep every unit-level rule: swap two cadres of one unit, or move a cadre from a larger batch
   to a smaller one of the same unit.
4. Small rosters that still break a rule get an exact depth-first search (node budget);
   otherwise the refusal names the rule the best plan found still breaks.
"""

from __future__ import annotations

import itertools
import random
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from fractions import Fraction
from math import comb, floor, isnan
from typing import Any

from server.core.errors import InvalidInput, NotFound, RuleViolation

INFEASIBLE = "batch.infeasible"
MOVE_REFUSED = "batch.move_refused"

_MAX_PLUS_SETS = 4096  # larger-batch slot choices tried per unit (complete below this)
_MAX_HALL_SLOTS = 12  # subset-of-slots checks are exact up to this many slots
_EXACT_MAX_TRAINEES = 120
_EXACT_NODE_BUDGET = 200_000
_CLIQUE_CALL_BUDGET = 50_000
_REPAIR_SEED = 20_240_601
_REPAIR_PATIENCE = 1_000  # tabu steps without a new best before giving up


class Rule(StrEnum):
    """The rules a batch plan must keep; ``RuleViolation.rule`` is one of these."""

    ALL_PLACED = "all_placed"  # every trainee in exactly one known slot (checked by validate_plan)
    BALANCED_SIZES = "balanced_sizes"
    LEADERS_APART = "leaders_apart"
    ON_DUTY_SHARE = "on_duty_share"
    SITE_CAPACITY = "site_capacity"
    AVAILABILITY = "availability"
    KEEP_APART = "keep_apart"


@dataclass(frozen=True, slots=True)
class Slot:
    """One time slot (场次) of the course; ``start``/``end`` are seconds since the epoch."""

    id: str
    start: float | None = None
    end: float | None = None


@dataclass(frozen=True, slots=True)
class Trainee:
    id: str
    unit_id: str
    site_id: str
    is_leader: bool = False
    unavailable: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class BatchRules:
    on_duty_share: float = 0.5
    keep_apart: tuple[tuple[str, str], ...] = ()
    leaders: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # unit id -> trainees


@dataclass(frozen=True, slots=True)
class BatchProblem:
    slots: tuple[Slot, ...]
    trainees: tuple[Trainee, ...]
    site_capacity: Mapping[str, int] = field(default_factory=dict)  # per slot; absent = no limit
    rules: BatchRules = field(default_factory=BatchRules)


@dataclass(frozen=True, slots=True)
class Plan:
    """Trainee id -> slot id."""

    assignment: Mapping[str, str]

    def slot_of(self, trainee_id: str) -> str:
        try:
            return self.assignment[trainee_id]
        except KeyError:
            raise NotFound(
                "batch.unknown_trainee", f"Trainee {trainee_id} is not in this plan."
            ) from None

    def members(self, slot_id: str) -> tuple[str, ...]:
        return tuple(sorted(t for t, s in self.assignment.items() if s == slot_id))


@dataclass(frozen=True, slots=True)
class Violation:
    rule: Rule
    message: str
    unit_ids: tuple[str, ...] = ()
    slot_ids: tuple[str, ...] = ()
    site_id: str | None = None
    trainee_ids: tuple[str, ...] = ()

    def details(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "rule": str(self.rule),
            "unit_id": self.unit_ids[0] if self.unit_ids else None,
            "unit_ids": list(self.unit_ids),
            "slot_ids": list(self.slot_ids),
            "trainee_ids": list(self.trainee_ids),
        }
        if self.site_id is not None:
            body["site_id"] = self.site_id
        return body


# --- rule definitions shared by the planner and validate_plan ------------------------------


def max_in_class(unit_size: int, on_duty_share: float) -> int:
    """How many cadres of a unit may be in class at one moment; the rest stay on duty."""
    share = Fraction(on_duty_share).limit_denominator(1_000_000)
    return unit_size - floor(share * unit_size)


def moments(slots: Sequence[Slot]) -> list[tuple[str, ...]]:
    """The sets of slots in class together at some moment (maximal sets only), sorted."""
    groups: set[frozenset[str]] = set()
    for slot in slots:
        if slot.start is None:
            groups.add(frozenset([slot.id]))
            continue
        t = slot.start
        groups.add(
            frozenset(
                o.id
                for o in slots
                if o.start is not None and o.end is not None and o.start <= t < o.end
            )
        )
    maximal = [g for g in groups if not any(g < h for h in groups)]
    return sorted(tuple(sorted(g)) for g in maximal)


def on_duty_share(
    slots: Sequence[Slot], sizes: Mapping[str, int], slot_id: str, unit_size: int
) -> float:
    """The share of a unit on duty while ``slot_id`` runs: one minus the most of its cadres in
    class at one moment that includes the slot (slots overlapping it count too), over the unit's
    size. ``sizes``: the unit's cadres per slot. A unit with nobody is all on duty (1.0)."""
    if unit_size <= 0:
        return 1.0
    in_class = max(
        (sum(sizes.get(x, 0) for x in g) for g in moments(slots) if slot_id in g),
        default=sizes.get(slot_id, 0),
    )
    return round(1 - in_class / unit_size, 4)


def unit_leaders(problem: BatchProblem) -> dict[str, tuple[str, ...]]:
    """Unit id -> its leaders: trainees flagged ``is_leader`` plus designated leaders."""
    out: dict[str, set[str]] = {}
    for t in problem.trainees:
        if t.is_leader:
            out.setdefault(t.unit_id, set()).add(t.id)
    for unit, ids in problem.rules.leaders.items():
        out.setdefault(unit, set()).update(ids)
    return {u: tuple(sorted(ids)) for u, ids in sorted(out.items()) if ids}


def _check_input(problem: BatchProblem) -> None:
    if not problem.slots:
        raise InvalidInput("batch.no_slots", "The course has no time slots; add at least one.")
    slot_ids: set[str] = set()
    for slot in problem.slots:
        if slot.id in slot_ids:
            raise InvalidInput("batch.duplicate_slot", f"Slot {slot.id} is listed twice.")
        slot_ids.add(slot.id)
        if (slot.start is None) != (slot.end is None):
            raise InvalidInput(
                "batch.bad_slot_time", f"Slot {slot.id}: give both start and end, or neither."
            )
        if slot.start is not None and slot.end is not None and not slot.start < slot.end:
            raise InvalidInput("batch.bad_slot_time", f"Slot {slot.id} must end after it starts.")
    by_id: dict[str, Trainee] = {}
    for t in problem.trainees:
        if t.id in by_id:
            raise InvalidInput("batch.duplicate_trainee", f"Trainee {t.id} is listed twice.")
        by_id[t.id] = t
        unknown = sorted(t.unavailable - slot_ids)
        if unknown:
            raise InvalidInput(
                "batch.unknown_slot",
                f"Trainee {t.id} is marked unavailable in unknown slot(s) {', '.join(unknown)}.",
            )
    share = problem.rules.on_duty_share
    if isnan(share) or not 0 <= share <= 1:
        raise InvalidInput("batch.bad_share", "The on-duty share must be between 0 and 1.")
    for site, cap in problem.site_capacity.items():
        if cap < 0:
            raise InvalidInput("batch.bad_capacity", f"Site {site} has a negative capacity.")
    for a, b in problem.rules.keep_apart:
        if a == b:
            raise InvalidInput("batch.bad_pair", f"Keep-apart pair names {a} twice.")
        for x in (a, b):
            if x not in by_id:
                raise InvalidInput("batch.unknown_trainee", f"Keep-apart pair names unknown {x}.")
    for unit, ids in problem.rules.leaders.items():
        for x in ids:
            if x not in by_id or by_id[x].unit_id != unit:
                raise InvalidInput(
                    "batch.bad_leader", f"Designated leader {x} is not a trainee of unit {unit}."
                )


# --- validation (independent of the planner) ----------------------------------------------


def validate_plan(problem: BatchProblem, plan: Plan) -> list[Violation]:
    """Every rule the plan breaks (empty when the plan is valid). Raises InvalidInput for a
    malformed problem."""
    _check_input(problem)
    out: list[Violation] = []
    slot_ids = [s.id for s in problem.slots]
    known_slots = set(slot_ids)
    trainees = sorted(problem.trainees, key=lambda t: t.id)
    by_id = {t.id: t for t in trainees}
    where: dict[str, str] = {}
    for t in trainees:
        slot = plan.assignment.get(t.id)
        if slot is None:
            out.append(_v(Rule.ALL_PLACED, f"Trainee {t.id} has no slot.", t.unit_id, t=[t.id]))
        elif slot not in known_slots:
            msg = f"Trainee {t.id} is in unknown slot {slot}."
            out.append(_v(Rule.ALL_PLACED, msg, t.unit_id, t=[t.id]))
        else:
            where[t.id] = slot
    for tid in sorted(set(plan.assignment) - set(by_id)):
        out.append(_v(Rule.ALL_PLACED, f"The plan names unknown trainee {tid}.", None, t=[tid]))

    for tid, slot in where.items():
        t = by_id[tid]
        if slot in t.unavailable:
            msg = f"Trainee {tid} (unit {t.unit_id}) cannot attend slot {slot}."
            out.append(_v(Rule.AVAILABILITY, msg, t.unit_id, slots=[slot], t=[tid]))

    units: dict[str, list[Trainee]] = {}
    for t in trainees:
        units.setdefault(t.unit_id, []).append(t)
    for unit, members in sorted(units.items()):
        sizes = Counter(where[t.id] for t in members if t.id in where)
        big = max(slot_ids, key=lambda s: (sizes[s], s))
        small = min(slot_ids, key=lambda s: (sizes[s], s))
        if sizes[big] - sizes[small] > 1:
            msg = (
                f"Unit {unit}: batch {big} has {sizes[big]} cadres but batch {small} has "
                f"{sizes[small]}; sizes must differ by at most one."
            )
            out.append(_v(Rule.BALANCED_SIZES, msg, unit, slots=[big, small]))

    for unit, leaders in unit_leaders(problem).items():
        per_slot: dict[str, list[str]] = {}
        for x in leaders:
            if x in where:
                per_slot.setdefault(where[x], []).append(x)
        for slot, xs in sorted(per_slot.items()):
            if len(xs) > 1:
                msg = f"Unit {unit}: leaders {', '.join(xs)} are all in batch {slot}."
                out.append(_v(Rule.LEADERS_APART, msg, unit, slots=[slot], t=xs))

    share = problem.rules.on_duty_share
    groups = moments(problem.slots)
    for unit, members in sorted(units.items()):
        limit = max_in_class(len(members), share)
        sizes = Counter(where[t.id] for t in members if t.id in where)
        for g in groups:
            in_class = sum(sizes[s] for s in g)
            if in_class > limit:
                msg = (
                    f"Unit {unit}: {in_class} of {len(members)} cadres are in class at once "
                    f"(slots {', '.join(g)}); at most {limit} may be, to keep {share:.0%} on duty."
                )
                out.append(_v(Rule.ON_DUTY_SHARE, msg, unit, slots=list(g)))

    loads: Counter[tuple[str, str]] = Counter((by_id[t].site_id, s) for t, s in where.items())
    for (site, slot), load in sorted(loads.items()):
        cap = problem.site_capacity.get(site)
        if cap is not None and load > cap:
            us = sorted(
                {
                    by_id[t].unit_id
                    for t, s in where.items()
                    if s == slot and by_id[t].site_id == site
                }
            )
            msg = f"Site {site} seats {cap} but has {load} trainees in slot {slot}."
            out.append(_v(Rule.SITE_CAPACITY, msg, None, slots=[slot], site=site, units=us))

    for a, b in sorted(tuple(sorted(p)) for p in problem.rules.keep_apart):
        if a in where and where[a] == where.get(b):
            us = sorted({by_id[a].unit_id, by_id[b].unit_id})
            msg = f"Trainees {a} and {b} must be kept apart but are both in batch {where[a]}."
            out.append(_v(Rule.KEEP_APART, msg, None, slots=[where[a]], t=[a, b], units=us))
    return out


def _v(
    rule: Rule,
    message: str,
    unit: str | None,
    *,
    slots: Sequence[str] = (),
    t: Sequence[str] = (),
    site: str | None = None,
    units: Sequence[str] = (),
) -> Violation:
    unit_ids = tuple(units) if units else ((unit,) if unit is not None else ())
    return Violation(rule, message, unit_ids, tuple(slots), site, tuple(t))


# --- manual changes -------------------------------------------------------------------------


def move(problem: BatchProblem, plan: Plan, trainee_id: str, to_slot: str) -> Plan:
    """The plan with one trainee moved to another slot; refused if any rule would break."""
    _known(problem, trainee_id, to_slot)
    if plan.assignment.get(trainee_id) == to_slot:
        return plan
    new = Plan(_sorted({**plan.assignment, trainee_id: to_slot}))
    hint = " Swap with a cadre of the same unit instead."
    return _refuse_if_broken(problem, new, f"Cannot move {trainee_id} to slot {to_slot}", hint)


def swap(problem: BatchProblem, plan: Plan, a: str, b: str) -> Plan:
    """The plan with trainees ``a`` and ``b`` in each other's slots; refused if a rule breaks."""
    sa, sb = plan.slot_of(a), plan.slot_of(b)
    _known(problem, a, sb)
    _known(problem, b, sa)
    if sa == sb:
        return plan
    new = Plan(_sorted({**plan.assignment, a: sb, b: sa}))
    return _refuse_if_broken(problem, new, f"Cannot swap {a} and {b}", "")


def _known(problem: BatchProblem, trainee_id: str, slot_id: str) -> None:
    if all(t.id != trainee_id for t in problem.trainees):
        raise NotFound("batch.unknown_trainee", f"Trainee {trainee_id} is not on the roster.")
    if all(s.id != slot_id for s in problem.slots):
        raise NotFound("batch.unknown_slot", f"Slot {slot_id} is not a slot of this course.")


def _refuse_if_broken(problem: BatchProblem, new: Plan, what: str, hint: str) -> Plan:
    broken = validate_plan(problem, new)
    if not broken:
        return new
    v = broken[0]
    tail = hint if v.rule is Rule.BALANCED_SIZES else ""
    raise RuleViolation(MOVE_REFUSED, f"{what}: {v.message}{tail}", v.rule, v.details())


def _sorted(assignment: Mapping[str, str]) -> dict[str, str]:
    return {t: assignment[t] for t in sorted(assignment)}


# --- planner ----------------------------------------------------------------------------------


class _Index:
    """The problem as integer arrays, in sorted-id order."""

    def __init__(self, problem: BatchProblem) -> None:
        self.problem = problem
        self.share = problem.rules.on_duty_share
        self.slot_ids = sorted(s.id for s in problem.slots)
        self.k = len(self.slot_ids)
        slot_pos = {s: i for i, s in enumerate(self.slot_ids)}
        trainees = sorted(problem.trainees, key=lambda t: t.id)
        self.n = len(trainees)
        self.tids = [t.id for t in trainees]
        tpos = {t: i for i, t in enumerate(self.tids)}
        self.unit_ids = sorted({t.unit_id for t in trainees})
        upos = {u: i for i, u in enumerate(self.unit_ids)}
        self.site_ids = sorted({t.site_id for t in trainees})
        spos = {s: i for i, s in enumerate(self.site_ids)}
        unlimited = self.n + 1
        self.cap = [problem.site_capacity.get(s, unlimited) for s in self.site_ids]
        self.limited_sites = [i for i, c in enumerate(self.cap) if c < unlimited]
        self.unit_of = [upos[t.unit_id] for t in trainees]
        self.site_of = [spos[t.site_id] for t in trainees]
        self.avail = [
            tuple(i for i, s in enumerate(self.slot_ids) if s not in t.unavailable)
            for t in trainees
        ]
        self.members: list[list[int]] = [[] for _ in self.unit_ids]
        for i, u in enumerate(self.unit_of):
            self.members[u].append(i)
        leaders = unit_leaders(problem)
        self.leader = [False] * self.n
        self.unit_leaders: list[list[int]] = [[] for _ in self.unit_ids]
        for unit, ids in leaders.items():
            for x in ids:
                self.leader[tpos[x]] = True
                self.unit_leaders[upos[unit]].append(tpos[x])
        pairs = {tuple(sorted((tpos[a], tpos[b]))) for a, b in problem.rules.keep_apart}
        self.pairs: list[tuple[int, int]] = sorted((p[0], p[1]) for p in pairs)
        self.pair_set = set(self.pairs)
        self.partners: list[list[int]] = [[] for _ in range(self.n)]
        for a, b in self.pairs:
            self.partners[a].append(b)
            self.partners[b].append(a)
        self.groups = [tuple(slot_pos[s] for s in g) for g in moments(problem.slots)]
        self.groups_of_slot: list[list[tuple[int, ...]]] = [[] for _ in range(self.k)]
        for g in self.groups:
            for s in g:
                self.groups_of_slot[s].append(g)
        self.size = [len(m) for m in self.members]
        self.q = [n // self.k for n in self.size]
        self.r = [n % self.k for n in self.size]
        self.limit = [max_in_class(n, self.share) for n in self.size]
        self.plus_cache: dict[tuple[int, int, int], tuple[list[tuple[int, ...]], bool]] = {}

    def names(self, ts: Sequence[int]) -> list[str]:
        return [self.tids[t] for t in sorted(ts)]

    def units_of(self, ts: Sequence[int]) -> list[str]:
        return sorted({self.unit_ids[self.unit_of[t]] for t in ts})

    def slots(self, ss: Sequence[int]) -> list[str]:
        return [self.slot_ids[s] for s in sorted(ss)]


def _refuse(v: Violation, proven: bool = True) -> RuleViolation:
    details = v.details()
    details["proven"] = proven
    return RuleViolation(INFEASIBLE, v.message, v.rule, details)


def plan_batches(problem: BatchProblem) -> Plan:
    """A plan keeping every rule, or RuleViolation(``batch.infeasible``) naming the rule."""
    _check_input(problem)
    ix = _Index(problem)
    if ix.n == 0:
        return Plan({})
    _check_obvious(ix)
    st = _State(ix)
    for u in range(len(ix.unit_ids)):
        _construct_unit(ix, st, u)
    best, cost = _repair(ix, st)
    if cost > 0 and ix.n <= _EXACT_MAX_TRAINEES:
        found, complete = _exact_search(ix, best)
        if found is not None:
            best, cost = found, 0
        else:
            raise _refuse(_worst(ix, best, complete), proven=complete)
    if cost > 0:
        raise _refuse(_worst(ix, best, False), proven=False)
    return Plan({ix.tids[t]: ix.slot_ids[best[t]] for t in range(ix.n)})


# --- step 1: obvious impossibilities --------------------------------------------------------


def _check_obvious(ix: _Index) -> None:
    for t in range(ix.n):
        if not ix.avail[t]:
            unit = ix.unit_ids[ix.unit_of[t]]
            msg = (
                f"Trainee {ix.tids[t]} (unit {unit}) is unavailable in every slot; "
                "free one of the slots or add a slot."
            )
            raise _refuse(_v(Rule.AVAILABILITY, msg, unit, t=[ix.tids[t]]))
    for u, leaders in enumerate(ix.unit_leaders):
        unit = ix.unit_ids[u]
        if len(leaders) > ix.k:
            msg = (
                f"Unit {unit} has {len(leaders)} leaders but the course has only {ix.k} "
                "slot(s); each leader must lead a different batch. Add slots or designate "
                "fewer leaders."
            )
            raise _refuse(_v(Rule.LEADERS_APART, msg, unit, t=ix.names(leaders)))
        bad = _hall_violator(ix, leaders)
        if bad is not None:
            who, slots = bad
            msg = (
                f"Unit {unit}: leaders {', '.join(ix.names(who))} can only attend slot(s) "
                f"{', '.join(ix.slots(slots)) or 'none'}, too few for each to lead a "
                "different batch."
            )
            raise _refuse(_v(Rule.LEADERS_APART, msg, unit, slots=ix.slots(slots), t=ix.names(who)))
    _check_sites(ix)
    for u in range(len(ix.unit_ids)):
        _check_on_duty(ix, u)
    _check_keep_apart(ix)


def _hall_violator(ix: _Index, who: Sequence[int]) -> tuple[list[int], list[int]] | None:
    """A subset of ``who`` whose available slots are fewer than its members, if any."""
    match: dict[int, int] = {}

    def augment(t: int, seen: set[int]) -> bool:
        for s in ix.avail[t]:
            if s in seen:
                continue
            seen.add(s)
            if s not in match or augment(match[s], seen):
                match[s] = t
                return True
        return False

    if all(augment(t, set()) for t in who):
        return None
    members = sorted(who)
    if len(members) <= _MAX_HALL_SLOTS:
        for size in range(1, len(members) + 1):
            for sub in itertools.combinations(members, size):
                slots = sorted({s for t in sub for s in ix.avail[t]})
                if len(slots) < size:
                    return list(sub), slots
    return members, sorted({s for t in members for s in ix.avail[t]})


def _slot_subsets(k: int) -> Iterator[int]:
    """Bit masks of slot sets to test: all of them when k is small, else only the full set."""
    full = (1 << k) - 1
    yield full
    if k <= _MAX_HALL_SLOTS:
        yield from range(1, full)


def _check_sites(ix: _Index) -> None:
    patterns: list[Counter[int]] = [Counter() for _ in ix.site_ids]
    for t in range(ix.n):
        patterns[ix.site_of[t]][sum(1 << s for s in ix.avail[t])] += 1
    for site in ix.limited_sites:
        cap = ix.cap[site]
        for mask in _slot_subsets(ix.k):
            need = sum(c for p, c in patterns[site].items() if p & ~mask == 0)
            seats = cap * bin(mask).count("1")
            if need <= seats:
                continue
            slots = [s for s in range(ix.k) if mask >> s & 1]
            who = [t for t in range(ix.n) if ix.site_of[t] == site]
            units = ix.units_of(who)
            name = ix.site_ids[site]
            if len(slots) == ix.k:
                msg = (
                    f"Site {name} seats {cap} per slot, {seats} over {ix.k} slot(s), but "
                    f"{need} trainees (units {', '.join(units)}) are homed there. Raise its "
                    "capacity, add a slot or move trainees to another site."
                )
            else:
                msg = (
                    f"Site {name} seats {cap} per slot, but {need} of its trainees can only "
                    f"attend slot(s) {', '.join(ix.slots(slots))}, which give {seats} seats."
                )
            raise _refuse(
                _v(Rule.SITE_CAPACITY, msg, None, slots=ix.slots(slots), site=name, units=units)
            )


def _plus_sets(ix: _Index, u: int) -> tuple[list[tuple[int, ...]], bool]:
    """Slot sets that may hold the unit's larger batches under the on-duty rule, and whether
    the list is complete."""
    q, r, limit = ix.q[u], ix.r[u], ix.limit[u]
    cached = ix.plus_cache.get((q, r, limit))
    if cached is not None:
        return cached
    out = []
    for plus in itertools.islice(itertools.combinations(range(ix.k), r), _MAX_PLUS_SETS):
        chosen = set(plus)
        if all(len(g) * q + sum(1 for s in g if s in chosen) <= limit for g in ix.groups):
            out.append(plus)
    result = (out, comb(ix.k, r) <= _MAX_PLUS_SETS)
    ix.plus_cache[(q, r, limit)] = result
    return result


def _check_on_duty(ix: _Index, u: int) -> None:
    allowed, complete = _plus_sets(ix, u)
    if allowed:
        return
    unit, n, q, r, limit = ix.unit_ids[u], ix.size[u], ix.q[u], ix.r[u], ix.limit[u]
    # The busiest moment of the best arrangement of the larger batches: still over the limit.
    forced, group = n + 1, ix.groups[0]
    for plus in itertools.islice(itertools.combinations(range(ix.k), r), _MAX_PLUS_SETS):
        busiest = max((len(g) * q + sum(1 for s in g if s in plus), g) for g in ix.groups)
        if busiest[0] < forced:
            forced, group = busiest
    together = "at once"
    if len(group) > 1:
        together += f" (overlapping slots {', '.join(ix.slots(group))})"
    msg = (
        f"Unit {unit} has {n} cadres; however its {ix.k} balanced batch(es) are placed, at "
        f"least {forced} are in class {together}, but at most {limit} may be, to keep "
        f"{ix.share:.0%} on duty. Add slots, stop slots overlapping or lower the share."
    )
    raise _refuse(_v(Rule.ON_DUTY_SHARE, msg, unit, slots=ix.slots(group)), proven=complete)


def _check_keep_apart(ix: _Index) -> None:
    adj = [set(p) for p in ix.partners]
    nodes = {t for t in range(ix.n) if adj[t]}
    calls = 0

    def cliques(r: list[int], p: set[int], x: set[int]) -> Iterator[list[int]]:
        nonlocal calls
        calls += 1
        if calls > _CLIQUE_CALL_BUDGET:
            return
        if not p and not x:
            yield r
            return
        pivot = max(p | x, key=lambda v: (len(adj[v] & p), -v))
        for v in sorted(p - adj[pivot]):
            yield from cliques([*r, v], p & adj[v], x & adj[v])
            p = p - {v}
            x = x | {v}

    for clique in cliques([], nodes, set()):
        units = ix.units_of(clique)
        if len(clique) > ix.k:
            msg = (
                f"Trainees {', '.join(ix.names(clique))} (units {', '.join(units)}) must each "
                f"be in a different batch, but the course has only {ix.k} slot(s)."
            )
            raise _refuse(_v(Rule.KEEP_APART, msg, None, t=ix.names(clique), units=units))
        bad = _hall_violator(ix, clique)
        if bad is not None:
            who, slots = bad
            msg = (
                f"Trainees {', '.join(ix.names(who))} (units {', '.join(ix.units_of(who))}) "
                f"must be kept apart but can only attend slot(s) {', '.join(ix.slots(slots))}."
            )
            raise _refuse(
                _v(
                    Rule.KEEP_APART,
                    msg,
                    None,
                    slots=ix.slots(slots),
                    t=ix.names(who),
                    units=ix.units_of(who),
                )
            )


# --- step 2: construction, unit by unit ----------------------------------------------------


class _State:
    def __init__(self, ix: _Index) -> None:
        self.ix = ix
        self.slot_of = [-1] * ix.n
        self.count = [[0] * ix.k for _ in ix.unit_ids]
        self.leader_at = [[-1] * ix.k for _ in ix.unit_ids]
        self.load = [[0] * ix.k for _ in ix.site_ids]
        self.in_batch: list[list[set[int]]] = [[set() for _ in range(ix.k)] for _ in ix.unit_ids]
        self.at_site: list[list[set[int]]] = [[set() for _ in range(ix.k)] for _ in ix.site_ids]
        self.partners_in = [[0] * ix.k for _ in range(ix.n)]  # keep-apart partners per slot

    def put(self, t: int, s: int) -> None:
        ix = self.ix
        u, site = ix.unit_of[t], ix.site_of[t]
        self.slot_of[t] = s
        self.count[u][s] += 1
        self.load[site][s] += 1
        self.in_batch[u][s].add(t)
        self.at_site[site][s].add(t)
        for p in ix.partners[t]:
            self.partners_in[p][s] += 1
        if ix.leader[t]:
            self.leader_at[u][s] = t

    def take(self, t: int) -> None:
        ix = self.ix
        u, site, s = ix.unit_of[t], ix.site_of[t], self.slot_of[t]
        self.slot_of[t] = -1
        self.count[u][s] -= 1
        self.load[site][s] -= 1
        self.in_batch[u][s].discard(t)
        self.at_site[site][s].discard(t)
        for p in ix.partners[t]:
            self.partners_in[p][s] -= 1
        if self.leader_at[u][s] == t:
            self.leader_at[u][s] = -1

    def apply(self, moves: Sequence[tuple[int, int]]) -> None:
        for t, _ in moves:
            if self.slot_of[t] != -1:
                self.take(t)
        for t, s in moves:
            self.put(t, s)


def _construct_unit(ix: _Index, st: _State, u: int) -> None:
    allowed, complete = _plus_sets(ix, u)
    sites = Counter(ix.site_of[t] for t in ix.members[u])
    pressure = [
        sum(c * st.load[site][s] / max(ix.cap[site], 1) for site, c in sorted(sites.items()))
        for s in range(ix.k)
    ]
    totals = [sum(st.load[site][s] for site in range(len(ix.site_ids))) for s in range(ix.k)]
    ranked = sorted(
        allowed,
        key=lambda p: (sum(pressure[s] for s in p), sum(totals[s] for s in p), p),
    )
    order = _placing_order(ix, u)
    for plus in ranked:
        if _place_unit(ix, st, u, _targets(ix, u, plus), order, with_leaders=True):
            return
        _clear_unit(st, ix, u)
    raise _refuse(_diagnose_unit(ix, st, u, order), proven=complete)


def _targets(ix: _Index, u: int, plus: Sequence[int]) -> list[int]:
    targets = [ix.q[u]] * ix.k
    for s in plus:
        targets[s] += 1
    return targets


def _placing_order(ix: _Index, u: int) -> list[int]:
    return sorted(
        ix.members[u],
        key=lambda t: (not ix.leader[t], len(ix.avail[t]), -len(ix.partners[t]), t),
    )


def _clear_unit(st: _State, ix: _Index, u: int) -> None:
    for t in ix.members[u]:
        if st.slot_of[t] != -1:
            st.take(t)


def _place_unit(
    ix: _Index, st: _State, u: int, targets: list[int], order: list[int], with_leaders: bool
) -> bool:
    for t in order:
        lead = with_leaders and ix.leader[t]
        site = ix.site_of[t]
        best, best_key = -1, (0, 0, 0, 0, 0)
        for s in ix.avail[t]:
            if st.count[u][s] >= targets[s] or (lead and st.leader_at[u][s] != -1):
                continue
            load = st.load[site][s]
            clash = st.partners_in[t][s]
            key = (clash, int(load >= ix.cap[site]), load, st.count[u][s] - targets[s], s)
            if best == -1 or key < best_key:
                best, best_key = s, key
        if best != -1:
            st.put(t, best)
        elif not _augment(ix, st, u, t, targets, with_leaders):
            return False
    return True


def _augment(
    ix: _Index, st: _State, u: int, t0: int, targets: list[int], with_leaders: bool
) -> bool:
    """Place ``t0`` by shifting cadres of the unit along a shortest augmenting path."""
    parent: dict[int, tuple[int, int]] = {}  # displaced cadre -> (cadre moving in, slot)
    seen_t, seen_s = {t0}, set()
    queue = deque([t0])
    while queue:
        x = queue.popleft()
        for s in ix.avail[x]:
            if s == st.slot_of[x]:
                continue
            other = st.leader_at[u][s]
            if with_leaders and ix.leader[x] and other != -1:
                if other not in seen_t:  # x takes over the leader's place in s
                    seen_t.add(other)
                    parent[other] = (x, s)
                    queue.append(other)
                continue
            if s in seen_s:
                continue
            seen_s.add(s)
            if st.count[u][s] < targets[s]:
                moves = [(x, s)]
                while x in parent:
                    x, s = parent[x]
                    moves.append((x, s))
                st.apply(moves)
                return True
            for y in sorted(st.in_batch[u][s]):
                if y not in seen_t:
                    seen_t.add(y)
                    parent[y] = (x, s)
                    queue.append(y)
    return False


def _diagnose_unit(ix: _Index, st: _State, u: int, order: list[int]) -> Violation:
    """Why unit ``u`` has no split: balance vs availability, then leaders, then on-duty."""
    unit = ix.unit_ids[u]
    every = list(itertools.islice(itertools.combinations(range(ix.k), ix.r[u]), _MAX_PLUS_SETS))

    def feasible(with_leaders: bool) -> bool:
        for plus in every:
            ok = _place_unit(ix, st, u, _targets(ix, u, plus), order, with_leaders)
            _clear_unit(st, ix, u)
            if ok:
                return True
        return False

    if not feasible(with_leaders=False):
        q, r, mine = ix.q[u], ix.r[u], ix.members[u]
        reason = "its cadres' unavailable slots leave some batch too small or too big"
        slots: list[int] = []
        for mask in _slot_subsets(ix.k):
            chosen = [s for s in range(ix.k) if mask >> s & 1]
            inside = sum(1 for t in mine if set(ix.avail[t]) <= set(chosen))
            most = len(chosen) * q + min(r, len(chosen))
            touching = sum(1 for t in mine if set(ix.avail[t]) & set(chosen))
            least = len(chosen) * q + max(0, r - (ix.k - len(chosen)))
            names = ", ".join(ix.slots(chosen))
            if inside > most:
                reason = f"{inside} cadre(s) can only attend slot(s) {names}, which take {most}"
            elif touching < least:
                reason = f"only {touching} cadre(s) can attend slot(s) {names}, which need {least}"
            else:
                continue
            slots = chosen
            break
        msg = (
            f"Unit {unit} cannot be split into batches whose sizes differ by at most one: "
            f"{reason}. Free some unavailable slots or add a slot."
        )
        return _v(Rule.BALANCED_SIZES, msg, unit, slots=ix.slots(slots))
    leaders = ix.unit_leaders[u]
    if not feasible(with_leaders=True):
        msg = (
            f"Unit {unit}: leaders {', '.join(ix.names(leaders))} cannot each lead a different "
            "batch while the batches stay balanced and unavailable slots are respected."
        )
        return _v(Rule.LEADERS_APART, msg, unit, t=ix.names(leaders))
    msg = (
        f"Unit {unit}: no balanced split that respects unavailable slots and leaders keeps "
        f"{ix.share:.0%} of it on duty at every moment. Add slots or lower the on-duty share."
    )
    return _v(Rule.ON_DUTY_SHARE, msg, unit)


# --- step 3: repair by tabu search ---------------------------------------------------------


def _cost_terms(ix: _Index, st: _State) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    over = [
        (site, s)
        for site in ix.limited_sites
        for s in range(ix.k)
        if st.load[site][s] > ix.cap[site]
    ]
    clashes = [(a, b) for a, b in ix.pairs if st.slot_of[a] == st.slot_of[b]]
    return over, clashes


def _cost(ix: _Index, st: _State) -> int:
    over, clashes = _cost_terms(ix, st)
    return sum(st.load[site][s] - ix.cap[site] for site, s in over) + len(clashes)


def _delta(ix: _Index, st: _State, moves: Sequence[tuple[int, int]]) -> int:
    change: Counter[tuple[int, int]] = Counter()
    for t, s in moves:
        change[(ix.site_of[t], st.slot_of[t])] -= 1
        change[(ix.site_of[t], s)] += 1
    d = 0
    for (site, s), c in change.items():
        if c:
            load, cap = st.load[site][s], ix.cap[site]
            d += max(0, load + c - cap) - max(0, load - cap)
    # keep-apart clashes; moves are one cadre, or two cadres swapping slots
    for t, s in moves:
        d += st.partners_in[t][s] - st.partners_in[t][st.slot_of[t]]
    if len(moves) == 2 and _pair(moves[0][0], moves[1][0]) in ix.pair_set:
        d -= 2  # each counted the other in its new slot, which the other is leaving
    return d


def _pair(a: int, b: int) -> tuple[int, int]:
    return (a, b) if a < b else (b, a)


def _moves_for(
    ix: _Index, st: _State, x: int, rng: random.Random, other_site_only: bool
) -> list[list[tuple[int, int]]]:
    """Moves of cadre ``x`` that keep its unit balanced, led apart, on duty and available."""
    u, s = ix.unit_of[x], st.slot_of[x]
    q, count = ix.q[u], st.count[u]
    out: list[list[tuple[int, int]]] = []
    for s2 in ix.avail[x]:
        if s2 == s:
            continue
        free_lead = st.leader_at[u][s2] == -1
        if (
            count[s] == q + 1
            and count[s2] == q
            and (free_lead or not ix.leader[x])
            and all(
                sum(count[g] for g in grp) + 1 - int(s in grp) <= ix.limit[u]
                for grp in ix.groups_of_slot[s2]
            )
        ):
            out.append([(x, s2)])
        ys = [
            y
            for y in sorted(st.in_batch[u][s2])
            if s in ix.avail[y]
            and (
                ix.leader[x] == ix.leader[y]
                or (ix.leader[x] and free_lead)
                or (ix.leader[y] and st.leader_at[u][s] == -1)
            )
            and not (other_site_only and ix.site_of[y] == ix.site_of[x])
        ]
        for y in rng.sample(ys, min(len(ys), 8)):
            out.append([(x, s2), (y, s)])
    return out


def _repair(ix: _Index, st: _State) -> tuple[list[int], int]:
    rng = random.Random(_REPAIR_SEED)
    cost = _cost(ix, st)
    best, best_cost = list(st.slot_of), cost
    tabu: dict[int, int] = {}
    last_gain = 0
    for it in range(min(20_000, 300 + 30 * cost)):
        if cost == 0 or it - last_gain > _REPAIR_PATIENCE:
            break
        over, clashes = _cost_terms(ix, st)
        pick = rng.randrange(len(over) + len(clashes))
        if pick < len(over):
            site, s = over[pick]
            pool = sorted(st.at_site[site][s])
            xs, other_site = rng.sample(pool, min(len(pool), 12)), True
        else:
            xs, other_site = list(clashes[pick - len(over)]), False
        candidates = [m for x in xs for m in _moves_for(ix, st, x, rng, other_site)]
        scored: list[tuple[int, list[tuple[int, int]]]] = []
        for m in candidates:
            d = _delta(ix, st, m)
            if cost + d < best_cost or all(tabu.get(t, -1) < it for t, _ in m):
                scored.append((d, m))
        if not scored:
            continue
        low = min(d for d, _ in scored)
        d, chosen = rng.choice([(d, m) for d, m in scored if d == low])
        st.apply(chosen)
        cost += d
        for t, _ in chosen:
            tabu[t] = it + 7 + rng.randrange(4)
        if cost < best_cost:
            best, best_cost, last_gain = list(st.slot_of), cost, it
    return best, best_cost


def _worst(ix: _Index, assignment: list[int], proven: bool) -> Violation:
    """The refusal for the best plan found: its first site overload, else keep-apart clash."""
    st = _State(ix)
    for t, s in enumerate(assignment):
        st.put(t, s)
    over, clashes = _cost_terms(ix, st)
    lead = "No batch plan satisfies every rule" if proven else "No batch plan was found"
    if over:
        site, s = max(over, key=lambda o: (st.load[o[0]][o[1]] - ix.cap[o[0]], -o[0], -o[1]))
        who = sorted(st.at_site[site][s])
        name, slot = ix.site_ids[site], ix.slot_ids[s]
        msg = (
            f"{lead}: even the best plan seats {st.load[site][s]} at site {name} in slot "
            f"{slot}, over its {ix.cap[site]} seats (units {', '.join(ix.units_of(who))}). "
            "Raise the site's capacity, add a slot or move trainees to another site."
        )
        return _v(Rule.SITE_CAPACITY, msg, None, slots=[slot], site=name, units=ix.units_of(who))
    a, b = clashes[0]
    units = ix.units_of([a, b])
    msg = (
        f"{lead}: even the best plan puts {ix.tids[a]} and {ix.tids[b]} (units "
        f"{', '.join(units)}) in the same batch. Drop the keep-apart pair or add a slot."
    )
    return _v(
        Rule.KEEP_APART,
        msg,
        None,
        slots=[ix.slot_ids[st.slot_of[a]]],
        t=ix.names([a, b]),
        units=units,
    )


# --- step 4: exact search for small rosters --------------------------------------------------


class _OutOfBudget(Exception):
    pass


def _exact_search(ix: _Index, hint: list[int]) -> tuple[list[int] | None, bool]:
    """Depth-first search over all rules: (plan or None, whether the search was complete)."""
    order = sorted(
        range(ix.n),
        key=lambda t: (not ix.leader[t], len(ix.avail[t]), -len(ix.partners[t]), t),
    )
    slot_of = [-1] * ix.n
    count = [[0] * ix.k for _ in ix.unit_ids]
    plus_used = [0] * len(ix.unit_ids)
    left = list(ix.size)
    leader_at = [[False] * ix.k for _ in ix.unit_ids]
    load = [[0] * ix.k for _ in ix.site_ids]
    nodes = 0

    def fits(t: int, s: int) -> bool:
        u, c = ix.unit_of[t], count[ix.unit_of[t]][s]
        if c > ix.q[u] or (c == ix.q[u] and plus_used[u] >= ix.r[u]):
            return False
        if ix.leader[t] and leader_at[u][s]:
            return False
        if load[ix.site_of[t]][s] >= ix.cap[ix.site_of[t]]:
            return False
        if any(slot_of[p] == s for p in ix.partners[t]):
            return False
        return all(sum(count[u][g] for g in grp) < ix.limit[u] for grp in ix.groups_of_slot[s])

    def place(t: int, s: int, sign: int) -> None:
        u = ix.unit_of[t]
        if sign > 0 and count[u][s] == ix.q[u]:
            plus_used[u] += 1
        count[u][s] += sign
        if sign < 0 and count[u][s] == ix.q[u]:
            plus_used[u] -= 1
        left[u] -= sign
        load[ix.site_of[t]][s] += sign
        if ix.leader[t]:
            leader_at[u][s] = sign > 0
        slot_of[t] = s if sign > 0 else -1

    def search(i: int) -> bool:
        nonlocal nodes
        if i == len(order):
            return True
        nodes += 1
        if nodes > _EXACT_NODE_BUDGET:
            raise _OutOfBudget
        t = order[i]
        u = ix.unit_of[t]
        for s in sorted(ix.avail[t], key=lambda s: (s != hint[t], s)):
            if not fits(t, s):
                continue
            place(t, s, 1)
            short = sum(max(0, ix.q[u] - c) for c in count[u])
            if short <= left[u] and search(i + 1):
                return True
            place(t, s, -1)
        return False

    try:
        return (list(slot_of), True) if search(0) else (None, True)
    except _OutOfBudget:
        return None, False
