"""The linear relaxation with every rule, over a subset of arcs, and what its duals prove.

Rows, one English sentence each: each request takes at most one arc; each (shelter,
bed type) takes at most its free beds; each rule-7 clique takes at most one arc; on the
distance level, each zero-half cut (`matching.cuts`) holds.
Columns are a subset of the candidate arcs, grown by pricing. Any non-positive dual
vector (u, v, μ, η) certifies, by weak Lagrangian duality (every plan keeps the cuts), the bound

    cost(x) ≥ Σu + Σ cap·v + Σμ + Σ rhs·η + Σ_arcs min(0, d),
    d = c − u_r − v_st − Σ_k∋a μ_k − Σ_cuts coef·η

for every plan x over *all* arcs, and an arc with d ≥ z − bound cannot appear in a plan
cheaper than z. The bound is recomputed exactly in numpy, so it stays valid even if
the LP solver's duals are slightly off.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass, field, replace

import highspy
import numpy as np
from ortools.linear_solver import linear_solver_pb2, pywraplp  # type: ignore[import-untyped]

from matching.candidates import Bools, Candidates, Floats, Ints, by_arc, ranges, st_key
from matching.conflicts import Cliques, violated
from matching.cuts import Cuts


@dataclass(frozen=True)
class Duals:
    u: Floats
    """Per request."""
    v: Floats
    """Per (shelter, bed type), flattened."""
    mu: Floats
    """Per clique."""
    lam: float = 0.0
    """Of the weight floor Σ weight·x ≥ at_least, when the LP has one (≥ 0)."""
    weight: Ints | None = None
    """Per arc, the weight that row counts."""
    at_least: int = 0
    eta: Floats = field(default_factory=lambda: np.zeros(0))
    """Per cut of `cuts` (≤ 0)."""
    cuts: Cuts = field(default_factory=Cuts.none)
    """The zero-half cuts the LP held (`matching.cuts`)."""


class SolverMissing(RuntimeError):
    """The OR-Tools build lacks a solver the matcher needs."""


def _solver(name: str) -> pywraplp.Solver:
    solver = pywraplp.Solver.CreateSolver(name)
    if solver is None:
        raise SolverMissing(f"OR-Tools has no {name} solver in this build")
    return solver


def _rows(cands: Candidates, cl: Cliques, cols: Ints) -> tuple[Ints, Ints, list[Ints]]:
    """Per column: request row, (shelter, type) row; per clique: its local columns."""
    local = np.full(len(cands.req), -1, dtype=np.int64)
    local[cols] = np.arange(len(cols))
    members = [local[cl.arc[cl.start[k] : cl.start[k + 1]]] for k in range(len(cl))]
    return cands.req[cols], st_key(cands)[cols], [m[m >= 0] for m in members]


class Relaxation:
    """The LP over a growing set of columns: the weight level in GLOP, then the distance
    level in HiGHS.

    In GLOP every row exists from the start (a clique row may stay empty), so pricing
    only appends columns and each solve starts from the previous basis; HiGHS makes a
    clique's row once it can bind (`_Highs`), after the columns, basis kept. It is solved in two
    phases for the two levels of the objective: first the weight alone; then, on the
    optimal face of that LP (columns with a positive reduced cost fixed at 0, rows with
    a non-zero dual held tight), the distance level. Small integer costs in each phase
    keep the simplex fast: the folded cost (weight·BIG + km) took GLOP 2.7 s against
    0.3 s for the weight alone on the same 28,000 columns (state size, contacts 0.6).

    Each level has the engine measured faster on it (state size, contacts 0.6–0.9). On
    the weight level GLOP: HiGHS took 9.4 s to GLOP's 3.8 s (beds 1.2 × demand). On the
    distance level HiGHS, started cold on the same columns: GLOP re-factorises after
    every batch of columns (~0.35 s even for one), where HiGHS updates its basis, and
    the distance LP went from 5.8 to 1.9 s (beds 0.6 × demand), 16 to 3.3 s (1.2 ×
    demand, with a weight floor), 9.7 to 2.5 s (1.5 × demand, contacts 0.9). HiGHS
    started from GLOP's basis took longer (3.4 s at 0.6 × demand), and at contacts 0.1
    GLOP's warm start stays quicker (0.85 s against 1.4 s), a loss of half a second
    where the whole solve takes two. Tried and left out: HiGHS on both levels with
    clique rows added only once a solution overfills them (~200 of 25,000 bind at the
    weight optimum): the weight LP went from 3.6 to 8–10 s, each batch of rows taking
    the dual simplex thousands of iterations on this degenerate LP.
    """

    def __init__(self, cands: Candidates, cl: Cliques, cost: Ints) -> None:
        self.cands, self.cl, self.cost = cands, cl, cost
        self.column = np.full(len(cands.req), -1, dtype=np.int64)
        """Per arc: its column in the LP, or -1."""
        self.cols = np.zeros(0, dtype=np.int64)
        """The arc of each column, in column order (the same in either engine)."""
        self.arc_ptr, self.arc_cliques, _ = by_arc(cl.arc, cl.start, len(cands.req))
        self.glop: _Glop | None = _Glop(self)
        self.highs: _Highs | None = None
        self.timed_out = False
        """Whether the last solve was stopped by its time limit (not by a failure)."""
        self.cuts = Cuts.none()
        """The zero-half cuts added on the distance level, rows after every other."""
        self.cut_keys: set[bytes] = set()
        self.cut_ptr = np.zeros(len(cands.req) + 1, dtype=np.int64)
        self.cut_ids = np.zeros(0, dtype=np.int64)
        self.cut_coef = np.zeros(0, dtype=np.int64)

    def add(self, arcs: Ints) -> None:
        """Add these arcs as columns (none may be present already)."""
        arcs = np.asarray(arcs, dtype=np.int64)
        self.column[arcs] = len(self.cols) + np.arange(len(arcs))
        self.cols = np.concatenate([self.cols, arcs])
        if self.glop is not None:
            self.glop.add(arcs)
        else:
            self._distance().add(arcs)

    def solve(self, time_limit: float) -> tuple[Duals, Floats] | None:
        """Solve within `time_limit` seconds; the duals (unclipped) and x per arc (0 off
        the columns), or None if the solver stopped at that limit (`timed_out`) or failed."""
        self.timed_out = False
        if self.glop is not None:
            return self.glop.solve(time_limit)
        return self._distance().solve(time_limit)

    def next_level(
        self, duals: Duals, reduced: Floats, cost: Ints, keep: Bools | None = None
    ) -> Bools:
        """Keep the LP on the optimal face of this level and minimise `cost` on it; with
        `keep`, only the columns on the face and in `keep` go on to the next level.

        Returns the face: the arcs whose reduced cost is zero here, the only ones an
        optimal solution of this level may use (complementary slackness).
        """
        face = reduced <= FACE_TOLERANCE
        if self.glop is not None:
            self.glop = None
            if keep is not None:
                kept = self.cols[keep[self.cols] & face[self.cols]]
                self.column[:] = -1
                self.column[kept] = np.arange(len(kept))
                self.cols = kept
            self.highs = _Highs(self)
            self.highs.add(self.cols)
        highs = self._distance()
        highs.hold_face(face, np.concatenate([duals.u, duals.v, duals.mu]) < -FACE_TOLERANCE)
        self.cost = cost
        highs.set_cost(cost)
        return np.asarray(face)

    def leave_face(self) -> None:
        """Undo `next_level`'s bounds: every column free again, every row ≤ its bound."""
        self._distance().free()

    def weight_floor(self, weight: Ints, at_least: int, cost: Ints) -> None:
        """Minimise `cost` over plans placing weight ≥ `at_least`: the distance level when
        the weight LP's optimum is not reached by any plan, so its optimal face would
        bound too much away (every column stays free)."""
        highs = self._distance()
        highs.add_floor(weight, at_least)
        self.cost = cost
        highs.set_cost(cost)

    def add_cuts(self, cuts: Cuts) -> None:
        """Add these cuts as rows (the distance level only: `matching.cuts`)."""
        self._distance().add_cuts(cuts)
        self.cuts = self.cuts.extend(cuts)
        self._index_cuts()

    def drop_cuts(self, k: int) -> None:
        """Remove the last `k` cuts: with them the LP over these columns had no solution
        (on the weight LP's optimal face when no plan reaches that weight, or until
        pricing would bring the columns that satisfy them)."""
        self._distance().drop_cuts(k)
        c, n = self.cuts, len(self.cuts) - k
        self.cuts = Cuts(c.arc[: c.start[n]], c.coef[: c.start[n]], c.start[: n + 1], c.rhs[:n])
        self._index_cuts()

    def _index_cuts(self) -> None:
        """Per arc, the cuts it is in and its coefficient there."""
        every = self.cuts
        self.cut_ptr, self.cut_ids, order = by_arc(every.arc, every.start, len(self.cands.req))
        self.cut_coef = every.coef[order]

    def _distance(self) -> _Highs:
        if self.highs is None:
            raise RuntimeError("the distance level starts with next_level")
        return self.highs


