"""Which shelters may take each woman alone (rules 1–6), computed in bulk with numpy.

A shelter listed in her `avoid_shelters` (it declined her before) is dropped with the
rules 4–6 step, so it is never an arc and counts as a `safety_exclusion`.

Requests are processed in blocks of rows against all shelters at once, so memory stays
bounded at national size and no Python loop ever runs over request×shelter pairs. Token
rules (4 and 6) are sparse: a token → requests map is crossed with the shelters that
flag the token or house a resident carrying it. The same pass counts, per request, how
many shelters survive each step of the rule chain, which is what the reason codes need.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from matching.geo import EARTH_RADIUS_KM, TOLERANCE_KM, haversine
from schema.problem import Problem

Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]
Floats = npt.NDArray[np.float64]
BLOCK = 2048


@dataclass(frozen=True)
class Candidates:
    """Arcs (request, shelter, km) passing rules 1–6 and not declined, sorted by request."""

    req: Ints
    shelter: Ints
    km: Ints
    bed_type: Ints
    """Bed type index of each request."""
    bed_types: list[str]
    capacity: Ints
    """Free beds, shape (shelters, bed types)."""
    n_bed: Ints
    """Per request: shelters with a free bed of her type."""
    n_eligible: Ints
    """…of those, passing rule 2."""
    n_in_range: Ints
    """…of those, also passing rule 3."""
    n_safe: Ints
    """…of those, also passing rules 4–6 and not having declined her (her candidates)."""

    @cached_property
    def st(self) -> Ints:
        """The flattened (shelter, bed type) index of every arc: the row of its free beds
        (computed once: pricing asks for it every round, 0.03 s at national size)."""
        key = self.shelter * self.capacity.shape[1] + self.bed_type[self.req]
        return np.asarray(key, dtype=np.int64)


def _bits(sets: list[list[str]], vocab: dict[str, int]) -> npt.NDArray[np.uint64]:
    """Pack word sets into uint64 bitsets over `vocab`, shape (len(sets), words)."""
    words = max(1, (len(vocab) + 63) // 64)
    out = np.zeros((len(sets), words), dtype=np.uint64)
    for i, items in enumerate(sets):
        for item in items:
            k = vocab.get(item)
            if k is not None:
                out[i, k // 64] |= np.uint64(1) << np.uint64(k % 64)
    return out


def _disjoint(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> Bools:
    """(rows of a) × (rows of b): True where the bitsets share no bit."""
    ok = np.ones((a.shape[0], b.shape[0]), dtype=bool)
    for k in range(a.shape[1]):
        ok &= (a[:, k, None] & b[None, :, k]) == 0
    return ok


def build(problem: Problem) -> Candidates:
    """Evaluate rules 1–6 and `avoid_shelters` for every request against every shelter."""
    shelters, requests = problem.shelters, problem.requests
    n_s, n_r = len(shelters), len(requests)
    bed_types = sorted({t for s in shelters for t in s.beds} | {r.bed_type for r in requests})
    t_index = {t: i for i, t in enumerate(bed_types)}
    capacity = np.zeros((n_s, len(bed_types)), dtype=np.int64)
    for j, s in enumerate(shelters):
        for t, n in s.beds.items():
            capacity[j, t_index[t]] = n
    rtype = np.array([t_index[r.bed_type] for r in requests], dtype=np.int64)

    s_lat = np.array([s.lat for s in shelters])
    s_lon = np.array([s.lon for s in shelters])
    s_maxch = np.array([s.rules.max_children for s in shelters])
    s_mat = np.array([s.rules.mat_ok for s in shelters], dtype=bool)
    s_minage = np.array([s.rules.min_age for s in shelters])
    s_maxage = np.array([10**9 if s.rules.max_age is None else s.rules.max_age for s in shelters])
    off_vocab = {
        w: i for i, w in enumerate(sorted({w for s in shelters for w in s.rules.excluded_offenses}))
    }
    s_off = _bits([s.rules.excluded_offenses for s in shelters], off_vocab)
    r_off = _bits([r.offenses for r in requests], off_vocab)
    need_vocab = {w: i for i, w in enumerate(sorted({w for r in requests for w in r.needs}))}
    # A need no shelter offers gets its own bit that no shelter sets.
    r_need = _bits([r.needs for r in requests], need_vocab)
    s_lack = ~_bits([s.services for s in shelters], need_vocab)
    langs = sorted({r.language for r in requests if r.language is not None})
    lang_index = {w: i for i, w in enumerate(langs)}
    # Column len(langs) stands for "no language asked": every shelter passes it.
    s_lang = np.ones((len(langs) + 1, n_s), dtype=bool)
    for j, s in enumerate(shelters):
        spoken = set(s.rules.languages)
        for w, i in lang_index.items():
            s_lang[i, j] = w in spoken
    r_lang = np.array(
        [len(langs) if r.language is None else lang_index[r.language] for r in requests],
        dtype=np.int64,
    )
    r_children = np.array([r.children for r in requests])
    r_mat = np.array([r.mat for r in requests], dtype=bool)
    r_age = np.array([r.age for r in requests])
    o_lat = np.array([r.origin.lat for r in requests])
    o_lon = np.array([r.origin.lon for r in requests])
    h_lat = np.array([(r.home or r.origin).lat for r in requests])
    h_lon = np.array([(r.home or r.origin).lon for r in requests])
    o_xyz, s_xyz = _unit(o_lat, o_lon), _unit(s_lat, s_lon)
    r_max = np.array([r.max_km for r in requests], dtype=np.float64) + TOLERANCE_KM
    r_avoid = np.array([r.avoid_km for r in requests], dtype=np.float64) - TOLERANCE_KM

    # Rule 5: contact → shelter distances for located contacts that some request carries.
    located = {c.id: (c.lat, c.lon) for c in problem.contacts if c.lat is not None}
    slots = [[t for t in r.contacts if t in located] for r in requests]
    used = sorted({t for ts in slots for t in ts})
    c_index = {t: i for i, t in enumerate(used)}
    c_dist = haversine(
        np.array([located[t][0] for t in used])[:, None],
        np.array([located[t][1] for t in used])[:, None],
        s_lat[None, :],
        s_lon[None, :],
    )
    k_max = max((len(ts) for ts in slots), default=0)
    r_slot = np.full((n_r, k_max), -1, dtype=np.int64)
    for i, ts in enumerate(slots):
        r_slot[i, : len(ts)] = [c_index[t] for t in ts]

    f_req, f_sh = _exclusions(problem)

    arcs_r: list[Ints] = []
    arcs_s: list[Ints] = []
    arcs_km: list[Ints] = []
    counts = np.zeros((4, n_r), dtype=np.int64)
    bed_ok_by_type = capacity.T > 0  # (types, shelters)
    for r0 in range(0, n_r, BLOCK):
        r1 = min(n_r, r0 + BLOCK)
        sl = slice(r0, r1)
        ok = bed_ok_by_type[rtype[sl]]
        counts[0, sl] = ok.sum(axis=1)
        ok &= r_children[sl, None] <= s_maxch[None, :]
        ok &= ~r_mat[sl, None] | s_mat[None, :]
        ok &= (s_minage[None, :] <= r_age[sl, None]) & (r_age[sl, None] <= s_maxage[None, :])
        ok &= _disjoint(r_off[sl], s_off)
        ok &= _disjoint(r_need[sl], s_lack)
        ok &= s_lang[r_lang[sl]]
        counts[1, sl] = ok.sum(axis=1)
        # Rule 3 by chord length (one matrix product), with a margin; pairs near the
        # limit are settled by the exact haversine so boundaries follow the contract.
        fast = _chord_km(o_xyz[sl], s_xyz)
        limit = r_max[sl, None]
        ok &= fast <= limit + MARGIN_KM
        rows, cols = np.nonzero(ok & (fast > limit - MARGIN_KM))
        exact = haversine(o_lat[r0 + rows], o_lon[r0 + rows], s_lat[cols], s_lon[cols])
        ok[rows, cols] = exact <= r_max[r0 + rows]
        counts[2, sl] = ok.sum(axis=1)
        for k in range(k_max):
            rows = np.nonzero(r_slot[sl, k] >= 0)[0]
            if rows.size:
                near = c_dist[r_slot[r0 + rows, k]] < r_avoid[r0 + rows, None]
                ok[rows] &= ~near
        lo, hi = np.searchsorted(f_req, [r0, r1])
        ok[f_req[lo:hi] - r0, f_sh[lo:hi]] = False
        counts[3, sl] = ok.sum(axis=1)
        rows, cols = np.nonzero(ok)
        d_home = haversine(h_lat[r0 + rows], h_lon[r0 + rows], s_lat[cols], s_lon[cols])
        arcs_r.append(rows.astype(np.int64) + r0)
        arcs_s.append(cols.astype(np.int64))
        arcs_km.append(np.floor(d_home + 0.5).astype(np.int64))

    def cat(parts: list[Ints]) -> Ints:
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    return Candidates(
        req=cat(arcs_r),
        shelter=cat(arcs_s),
        km=cat(arcs_km),
        bed_type=rtype,
        bed_types=bed_types,
        capacity=capacity,
        n_bed=counts[0],
        n_eligible=counts[1],
        n_in_range=counts[2],
        n_safe=counts[3],
    )


MARGIN_KM = 0.01
"""Far above the chord formula's rounding error (~1e-4 km), far below any real limit."""


