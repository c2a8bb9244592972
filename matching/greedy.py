"""Take arcs in a given order while every rule still holds: a plan, never a proof.

The solver uses it to round the linear relaxation into a first plan; the benchmark uses
it, ordered by weight then km, as the baseline a human dispatcher would produce.
"""

from __future__ import annotations

import numpy as np

from matching.candidates import Bools, Candidates, Ints, st_key
from matching.conflicts import Cliques


def take(cands: Candidates, cl: Cliques, order: Ints, initial: Bools | None = None) -> Bools:
    """Chosen arcs: `initial` (a valid plan), then each arc of `order` in turn if its
    request, beds and cliques allow."""
    st_all = st_key(cands)
    chosen = np.zeros(len(cands.req), dtype=bool) if initial is None else initial.copy()
    left = cands.capacity.reshape(-1) - np.bincount(st_all[chosen], minlength=cands.capacity.size)
    st = st_all.tolist()
    req = cands.req.tolist()
    placed_mask = np.zeros(len(cands.n_bed), dtype=bool)
    placed_mask[cands.req[chosen]] = True
    placed = placed_mask.tolist()
    e_clique = np.repeat(np.arange(len(cl)), np.diff(cl.start))
    used = np.zeros(len(cl), dtype=bool)
    used[e_clique[chosen[cl.arc]]] = True
    clique_used = used.tolist()
    # arc → its cliques, as a CSR over arcs sorted by index
    by_arc = np.argsort(cl.arc, kind="stable")
    arc_sorted = cl.arc[by_arc]
    ptr = np.searchsorted(arc_sorted, np.arange(len(cands.req) + 1)).tolist()
    clique_of = e_clique[by_arc].tolist()
    left_l = left.tolist()
    for a in order.tolist():
        r, k = req[a], st[a]
        if placed[r] or left_l[k] == 0:
            continue
        mine = clique_of[ptr[a] : ptr[a + 1]]
        if any(clique_used[q] for q in mine):
            continue
        placed[r] = True
        left_l[k] -= 1
        for q in mine:
            clique_used[q] = True
        chosen[a] = True
    return chosen