class _Glop:
    """The weight level's LP in one GLOP model."""

    def __init__(self, lp: Relaxation) -> None:
        self.lp = lp
        cands, cl = lp.cands, lp.cl
        self.solver = _solver("GLOP")
        # Measured at state size: presolve costs more than it saves here, and would
        # discard the warm basis between pricing rounds.
        self.solver.SetSolverSpecificParametersAsString("use_preprocessing: false")
        self.objective = self.solver.Objective()
        self.objective.SetMinimization()
        inf = self.solver.infinity()
        cap = cands.capacity.reshape(-1)
        self.req_rows = [self.solver.Constraint(-inf, 1.0) for _ in range(len(cands.n_bed))]
        self.st_rows = [self.solver.Constraint(-inf, float(c)) for c in cap.tolist()]
        self.clique_rows = [self.solver.Constraint(-inf, 1.0) for _ in range(len(cl))]
        self.x: list[pywraplp.Variable] = []
        self.arc_ptr = lp.arc_ptr.tolist()
        self.arc_cliques = lp.arc_cliques.tolist()
        self.st = st_key(cands).tolist()

    def add(self, arcs: Ints) -> None:
        inf = self.solver.infinity()
        cost, req = self.lp.cost[arcs].tolist(), self.lp.cands.req[arcs].tolist()
        for a, r, c in zip(arcs.tolist(), req, cost, strict=True):
            var = self.solver.NumVar(0.0, inf, "")
            self.x.append(var)
            self.objective.SetCoefficient(var, float(c))
            self.req_rows[r].SetCoefficient(var, 1.0)
            self.st_rows[self.st[a]].SetCoefficient(var, 1.0)
            for q in self.arc_cliques[self.arc_ptr[a] : self.arc_ptr[a + 1]]:
                self.clique_rows[q].SetCoefficient(var, 1.0)

    def solve(self, time_limit: float) -> tuple[Duals, Floats] | None:
        limit = max(0.001, time_limit)
        self.solver.SetTimeLimit(int(limit * 1000))
        started = time.monotonic()
        if self.solver.Solve() != pywraplp.Solver.OPTIMAL:
            self.lp.timed_out = _used_its_time(started, limit)
            return None
        # In bulk: per variable and row it took 0.3 s a solve at national size.
        response = linear_solver_pb2.MPSolutionResponse()
        self.solver.FillSolutionResponseProto(response)
        y = np.array(response.dual_value)
        a, b = len(self.req_rows), len(self.req_rows) + len(self.st_rows)
        duals = Duals(y[:a], y[a:b], y[b:])
        x = np.zeros(len(self.lp.cands.req))
        x[self.lp.cols] = np.array(response.variable_value)
        return duals, x


