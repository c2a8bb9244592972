"""`solve(problem)`: the plan, its proven bound, and a reason for every woman left out.

Design (figures from `python -m bench.matching` on this 2-core machine):

1. Candidates (rules 1–6, minus the shelters in her `avoid_shelters`) are computed in
   bulk with numpy (`matching.candidates`).
2. The lexicographic objective is folded into one integer cost per arc,
   `km·M − keep − weight·BIG`, BIG above any plan's total `km·M`: a smaller cost is a
   larger placed weight first, then fewer km, then (given a previous plan, with
   M = its placements + 1) more placements kept.
3. Rule 7 is what makes it hard. The min-cost-flow relaxation (`matching.flow`, rule 7
   only where a network can hold it) was measured first: with skewed contact
   popularity its flow plan broke rule 7 in ~80 cliques at state size, barring and
   re-solving converged slowly and the folded-cost flow took 30 s at national size.
   The LP *with* the rule-7 cliques, though, was integral or within a few km on every
   instance. So the relaxation is that LP, solved by GLOP (warm, no presolve) over her
   nearest shelters and grown by pricing (`matching.master`); its duals certify, in
   numpy over all arcs, a lower bound and every arc's reduced cost.
4. The LP is rounded greedily into a plan (`matching.greedy`). With gap = plan − bound,
   no cheaper plan can use an arc whose reduced cost is ≥ gap: those arcs are dropped,
   and the exact OR-Tools MIP (SCIP) runs, warm-started, on what remains — the
   smallest part of the problem that can prove optimality (when the rounded plan
   already meets the bound, nothing is left to run). State size: ~6 s, proven.
5. Above LARGE_ARCS (national size) the weight bound comes from the flow relaxation
   with weight-only costs (~11 s for 3.9 M arcs), and the plan from steps 3–4 run per
   region of ~75 shelters, each woman in the region the flow placed her: rule 7 lives
   inside one shelter, so regional plans combine into a valid one. Measured gap 0.02%.
6. If time runs out first, the plan is `feasible` with the certified bound.

Reproducibility: every budget above is a count (PRICING_ROUNDS, `master.NODE_LIMIT`
nodes per MIP, the same for every region), never a share of the clock, and GLOP,
SCIP and the min-cost flow are deterministic; so the same problem and options give the
same plan bit for bit on the same machine (`solve_seconds` aside). The wall-clock
`time_limit` is only a safety net: if it ends a step, the plan says
`cut_by_time_limit: true` and a re-run may differ.
"""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from matching import candidates, conflicts, flow, greedy, master
from schema.problem import Assignment, Bound, Objective, Plan, Problem, Request, Unplaced

NEAREST = 8
"""Columns per woman in the first LP: her nearest candidate shelters."""
PRICED = 5
"""Columns added per woman and pricing round: her most negative reduced costs."""
SETTLED = 2_000
"""Pricing stops once this few arcs could still improve the plan."""
PRICING_ROUNDS = 12
"""Pricing stops after this many rounds, leaving the rest to the MIP (a count, not a
share of the clock, so that two runs price the same columns)."""
MIP_ARCS = 60_000
"""Above this many arcs the MIP runs on the priced columns only and proves nothing."""
LARGE_ARCS = 1_500_000
"""Above this many candidate arcs, the flow bound and regional solves replace step 3."""
REGION_SHELTERS = 75
"""Shelters per region on the large path."""


def solve(
    problem: Problem, *, time_limit: float = 60.0, workers: int = 2, previous: Plan | None = None
) -> Plan:
    """Solve to the contract; `previous` keeps its placements when nothing forces a change."""
    started = time.monotonic()
    deadline = started + time_limit
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
    big = m * int(max_km.sum()) + m
    cost = cands.km * m - keep - weight[cands.req] * big
    clock = _Clock(deadline)

    if len(cands.req) == 0:
        chosen = np.zeros(0, dtype=bool)
        return _plan(problem, cands, chosen, weight, True, 0, kept_before, started, clock)

    if len(cands.req) > LARGE_ARCS:
        chosen, weight_bound = _large(problem, cands, cl, cost, weight, clock, workers)
        return _plan(
            problem, cands, chosen, weight, False, weight_bound, kept_before, started, clock
        )

    chosen, proven, lower = _exact(cands, cl, cost, keep > 0, clock, workers)
    bound_cost = int(cost[chosen].sum()) if proven else int(np.ceil(lower - 1e-3))
    weight_bound = (big - 1 - bound_cost) // big
    return _plan(problem, cands, chosen, weight, proven, weight_bound, kept_before, started, clock)


