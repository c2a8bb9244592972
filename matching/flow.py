"""The network relaxation: rules 1–6 exactly, rule 7 as far as a network can hold it.

Each request sends one unit either to the sink (unplaced, cost 0) or through a candidate
arc to a (shelter, bed type) node whose arc to the sink carries its free beds. A rule-7
clique becomes a node of capacity 1 that its members' arcs to that shelter pass through,
one node per bed type. A request in a single clique is then modelled exactly; a request
in several picks one of them, so the network relaxes only her extra cliques (and cliques
that span bed types). Its optimum is therefore a proven bound, and a plan when nothing
is violated. OR-Tools' min-cost flow solves it exactly in near-linear time.
"""

from __future__ import annotations

import numpy as np
from ortools.graph.python import min_cost_flow  # type: ignore[import-untyped]

from matching.candidates import Bools, Candidates, Ints, st_key
from matching.conflicts import Cliques


class FlowError(RuntimeError):
    """The flow solver refused the network (a bug, or costs out of range)."""


def relax(cands: Candidates, cl: Cliques, cost: Ints, allowed: Bools) -> tuple[Bools, int]:
    """Optimal chosen arcs and total cost of the relaxation over the `allowed` arcs."""
    n_r = len(cands.n_bed)
    n_t = cands.capacity.shape[1]
    n_arcs = len(cands.req)
    arc_type = cands.bed_type[cands.req]
    st = st_key(cands)

    # Clique entries that are allowed, and the (clique, type) node each passes through.
    e_clique = np.repeat(np.arange(len(cl)), np.diff(cl.start))
    e_arc = cl.arc
    live = allowed[e_arc]
    e_clique, e_arc = e_clique[live], e_arc[live]
    ct_key = e_clique * n_t + arc_type[e_arc]
    ct_nodes, ct_of_entry = np.unique(ct_key, return_inverse=True)
    in_clique = np.zeros(n_arcs, dtype=bool)
    in_clique[e_arc] = True

    st_used = np.unique(st[allowed])
    n_st, n_ct = len(st_used), len(ct_nodes)
    st_base = n_r
    ct_base = n_r + n_st
    sink = ct_base + n_ct

    direct = np.nonzero(allowed & ~in_clique)[0]
    st_of_ct = np.searchsorted(st_used, cl.shelter[ct_nodes // n_t] * n_t + ct_nodes % n_t)
    st_cap = cands.capacity.reshape(-1)[st_used]
    tails = np.concatenate(
        [
            cands.req[direct],
            cands.req[e_arc],
            ct_base + np.arange(n_ct),
            st_base + np.arange(n_st),
            np.arange(n_r),
        ]
    )
    heads = np.concatenate(
        [
            st_base + np.searchsorted(st_used, st[direct]),
            ct_base + ct_of_entry,
            st_base + st_of_ct,
            np.full(n_st, sink),
            np.full(n_r, sink),
        ]
    )
    caps = np.concatenate(
        [
            np.ones(len(direct) + len(e_arc) + n_ct, dtype=np.int64),
            st_cap,
            np.ones(n_r, dtype=np.int64),
        ]
    )
    costs = np.concatenate([cost[direct], cost[e_arc], np.zeros(n_ct + n_st + n_r, dtype=np.int64)])
    mcf = min_cost_flow.SimpleMinCostFlow()
    ids = mcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    supplies = np.zeros(sink + 1, dtype=np.int64)
    supplies[:n_r] = 1
    supplies[sink] = -n_r
    mcf.set_nodes_supplies(np.arange(sink + 1, dtype=np.int32), supplies)
    status = mcf.solve()
    if status != mcf.OPTIMAL:
        raise FlowError(f"min-cost flow ended with status {status}")
    flows = mcf.flows(ids[: len(direct) + len(e_arc)])
    chosen = np.zeros(n_arcs, dtype=bool)
    chosen[direct[flows[: len(direct)] > 0]] = True
    chosen[e_arc[flows[len(direct) :] > 0]] = True
    return chosen, int(mcf.optimal_cost())