class _Highs:
    """The distance level's LP in one HiGHS model (dual simplex, one thread; each
    pricing round starts from the last basis). Rows: requests, then (shelter, bed type),
    then, in the order they are made, the weight floor if there is one, the cuts, and a
    clique's row once two of its arcs are columns (with one it is implied by her request
    row) or the weight level holds it tight: 14,031 of 200,322 cliques at national size,
    6,347 of 29,829 at state size (beds 0.6 × demand, contacts 0.9); with every clique a
    row from the start, each re-solve carried them all (national: the distance LP 23 →
    16 s).
    Its presolve, on the first solve, took the distance LP at state size from 0.93 to
    0.63 s (contacts 0.6) and 1.24 to 0.85 s (contacts 0.1)."""

    def __init__(self, lp: Relaxation) -> None:
        self.lp = lp
        cands = lp.cands
        self.h = _highs()
        self.n_req, self.n_st = len(cands.n_bed), cands.capacity.size
        cap = cands.capacity.reshape(-1).astype(np.float64)
        self.upper = np.concatenate([np.ones(self.n_req), cap])
        """The bound of each request and (shelter, type) row."""
        n = len(self.upper)
        none = np.zeros(0, dtype=np.int32)
        self.h.addRows(n, np.full(n, -highspy.kHighsInf), self.upper, 0, none, none, np.zeros(0))
        self.st = st_key(cands)
        self.n_rows = n
        self.clique_row = np.full(len(lp.cl), -1, dtype=np.int64)
        """The row of each clique, or -1 while it has none."""
        self.columns_in = np.zeros(len(lp.cl), dtype=np.int64)
        """Per clique, how many of its arcs are columns."""
        self.floor: tuple[int, Ints, int] | None = None
        """(its row, weight per arc, at least)."""
        self.cut_rows = np.zeros(0, dtype=np.int64)
        """The row of each cut."""

    def add(self, arcs: Ints) -> None:
        """The arcs (already in the LP's `cols`) as columns in compressed-column form:
        request row, (shelter, type) row, the rows of their cliques that have one, floor
        row, cut rows; then the rows of the cliques that now have two columns."""
        lp, k = self.lp, len(arcs)
        if k == 0:
            return
        lo, n_cl = lp.arc_ptr[arcs], lp.arc_ptr[arcs + 1] - lp.arc_ptr[arcs]
        cliques = lp.arc_cliques[ranges(lo, n_cl)]
        rows = self.clique_row[cliques]
        has_row = rows >= 0
        n_rows = np.bincount(np.repeat(np.arange(k), n_cl)[has_row], minlength=k)
        c_lo = lp.cut_ptr[arcs]
        n_cut = lp.cut_ptr[arcs + 1] - c_lo
        has_floor = int(self.floor is not None)
        per = 2 + n_rows + has_floor + n_cut
        starts = np.concatenate([[0], np.cumsum(per)[:-1]])
        index = np.empty(int(per.sum()), dtype=np.int64)
        value = np.ones(len(index))
        index[starts] = lp.cands.req[arcs]
        index[starts + 1] = self.n_req + self.st[arcs]
        index[ranges(starts + 2, n_rows)] = rows[has_row]
        if self.floor is not None:
            row, weight, _ = self.floor
            index[starts + 2 + n_rows] = row
            value[starts + 2 + n_rows] = weight[arcs]
        if len(lp.cuts):  # (HiGHS takes a column's rows in any order)
            entries = ranges(c_lo, n_cut)
            at = ranges(starts + 2 + n_rows + has_floor, n_cut)
            index[at] = self.cut_rows[lp.cut_ids[entries]]
            value[at] = lp.cut_coef[entries]
        self.h.addCols(
            k,
            lp.cost[arcs].astype(np.float64),
            np.zeros(k),
            np.full(k, highspy.kHighsInf),
            len(index),
            starts.astype(np.int32),
            index.astype(np.int32),
            value,
        )
        self.columns_in += np.bincount(cliques, minlength=len(self.columns_in))
        touched = np.unique(cliques)
        self.clique_rows(touched[(self.clique_row[touched] < 0) & (self.columns_in[touched] >= 2)])

    def clique_rows(self, cliques: Ints) -> None:
        """Rows for these cliques (none has one yet), over their arcs that are columns."""
        if len(cliques) == 0:
            return
        cl = self.lp.cl
        starts, col, _ = _over_columns(cl.arc, cl.start, cliques, self.lp.column)
        n = len(cliques)
        self.h.addRows(
            n,
            np.full(n, -highspy.kHighsInf),
            np.ones(n),
            len(col),
            starts.astype(np.int32),
            col.astype(np.int32),
            np.ones(len(col)),
        )
        self.clique_row[cliques] = self.n_rows + np.arange(n)
        self.n_rows += n

    def solve(self, time_limit: float) -> tuple[Duals, Floats] | None:
        # HiGHS holds `time_limit` against its run time summed over every run of this
        # model, so the limit is that sum plus what this solve may take. (Given only the
        # remaining time, a late re-solve at national size was stopped at once, on a slower
        # machine, and the distance LP kept an unconverged solution.)
        self.h.setOptionValue("time_limit", self.h.getRunTime() + max(0.001, float(time_limit)))
        self.h.run()
        status = self.h.getModelStatus()
        if status != highspy.HighsModelStatus.kOptimal:
            self.lp.timed_out = status == highspy.HighsModelStatus.kTimeLimit
            return None
        solution = self.h.getSolution()
        y = np.asarray(solution.row_dual)
        a, b = self.n_req, self.n_req + self.n_st
        lam, weight, at_least = 0.0, None, 0
        if self.floor is not None:
            row, weight, at_least = self.floor
            lam = float(y[row])
        cuts = self.lp.cuts
        eta = y[self.cut_rows]
        mu = np.zeros(len(self.clique_row))
        has_row = self.clique_row >= 0
        mu[has_row] = y[self.clique_row[has_row]]
        duals = Duals(y[:a], y[a:b], mu, lam, weight, at_least, eta, cuts)
        x = np.zeros(len(self.lp.cands.req))
        x[self.lp.cols] = np.asarray(solution.col_value)
        return duals, x

    def hold_face(self, face: Bools, tight: Bools) -> None:
        """Columns off `face` fixed at 0; the `tight` rows (requests, (shelter, type),
        cliques) held at their bound."""
        off = np.nonzero(~face[self.lp.cols])[0].astype(np.int32)
        self.h.changeColsBounds(len(off), off, np.zeros(len(off)), np.zeros(len(off)))
        base = len(self.upper)
        cliques = np.nonzero(tight[base:])[0]
        self.clique_rows(cliques[self.clique_row[cliques] < 0])
        rows = np.concatenate([np.nonzero(tight[:base])[0], self.clique_row[cliques]])
        bounds = np.concatenate(
            [self.upper[rows[: len(rows) - len(cliques)]], np.ones(len(cliques))]
        )
        # (highspy 1.16 has changeRowsBounds; its type stubs omit it.)
        self.h.changeRowsBounds(len(rows), rows.astype(np.int32), bounds, bounds)  # type: ignore[attr-defined]

    def free(self) -> None:
        """Every column in [0, ∞), every request, bed and clique row ≤ its bound."""
        n = len(self.lp.cols)
        every = np.arange(n, dtype=np.int32)
        self.h.changeColsBounds(n, every, np.zeros(n), np.full(n, highspy.kHighsInf))
        cliques = self.clique_row[self.clique_row >= 0]
        rows = np.concatenate([np.arange(len(self.upper)), cliques]).astype(np.int32)
        upper = np.concatenate([self.upper, np.ones(len(cliques))])
        self.h.changeRowsBounds(  # type: ignore[attr-defined]
            len(rows), rows, np.full(len(rows), -highspy.kHighsInf), upper
        )

    def set_cost(self, cost: Ints) -> None:
        cols = self.lp.cols
        n = len(cols)
        self.h.changeColsCost(n, np.arange(n, dtype=np.int32), cost[cols].astype(np.float64))

    def add_floor(self, weight: Ints, at_least: int) -> None:
        n = len(self.lp.cols)
        w = weight[self.lp.cols].astype(np.float64)
        self.h.addRow(float(at_least), highspy.kHighsInf, n, np.arange(n, dtype=np.int32), w)
        self.floor = (self.n_rows, weight, at_least)
        self.n_rows += 1

    def add_cuts(self, cuts: Cuts) -> None:
        """The cuts as rows over the columns there are (later columns get theirs in `add`)."""
        self.cut_rows = np.concatenate([self.cut_rows, self.n_rows + np.arange(len(cuts))])
        every = np.arange(len(cuts))
        starts, col, entries = _over_columns(cuts.arc, cuts.start, every, self.lp.column)
        self.h.addRows(
            len(cuts),
            np.full(len(cuts), -highspy.kHighsInf),
            cuts.rhs.astype(np.float64),
            len(col),
            starts.astype(np.int32),
            col.astype(np.int32),
            cuts.coef[entries].astype(np.float64),
        )
        self.n_rows += len(cuts)

    def drop_cuts(self, k: int) -> None:
        """Delete the last `k` cuts; the rows after them (cliques that got a row since)
        move up."""
        gone = self.cut_rows[len(self.cut_rows) - k :]
        self.h.deleteRows(k, gone.astype(np.int32))
        self.n_rows -= k
        self.cut_rows = self.cut_rows[: len(self.cut_rows) - k]

        def moved(rows: Ints) -> Ints:
            return np.asarray(rows - np.searchsorted(gone, rows), dtype=np.int64)

        has_row = self.clique_row >= 0
        self.clique_row[has_row] = moved(self.clique_row[has_row])
        self.cut_rows = moved(self.cut_rows)
        if self.floor is not None:
            row, weight, at_least = self.floor
            self.floor = (int(moved(np.array([row]))[0]), weight, at_least)