class _Clock:
    """The wall-clock deadline, and whether it cut any step short.

    Every budget inside the solver is a count (pricing rounds, MIP nodes), so a run the
    clock never cuts is reproducible bit for bit; one it cuts says so in the plan.
    """

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.cut = False

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
    cost: np.ndarray,
    seed: np.ndarray,
    clock: _Clock,
    workers: int,
) -> tuple[np.ndarray, bool, float]:
    """Steps 3–5 on these arcs: the chosen arcs, whether proven optimal, the LP bound."""
    # Step 3: the LP over a few columns per woman (and the `seed` arcs), grown by pricing.
    cols = _per_request(cands.req, np.lexsort((cands.shelter, cands.km, cands.req)), NEAREST)
    cols |= seed
    relaxation = master.Relaxation(cands, cl, cost)
    relaxation.add(np.nonzero(cols)[0])
    rounds = 0
    while True:
        duals, x = relaxation.solve()
        rounds += 1
        lower, reduced = master.bound(cands, cl, cost, duals)
        # Step 4: round the LP into a plan; keep only arcs that could still improve it.
        col_idx = np.asarray(relaxation.cols, dtype=np.int64)
        order = col_idx[np.lexsort((col_idx, cost[col_idx], -x))]
        chosen = greedy.take(cands, cl, order)
        value = int(cost[chosen].sum())
        gap = value - lower
        useful = reduced < gap + 0.5
        negative = (reduced < -1e-6) & ~cols
        if (
            not negative.any()
            or useful.sum() <= SETTLED
            or rounds >= PRICING_ROUNDS
            or clock.expired()
        ):
            break
        by_reduced = np.lexsort((np.arange(len(reduced)), reduced, cands.req))
        new = _per_request(cands.req, by_reduced, PRICED) & negative
        cols |= new
        relaxation.add(np.nonzero(new)[0])

    proven = gap < 0.5  # an integral plan within float error of the bound
    if not proven and not clock.expired():
        exact = int(useful.sum()) <= MIP_ARCS
        part = np.nonzero((useful if exact else cols) | chosen)[0]
        result = master.mip(
            cands,
            cl,
            cost,
            part,
            chosen[part],
            time_limit=clock.left(),
            workers=workers,
        )
        clock.cut |= result.timed_out
        better = np.zeros_like(chosen)
        better[part[result.chosen]] = True
        if result.chosen.any() and int(cost[better].sum()) <= value:
            chosen = better
        proven = exact and result.optimal
    return chosen, proven, lower


