"""Zero-half cuts: inequalities every plan keeps that the LP's fractional solution breaks.

Add up some rows of the problem (each request at most once, each (shelter, bed type)
at most its free beds, each rule-7 clique at most once), each taken once: every arc
gets an integer count, the right-hand sides a sum B. Halve both and round down: for a
plan, whose arcs are 0 or 1, Σ ⌊count/2⌋·x ≤ ⌊B/2⌋ holds (a Chvátal–Gomory cut with
multipliers ½). Where B is odd and the rows are tight at the LP's solution, the cut is
violated by ½ minus half of what the rounding drops (the LP's x on the arcs whose count
is odd). A bound x ≤ 1 may join the sum for such an arc: it drops 1 − x instead.

At state size, beds 0.6 × demand, contacts 0.9, the distance LP sat 38.5 km below the
optimum; ten rounds of these cuts (`solve._cut`) raise it to 6 km below, so the MIP
that proves the optimum needs 10,207 arcs instead of 53,391 (the arcs whose reduced
cost is below the gap). Beds 1.2 × demand, contacts 0.9: 32.6 → 8 km; 1.5 × 0.6: 38 →
14.7 km; 0.6 × 0.6: 11.8 → 8.4 km.

Separation is the heuristic of Koster, Zymolka and Kutschka (2009): over the tight rows
that touch a fractional arc, reduced mod 2 to the fractional arcs, Gaussian elimination
clears the arcs that are costliest to drop first; a combination left with an odd
right-hand side and little to drop is a cut. Rows that are not tight are left out
(measured: they found weaker cuts, more slowly).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matching.candidates import Candidates, Floats, Ints, ranges, st_key
from matching.conflicts import Cliques

EPS = 1e-6
"""An x within this of 0 or 1 is integral; a row within this of its bound is tight."""
MIN_VIOLATION = 1e-3
"""A cut violated by less is not worth a row."""
MAX_CUTS = 200
"""Cuts per round at most, the most violated first."""
_BITS = np.array([bin(b).count("1") for b in range(256)], dtype=np.int64)
"""Set bits of each byte value."""


@dataclass(frozen=True)
class Cuts:
    """Cut k: Σ coef·x over the arcs `arc[start[k]:start[k+1]]` is at most `rhs[k]`."""

    arc: Ints
    coef: Ints
    start: Ints
    rhs: Ints

    def __len__(self) -> int:
        return len(self.rhs)

    @classmethod
    def none(cls) -> Cuts:
        empty = np.zeros(0, dtype=np.int64)
        return cls(empty, empty, np.zeros(1, dtype=np.int64), empty)

    def extend(self, other: Cuts) -> Cuts:
        """These cuts, then `other`'s."""
        return Cuts(
            np.concatenate([self.arc, other.arc]),
            np.concatenate([self.coef, other.coef]),
            np.concatenate([self.start, self.start[-1] + other.start[1:]]),
            np.concatenate([self.rhs, other.rhs]),
        )

    def lhs(self, x: Floats) -> Floats:
        """Σ coef·x of every cut, for x per arc."""
        if not len(self):
            return np.zeros(0)
        return np.add.reduceat(np.append(self.coef * x[self.arc], 0.0), self.start[:-1])[
            : len(self)
        ]


class _Rows:
    """The problem's rows over every arc, numbered requests, (shelter, bed type), cliques;
    row k lists the arcs `arc[ptr[k]:ptr[k + 1]]` (none twice)."""

    def __init__(self, cands: Candidates, cl: Cliques) -> None:
        n_req, n_st, n_arcs = len(cands.n_bed), cands.capacity.size, len(cands.req)
        req_ptr = np.searchsorted(cands.req, np.arange(n_req + 1))
        st = st_key(cands)
        by_st = np.argsort(st, kind="stable")
        st_ptr = np.searchsorted(st[by_st], np.arange(n_st + 1))
        self.arc = np.concatenate([np.arange(n_arcs), by_st, cl.arc]).astype(np.int64)
        self.ptr = np.concatenate([req_ptr[:-1], n_arcs + st_ptr[:-1], 2 * n_arcs + cl.start])
        self.rhs = np.concatenate(
            [
                np.ones(n_req, dtype=np.int64),
                cands.capacity.reshape(-1),
                np.ones(len(cl), dtype=np.int64),
            ]
        )

    def arcs(self, rows: Ints) -> Ints:
        """The arcs of these rows, concatenated (an arc once per row that lists it)."""
        return self.arc[ranges(self.ptr[rows], self.ptr[rows + 1] - self.ptr[rows])]


