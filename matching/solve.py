"""`solve(problem)`: the plan, its proven bounds, and a reason for every woman left out.

Design (figures from `python -m bench.matching` on this 2-core machine):

1. Candidates (rules 1–6, minus the shelters in her `avoid_shelters`) are computed in
   bulk with numpy (`matching.candidates`).
2. The lexicographic objective has two integer arc costs: level 1 is −weight; level 2
   is km·M − keep (given a previous plan, M = its placements + 1 and keep = 1 on the
   arcs it used, so among equal km the old placement stays). Folded into one,
   level 2 + level 1·BIG with BIG above any plan's level 2, a smaller cost is a better
   plan.
3. Rule 7 is what makes it hard. Its cliques are rows of the LP relaxation
   (`matching.master`), solved over her nearest shelters and the arcs of the
   weight-only min-cost flow (`matching.flow`, ~0.3 s at state size, which took 1–5 s
   off the LPs and MIPs after them at contacts 0.6–0.9) and grown by pricing in numpy
   over all arcs, one level at a time: first the weight alone (GLOP), then the km on
   the optimal face of the weight LP (HiGHS, which re-solves after a batch of columns
   without re-factorising: the distance LP 2–5× faster at contacts 0.6–0.9), tightened
   by rounds of zero-half cuts (`matching.cuts`, each round priced again): at beds 0.6 ×
   demand, contacts 0.9 they raise it from 38.5 to 6 km below the optimum, so the MIP
   that proves the optimum shrinks from 53,391 arcs to 10,207. (One LP
   on the folded cost was ~9× slower: costs ~1e7 that must resolve to 1 km.) The two
   dual vectors, combined as BIG·y₁ + y₂, certify in numpy over all arcs a lower bound
   on the folded cost and every arc's reduced cost, whatever the LP solvers' accuracy.
4. The distance LP is rounded greedily into a plan (`matching.greedy`), then repaired
   by a small MIP (`_repair`): the LP's whole placements held, the women it leaves
   fractional or out placed over their arcs of small reduced cost (or, where that
   cannot keep the weight, holding only what the plan and the LP share: RINS). (A
   repair of the weight LP's rounding before the distance LP took 1–6 s at contacts
   0.6–0.9 and gave the MIPs after it nothing the distance LP's rounding does not.) With
   gap = plan − bound,
   no cheaper plan uses an arc whose reduced cost is ≥ gap. An exact MIP
   (`master.mip`) then runs on the arcs below τ: τ = gap + ½ at once when that is at
   most MIP_ARCS arcs (a proof); else τ = 2 km first (finds the weight the LP
   promises, where it exists), then gap + ½ if small enough, else 4τ (a better plan, a
   smaller gap). Once the plan places the weight bound, the MIP keeps that weight and
   minimises km alone; on that level the MIP that proves the plan, and any wider than
   HIGHS_ARCS, go to HiGHS, told to look only below the plan's km (a cutoff, which
   halved the 27,546-arc proof at beds 1.2 × demand, contacts 0.6), the others to
   OR-Tools' SCIP, warm-started; and they may grow to PROOF_ARCS. Every such MIP holds
   full the rows that the duals show every plan as good as the current one fills
   (`master.tight_rows`, reduced-cost fixing of the rows' slacks), which halved the
   distance MIPs at contacts 0.6–0.9.
   Where rule 7 leaves the weight LP fractional, its weight may be out of reach, and
   reduced-cost fixing keeps every arc (most have reduced cost 0). So when the
   repaired plan misses the weight LP's bound, the weight is bounded by a MIP over
   only the rows the weight LP prices (`master.priced_rows`: dropping rows relaxes,
   women with an arc touching none of them are placed for free; 23,372 columns,
   HiGHS 0.7 s where SCIP took 2.7 s, at beds 1.2 × demand, contacts 0.6, where it
   proved 6775 < the LP's 6776), and the distance LP runs again over plans placing
   that weight (a weight-floor row; every column free, the cuts kept: they hold for
   every plan), from the face's optimum, then step 4 again.
5. Above LARGE_ARCS (national size) the weight-only flow gives way to the folded-cost
   min-cost flow (`matching.flow`, rule 7 only where a network holds it; ~14 s for
   3.9 M arcs): the optimum of a relaxation on both levels, so its weight is a bound
   and, for a plan placing that weight, its km too; its plan breaks rule 7 in ~500
   cliques but its km is 0.03 % below the optimum's. Its arcs alone are the weight
   LP's first columns (16,784 at national size, priced up to 208,861, ~8 s), and the
   distance LP carries on from the weight LP's solution and the flow's arcs only
   (17,788 columns, priced up to 234,729, ~16 s; started from all 208,861 it took
   23 s, its first solve alone 16–28 s). Steps 3–4 then prove the optimum on both
   levels: 56,466 and 25,429,304 km in 44–47 s (52–56 s on a slower machine), where
   splitting the country into regions re-solved around the flow's broken cliques ended
   at 56,463 and 25,441,932 km, unproven. Above WHOLE_ARCS the regions remain (`_large`).
6. If time runs out first, the plan is `feasible` with the certified bounds.

Plan fields beyond the spec (listed in `haven match --help`): `bound.total_km`, a lower
bound on the km of any plan placing `bound.placed_weight`, given when the plan places
that much; `alternatives` per assignment; `moved`; `cut_by_time_limit`. Each unplaced
woman's detail names what stopped each of her nearest shelters (`matching.explain`).

State-size shape sweep (300 shelters × 3000 women, beds 0.3–1.5× demand, 10–90 % of
women carrying contact tokens; `python -m bench.matching --sweep`): all 16 shapes proven
optimal within 60 s, 13 within 10 s (beds 1.2 × demand, contacts 0.6 at 9.6–10.5 s);
the slowest, contacts 0.9 with beds 0.6 and 1.2 × demand, in 22 and 19 s (60 s and
unproven before the cuts); contacts ≤ 0.3 in 1.1–2.5 s. On those two slowest shapes the
HiGHS baseline gave no answer in 660 s (0.6 × demand) and stopped at 549 s short of the
optimum on both levels (1.2 × demand). See that command's docstring for the table and
what is left.

Reproducibility: every budget above is a count (PRICING_ROUNDS per level, MIP_ARCS,
`master.NODE_LIMIT` nodes per MIP, the same for every region), never a share of the
clock; GLOP, single-threaded HiGHS (LP and MIP) and the min-cost flow are
deterministic; so the same problem and options give the same plan bit for bit on the
same machine (`solve_seconds` aside). The wall-clock `time_limit` is only a safety
net: if it ends a step, the plan says `cut_by_time_limit: true` and a re-run may differ.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from matching import candidates, conflicts, cuts, explain, flow, greedy, master
from matching.candidates import Bools, Floats, Ints
from schema.problem import (
    Assignment,
    Bound,
    Objective,
    Plan,
    Problem,
    Reason,
    Request,
    Unplaced,
)

NEAREST = 8
"""Columns per woman in the first LP: her nearest candidate shelters."""
PRICED = 5
"""Columns added per woman and pricing round: her most negative reduced costs."""
PRICING_ROUNDS = 25
"""Pricing rounds per level at most (a count, not a share of the clock, so that two runs
price the same columns); the LP usually converges in 3–7."""
PRICE_TOLERANCE = 1e-6
"""A reduced cost below minus this is worth a column."""
REPAIR_TAU = 8
"""The repair MIP gives the women the LP leaves open their arcs below this reduced cost."""
TAU_START = 2
"""The first MIP takes the arcs whose reduced cost is below this many distance units."""
TAU_GROWTH = 4
"""…and each next one this many times as wide, until it proves the plan or is too big."""
MIP_ARCS = 30_000
"""The largest restricted MIP (HiGHS proved 32,867 arcs in 15 s at state size, beds 0.6 ×
demand, contacts 0.6; SCIP had taken ~70 s on 50,000)."""
PROOF_AT_ONCE = 12_000
"""The first distance MIP is the proof itself only when that is at most this many arcs;
otherwise a narrow one (TAU_START) looks for a better plan first, and the proof after it
is narrower: at beds 0.6 × demand, contacts 0.9, the repaired plan sat 19 km above the
bound (20,592 arcs, 11–13 s to prove), a 5,658-arc MIP found the optimum 6 km above it
in 4 s, and its proof took 10,207 arcs and 3.8 s."""
PROOF_ARCS = 80_000
"""The largest MIP on the distance level: HiGHS, told to look only below the plan's km
(`master.mip`'s `below`), proved 52,094 arcs in 9 s and 67,715 in 33 s at state size
(beds 1.5 × demand, contacts 0.6 and 0.9)."""
LARGE_ARCS = 1_500_000
"""Above this many candidate arcs, the LP starts from the folded-cost flow (step 5)."""
WHOLE_ARCS = 6_000_000
"""Above this many, regions replace the LP over every arc (national size: 3.9 M arcs,
proven optimal in 44 s; the weight LP alone took 25–90 s at beds 1.2 × demand, contacts
0.6 and beds 0.6 × demand, contacts 0.9 there)."""
HIGHS_ARCS = 10_000
"""Distance-level MIPs wider than this go to HiGHS, narrower ones that do not prove the
plan to SCIP (measured at state size, beds 0.6 × demand, contacts 0.6: 6,222 arcs SCIP
6.2 s, HiGHS 15 s; 14,417 arcs SCIP 29 s, HiGHS 8 s; 19,494 arcs HiGHS 5.7 s, SCIP cut
at 35 s)."""
CUT_ROUNDS = 10
"""Rounds of zero-half cuts on the distance LP at most (a count: reproducible)."""
CUT_GAIN = 1
"""A round of cuts that raises the distance LP by less than this many km is the last."""
REGION_SHELTERS = 75
"""Shelters per region on the large path."""
FLOW_SECONDS_PER_ARC = 4e-6
"""The flow relaxation's time per arc, generously (~10 s for 3.9 M arcs, national size)."""


@dataclass(frozen=True)
class Costs:
    """The two objective levels as integer arc costs, and their fold into one."""

    weight: Ints
    """−weight of the request: level 1, to minimise."""
    km: Ints
    """km·M − keep: level 2 (M > the number of kept placements, keep ∈ {0, 1})."""
    big: int
    """Above any plan's total level-2 cost."""
    m: int

    @property
    def folded(self) -> Ints:
        return np.asarray(self.km + self.weight * self.big, dtype=np.int64)

    def part(self, arcs: Ints) -> Costs:
        return Costs(self.weight[arcs], self.km[arcs], self.big, self.m)


@dataclass(frozen=True)
class Outcome:
    chosen: Bools
    proven: bool
    """Both levels proven optimal."""
    weight_bound: int
    km_bound: int | None
    """A lower bound on the total km of any plan placing `weight_bound`."""


Progress = Callable[[str], None]
"""Told each phase as it starts, e.g. "LP, weight level" or "MIP on 6,231 arcs, gap 0.2%"."""


def solve(
    problem: Problem,
    *,
    time_limit: float = 60.0,
    workers: int = 2,
    previous: Plan | None = None,
    progress: Progress | None = None,
) -> Plan:
    """Solve to the contract; `previous` keeps its placements when nothing forces a change."""
    started = time.monotonic()
    clock = _Clock(started + time_limit, progress)
    clock.say("candidate shelters (rules 1–6)")
    cands = candidates.build(problem)
    cl = conflicts.cliques(cands, conflicts.groups(problem))
    n_r = len(problem.requests)
    weight = np.array([r.weight for r in problem.requests], dtype=np.int64)

    keep = np.zeros(len(cands.req), dtype=np.int64)
    kept_before: dict[str, str] = {}
    if previous is not None:
        kept_before = {a.request: a.shelter for a in previous.assignments}
        s_index = {s.id: j for j, s in enumerate(problem.shelters)}
        prev = np.full(n_r, -1, dtype=np.int64)
        for i, r in enumerate(problem.requests):
            prev[i] = s_index.get(kept_before.get(r.id, ""), -1)
        keep = (prev[cands.req] == cands.shelter).astype(np.int64)
    m = int(keep.sum()) + 1
    max_km = np.zeros(n_r, dtype=np.int64)
    np.maximum.at(max_km, cands.req, cands.km)
    costs = Costs(
        weight=-weight[cands.req],
        km=cands.km * m - keep,
        big=m * int(max_km.sum()) + m,
        m=m,
    )

    if len(cands.req) == 0:
        outcome = Outcome(np.zeros(0, dtype=bool), True, 0, 0)
    elif len(cands.req) > LARGE_ARCS:
        outcome = _large(problem, cands, cl, costs, clock, workers)
    else:
        outcome = _exact(cands, cl, costs, keep > 0, clock)
    return _plan(problem, cands, cl, outcome, weight, kept_before, started, clock)


class _Clock:
    """The wall-clock deadline, and whether it cut any step short.

    Every budget inside the solver is a count (pricing rounds, MIP nodes), so a run the
    clock never cuts is reproducible bit for bit; one it cuts says so in the plan.
    """

    def __init__(self, deadline: float, progress: Progress | None = None) -> None:
        self.deadline = deadline
        self.cut = False
        self.progress = progress

    def say(self, phase: str) -> None:
        """Tell the caller's progress display which phase starts (a no-op without one)."""
        if self.progress is not None:
            self.progress(phase)

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def expired(self) -> bool:
        """True once the deadline has passed, and remembered as a cut."""
        if self.left() <= 0:
            self.cut = True
        return self.cut


def _exact(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    seed: Bools,
    clock: _Clock,
    folded_flow: Bools | None = None,
) -> Outcome:
    """Steps 3–5 on these arcs; `folded_flow`, the folded-cost flow's plan when the
    caller has it (step 5), replaces the weight LP's first columns."""
    folded = costs.folded
    by_cost = np.lexsort((np.arange(len(folded)), folded))
    everywhere = np.ones(len(cands.req), dtype=bool)
    # Step 3, level 1: the weight LP over a few columns per woman, grown by pricing. Its
    # first columns: her nearest shelters, and the arcs of the weight-only flow (rules
    # 1–6, rule 7 as far as the network holds it), near the LP's optimum already; or, at
    # national size, the folded flow's arcs alone.
    relaxation = master.Relaxation(cands, cl, costs.weight)
    if folded_flow is None:
        clock.say("min-cost flow on the weight (the LP's first columns)")
        flow_plan, _ = flow.relax(cands, cl, costs.weight, everywhere)
        cols = _per_request(cands.req, np.lexsort((cands.shelter, cands.km, cands.req)), NEAREST)
        relaxation.add(np.nonzero(cols | flow_plan | seed)[0])
    else:
        relaxation.add(np.nonzero(folded_flow | seed)[0])
    clock.say("LP, weight level")
    first = _price(relaxation, cands, cl, costs.weight, everywhere, clock)
    # Every woman with a candidate placed: the bound that needs no LP. An LP stopped
    # early by the clock can certify less than this, so the smaller one is kept.
    everyone = int(-np.minimum.reduceat(costs.weight, _starts(cands.req)).sum())
    # The plan when the clock leaves no time for better: the folded flow's as far as rule
    # 7 lets it stand (near both optima at national size), else the cheapest arcs first.
    flow_floor = (
        None if folded_flow is None else greedy.take(cands, cl, _first(folded_flow, by_cost))
    )
    if first is None:  # not even one LP in time
        fallback = greedy.take(cands, cl, by_cost) if flow_floor is None else flow_floor
        return Outcome(fallback, False, everyone, None)
    duals1, x = first
    lower1, reduced1 = master.bound(cands, cl, costs.weight, duals1)
    lp_weight = min(everyone, int(np.floor(-lower1 + 1e-6)))
    weight_bound = lp_weight
    chosen = _round(cands, cl, relaxation, x, folded, by_cost)
    if flow_floor is not None and int(folded[flow_floor].sum()) < int(folded[chosen].sum()):
        chosen = flow_floor
    # Level 2: the distance LP on the optimal face of level 1, then a plan from it.
    # The distance LP starts from the weight LP's solution and, given the folded flow,
    # from its arcs alone (see step 5), the other columns priced in again as needed.
    face = relaxation.next_level(
        duals1, reduced1, costs.km, None if folded_flow is None else (x > 0) | folded_flow
    )
    clock.say(f"LP, km level (weight bound {weight_bound})")
    second = _cut(relaxation, cands, cl, costs, face, clock)
    big = costs.big
    combined = master.Duals(duals1.u * big, duals1.v * big, duals1.mu * big)
    if second is not None:
        duals2, x = second
        combined = master.Duals(
            combined.u + duals2.u,
            combined.v + duals2.v,
            combined.mu + duals2.mu,
            eta=duals2.eta,
            cuts=duals2.cuts,
        )
    # Certified over every arc, whatever the LP solvers' accuracy: the folded bound and
    # each arc's reduced cost (≥ 0 up to rounding once pricing has converged).
    lower, reduced = master.bound(cands, cl, folded, combined)
    weight_bound = min(weight_bound, (big - 1 - int(np.ceil(lower - 1e-3))) // big)
    row_duals: master.Duals | None = combined
    chosen = _repair_from(
        cands, cl, costs, relaxation, by_cost, chosen, x, reduced, weight_bound, clock
    )
    floor: tuple[int, str] | None = None
    if -lower1 > lp_weight + 1e-3:
        # The weight LP's optimum is fractional, so no plan is on its face: the face's
        # distance bound says nothing about plans placing lp_weight.
        floor = (lp_weight, f"the weight LP's {-lower1:,.2f} rounded down")
    if int(-costs.weight[chosen].sum()) < weight_bound and not clock.expired():
        # Is the LP's weight reachable? The MIP on its priced rows alone may say no.
        clock.say(f"MIP on the rows the weight LP prices (weight bound {weight_bound})")
        priced = master.priced_rows(cands, cl, costs.weight, duals1, time_limit=clock.left())
        if priced is not None:
            proven_weight, guide, result = priced
            clock.cut |= result.timed_out
            order = np.concatenate([np.nonzero(guide)[0], np.nonzero(chosen)[0], by_cost])
            guided = greedy.take(cands, cl, order)
            if int(folded[guided].sum()) < int(folded[chosen].sum()):
                chosen = guided
            if proven_weight < weight_bound:
                floor = (proven_weight, "by a MIP")
    if floor is not None:
        # No plan reaches the LP's weight: the distance LP over plans placing the
        # proven bound, every column free, started from the face's optimum (a solution
        # here too, and near this LP's). Its bound, folded, holds for every plan.
        weight_bound, why = floor
        relaxation.leave_face()
        relaxation.weight_floor(-costs.weight, weight_bound, costs.km)
        clock.say(f"LP, km level (weight proven ≤ {weight_bound}: {why})")
        second = _cut(relaxation, cands, cl, costs, everywhere, clock)
        row_duals = None
        if second is None:
            lower_km, reduced = 0.0, np.zeros(len(folded))
        else:
            duals2, x = second
            lower_km, reduced = master.bound(cands, cl, costs.km, duals2)
            row_duals = duals2
        lower = lower_km - weight_bound * costs.big
        chosen = _repair_from(
            cands, cl, costs, relaxation, by_cost, chosen, x, reduced, weight_bound, clock
        )
    chosen, proven = _settle(
        cands, cl, costs, chosen, lower, reduced, weight_bound, clock, row_duals
    )
    if not proven:  # a MIP over some arcs can leave a bed that an arc outside them fills
        chosen = greedy.take(cands, cl, by_cost, chosen)
    placed = int(-costs.weight[chosen].sum())
    km_bound = None
    if placed == weight_bound:
        level2 = lower + weight_bound * costs.big
        km_bound = int(np.ceil(level2 / costs.m - 1e-3))
    return Outcome(chosen, proven, weight_bound, km_bound)


def _repair_from(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    relaxation: master.Relaxation,
    by_cost: Ints,
    chosen: Bools,
    x: Floats,
    reduced: Floats,
    weight_bound: int,
    clock: _Clock,
) -> Bools:
    """Step 4: the LP rounded into a plan (kept if better than `chosen`), then repaired
    over the arcs it leaves open."""
    rounded = _round(cands, cl, relaxation, x, costs.folded, by_cost)
    if int(costs.folded[rounded].sum()) < int(costs.folded[chosen].sum()):
        chosen = rounded
    offer = (reduced < REPAIR_TAU * costs.m) | (x > 1e-6)
    return _repair(cands, cl, costs, chosen, x, offer, weight_bound, clock)


def _repair(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    chosen: Bools,
    x: Floats,
    offer: Bools,
    weight_bound: int,
    clock: _Clock,
) -> Bools:
    """A better plan from a small MIP: the LP's whole placements held, the women it
    leaves fractional or out placed over the arcs in `offer`.

    A plan that places the weight bound already is searched for fewer km at that
    weight; if the LP's whole placements leave no room for that weight, a second MIP
    holds only the placements the plan shares with the LP and offers the others the
    LP's arcs and their own (so that the plan stays a solution: RINS).
    """
    folded = costs.folded
    placed = int(-costs.weight[chosen].sum())
    level2 = placed >= weight_bound
    whole = x > 1 - 1e-6
    holds = [(whole, offer)]
    if level2:
        holds.append((whole & chosen, (x > 1e-6) | chosen))
    for held, offered in holds:
        settled = np.zeros(len(cands.n_bed), dtype=bool)
        settled[cands.req[held]] = True
        near = ~settled[cands.req] & offered
        part = np.nonzero(held | near | chosen)[0]
        if clock.expired() or not near.any() or len(part) > LARGE_ARCS:
            return chosen
        clock.say(f"MIP on the {int(near.sum()):,} arcs the LP leaves open")
        result = master.mip(
            cands,
            cl,
            costs.km if level2 else folded,
            part,
            chosen[part],
            time_limit=clock.left(),
            min_weight=(-costs.weight, placed) if level2 else None,
            fixed=held[part],
        )
        clock.cut |= result.timed_out
        better = np.zeros_like(chosen)
        better[part[result.chosen]] = True
        if result.chosen.any() and int(folded[better].sum()) < int(folded[chosen].sum()):
            return better
    return chosen


def _round(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    relaxation: master.Relaxation,
    x: Floats,
    folded: Ints,
    by_cost: Ints,
) -> Bools:
    """A plan from an LP solution: its columns by value, then every arc by cost."""
    in_lp = np.nonzero(relaxation.column >= 0)[0]
    order = in_lp[np.lexsort((in_lp, folded[in_lp], -x[in_lp]))]
    return greedy.take(cands, cl, by_cost, greedy.take(cands, cl, order))


def _price(
    relaxation: master.Relaxation,
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    cost: Ints,
    allowed: Bools,
    clock: _Clock,
) -> tuple[master.Duals, Floats] | None:
    """Re-solve and add the most negative `allowed` arcs until none is left: the last
    duals and solution, or None if the LP never finished in time."""
    last = None
    for _ in range(PRICING_ROUNDS):
        solved = relaxation.solve(clock.left())
        if solved is None:
            clock.cut |= relaxation.timed_out or clock.left() <= 0
            break
        last = solved
        reduced = master.reduced_costs(cands, cl, cost, solved[0])
        negative = np.nonzero(allowed & (reduced < -PRICE_TOLERANCE) & (relaxation.column < 0))[0]
        if not len(negative) or clock.expired():
            break
        # (Sorting only the negative arcs: over all 3.9 M at national size, 0.4 s a round.)
        # Among equal reduced costs (the weight level has many), the nearest first.
        order = np.lexsort((negative, cands.km[negative], reduced[negative], cands.req[negative]))
        by_reduced = negative[order]
        relaxation.add(np.nonzero(_per_request(cands.req, by_reduced, PRICED))[0])
    return last


def _cut(
    relaxation: master.Relaxation,
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    allowed: Bools,
    clock: _Clock,
) -> tuple[master.Duals, Floats] | None:
    """The distance LP priced, then tightened by rounds of zero-half cuts (`matching.cuts`),
    each priced again, until a round finds none or raises the LP by under CUT_GAIN km."""
    solved = _price(relaxation, cands, cl, costs.km, allowed, clock)
    if solved is None:
        return None
    value = float(costs.km @ solved[1])
    for _ in range(CUT_ROUNDS):
        if clock.expired():
            break
        found = cuts.zero_half(cands, cl, solved[1], relaxation.cut_keys)
        if not len(found):
            break
        clock.say(f"LP, km level, with {len(relaxation.cuts) + len(found):,} zero-half cuts")
        relaxation.add_cuts(found)
        again = _price(relaxation, cands, cl, costs.km, allowed, clock)
        if again is None:
            relaxation.drop_cuts(len(found))
            break
        solved, before = again, value
        value = float(costs.km @ solved[1])
        if value - before < CUT_GAIN * costs.m:
            break
    return solved


def _settle(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    chosen: Bools,
    lower: float,
    reduced: Floats,
    weight_bound: int,
    clock: _Clock,
    duals: master.Duals | None = None,
) -> tuple[Bools, bool]:
    """Step 5: exact MIPs over the arcs whose reduced cost is below τ, τ widening.

    A plan cheaper than `value` uses only arcs with reduced cost below value − lower, so
    a MIP solved to optimality over the arcs below τ ≥ value − lower proves its plan.
    Once the plan places `weight_bound`, the MIP keeps that weight and minimises the
    distance level alone. The rows that `duals` (those of `lower`) show every plan as
    good as the current one fills are held full (`master.tight_rows`).
    """
    folded = costs.folded
    value = int(folded[chosen].sum())
    tau = float(TAU_START * costs.m)
    need = value - lower + 0.5
    if int((reduced < need).sum()) <= PROOF_AT_ONCE:
        tau = need  # the MIP that proves it, at once, when it is small
    while value - lower >= 0.5 and not clock.expired():
        placed = int(-costs.weight[chosen].sum())
        level2 = placed >= weight_bound
        part = np.nonzero((reduced < tau) | chosen)[0]
        need = value - lower + 0.5
        if len(part) > (PROOF_ARCS if level2 else MIP_ARCS):
            break
        gap = f"km gap ≤ {(value - lower) / costs.m:,.0f}" if level2 else "weight first"
        clock.say(f"MIP on {len(part):,} arcs: weight {placed} of ≤ {weight_bound}, {gap}")
        # On the distance level, HiGHS closes a MIP that proves the plan, or a wide one,
        # at the root, where SCIP stalls in its root LP; SCIP, warm-started, is quicker
        # on the narrow ones that look for a better plan.
        engine = "highs" if level2 and (len(part) > HIGHS_ARCS or tau >= need) else "scip"
        # (On the distance level only: there `lower` bounds every plan the MIP may
        # choose, including under the weight floor of the LP that gave `duals`.)
        priced = duals if level2 else None
        result = master.mip(
            cands,
            cl,
            costs.km if level2 else folded,
            part,
            chosen[part],
            time_limit=clock.left(),
            min_weight=(-costs.weight, placed) if level2 else None,
            engine=engine,
            below=float(costs.km[part][chosen[part]].sum()) - 0.5 if level2 else None,
            tight=master.tight_rows(priced, value - lower) if priced is not None else None,
            cuts=(priced, value - lower) if priced is not None and engine == "highs" else None,
        )
        clock.cut |= result.timed_out
        better = np.zeros_like(chosen)
        better[part[result.chosen]] = True
        if result.chosen.any() and int(folded[better].sum()) < value:
            chosen, value = better, int(folded[better].sum())
        if level2 and result.optimal and value - lower < tau:
            return chosen, True
        need = value - lower + 0.5
        if tau >= need or not result.optimal:
            break  # the widest MIP that could prove it did not
        # Straight to the MIP that proves it if that one is small enough; otherwise a
        # wider one for a better plan, which narrows what the proof needs (on the
        # distance level up to PROOF_ARCS, where HiGHS takes them).
        wider = tau * TAU_GROWTH
        small_proof = int((reduced < need).sum()) <= MIP_ARCS
        too_wide = int(((reduced < wider) | chosen).sum()) > (PROOF_ARCS if level2 else MIP_ARCS)
        tau = need if small_proof or too_wide else wider
    return chosen, value - lower < 0.5


def _first(arcs: Bools, by_cost: Ints) -> Ints:
    """Every arc by cost, those in `arcs` first."""
    return np.concatenate([by_cost[arcs[by_cost]], by_cost])


def _starts(req: Ints) -> Ints:
    """Index of each request's first arc, for requests that have arcs (sorted by request)."""
    new = np.ones(len(req), dtype=bool)
    new[1:] = req[1:] != req[:-1]
    return np.nonzero(new)[0]


def _large(
    problem: Problem,
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    costs: Costs,
    clock: _Clock,
    workers: int,
) -> Outcome:
    """National size: the folded-cost flow relaxation, then steps 3–4 over every arc
    started from its arcs (up to WHOLE_ARCS), else rule 7 settled by region.

    The flow (`matching.flow`: rules 1–6 exactly, rule 7 where a network holds it) with
    the folded cost is optimal for both levels of its relaxation, so its optimum bounds
    both; its plan breaks rule 7 in a few hundred cliques. Above WHOLE_ARCS, where the
    LP over every arc would not end in time, shelters are cut into
    regions of about REGION_SHELTERS; a region where the flow breaks no clique keeps
    the flow's placements (optimal for that region alone). Each other region is solved
    by `_exact` over the women the flow placed there (and the unplaced whose nearest
    candidate is there) and its own shelters, `workers` regions at a time (GLOP and HiGHS
    release the GIL; each region's answer depends only on its data, so the plan does
    not depend on which thread ran it). Rule 7 lives within one shelter, so the
    regional plans together keep every rule.

    Settling a region can leave out a woman the flow placed (rule 7 pushes her out of a
    full region). One more `_exact` runs over every shelter where such a woman has a
    candidate and every woman placed there, so chains of moves across region borders
    can take her back. A last greedy pass offers beds left anywhere.
    """
    folded = costs.folded
    everyone = int(-np.minimum.reduceat(costs.weight, _starts(cands.req)).sum())
    by_cost = np.lexsort((np.arange(len(folded)), folded))
    # The flow cannot be interrupted: it runs only if it should end in time.
    if clock.left() <= FLOW_SECONDS_PER_ARC * len(cands.req):
        clock.cut = True
        return Outcome(greedy.take(cands, cl, by_cost), False, everyone, None)
    clock.say("min-cost flow over all arcs (rule 7 relaxed)")
    relaxed, lower = flow.relax(cands, cl, folded, np.ones(len(cands.req), dtype=bool))
    weight_bound = min(everyone, (costs.big - 1 - lower) // costs.big)
    km_bound = int(np.ceil((lower + weight_bound * costs.big) / costs.m - 1e-3))

    if len(cands.req) <= WHOLE_ARCS:
        # Steps 3–4 over every arc, the LP started from the flow's arcs.
        outcome = _exact(cands, cl, costs, np.zeros(len(cands.req), dtype=bool), clock, relaxed)
        if outcome.weight_bound < weight_bound:
            return outcome
        # The flow's weight bound is as tight (or the LP was cut): it bounds the km there too.
        km = km_bound
        if outcome.weight_bound == weight_bound and outcome.km_bound is not None:
            km = max(km, outcome.km_bound)
        return replace(outcome, weight_bound=weight_bound, km_bound=km)
    region = _regions(problem)
    arc_region = region[cands.shelter]
    home = np.full(len(problem.requests), -1, dtype=np.int64)
    nearest = np.lexsort((cands.km, cands.req))[::-1]
    home[cands.req[nearest]] = arc_region[nearest]
    home[cands.req[relaxed]] = arc_region[relaxed]
    dirty = np.zeros(int(region.max()) + 1, dtype=bool)
    dirty[region[cl.shelter[conflicts.violated(cl, relaxed)]]] = True
    groups = conflicts.groups(problem)

    def settle(arcs: Ints, seed: Bools) -> Bools:
        """`_exact` on these arcs alone (all of their women's places): chosen arcs.

        Unless `_exact` proves its answer, its floor, and the answer when the clock has
        run out, is the flow's plan there as far as rule 7 lets it stand (`seed` first,
        then the flow's arcs, then every arc, each by cost): a region the clock cuts
        keeps nearly all its women instead of starting again from nobody."""
        sub = replace(cands, req=cands.req[arcs], shelter=cands.shelter[arcs], km=cands.km[arcs])
        sub_cl = conflicts.cliques(sub, groups)

        def floor() -> Bools:
            by_sub_cost = np.lexsort((np.arange(len(arcs)), folded[arcs]))
            return greedy.take(sub, sub_cl, _first(relaxed[arcs], by_sub_cost), seed)

        if clock.expired():
            return floor()
        outcome = _exact(sub, sub_cl, costs.part(arcs), seed, clock)
        if outcome.proven:  # optimal here: no floor can beat it
            return outcome.chosen
        kept = floor()
        better = int(folded[arcs[outcome.chosen]].sum()) <= int(folded[arcs[kept]].sum())
        return outcome.chosen if better else kept

    parts = [
        np.nonzero((arc_region == g) & (home[cands.req] == g))[0]
        for g in np.nonzero(dirty)[0].tolist()
    ]
    chosen = relaxed & ~dirty[arc_region]
    clock.say(f"{len(parts)} regions where the flow breaks rule 7, weight bound {weight_bound}")
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for arcs, sub_chosen in zip(
            parts, pool.map(lambda a: settle(a, np.zeros(len(a), bool)), parts), strict=True
        ):
            chosen[arcs[sub_chosen]] = True

    # Women the flow placed and the regions left out: re-solve around them.
    placed = np.zeros(len(problem.requests), dtype=bool)
    placed[cands.req[chosen]] = True
    lost = np.zeros(len(problem.requests), dtype=bool)
    lost[cands.req[relaxed]] = True
    lost &= ~placed
    if lost.any():
        near = np.zeros(len(problem.shelters), dtype=bool)
        near[cands.shelter[lost[cands.req]]] = True
        women = lost.copy()
        women[cands.req[chosen & near[cands.shelter]]] = True
        arcs = np.nonzero(women[cands.req] & near[cands.shelter])[0]
        sub_chosen = settle(arcs, chosen[arcs])
        if int(folded[arcs[sub_chosen]].sum()) <= int(folded[arcs[chosen[arcs]]].sum()):
            chosen[arcs] = sub_chosen
    chosen = greedy.take(cands, cl, by_cost, chosen)
    proven = not dirty.any() and not clock.cut
    return Outcome(chosen, proven, weight_bound, km_bound)


def _regions(problem: Problem) -> np.ndarray:
    """A region per shelter: longitude bands, each cut by latitude, of similar size."""
    lat = np.array([s.lat for s in problem.shelters])
    lon = np.array([s.lon for s in problem.shelters])
    n = len(lat)
    n_regions = max(1, n // REGION_SHELTERS)
    bands = max(1, int(np.sqrt(n_regions)))
    per_band = max(1, n_regions // bands)
    region = np.zeros(n, dtype=np.int64)
    by_lon = np.lexsort((lat, lon))
    for b, band in enumerate(np.array_split(by_lon, bands)):
        by_lat = band[np.lexsort((lon[band], lat[band]))]
        for c, cell in enumerate(np.array_split(by_lat, per_band)):
            region[cell] = b * per_band + c
    return region


def _per_request(req: np.ndarray, order: np.ndarray, k: int) -> np.ndarray:
    """Mask of the first `k` arcs of each request in `order` (sorted by request first)."""
    r = req[order]
    first = np.searchsorted(r, r, side="left")
    mask = np.zeros(len(req), dtype=bool)
    mask[order[(np.arange(len(order)) - first) < k]] = True
    return mask


def _plan(
    problem: Problem,
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    outcome: Outcome,
    weight: np.ndarray,
    kept_before: dict[str, str],
    started: float,
    clock: _Clock,
) -> Plan:
    """Assemble the plan file: assignments, unplaced with reasons, totals."""
    chosen = outcome.chosen
    where = np.full(len(problem.requests), -1, dtype=np.int64)
    km = np.zeros(len(problem.requests), dtype=np.int64)
    where[cands.req[chosen]] = cands.shelter[chosen]
    km[cands.req[chosen]] = cands.km[chosen]
    assignments: list[Assignment] = []
    unplaced: list[Unplaced] = []
    explainer = explain.Explainer(problem, cands, cl, chosen)
    moved = 0
    for i, r in enumerate(problem.requests):
        j = int(where[i])
        if j >= 0:
            sid = problem.shelters[j].id
            assignments.append(
                Assignment(
                    request=r.id,
                    shelter=sid,
                    bed_type=r.bed_type,
                    km=int(km[i]),
                    alternatives=int(cands.n_safe[i]) - 1,
                )
            )
        else:
            sid = ""
            unplaced.append(_unplaced(r, cands, i, explainer))
        if r.id in kept_before and kept_before[r.id] != sid:
            moved += 1
    placed = int(weight[where >= 0].sum())
    total_km = int(km.sum())
    km_bound = outcome.km_bound if placed == outcome.weight_bound else None
    if outcome.proven:
        km_bound = total_km
    return Plan(
        version=1,
        status="optimal" if outcome.proven else "feasible",
        objective=Objective(placed_weight=placed, total_km=total_km),
        bound=Bound(
            placed_weight=max(placed, outcome.weight_bound),
            total_km=km_bound,
        ),
        assignments=assignments,
        unplaced=unplaced,
        solve_seconds=round(time.monotonic() - started, 3),
        moved=moved if kept_before else None,
        cut_by_time_limit=clock.cut,
    )


def _unplaced(
    r: Request, cands: candidates.Candidates, i: int, explainer: explain.Explainer
) -> Unplaced:
    """The first reason that holds, with the counts and, for her nearest shelters, the
    rule that stopped each (`matching.explain`)."""
    bed, elig, rng, safe = (
        int(cands.n_bed[i]),
        int(cands.n_eligible[i]),
        int(cands.n_in_range[i]),
        int(cands.n_safe[i]),
    )
    beds = f"a free {r.bed_type} bed"
    lead = f"{_n(bed, 'shelter')} with {beds}"
    reason: Reason
    if bed == 0:
        reason, detail = "no_bed_of_type", f"No shelter has {beds} right now."
    elif elig == 0:
        reason = "not_eligible"
        detail = f"{lead}, but none accepts her (rule 2)."
    elif rng == 0:
        reason = "out_of_range"
        detail = (
            f"{lead}; {elig} {_verb(elig, 'accepts', 'accept')} her, but none is within her "
            f"{r.max_km:g} km travel limit from her release point (rule 3)."
        )
    elif safe == 0:
        reason = "safety_exclusion"
        why = "rules 4–6: a flagged contact, a contact's location or a resident"
        if r.avoid_shelters:  # said only where it can apply: older plans read as before
            why += ", or a decline"
        detail = (
            f"{lead}; {rng} {_verb(rng, 'accepts', 'accept')} her within {r.max_km:g} km, "
            f"but {'it is' if rng == 1 else 'each is'} closed to her ({why})."
        )
    else:
        reason = "capacity"
        detail = (
            f"{_n(safe, 'shelter')} {_verb(safe, 'passes', 'pass')} every rule for her alone, "
            f"but {'its' if safe == 1 else 'their'} {r.bed_type} beds went to more urgent or "
            "closer placements, or to a woman she must be kept apart from (rule 7)."
        )
    nearest = explainer.nearest(i, reason)
    if nearest:
        detail += f" Nearest: {nearest}."
    return Unplaced(request=r.id, reason=reason, detail=detail)


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _verb(n: int, one: str, many: str) -> str:
    return one if n == 1 else many