FACE_TOLERANCE = 1e-6
"""Reduced costs and duals of the weight level are multiples of small fractions of a
weight unit; anything below this is GLOP's rounding, not a real non-zero."""


def reduced_costs(cands: Candidates, cl: Cliques, cost: Ints, duals: Duals) -> Floats:
    """Every arc's reduced cost under these duals."""
    d = cost - duals.u[cands.req] - duals.v[st_key(cands)]
    if duals.weight is not None:
        d = d - duals.lam * duals.weight
    if len(cl):
        np.subtract.at(d, cl.arc, np.repeat(duals.mu, np.diff(cl.start)))
    if len(duals.cuts):
        cuts = duals.cuts
        np.subtract.at(d, cuts.arc, np.repeat(duals.eta, np.diff(cuts.start)) * cuts.coef)
    return np.asarray(d, dtype=np.float64)


def bound(cands: Candidates, cl: Cliques, cost: Ints, duals: Duals) -> tuple[float, Floats]:
    """The Lagrangian lower bound over all arcs, and every arc's reduced cost, for the
    duals clipped to their sign (any clipped vector gives a valid bound)."""
    clipped = Duals(
        np.minimum(duals.u, 0),
        np.minimum(duals.v, 0),
        np.minimum(duals.mu, 0),
        max(duals.lam, 0.0),
        duals.weight,
        duals.at_least,
        np.minimum(duals.eta, 0),
        duals.cuts,
    )
    d = reduced_costs(cands, cl, cost, clipped)
    cap = cands.capacity.reshape(-1)
    value = clipped.u.sum() + (cap * clipped.v).sum() + clipped.mu.sum() + np.minimum(d, 0.0).sum()
    value += clipped.lam * clipped.at_least + (clipped.cuts.rhs * clipped.eta).sum()
    return float(value), d


