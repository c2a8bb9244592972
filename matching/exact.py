"""CP-SAT on one part of the problem: every rule, the folded objective, a warm start.

Data → variables → constraints → objective → extract, all integers:
one Boolean per candidate arc; each request takes at most one arc; each (shelter, bed
type) takes at most its free beds; each rule-7 clique takes at most one arc; minimise
the folded cost. The caller passes only the arcs of parts the network could not settle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ortools.sat.python import cp_model

from matching.candidates import Bools, Candidates, Ints
from matching.conflicts import Cliques


@dataclass(frozen=True)
class ExactResult:
    chosen: Bools
    """Over the arcs passed in."""
    cost: int
    bound: int
    """A proven lower bound on the cost of these arcs' part."""
    proven: bool


def solve_part(
    cands: Candidates,
    cl: Cliques,
    cost: Ints,
    arcs: Ints,
    clique_ids: Ints,
    hint: Bools,
    *,
    time_limit: float,
    workers: int,
) -> ExactResult:
    """Optimise over `arcs` (sorted) with the cliques `clique_ids`, starting from `hint`."""
    model = cp_model.CpModel()
    x = [model.new_bool_var(f"x{a}") for a in range(len(arcs))]
    req = cands.req[arcs]
    # Each request takes at most one arc.
    for lo, hi in _runs(req):
        if hi - lo > 1:
            model.add_at_most_one(x[lo:hi])
    # Each (shelter, bed type) takes at most its free beds.
    n_t = cands.capacity.shape[1]
    st = cands.shelter[arcs] * n_t + cands.bed_type[req]
    order = np.argsort(st, kind="stable")
    cap = cands.capacity.reshape(-1)
    for lo, hi in _runs(st[order]):
        key = int(st[order[lo]])
        if hi - lo > cap[key]:
            model.add(sum(x[int(k)] for k in order[lo:hi]) <= int(cap[key]))
    # Two requests in a rule-7 group never share a shelter.
    local = np.searchsorted(arcs, cl.arc)
    for k in clique_ids:
        members = local[cl.start[k] : cl.start[k + 1]]
        model.add_at_most_one([x[int(m)] for m in members])
    model.minimize(sum(int(c) * v for c, v in zip(cost[arcs], x, strict=True)))
    for v, h in zip(x, hint, strict=True):
        model.add_hint(v, bool(h))

    solver = cp_model.CpSolver()
    solver.parameters.num_workers = workers
    solver.parameters.max_time_in_seconds = max(0.1, time_limit)
    # Several workers are only reproducible when their search is interleaved.
    solver.parameters.interleave_search = workers > 1
    status = solver.solve(model)
    if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return ExactResult(hint, int(cost[arcs][hint].sum()), -(2**62), False)
    chosen = np.array([solver.boolean_value(v) for v in x], dtype=bool)
    value = int(cost[arcs][chosen].sum())
    hinted = int(cost[arcs][hint].sum())
    if hinted < value:  # never return worse than the warm start
        chosen, value = hint, hinted
    return ExactResult(chosen, value, int(np.ceil(solver.best_objective_bound)), status == cp_model.OPTIMAL)


def _runs(keys: Ints) -> list[tuple[int, int]]:
    """(start, end) of each run of equal values in a sorted array."""
    if len(keys) == 0:
        return []
    cut = np.nonzero(keys[1:] != keys[:-1])[0] + 1
    starts = np.concatenate([[0], cut])
    ends = np.concatenate([cut, [len(keys)]])
    return list(zip(starts.tolist(), ends.tolist(), strict=True))