def _unit(lat: Floats, lon: Floats) -> Floats:
    """Points as unit vectors, shape (n, 3)."""
    p, q = np.radians(lat), np.radians(lon)
    return np.stack([np.cos(p) * np.cos(q), np.cos(p) * np.sin(q), np.sin(p)], axis=1)


def _chord_km(a: Floats, b: Floats) -> Floats:
    """Great-circle km between every row of `a` and of `b`, from chord lengths."""
    chord2 = np.maximum(2.0 - 2.0 * (a @ b.T), 0.0)
    return np.asarray(2 * EARTH_RADIUS_KM * np.arcsin(np.minimum(np.sqrt(chord2) / 2, 1.0)))


def _exclusions(problem: Problem) -> tuple[Ints, Ints]:
    """(request, shelter) pairs barred by rules 4 and 6 or a decline, sorted by request."""
    s_index = {s.id: j for j, s in enumerate(problem.shelters)}
    r_index = {r.id: i for i, r in enumerate(problem.requests)}
    token_index: dict[str, int] = {}
    req_tokens = [
        (i, token_index.setdefault(t, len(token_index)))
        for i, r in enumerate(problem.requests)
        for t in set(r.contacts)
    ]
    blocked = [  # (shelter, token): a flag, or a resident who carries the token
        (j, token_index[t])
        for j, s in enumerate(problem.shelters)
        for t in s.flagged_contacts
        if t in token_index
    ] + [
        (s_index[p.shelter], token_index[t])
        for p in problem.residents
        for t in p.contacts
        if t in token_index
    ]
    home = {p.id: s_index[p.shelter] for p in problem.residents}
    apart = [
        (r_index[o], s_index[p.shelter])
        for p in problem.residents
        for o in p.exclude_with
        if o in r_index
    ]
    apart += [
        (i, home[o]) for i, r in enumerate(problem.requests) for o in r.exclude_with if o in home
    ]
    # A declined shelter no longer in the problem (stale) has nothing left to bar.
    apart += [
        (i, s_index[d])
        for i, r in enumerate(problem.requests)
        for d in r.avoid_shelters
        if d in s_index
    ]
    reqs, shs = (
        [np.array([a for a, _ in apart], dtype=np.int64)],
        [np.array([b for _, b in apart], dtype=np.int64)],
    )
    if req_tokens and blocked:
        rt = np.array(req_tokens, dtype=np.int64)
        bt = np.array(blocked, dtype=np.int64)
        rt = rt[np.argsort(rt[:, 1], kind="stable")]
        bt = bt[np.argsort(bt[:, 1], kind="stable")]
        # Cross each token's requests with its blocked shelters.
        lo = np.searchsorted(bt[:, 1], rt[:, 1], side="left")
        hi = np.searchsorted(bt[:, 1], rt[:, 1], side="right")
        n = hi - lo
        reqs.append(np.repeat(rt[:, 0], n))
        shs.append(bt[ranges(lo, n), 0])
    r_all, s_all = np.concatenate(reqs), np.concatenate(shs)
    order = np.lexsort((s_all, r_all))
    return r_all[order], s_all[order]


def st_key(cands: Candidates) -> Ints:
    """`Candidates.st`: the (shelter, bed type) row of every arc."""
    return cands.st


def by_arc(arc: Ints, start: Ints, n_arcs: int) -> tuple[Ints, Ints, Ints]:
    """Rows listed by their arcs (row k: `arc[start[k]:start[k+1]]`) turned into lists by
    arc: arc a is in rows `rows[ptr[a]:ptr[a+1]]`, entry `order[i]` of the input."""
    row = np.repeat(np.arange(len(start) - 1), np.diff(start))
    order = np.argsort(arc, kind="stable")
    ptr = np.searchsorted(arc[order], np.arange(n_arcs + 1))
    return ptr, row[order], order


def ranges(starts: Ints, sizes: Ints) -> Ints:
    """start, start + 1, …, start + size − 1 for each (start, size), concatenated: the
    flat indices of many slices at once."""
    offsets = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    return np.asarray(np.repeat(starts, sizes) + offsets, dtype=np.int64)