def zero_half(cands: Candidates, cl: Cliques, x: Floats, seen: set[bytes]) -> Cuts:
    """Cuts that `x` (per arc, satisfying every row) violates, not already in `seen`
    (keys of the cuts returned before; the new ones are added)."""
    n_arcs = len(cands.req)
    rows = _Rows(cands, cl)
    frac = np.nonzero((x > EPS) & (x < 1 - EPS))[0]
    if len(frac) < 2:
        return Cuts.none()
    one = x >= 1 - EPS
    # Every row's activity and its arcs at 1, from the rows' (row, arc) incidences.
    n_rows = len(rows.rhs)
    inc_row = np.repeat(np.arange(n_rows), np.diff(rows.ptr))
    inc_arc = rows.arc
    activity = np.bincount(inc_row, weights=x[inc_arc], minlength=n_rows)
    ones = np.bincount(inc_row, weights=one[inc_arc], minlength=n_rows).astype(np.int64)
    tight = activity > rows.rhs - EPS
    # The tight rows' fractional arcs, as bit sets over the fractional arcs.
    local = np.full(n_arcs, -1, dtype=np.int64)
    local[frac] = np.arange(len(frac))
    keep = tight[inc_row] & (local[inc_arc] >= 0)
    r_of, t_of = inc_row[keep], local[inc_arc[keep]]
    order = np.lexsort((t_of, r_of))
    r_of, t_of = r_of[order], t_of[order]
    row_ids, comb_of = np.unique(r_of, return_inverse=True)
    n_comb, n_frac = len(row_ids), len(frac)
    xf = x[frac]
    drop = np.minimum(xf, 1 - xf)  # what leaving arc t odd costs, at best
    cheapest = np.cumsum(np.sort(drop))
    most_odd = int(np.searchsorted(cheapest, 1.0))  # more odd arcs than this cannot be cut
    # Each combination of rows (k: row_ids[k] to start with): its fractional arcs, a bit
    # set in bytes so that numpy adds a pivot into every combination at once; the rows in
    # it (bit k: row_ids[k]); its parity.
    odd_arcs = np.zeros((n_comb, (n_frac + 7) // 8), dtype=np.uint8)
    np.bitwise_or.at(odd_arcs, (comb_of, t_of >> 3), np.left_shift(1, t_of & 7).astype(np.uint8))
    history = [1 << k for k in range(n_comb)]
    parity = ((rows.rhs - ones) & 1)[row_ids].tolist()
    found: dict[int, tuple[float, list[int]]] = {}

    def consider(combs: Ints) -> None:
        few = combs[_BITS[odd_arcs[combs]].sum(axis=1) <= most_odd]
        for j in few.tolist():
            hist, par = history[j], parity[j]
            if hist in found:
                continue
            odd = np.nonzero(np.unpackbits(odd_arcs[j], bitorder="little")[:n_frac])[0].tolist()
            cost, flips = 0.0, []
            for t in odd:
                if xf[t] > 0.5:  # add its bound x ≤ 1: drops 1 − x, flips the parity
                    cost += 1 - xf[t]
                    flips.append(t)
                    par ^= 1
                else:
                    cost += xf[t]
            if not par:  # even: the cheapest change of one arc's choice makes it odd
                if not odd:
                    continue
                t = min(odd, key=lambda t: (abs(1 - 2 * xf[t]), t))
                cost += abs(1 - 2 * xf[t])
                flips = [u for u in flips if u != t] if t in flips else [*flips, t]
            if (1 - cost) / 2 > MIN_VIOLATION:
                found[hist] = ((1 - cost) / 2, sorted(flips))

    consider(np.arange(n_comb))
    # Gaussian elimination mod 2, the costliest arcs to drop first: the first combination
    # (in row order) holding arc t is the pivot, added into every other that holds it.
    alive = np.ones(n_comb, dtype=bool)
    for t in np.argsort(-drop, kind="stable").tolist():
        holding = np.nonzero(alive & (odd_arcs[:, t >> 3] & (1 << (t & 7)) != 0))[0]
        if not len(holding):
            continue
        pivot, others = int(holding[0]), holding[1:]
        alive[pivot] = False
        if not len(others):
            continue
        odd_arcs[others] ^= odd_arcs[pivot]
        for j in others.tolist():
            history[j] ^= history[pivot]
            parity[j] ^= parity[pivot]
        consider(others)

    best = sorted(found.items(), key=lambda kv: (-kv[1][0], kv[0]))[:MAX_CUTS]
    out_arc, out_coef, out_rhs, sizes = [], [], [], []
    in_rows = np.zeros(n_arcs, dtype=np.int64)  # per arc, how many of the cut's rows hold it
    n_bytes = (n_comb + 7) // 8
    for hist, (_, flips) in best:
        in_hist = np.unpackbits(
            np.frombuffer(hist.to_bytes(n_bytes, "little"), np.uint8), bitorder="little"
        )
        members = row_ids[np.nonzero(in_hist)[0]]
        every = rows.arcs(members)
        np.add.at(in_rows, every, 1)
        count = in_rows[every]
        in_rows[every] = 0
        # Arcs at 1 left odd, and the flipped ones: their bound x ≤ 1 joins the sum.
        bound_on = (one[every] & (count % 2 == 1)) | np.isin(every, frac[flips])
        total = int(rows.rhs[members].sum()) + len(np.unique(every[bound_on]))
        halved = (count + bound_on) // 2
        cut_arcs, first = np.unique(every[halved > 0], return_index=True)
        coef = halved[halved > 0][first]
        rhs = total // 2
        if float((coef * x[cut_arcs]).sum()) <= rhs + MIN_VIOLATION:
            continue
        key = cut_arcs.tobytes() + coef.tobytes() + np.int64(rhs).tobytes()
        if key in seen:
            continue
        seen.add(key)
        out_arc.append(cut_arcs)
        out_coef.append(coef)
        out_rhs.append(rhs)
        sizes.append(len(cut_arcs))
    if not out_rhs:
        return Cuts.none()
    return Cuts(
        np.concatenate(out_arc).astype(np.int64),
        np.concatenate(out_coef).astype(np.int64),
        np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        np.asarray(out_rhs, dtype=np.int64),
    )