NODE_LIMIT = 20_000
"""Branch-and-bound nodes per MIP: the deterministic budget that ends a MIP before its
wall-clock limit does, so that two runs stop at the same point."""


@dataclass(frozen=True)
class MipResult:
    chosen: Bools
    """Over the columns passed in."""
    optimal: bool
    """Proven optimal over those columns."""
    timed_out: bool
    """Stopped by the wall clock rather than by a deterministic limit."""
    bound: float
    """A proven lower bound on the cost over those columns (−inf if none)."""

    @classmethod
    def nothing(cls, n: int, timed_out: bool) -> MipResult:
        """No plan and no bound, over `n` columns."""
        return cls(np.zeros(n, dtype=bool), False, timed_out, -np.inf)


def mip(
    cands: Candidates,
    cl: Cliques,
    cost: Ints,
    cols: Ints,
    hint: Bools | None,
    *,
    time_limit: float,
    min_weight: tuple[Ints, int] | None = None,
    fixed: Bools | None = None,
    engine: str = "scip",
    below: float | None = None,
    tight: Tight | None = None,
    cuts: tuple[Duals, float] | None = None,
) -> MipResult:
    """Solve the restricted problem (every rule) exactly over `cols`.

    `fixed` (over `cols`) holds those arcs in the plan: a neighbourhood search for a
    plan, not a proof, so SCIP then separates cuts for one round at its root only (the
    repair MIPs at state size, contacts 0.9: 4.5 → 1.4 s and 2.7 → 2.2 s, the same
    plans; on the MIPs that prove, that setting was as often slower).

    With `min_weight` = (weight per arc, W), the plan must also place weight ≥ W: the
    distance level is then optimised alone, with small coefficients that the solvers'
    relative tolerances resolve to the kilometre (the folded cost, ~1e10, does not).

    `engine`: "scip" (OR-Tools' SCIP, warm-started from `hint`) or "highs" (HiGHS's
    MIP, without the hint). Measured at state size on the distance level's proving MIPs,
    the arcs below the gap's reduced cost: HiGHS proved 19,494 arcs (beds 0.6 × demand,
    contacts 0.6) in 5.7 s where SCIP spent ~10 s in its root LP and was cut at 35 s on
    14,417, and 12,495 arcs (1.5 × demand, contacts 0.3) in 1.1 s against SCIP's 8.0 s;
    but on the narrower MIPs that look for a better plan (arcs below 2 km of reduced
    cost) and on the weight level SCIP was as fast or faster. Both run on one thread
    under a node limit, so a run is reproducible either way. (OR-Tools 9.15 bundles
    HiGHS 1.12 too, but its wrapper crashed on these models with a hint.)

    `below` (HiGHS only): look only for plans costing less than this, e.g. the current
    plan's cost − ½; the search prunes every node that cannot beat it, so a MIP that
    only has to show nothing is better ends sooner (the 27,546-arc proof at beds 1.2 ×
    demand, contacts 0.6: 9.1 s against 20.4 s). If none exists the result is `optimal`
    with nothing chosen: every plan over `cols` costs at least `below`.

    `tight` (`tight_rows`): rows that every plan at least as good as the caller's fills;
    they are held full (a woman placed, a clique used, a bed type full), which the
    engines' presolve turns into fixings.

    `cuts` (HiGHS only): the LP's duals and the slack; the zero-half cuts they price
    (η < 0) become rows, held full where η < −(slack + 1) as `tight` holds rows, so the
    MIP's root starts from the LP's bound: the 15,332-arc proof at beds 1.2 × demand,
    contacts 0.9 took 4.0 s instead of 6.0 s. (Every cut as a row, tried before, made
    the MIPs slower.)
    """
    model = _model(cands, cl, cost, cols, min_weight, fixed, tight)
    if cuts is not None and engine == "highs":
        duals, slack = cuts
        model = replace(model, cuts=_cut_rows(cands, cols, duals.cuts, duals.eta, slack))
    if engine == "highs":
        result = _highs_mip(model, time_limit, below)
    else:
        result = _scip(model, hint, time_limit, one_root_round=fixed is not None)
    # A solver's bug must never become a plan, nor a proof.
    if result.chosen.any() and not keeps_every_rule(cands, cl, cols, result.chosen, min_weight):
        return MipResult.nothing(len(cols), result.timed_out)
    return result


