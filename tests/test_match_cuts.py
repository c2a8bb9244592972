"""Zero-half cuts (`matching.cuts`) and the distance LP that holds them."""

from __future__ import annotations

import time

import numpy as np
import pytest
from match_cases import generated

from matching import candidates, conflicts, cuts, greedy, master, solve

CASES = [(1, 0.6, 0.9), (7, 1.2, 0.9), (4, 0.3, 0.9), (5, 0.6, 0.6)]
"""Small instances (20 shelters × 200 women) whose distance LP has zero-half cuts."""
BOUNDED = [CASES[0], *(pytest.param(*c, marks=pytest.mark.slow) for c in (CASES[1], CASES[3]))]
"""Those whose weight LP's face holds a plan (the third's does not): the first in the
fast tier."""


def _cut_lp(
    cands: candidates.Candidates, cl: conflicts.Cliques, weight: np.ndarray
) -> tuple[master.Relaxation, master.Duals, master.Duals, np.ndarray]:
    """The weight LP, then the distance LP on its face, each priced from a third of the
    women's arcs as `solve` prices: (relaxation, weight duals, distance duals, its x)."""
    clock = _clock()
    relaxation = master.Relaxation(cands, cl, -weight)
    relaxation.add(np.nonzero(cands.req % 3 == 0)[0])  # a third of the women to start with
    everywhere = np.ones(len(cands.req), dtype=bool)
    first = solve._price(relaxation, cands, cl, -weight, everywhere, clock)
    assert first is not None
    _, reduced1 = master.bound(cands, cl, -weight, first[0])
    face = relaxation.next_level(first[0], reduced1, cands.km)
    before = solve._price(relaxation, cands, cl, cands.km, face, clock)
    assert before is not None
    return relaxation, first[0], before[0], before[1]


def _optimum(
    cands: candidates.Candidates, cl: conflicts.Cliques, weight: np.ndarray
) -> tuple[np.ndarray, int, int]:
    cols = np.arange(len(cands.req))
    first = master.mip(cands, cl, -weight, cols, None, time_limit=60, engine="highs")
    placed = int(weight[first.chosen].sum())
    second = master.mip(cands, cl, cands.km, cols, None, time_limit=60,
                        min_weight=(weight, placed), engine="highs")  # fmt: skip
    assert first.optimal and second.optimal
    return second.chosen, placed, int(cands.km[second.chosen].sum())


@pytest.mark.parametrize(
    ("seed", "scarcity", "contacts"),
    [CASES[0], *(pytest.param(*c, marks=pytest.mark.slow) for c in CASES[1:])],
)
def test_cuts_hold_for_every_plan_and_cut_the_lp(
    seed: int, scarcity: float, contacts: float
) -> None:
    """Every cut is broken by the LP solution it was separated from, and kept by the
    optimal plan and by 200 plans of random priorities."""
    cands, cl, weight = generated(seed, scarcity, contacts, 20, 200)
    *_, x = _cut_lp(cands, cl, weight)
    found = cuts.zero_half(cands, cl, x, set())
    assert len(found) > 0
    assert (found.lhs(x) > found.rhs + cuts.MIN_VIOLATION).all()
    plans = [_optimum(cands, cl, weight)[0]]
    rng = np.random.default_rng(seed)
    plans += [greedy.take(cands, cl, rng.permutation(len(cands.req))) for _ in range(200)]
    for plan in plans:
        assert (found.lhs(plan.astype(float)) <= found.rhs).all()


@pytest.mark.parametrize(("seed", "scarcity", "contacts"), BOUNDED)
def test_cut_lp_bound_is_tighter_and_still_a_bound(
    seed: int, scarcity: float, contacts: float
) -> None:
    """With the cuts as rows (columns priced in after them get their coefficients), the
    LP's solution keeps every cut over all arcs, and the certified bound on the folded
    cost is at least the uncut one and at most the optimum's."""
    cands, cl, weight = generated(seed, scarcity, contacts, 20, 200)
    relaxation, d1, before, _ = _cut_lp(cands, cl, weight)
    face = master.bound(cands, cl, -weight, d1)[1] <= master.FACE_TOLERANCE
    after = solve._cut(relaxation, cands, cl, _costs(cands, weight), face, _clock())
    assert after is not None and len(relaxation.cuts) > 0
    assert (relaxation.cuts.lhs(after[1]) <= relaxation.cuts.rhs + 1e-6).all()
    _, placed, km = _optimum(cands, cl, weight)
    assert _folded(cands, cl, weight, d1, before) - 1e-3 <= _folded(cands, cl, weight, d1, after[0])
    assert _folded(cands, cl, weight, d1, after[0]) <= km - BIG * placed + 1e-3


def test_cuts_that_empty_the_lp_are_dropped() -> None:
    """Where no plan reaches the weight LP's value (209.5 here, 209 at best), the cuts
    empty its optimal face: they are dropped and the uncut LP's solution stands."""
    cands, cl, weight = generated(*CASES[2], 20, 200)
    relaxation, d1, _, x = _cut_lp(cands, cl, weight)
    face = master.bound(cands, cl, -weight, d1)[1] <= master.FACE_TOLERANCE
    after = solve._cut(relaxation, cands, cl, _costs(cands, weight), face, _clock())
    assert after is not None and len(relaxation.cuts) == 0
    assert np.array_equal(after[1], x)
    # The LP without them is whole again: it solves, and pricing brings nothing new.
    again = solve._price(relaxation, cands, cl, cands.km, face, _clock())
    assert again is not None and np.allclose(again[1], x)


