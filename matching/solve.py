"""`solve(problem)`: the plan, its proven bound, and a reason for every woman left out.

Design (measured on bench/matching.py instances; see the report there):

1. Candidates (rules 1–6) are computed in bulk with numpy (`matching.candidates`).
2. The lexicographic objective is folded into one integer cost per arc,
   `km·M − keep − weight·BIG`, with BIG above any plan's total of `km·M`, so a smaller
   cost is always a larger placed weight first, then fewer km, then (with a previous
   plan, M = kept placements + 1) more placements kept.
3. The network relaxation (`matching.flow`) holds rules 1–6 exactly and rule 7 for
   every request in at most one clique per shelter. Min-cost flow solves it exactly:
   its optimum is a proven bound, and if no rule-7 clique is violated, the plan.
4. Otherwise the violating arcs are barred one clique at a time and the flow re-solved
   until nothing is violated: a feasible plan, usually as good as the bound.
5. Independent parts (`matching.parts`) are then compared with their share of the
   bound. A part whose plan meets it is proven optimal; only the parts that do not go
   to CP-SAT (`matching.exact`), warm-started from the plan. This is the smallest part
   that can prove optimality: everywhere else the flow bound already does.
"""

from __future__ import annotations

import time

import numpy as np

from matching import candidates, conflicts, exact, flow, parts
from schema.problem import Assignment, Bound, Objective, Plan, Problem, Request, Unplaced

MAX_REPAIR_ROUNDS = 25


def solve(
    problem: Problem, *, time_limit: float = 60.0, workers: int = 2, previous: Plan | None = None
) -> Plan:
    """Solve to the contract; `previous` keeps its placements when nothing forces a change."""
    started = time.monotonic()
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

    # Steps 3–4: the bound, then a plan that keeps every rule.
    allowed = np.ones(len(cands.req), dtype=bool)
    bound_chosen, _ = flow.relax(cands, cl, cost, allowed)
    chosen = bound_chosen
    for _ in range(MAX_REPAIR_ROUNDS):
        bad = conflicts.violated(cl, chosen)
        if len(bad) == 0:
            break
        allowed &= ~_losers(cl, bad, chosen, cost)
        chosen, _ = flow.relax(cands, cl, cost, allowed)
    else:
        chosen = chosen & ~_losers(cl, conflicts.violated(cl, chosen), chosen, cost)

    # Step 5: parts the plan does not prove go to CP-SAT.
    part = parts.label(n_r, len(problem.shelters), cands.req, cands.shelter)
    keys, part_of_arc = np.unique(part, return_inverse=True)
    n_p = len(keys)
    bound_cost = np.bincount(part_of_arc, weights=cost * bound_chosen, minlength=n_p)
    plan_cost = np.bincount(part_of_arc, weights=cost * chosen, minlength=n_p)
    part_weight_bound = np.bincount(
        part_of_arc, weights=weight[cands.req] * bound_chosen, minlength=n_p
    ).astype(np.int64)
    open_parts = np.nonzero(plan_cost > bound_cost)[0]
    clique_part = part_of_arc[cl.arc[cl.start[:-1]]] if len(cl) else np.zeros(0, np.int64)
    proven = True
    open_arcs = np.isin(part_of_arc, open_parts)
    total_open = max(1, int(open_arcs.sum()))
    for p in open_parts[np.argsort(-np.bincount(part_of_arc)[open_parts], kind="stable")]:
        arcs = np.nonzero(part_of_arc == p)[0]
        remaining = time_limit - (time.monotonic() - started)
        share = remaining * max(0.5, len(arcs) / total_open)
        result = exact.solve_part(
            cands,
            cl,
            cost,
            arcs,
            np.nonzero(clique_part == p)[0],
            chosen[arcs],
            time_limit=share,
            workers=workers,
        )
        chosen[arcs] = result.chosen
        total_open -= len(arcs)
        if result.proven:
            part_weight_bound[p] = int(weight[cands.req[arcs]][result.chosen].sum())
        else:
            proven = False
            from_cp = (big - 1 - result.bound) // big
            part_weight_bound[p] = min(int(part_weight_bound[p]), int(from_cp))

    return _plan(problem, cands, chosen, weight, proven, part_weight_bound, kept_before, started)


def _losers(
    cl: conflicts.Cliques, bad: np.ndarray, chosen: np.ndarray, cost: np.ndarray
) -> np.ndarray:
    """Arcs to bar: in each violated clique, every chosen arc but the cheapest."""
    out = np.zeros(len(chosen), dtype=bool)
    for k in bad:
        members = cl.arc[cl.start[k] : cl.start[k + 1]]
        taken = members[chosen[members]]
        best = taken[np.lexsort((taken, cost[taken]))[0]]
        out[taken[taken != best]] = True
    return out


def _plan(
    problem: Problem,
    cands: candidates.Candidates,
    chosen: np.ndarray,
    weight: np.ndarray,
    proven: bool,
    part_weight_bound: np.ndarray,
    kept_before: dict[str, str],
    started: float,
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
        bound=Bound(placed_weight=max(placed, int(part_weight_bound.sum()))),
        assignments=assignments,
        unplaced=unplaced,
        solve_seconds=round(time.monotonic() - started, 3),
        moved=moved if kept_before else None,
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
        return Unplaced(
            request=r.id,
            reason="safety_exclusion",
            detail=f"{lead}; {rng} accept her within {r.max_km:g} km, but each is flagged "
            f"for one of her contacts, within {r.avoid_km:g} km of a contact's last known "
            "location, or houses someone she must be kept apart from (rules 4–6).",
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
