"""The exact MIP by either engine: the same optimum, every row kept, nothing on stdout."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from match_cases import generated

from matching import candidates, conflicts, master

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("seed", "scarcity", "contacts"), [(1, 0.6, 0.6), (2, 0.3, 0.9), (3, 1.2, 0.3)]
)
def test_highs_and_scip_agree_on_both_levels(seed: int, scarcity: float, contacts: float) -> None:
    cands, cl, weight = generated(seed, scarcity, contacts)
    cols = np.arange(len(cands.req))
    answers = {}
    for engine in ("scip", "highs"):
        first = master.mip(cands, cl, -weight, cols, None, time_limit=60, engine=engine)
        assert first.optimal and master.keeps_every_rule(cands, cl, cols, first.chosen)
        placed = int(weight[first.chosen].sum())
        second = master.mip(
            cands, cl, cands.km, cols, first.chosen, time_limit=60,
            min_weight=(weight, placed), engine=engine,
        )  # fmt: skip
        assert second.optimal and master.keeps_every_rule(cands, cl, cols, second.chosen)
        assert int(weight[second.chosen].sum()) >= placed
        answers[engine] = (placed, int(cands.km[second.chosen].sum()))
        assert second.bound == pytest.approx(answers[engine][1], abs=1e-6)
    assert answers["highs"] == answers["scip"]


def test_held_arcs_stay_in_the_plan() -> None:
    cands, cl, weight = generated(4, 0.6, 0.3)
    cols = np.arange(len(cands.req))
    far = np.zeros(len(cols), dtype=bool)
    far[np.argmax(cands.km)] = True  # the farthest arc: never chosen unless held
    result = master.mip(cands, cl, cands.km - 1000 * weight, cols, None, time_limit=60,
                        fixed=far, engine="highs")  # fmt: skip
    assert result.chosen[far].all() and master.keeps_every_rule(cands, cl, cols, result.chosen)


def test_a_plan_breaking_a_rule_is_never_trusted(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine answering two arcs of one woman (a solver's bug) gives no plan, no proof."""
    cands, cl, weight = generated(5, 0.6, 0.3)
    cols = np.arange(len(cands.req))
    both = np.zeros(len(cols), dtype=bool)
    both[cands.req == cands.req[0]] = True
    assert both.sum() >= 2 and not master.keeps_every_rule(cands, cl, cols, both)

    def buggy(*args: object, **kwargs: object) -> master.MipResult:
        return master.MipResult(both, True, False, -1e9)

    monkeypatch.setattr(master, "_highs_mip", buggy)
    result = master.mip(cands, cl, -weight, cols, None, time_limit=10, engine="highs")
    assert not result.optimal and not result.chosen.any() and result.bound == -np.inf
    floor = (weight, int(weight.sum()) + 1)
    one = np.zeros(len(cols), dtype=bool)
    one[0] = True
    assert master.keeps_every_rule(cands, cl, cols, one)
    assert not master.keeps_every_rule(cands, cl, cols, one, floor)


def test_importing_the_matcher_prints_nothing() -> None:
    """HiGHS's banner would land in `haven match`'s stdout, where the plan goes."""
    code = "import matching.master as m, numpy as np; m._highs().run()"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout == ""


@pytest.mark.parametrize(("seed", "scarcity", "contacts"), [(1, 0.6, 0.6), (2, 0.3, 0.9)])
def test_highs_looks_only_below_the_cutoff(seed: int, scarcity: float, contacts: float) -> None:
    """With `below`, HiGHS finds the optimum when it is below, and otherwise proves that
    no plan over these arcs is: nothing chosen, a bound no higher than the cutoff (HiGHS
    1.16 may hand back a plan at or above the cutoff, not always the optimum, and call
    it optimal)."""
    cands, cl, weight = generated(seed, scarcity, contacts)
    cols = np.arange(len(cands.req))
    placed = int(weight[master.mip(cands, cl, -weight, cols, None, time_limit=60).chosen].sum())
    floor = (weight, placed)
    best = master.mip(cands, cl, cands.km, cols, None, time_limit=60, min_weight=floor,
                      engine="highs")  # fmt: skip
    optimum = int(cands.km[best.chosen].sum())
    above = master.mip(cands, cl, cands.km, cols, None, time_limit=60, min_weight=floor,
                       engine="highs", below=optimum + 0.5)  # fmt: skip
    assert above.optimal and int(cands.km[above.chosen].sum()) == optimum
    assert master.keeps_every_rule(cands, cl, cols, above.chosen, floor)
    at = master.mip(cands, cl, cands.km, cols, None, time_limit=60, min_weight=floor,
                    engine="highs", below=optimum - 0.5)  # fmt: skip
    assert at.optimal and not at.chosen.any()
    assert at.bound <= optimum - 0.5