def keeps_every_rule(
    cands: Candidates,
    cl: Cliques,
    cols: Ints,
    chosen: Bools,
    min_weight: tuple[Ints, int] | None = None,
) -> bool:
    """Whether the arcs `cols[chosen]` keep every row: one arc per request, no more than
    the free beds of each (shelter, bed type), one arc per clique, and the weight floor."""
    arcs = cols[chosen]
    picked = np.zeros(len(cands.req), dtype=bool)
    picked[arcs] = True
    per_request = np.bincount(cands.req[arcs], minlength=len(cands.n_bed))
    per_bed = np.bincount(st_key(cands)[arcs], minlength=cands.capacity.size)
    if (per_request > 1).any() or (per_bed > cands.capacity.reshape(-1)).any():
        return False
    if len(violated(cl, picked)):
        return False
    return min_weight is None or int(min_weight[0][arcs].sum()) >= min_weight[1]


Tight = tuple[Bools, Bools, Bools]
"""Per request, per (shelter, bed type), per clique: the row must be full."""


def tight_rows(duals: Duals, slack: float) -> Tight:
    """The rows that every plan costing at most `bound + slack` fills, where `bound` is
    what `bound(…, duals)` certifies: reduced-cost fixing of the rows' slacks.

    For any plan x, cost(x) − bound is a sum of non-negative terms, one per row, −y·(its
    unused capacity), an integer for an integer plan. So a row whose dual is below
    −slack cannot have unused capacity in such a plan (one unit of margin covers the
    rounding of floats of ~1e10)."""
    limit = -(slack + 1.0)
    return duals.u < limit, duals.v < limit, duals.mu < limit


@dataclass(frozen=True)
class _Model:
    """The restricted MIP over some columns (0/1 each), as either engine builds it."""

    cost: Floats
    rows: list[Ints]
    """Each row: the columns of which at least `least` and at most `upper` are chosen."""
    least: list[float]
    upper: list[float]
    lower: Floats
    """Per column: 1 where `fixed` holds the arc in the plan, else 0."""
    floor: tuple[Floats, float] | None
    """(weight per column, at least) when the plan must place that much weight."""
    cuts: tuple[Ints, Ints, Floats, Floats, Floats] | None = None
    """Cut rows over the columns (HiGHS only): starts, columns, coefficients, least, upper."""


def _model(
    cands: Candidates,
    cl: Cliques,
    cost: Ints,
    cols: Ints,
    min_weight: tuple[Ints, int] | None,
    fixed: Bools | None,
    tight: Tight | None = None,
) -> _Model:
    """Every rule over `cols` as rows: each request at most once (one with a single
    column needs no row: x ≤ 1), each (shelter, bed type) with more columns than free
    beds at most its free beds, each clique with two or more columns at most once; a
    `tight` row exactly full (a single column then fixed at 1)."""
    req, st, members = _rows(cands, cl, cols)
    cap = cands.capacity.reshape(-1)
    full_req, full_st, full_cl = tight if tight is not None else (None, None, None)
    rows: list[Ints] = []
    least: list[float] = []
    upper: list[float] = []
    lower = np.zeros(len(cols))

    def add(group: Ints, bound: float, full: bool) -> None:
        if full and len(group) == 1 and bound == 1.0:
            lower[group] = 1.0
        elif full or len(group) > bound:
            rows.append(group)
            least.append(bound if full else 0.0)
            upper.append(bound)

    for group in _groups(req):
        add(group, 1.0, full_req is not None and bool(full_req[req[group[0]]]))
    for group in _groups(st):
        k = int(st[group[0]])
        add(group, float(cap[k]), full_st is not None and bool(full_st[k]))
    for q, m in enumerate(members):
        if len(m):
            add(m, 1.0, full_cl is not None and bool(full_cl[q]))
    if fixed is not None:  # held at 1: a neighbourhood search, not a proof
        lower[fixed] = 1.0
    floor = None
    if min_weight is not None:
        arc_weight, at_least = min_weight
        floor = (arc_weight[cols].astype(np.float64), float(at_least))
    return _Model(cost[cols].astype(np.float64), rows, least, upper, lower, floor)


def _scip(
    model: _Model, hint: Bools | None, time_limit: float, one_root_round: bool = False
) -> MipResult:
    """`mip` by OR-Tools' SCIP, warm-started from `hint`.

    SCIP is deterministic under a node limit; the wall-clock `time_limit` is only a
    safety net, and `timed_out` says when it was the one that stopped the search.
    It runs on one thread: with two, OR-Tools races concurrent SCIP solvers, and
    equally good plans then differ between runs (measured even with
    `parallel/mode = 1`).
    """
    n = len(model.cost)
    solver = _solver("SCIP")
    solver.SetTimeLimit(max(100, int(time_limit * 1000)))
    solver.SetNumThreads(1)
    settings = f"limits/nodes = {NODE_LIMIT}\n"
    if one_root_round:
        settings += "separating/maxroundsroot = 1\n"
    solver.SetSolverSpecificParametersAsString(settings)
    x = [solver.BoolVar("") for _ in range(n)]
    for j in np.nonzero(model.lower)[0].tolist():
        x[j].SetLb(1.0)
    objective = solver.Objective()
    for var, c in zip(x, model.cost.tolist(), strict=True):
        objective.SetCoefficient(var, c)
    for members, least, bound in zip(model.rows, model.least, model.upper, strict=True):
        row = solver.Constraint(least, bound)
        for j in members.tolist():
            row.SetCoefficient(x[j], 1.0)
    if model.floor is not None:
        weight, at_least = model.floor
        row = solver.Constraint(at_least, solver.infinity())
        for var, w in zip(x, weight.tolist(), strict=True):
            row.SetCoefficient(var, w)
    objective.SetMinimization()
    if hint is not None:
        solver.SetHint(x, [float(h) for h in hint])
    params = pywraplp.MPSolverParameters()
    params.SetDoubleParam(params.RELATIVE_MIP_GAP, 0.0)
    started = time.monotonic()
    status = solver.Solve(params)
    optimal = status == pywraplp.Solver.OPTIMAL
    timed_out = not optimal and _used_its_time(started, time_limit)
    if status not in (pywraplp.Solver.OPTIMAL, pywraplp.Solver.FEASIBLE):
        return MipResult.nothing(n, timed_out)
    chosen = np.array([v.solution_value() > 0.5 for v in x], dtype=bool)
    return MipResult(chosen, optimal, timed_out, float(objective.BestBound()))