BIG = 1_000_000


def _costs(cands: candidates.Candidates, weight: np.ndarray) -> solve.Costs:
    return solve.Costs(weight=-weight, km=cands.km, big=BIG, m=1)


def _clock() -> solve._Clock:
    return solve._Clock(time.monotonic() + 120)


def _folded(
    cands: candidates.Candidates,
    cl: conflicts.Cliques,
    weight: np.ndarray,
    d1: master.Duals,
    d2: master.Duals,
) -> float:
    """The bound on the folded cost the two levels' duals certify, combined as `solve`
    combines them."""
    combined = master.Duals(d1.u * BIG + d2.u, d1.v * BIG + d2.v, d1.mu * BIG + d2.mu,
                            eta=d2.eta, cuts=d2.cuts)  # fmt: skip
    return master.bound(cands, cl, cands.km - weight * BIG, combined)[0]


def test_each_distance_lp_solve_gets_the_time_it_is_given() -> None:
    """HiGHS holds its time limit against the run time of every solve of a model so far;
    a re-solve given less than that sum, but more than it needs, still ends optimal (it
    was stopped at once: at national size the distance LP then kept an unconverged
    solution, and the plan did not say the clock had cut it)."""
    cands, cl, weight = generated(*CASES[0], 20, 200)
    relaxation, *_ = _cut_lp(cands, cl, weight)
    assert relaxation.highs is not None
    spent = relaxation.highs.h.getRunTime()
    assert spent > 0
    assert relaxation.solve(0.9 * spent) is not None
    assert not relaxation.timed_out


def test_columns_added_after_the_cuts_get_their_coefficients() -> None:
    """Each cut's row in the LP holds, on every column, old or priced in after it, the
    coefficient the cut gives that arc (and nothing elsewhere)."""
    cands, cl, weight = generated(*CASES[0], 20, 200)
    *_, x = _cut_lp(cands, cl, weight)
    found = cuts.zero_half(cands, cl, x, set())
    # A fresh LP on the distance level over every other arc; the cuts; then the rest.
    relaxation = master.Relaxation(cands, cl, -weight)
    relaxation.add(np.arange(0, len(cands.req), 2))
    none = master.Duals(
        np.zeros(len(cands.n_bed)), np.zeros(cands.capacity.size), np.zeros(len(cl))
    )
    relaxation.next_level(none, np.zeros(len(cands.req)), cands.km)
    relaxation.add_cuts(found)
    later = np.arange(1, len(cands.req), 2)
    assert (np.isin(found.arc, later)).any()
    relaxation.add(later)
    assert relaxation.highs is not None
    a = relaxation.highs.h.getLp().a_matrix_
    start, index, value = np.asarray(a.start_), np.asarray(a.index_), np.asarray(a.value_)
    col = np.repeat(np.arange(len(start) - 1), np.diff(start))
    cut_of_row = np.full(a.num_row_, -1)
    cut_of_row[relaxation.highs.cut_rows] = np.arange(len(found))
    in_cut = cut_of_row[index] >= 0
    held = np.zeros((len(found), len(cands.req)))
    held[cut_of_row[index[in_cut]], relaxation.cols[col[in_cut]]] = value[in_cut]
    wanted = np.zeros_like(held)
    wanted[np.repeat(np.arange(len(found)), np.diff(found.start)), found.arc] = found.coef
    assert np.array_equal(held, wanted)


@pytest.mark.parametrize(
    ("seed", "scarcity", "contacts", "shelters", "requests"),
    [
        (7, 1.2, 0.9, 20, 200),
        pytest.param(9, 0.6, 0.9, 30, 300, marks=pytest.mark.slow),
        pytest.param(11, 0.3, 0.9, 30, 300, marks=pytest.mark.slow),
    ],
)
def test_distance_mip_with_the_priced_cuts_finds_the_same_optimum(
    seed: int, scarcity: float, contacts: float, shelters: int, requests: int
) -> None:
    """The cuts the distance LP's duals price, as rows of the HiGHS distance MIP (those
    whose dual exceeds the plan's gap held full), keep its optimum: they hold for every
    plan, and every plan as good as the optimum fills the held ones. (Instances whose
    last distance LP prices some cut: 5, 13 and 2 of them.)"""
    cands, cl, weight = generated(seed, scarcity, contacts, shelters, requests)
    relaxation, d1, _, _ = _cut_lp(cands, cl, weight)
    face = master.bound(cands, cl, -weight, d1)[1] <= master.FACE_TOLERANCE
    after = solve._cut(relaxation, cands, cl, _costs(cands, weight), face, _clock())
    assert after is not None
    d2 = after[0]
    assert (d2.eta < -1e-9).any()
    combined = master.Duals(
        d1.u * BIG + d2.u, d1.v * BIG + d2.v, d1.mu * BIG + d2.mu, eta=d2.eta, cuts=d2.cuts
    )
    folded = cands.km - BIG * weight
    lower, _ = master.bound(cands, cl, folded, combined)
    _, placed, km = _optimum(cands, cl, weight)
    slack = float(km - BIG * placed) - lower
    cols = np.arange(len(cands.req))
    held = master.mip(cands, cl, cands.km, cols, None, time_limit=60,
                      min_weight=(weight, placed), engine="highs",
                      cuts=(combined, slack))  # fmt: skip
    assert held.optimal and int(cands.km[held.chosen].sum()) == km
    assert int(weight[held.chosen].sum()) >= placed
    assert master.keeps_every_rule(cands, cl, cols, held.chosen)