@pytest.mark.parametrize(
    ("seed", "scarcity", "contacts"), [(1, 0.6, 0.6), (2, 0.3, 0.9), (5, 0.6, 0.6), (5, 1.5, 0.9)]
)
def test_rows_the_duals_show_full_are_full_in_every_optimal_plan(
    seed: int, scarcity: float, contacts: float
) -> None:
    """`tight_rows` from the LP's duals and an optimal plan's gap names only rows that
    plan fills, and the MIP holding them full finds the same optimum."""
    cands, cl, weight = generated(seed, scarcity, contacts)
    cols = np.arange(len(cands.req))
    cost = cands.km - 1000 * weight  # a folded cost: weight first, then km
    relaxation = master.Relaxation(cands, cl, cost)
    relaxation.add(cols)
    solved = relaxation.solve(60)
    assert solved is not None
    lower, _ = master.bound(cands, cl, cost, solved[0])
    best = master.mip(cands, cl, cost, cols, None, time_limit=60)
    value = int(cost[best.chosen].sum())
    full_req, full_st, full_cl = master.tight_rows(solved[0], value - lower)
    assert full_req.any() or full_st.any() or full_cl.any()
    picked = best.chosen
    placed = np.bincount(cands.req[picked], minlength=len(cands.n_bed))
    used = np.bincount(candidates.st_key(cands)[picked], minlength=cands.capacity.size)
    assert (placed[full_req] == 1).all()
    assert (used[full_st] == cands.capacity.reshape(-1)[full_st]).all()
    in_clique = np.add.reduceat(picked[cl.arc].astype(int), cl.start[:-1]) if len(cl) else []
    assert all(in_clique[q] == 1 for q in np.nonzero(full_cl)[0])
    held = master.mip(cands, cl, cost, cols, None, time_limit=60,
                      tight=(full_req, full_st, full_cl))  # fmt: skip
    assert held.optimal and int(cost[held.chosen].sum()) == value
    assert master.keeps_every_rule(cands, cl, cols, held.chosen)


def _km_lp(cands: candidates.Candidates, cl: conflicts.Cliques, weight: np.ndarray,
           at_least: float) -> float:  # fmt: skip
    """The distance LP over every arc with weight ≥ `at_least`, built afresh in GLOP."""
    from ortools.linear_solver import pywraplp

    lp = pywraplp.Solver.CreateSolver("GLOP")
    x = [lp.NumVar(0, 1, "") for _ in range(len(cands.req))]
    groups = [np.nonzero(cands.req == r)[0] for r in range(len(cands.n_bed))]
    st = candidates.st_key(cands)
    cap = cands.capacity.reshape(-1)
    groups += [np.nonzero(st == k)[0] for k in range(len(cap))]
    bounds = [1.0] * len(cands.n_bed) + cap.tolist()
    groups += [cl.arc[cl.start[k] : cl.start[k + 1]] for k in range(len(cl))]
    bounds += [1.0] * len(cl)
    for arcs, bound in zip(groups, bounds, strict=True):
        lp.Add(sum(x[a] for a in arcs.tolist()) <= bound)
    lp.Add(sum(float(w) * v for w, v in zip(weight.tolist(), x, strict=True)) >= at_least)
    lp.Minimize(sum(float(k) * v for k, v in zip(cands.km.tolist(), x, strict=True)))
    assert lp.Solve() == pywraplp.Solver.OPTIMAL
    return float(lp.Objective().Value())


@pytest.mark.parametrize(("seed", "scarcity", "contacts"), [(1, 0.6, 0.6), (2, 1.2, 0.9)])
def test_distance_level_lp_is_the_lp_optimum(seed: int, scarcity: float, contacts: float) -> None:
    """The two-level LP (weight in GLOP, then distance in HiGHS on the weight optimum's
    face, or over plans placing at least a weight floor), grown by pricing from a few
    columns, certifies the same distance bound as the whole LP built afresh."""
    from matching import solve

    cands, cl, weight = generated(seed, scarcity, contacts)
    clock = solve._Clock(time.monotonic() + 120)
    everywhere = np.ones(len(cands.req), dtype=bool)
    relaxation = master.Relaxation(cands, cl, -weight)
    relaxation.add(np.nonzero(cands.req % 2 == 0)[0])  # half of the women to start with
    first = solve._price(relaxation, cands, cl, -weight, everywhere, clock)
    assert first is not None
    lower1, reduced1 = master.bound(cands, cl, -weight, first[0])
    face = relaxation.next_level(first[0], reduced1, cands.km)
    second = solve._price(relaxation, cands, cl, cands.km, face, clock)
    assert second is not None
    # The two levels' duals combined, as `solve` does: a bound on the folded cost, which
    # is BIG·(−weight optimum) + the distance LP's optimum at that weight.
    big = 1_000_000
    d1, d2 = first[0], second[0]
    combined = master.Duals(d1.u * big + d2.u, d1.v * big + d2.v, d1.mu * big + d2.mu)
    lower, _ = master.bound(cands, cl, cands.km - weight * big, combined)
    assert lower - big * lower1 == pytest.approx(_km_lp(cands, cl, weight, -lower1), abs=1e-3)
    # Off the face, with a floor one below the weight optimum: its own LP.
    relaxation.leave_face()
    floor = float(np.ceil(-lower1 - 1))
    relaxation.weight_floor(weight, int(floor), cands.km)
    third = solve._price(relaxation, cands, cl, cands.km, everywhere, clock)
    assert third is not None
    lower3, _ = master.bound(cands, cl, cands.km, third[0])
    assert lower3 == pytest.approx(_km_lp(cands, cl, weight, floor), abs=1e-3)