def _highs_mip(model: _Model, time_limit: float, below: float | None) -> MipResult:
    """`mip` by HiGHS: one thread and a node limit, so deterministic; the wall-clock
    `time_limit` is only a safety net, and `timed_out` says when it stopped the search.

    It is given no start: with one (setSolution) HiGHS 1.16 was seen to report an
    optimum 80 km below the true one and return the start itself (beds 1.5 × demand,
    contacts 0.3); without one it proved the true optimum in 1.1 s. `below` is a
    cutoff, not a start (`objective_bound`)."""
    n = len(model.cost)
    h = _highs()
    h.setOptionValue("time_limit", max(0.1, float(time_limit)))
    h.setOptionValue("mip_max_nodes", NODE_LIMIT)
    if below is not None:
        h.setOptionValue("objective_bound", float(below))
    none = np.zeros(0, dtype=np.int32)
    h.addCols(n, model.cost, model.lower, np.ones(n), 0, none, none, np.zeros(0))
    h.changeColsIntegrality(
        n, np.arange(n, dtype=np.int32), np.full(n, highspy.HighsVarType.kInteger)
    )
    if model.rows:
        sizes = [len(r) for r in model.rows]
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int32)
        index = np.concatenate(model.rows).astype(np.int32)
        h.addRows(
            len(model.rows),
            np.asarray(model.least),
            np.asarray(model.upper),
            len(index),
            starts,
            index,
            np.ones(len(index)),
        )
    if model.floor is not None:
        weight, at_least = model.floor
        h.addRow(at_least, highspy.kHighsInf, n, np.arange(n, dtype=np.int32), weight)
    if model.cuts is not None and len(model.cuts[3]):
        c_start, c_col, c_coef, c_least, c_upper = model.cuts
        h.addRows(
            len(c_least),
            c_least,
            c_upper,
            len(c_col),
            c_start.astype(np.int32),
            c_col.astype(np.int32),
            c_coef,
        )
    h.run()
    status = h.getModelStatus()
    info = h.getInfo()
    optimal = status == highspy.HighsModelStatus.kOptimal
    timed_out = status == highspy.HighsModelStatus.kTimeLimit
    if not info.primal_solution_status:
        if below is not None and status == highspy.HighsModelStatus.kInfeasible:
            # Infeasible under the cutoff: no plan here costs less than `below`.
            return MipResult(np.zeros(n, dtype=bool), True, False, float(below))
        return MipResult.nothing(n, timed_out)
    chosen = np.asarray(h.getSolution().col_value) > 0.5
    # Not worth what HiGHS says it is worth: a bug (see `mip`), neither a plan nor a proof.
    if optimal and abs(float(model.cost[chosen].sum()) - info.objective_function_value) > 0.5:
        return MipResult.nothing(n, timed_out)
    bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else -np.inf
    if below is not None and float(model.cost[chosen].sum()) >= below:
        # A plan at or above the cutoff is not what was asked for, and HiGHS's dual bound
        # then holds only below the cutoff: at beds 0.6 × demand, contacts 0.9 it called
        # a plan 66 km above the known one optimal, with that plan's cost as its bound.
        # What the search shows is that no plan here costs less than `below`.
        return MipResult(np.zeros(n, dtype=bool), optimal, timed_out, min(bound, float(below)))
    return MipResult(chosen, optimal, timed_out, bound)


def _used_its_time(started: float, time_limit: float) -> bool:
    """Whether a solve begun at `started` that ended unproven was stopped by the clock.
    GLOP and SCIP name neither limit through OR-Tools: one that used its whole
    wall-clock allowance is taken to have hit it."""
    return time.monotonic() - started >= time_limit - 0.05


def _cut_rows(
    cands: Candidates, cols: Ints, cuts: Cuts, eta: Floats, slack: float
) -> tuple[Ints, Ints, Floats, Floats, Floats]:
    """The cuts whose dual is non-zero, over `cols` (the other arcs are 0 in this MIP);
    one whose dual is below −(slack + 1) held full, as `tight_rows` holds rows."""
    column = np.full(len(cands.req), -1, dtype=np.int64)
    column[cols] = np.arange(len(cols))
    keep = np.nonzero(eta < -1e-9)[0]
    starts, col, entries = _over_columns(cuts.arc, cuts.start, keep, column)
    upper = cuts.rhs[keep].astype(np.float64)
    least = np.where(eta[keep] < -(slack + 1.0), upper, -highspy.kHighsInf)
    return starts, col, cuts.coef[entries].astype(np.float64), least, upper


