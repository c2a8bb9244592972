"""Rule 7 as cliques: who may not share a shelter with whom.

Every contact token carried by two or more requests is a group (at most one of its
members per shelter); so is every `exclude_with` pair of requests. A clique is a group
at one shelter where at least two members are candidates: the constraint
"at most one of these arcs". Tokens carried by one request alone constrain nothing here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from matching.candidates import Candidates, Ints, ranges
from schema.problem import Problem


@dataclass(frozen=True)
class Cliques:
    """Clique k holds the candidate arcs `arc[start[k]:start[k+1]]` at shelter `shelter[k]`."""

    arc: Ints
    start: Ints
    shelter: Ints
    group: Ints

    def __len__(self) -> int:
        return len(self.shelter)


def groups(problem: Problem) -> list[list[int]]:
    """Request index groups of which at most one member may go to any one shelter."""
    by_token: defaultdict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(problem.requests):
        for t in sorted(set(r.contacts)):
            by_token[t].append(i)
    out = [members for _, members in sorted(by_token.items()) if len(members) > 1]
    r_index = {r.id: i for i, r in enumerate(problem.requests)}
    pairs = {
        (min(i, r_index[o]), max(i, r_index[o]))
        for i, r in enumerate(problem.requests)
        for o in r.exclude_with
        if o in r_index and r_index[o] != i
    }
    out.extend([a, b] for a, b in sorted(pairs))
    return out


def cliques(cands: Candidates, groups: list[list[int]]) -> Cliques:
    """The cliques of rule 7 over the candidate arcs, ordered by (group, shelter)."""
    n_r = len(cands.n_bed)
    empty = np.zeros(0, dtype=np.int64)
    if not groups or len(cands.req) == 0:
        return Cliques(empty, np.zeros(1, dtype=np.int64), empty, empty)
    m_group = np.concatenate([np.full(len(g), k, dtype=np.int64) for k, g in enumerate(groups)])
    m_req = np.concatenate([np.asarray(g, dtype=np.int64) for g in groups])
    # Arcs are sorted by request: each membership expands to its request's arc range.
    first = np.searchsorted(cands.req, np.arange(n_r + 1))
    lo, hi = first[m_req], first[m_req + 1]
    sizes = hi - lo
    e_group = np.repeat(m_group, sizes)
    e_arc = ranges(lo, sizes)
    e_shelter = cands.shelter[e_arc]
    order = np.lexsort((e_arc, e_shelter, e_group))
    e_group, e_shelter, e_arc = e_group[order], e_shelter[order], e_arc[order]
    key = e_group * (int(cands.capacity.shape[0]) + 1) + e_shelter
    new = np.ones(len(key), dtype=bool)
    new[1:] = key[1:] != key[:-1]
    starts = np.nonzero(new)[0]
    ends = np.append(starts[1:], len(key))
    keep = (ends - starts) >= 2
    sel = np.repeat(keep, ends - starts)
    size_kept = (ends - starts)[keep]
    return Cliques(
        arc=e_arc[sel],
        start=np.concatenate([[0], np.cumsum(size_kept)]).astype(np.int64),
        shelter=e_shelter[starts[keep]],
        group=e_group[starts[keep]],
    )


def violated(cl: Cliques, chosen: np.ndarray) -> Ints:
    """Indices of cliques with more than one chosen arc (`chosen` is a bool per arc)."""
    if len(cl) == 0:
        return np.zeros(0, dtype=np.int64)
    counts = np.add.reduceat(chosen[cl.arc].astype(np.int64), cl.start[:-1])
    return np.nonzero(counts > 1)[0]