def _large(
    problem: Problem,
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    cost: np.ndarray,
    weight: np.ndarray,
    clock: _Clock,
    workers: int,
) -> tuple[np.ndarray, int]:
    """National size: a weight bound from the flow relaxation; a plan solved by region.

    Shelters are cut into regions of about REGION_SHELTERS; each woman joins the region
    of the shelter the flow gave her (or of her nearest candidate), and each region is
    solved by `_exact` on its own arcs, with the same deterministic budgets. Rule 7 lives
    within one shelter, so the regional plans together keep every rule; a last greedy
    pass offers leftover beds across regions.
    """
    groups = conflicts.groups(problem)
    arc_weight = weight[cands.req]
    relaxed, neg_weight = flow.relax(cands, cl, -arc_weight, np.ones(len(cands.req), dtype=bool))
    region = _regions(problem)
    home = np.full(len(problem.requests), -1, dtype=np.int64)
    nearest = np.lexsort((cands.km, cands.req))
    home[cands.req[nearest[::-1]]] = region[cands.shelter[nearest[::-1]]]
    home[cands.req[relaxed]] = region[cands.shelter[relaxed]]
    arc_region = region[cands.shelter]
    inside = arc_region == home[cands.req]
    chosen = np.zeros(len(cands.req), dtype=bool)
    order = np.argsort(arc_region, kind="stable")
    bounds = np.searchsorted(arc_region[order], np.arange(region.max() + 2))
    n_regions = int(region.max()) + 1
    for g in range(n_regions):
        arcs = order[bounds[g] : bounds[g + 1]]
        arcs = np.sort(arcs[inside[arcs]])
        if len(arcs) == 0 or clock.expired():
            continue
        sub = replace(cands, req=cands.req[arcs], shelter=cands.shelter[arcs], km=cands.km[arcs])
        sub_chosen, _, _ = _exact(
            sub,
            conflicts.cliques(sub, groups),
            cost[arcs],
            np.zeros(len(arcs), bool),
            clock,
            workers,
        )
        chosen[arcs[sub_chosen]] = True
    fill = np.lexsort((np.arange(len(cost)), cost))
    return greedy.take(cands, cl, fill, chosen), -neg_weight


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
    chosen: np.ndarray,
    weight: np.ndarray,
    proven: bool,
    weight_bound: int,
    kept_before: dict[str, str],
    started: float,
    clock: _Clock,
) -> Plan:
    """Assemble the plan file: assignments, unplaced with reasons, totals."""
    where = np.full(len(problem.requests), -1, dtype=np.int64)
    km = np.zeros(len(problem.requests), dtype=np.int64)
    where[cands.req[chosen]] = cands.shelter[chosen]
    km[cands.req[chosen]] = cands.km[chosen]
    assignments: list[Assignment] = []
    unplaced: list[Unplaced] = []
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
            unplaced.append(_unplaced(r, cands, i))
        if r.id in kept_before and kept_before[r.id] != sid:
            moved += 1
    placed = int(weight[where >= 0].sum())
    return Plan(
        version=1,
        status="optimal" if proven else "feasible",
        objective=Objective(placed_weight=placed, total_km=int(km.sum())),
        bound=Bound(placed_weight=max(placed, weight_bound)),
        assignments=assignments,
        unplaced=unplaced,
        solve_seconds=round(time.monotonic() - started, 3),
        moved=moved if kept_before else None,
        cut_by_time_limit=clock.cut,
    )


def _unplaced(r: Request, cands: candidates.Candidates, i: int) -> Unplaced:
    """The first reason that holds, with the counts a planner can act on."""
    bed, elig, rng, safe = (
        int(cands.n_bed[i]),
        int(cands.n_eligible[i]),
        int(cands.n_in_range[i]),
        int(cands.n_safe[i]),
    )
    beds = f"a free {r.bed_type} bed"
    if bed == 0:
        return Unplaced(
            request=r.id, reason="no_bed_of_type", detail=f"No shelter has {beds} right now."
        )
    lead = f"{_n(bed, 'shelter')} with {beds}"
    if elig == 0:
        return Unplaced(
            request=r.id,
            reason="not_eligible",
            detail=f"{lead}, but none accepts her (rule 2: children, MAT, age, offenses, "
            "language or a needed service).",
        )
    if rng == 0:
        return Unplaced(
            request=r.id,
            reason="out_of_range",
            detail=f"{lead}; {elig} accept her, but none is within her {r.max_km:g} km "
            "travel limit from her release point (rule 3).",
        )
    if safe == 0:
        why = (
            f"each is flagged for one of her contacts, within {r.avoid_km:g} km of a "
            "contact's last known location, or houses someone she must be kept apart from "
            "(rules 4–6)"
        )
        if r.avoid_shelters:  # said only where it can apply: older plans read as before
            why += ", or has already declined her"
        return Unplaced(
            request=r.id,
            reason="safety_exclusion",
            detail=f"{lead}; {rng} accept her within {r.max_km:g} km, but {why}.",
        )
    return Unplaced(
        request=r.id,
        reason="capacity",
        detail=f"{_n(safe, 'shelter')} pass every rule for her alone, but their "
        f"{r.bed_type} beds went to more urgent or closer placements, or to a woman she "
        "must be kept apart from (rule 7).",
    )


def _n(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"