def _over_columns(arc: Ints, start: Ints, rows: Ints, column: Ints) -> tuple[Ints, Ints, Ints]:
    """Rows `rows` of a listing by arc (row k: `arc[start[k]:start[k+1]]`) over only the
    arcs that are columns (`column` ≥ 0) in compressed-row form: each row's start, the
    columns, and which entries of the listing they are (for their coefficients)."""
    sizes = np.diff(start)[rows]
    entries = ranges(start[rows], sizes)
    col = column[arc[entries]]
    on = col >= 0
    counts = np.bincount(np.repeat(np.arange(len(rows)), sizes)[on], minlength=len(rows))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return starts, col[on], entries[on]


def _groups(key: Ints) -> list[Ints]:
    """Local indices grouped by equal `key`."""
    order = np.argsort(key, kind="stable")
    return np.split(order, np.nonzero(np.diff(key[order]))[0] + 1) if len(key) else []


def _highs() -> highspy.Highs:
    """A quiet HiGHS on one thread (its log would go to stdout, where a plan may be)."""
    h = highspy.Highs()  # type: ignore[no-untyped-call]
    h.setOptionValue("output_flag", False)
    h.setOptionValue("threads", 1)
    h.setOptionValue("mip_rel_gap", 0.0)
    return h


def _silence_banner() -> None:
    """HiGHS prints a banner on stdout when the first instance in a process is made,
    before any option can be set: make that one here, at import, with stdout closed."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 1)
            highspy.Highs()  # type: ignore[no-untyped-call]
    finally:
        os.dup2(saved, 1)
        os.close(saved)


_silence_banner()


def priced_rows(
    cands: Candidates, cl: Cliques, cost: Ints, duals: Duals, *, time_limit: float
) -> tuple[int, Bools, MipResult] | None:
    """A bound on the weight level from the rows its LP prices, proven by a small MIP.

    Dropping rows relaxes the problem, so the best plan under only the rows with a
    non-zero dual in the weight LP (and every request row) bounds every plan. That
    relaxation keeps the LP's value, but where rule 7 leaves the LP fractional its
    integer optimum can be lower. A woman with an arc touching no kept row is placed
    there for free; the MIP runs over the other women, one arc per set of kept rows
    (arcs touching the same kept rows are interchangeable here).

    Returns the bound on −cost (the weight), the arcs the MIP chose (a guide for a
    plan: they may break dropped rows), and the MIP's result; None if the MIP would
    exceed PRICED_ROWS_ARCS columns or found nothing.
    """
    cap = cands.capacity.reshape(-1).copy()
    st = st_key(cands)
    kept_st = duals.v < -FACE_TOLERANCE
    kept_cl = duals.mu < -FACE_TOLERANCE
    e_clique = np.repeat(np.arange(len(cl)), np.diff(cl.start))
    touches = kept_st[st].copy()
    np.logical_or.at(touches, cl.arc, kept_cl[e_clique])
    free = np.zeros(len(cands.n_bed), dtype=bool)
    free[cands.req[~touches]] = True
    weight = -cost
    best = np.full(len(cands.n_bed), 0, dtype=np.int64)
    np.maximum.at(best, cands.req, weight)
    placed_free = int(best[free].sum())
    rest = np.nonzero(~free[cands.req])[0]
    # One arc per (woman, kept st row, kept cliques): the others add nothing here.
    sel = kept_cl[e_clique]
    arc_cliques: dict[int, list[int]] = {}
    for a, k in zip(cl.arc[sel].tolist(), e_clique[sel].tolist(), strict=True):
        arc_cliques.setdefault(a, []).append(k)
    seen: set[tuple[int, int, tuple[int, ...]]] = set()
    cols = []
    for a, r, k in zip(
        rest.tolist(),
        cands.req[rest].tolist(),
        np.where(kept_st[st], st, -1)[rest].tolist(),
        strict=True,
    ):
        key = (r, k, tuple(arc_cliques.get(a, ())))
        if key not in seen:
            seen.add(key)
            cols.append(a)
    if len(cols) > PRICED_ROWS_ARCS:
        return None
    if not cols:
        return (
            placed_free,
            np.zeros(len(cands.req), dtype=bool),
            MipResult(np.zeros(0, dtype=bool), True, False, 0.0),
        )
    # Dropped capacity rows become unbounded; dropped cliques are left out.
    cap[~kept_st] = len(cands.req)
    kept = np.nonzero(kept_cl)[0]
    sizes = np.diff(cl.start)[kept]
    sub_cl = Cliques(
        arc=cl.arc[np.repeat(kept_cl, np.diff(cl.start))],
        start=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        shelter=cl.shelter[kept],
        group=cl.group[kept],
    )
    relaxed = replace(cands, capacity=cap.reshape(cands.capacity.shape))
    result = mip(
        relaxed,
        sub_cl,
        cost,
        np.asarray(cols, dtype=np.int64),
        None,
        time_limit=time_limit,
        engine="highs",  # 0.7 s where SCIP took 2.7 s (23,372 columns, below)
    )
    if not np.isfinite(result.bound):
        return None
    chosen = np.zeros(len(cands.req), dtype=bool)
    chosen[np.asarray(cols, dtype=np.int64)[result.chosen]] = True
    bound = placed_free + int(np.floor(-result.bound + 1e-6))
    return bound, chosen, result


PRICED_ROWS_ARCS = 30_000
"""The largest MIP `priced_rows` runs (23,372 columns at state size, beds 1.2 × demand,
contacts 0.6: HiGHS 0.7 s)."""
