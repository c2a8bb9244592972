"""A solver-independent checker: does a plan keep every rule, add up, and explain itself?

Written from the contract alone (it shares no code with the solver but the spec's
distance formula), so an auditor can read it against match-problem.md, and the tests
use it as their oracle. It cannot prove optimality; it checks the claims a plan can be
held to: every rule, the objective totals, `optimal` ⇒ weight = bound, km, the reason
code of every unplaced woman, that no detail names a contact token, and that
`bound.total_km` (an extension) is only given where it can hold.

Two readings of the rule chain: `stage` is the plain one, one woman and one shelter,
used for every assignment; `chain_summary` is the same chain over every woman and every
shelter at once in numpy blocks, which reasons and `alternatives` need (30,000 × 3,000
pairs at national size: ~85 s one pair at a time). A test holds the two equal.

It also holds the project's one extension of the rules: no woman goes to a shelter in
her `avoid_shelters` (it declined her), and such a shelter counts with rules 4–6.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
import numpy.typing as npt

from matching.geo import TOLERANCE_KM, distance, haversine, km_cost
from schema.problem import Plan, Problem, Request, Shelter

NO_BED, NOT_ELIGIBLE, OUT_OF_RANGE, SAFETY, PASSES = range(5)
_REASON_OF_STAGE = {
    NO_BED: "no_bed_of_type",
    NOT_ELIGIBLE: "not_eligible",
    OUT_OF_RANGE: "out_of_range",
    SAFETY: "safety_exclusion",
}


class Context:
    """Lookups the rules need, built once per problem."""

    def __init__(self, problem: Problem) -> None:
        self.located = {
            c.id: (c.lat, c.lon)
            for c in problem.contacts
            if c.lat is not None and c.lon is not None
        }
        self.residents: defaultdict[str, list[tuple[set[str], set[str]]]] = defaultdict(list)
        self.resident_ids: defaultdict[str, set[str]] = defaultdict(set)
        excluded_by: defaultdict[str, set[str]] = defaultdict(set)
        for r in problem.requests:
            for other in r.exclude_with:
                excluded_by[other].add(r.id)
        for p in problem.residents:
            self.residents[p.shelter].append(
                (set(p.contacts), set(p.exclude_with) | excluded_by[p.id])
            )
        self.excluded = {r.id: set(r.exclude_with) | excluded_by[r.id] for r in problem.requests}


def stage(r: Request, s: Shelter, ctx: Context) -> int:
    """The first step of the chain (bed, 2, 3, 4–6 or a decline) keeping `r` out of `s`."""
    first = _contract_stage(r, s, ctx)
    if first == PASSES and s.id in r.avoid_shelters:
        return SAFETY
    return first


def _contract_stage(r: Request, s: Shelter, ctx: Context) -> int:
    """The first rule of the spec's chain (bed, 2, 3, 4–6) that keeps `r` out of `s`."""
    if s.beds.get(r.bed_type, 0) <= 0:
        return NO_BED
    rules = s.rules
    if (
        r.children > rules.max_children
        or (r.mat and not rules.mat_ok)
        or r.age < rules.min_age
        or (rules.max_age is not None and r.age > rules.max_age)
        or any(o in rules.excluded_offenses for o in r.offenses)
        or (r.language is not None and r.language not in rules.languages)
        or any(n not in s.services for n in r.needs)
    ):
        return NOT_ELIGIBLE
    if distance(r.origin.lat, r.origin.lon, s.lat, s.lon) > r.max_km + TOLERANCE_KM:
        return OUT_OF_RANGE
    if any(t in s.flagged_contacts for t in r.contacts):
        return SAFETY
    for t in r.contacts:
        if t in ctx.located:
            lat, lon = ctx.located[t]
            if distance(lat, lon, s.lat, s.lon) < r.avoid_km - TOLERANCE_KM:
                return SAFETY
    for tokens, apart in ctx.residents[s.id]:
        if tokens.intersection(r.contacts) or r.id in apart:
            return SAFETY
    return PASSES


def reason(r: Request, shelters: list[Shelter], ctx: Context) -> tuple[str, int]:
    """Her reason code if left unplaced, and how many shelters pass rules 1–6 for her."""
    stages = [stage(r, s, ctx) for s in shelters]
    best = max(stages, default=NO_BED)
    return ("capacity" if best == PASSES else _REASON_OF_STAGE[best]), stages.count(PASSES)


BLOCK = 1024
"""Women per numpy block in `chain_summary` (a block × shelters matrix of stages)."""


def chain_summary(
    problem: Problem, ctx: Context
) -> tuple[npt.NDArray[np.int8], npt.NDArray[np.int64]]:
    """For every request: the furthest `stage` any shelter reaches, and how many shelters
    pass the whole chain, exactly as `stage` over every shelter, in numpy blocks."""
    shelters, requests = problem.shelters, problem.requests
    n_s, n_r = len(shelters), len(requests)
    best = np.full(n_r, NO_BED, dtype=np.int8)
    passing = np.zeros(n_r, dtype=np.int64)
    if n_s == 0 or n_r == 0:
        return best, passing
    s_index = {s.id: j for j, s in enumerate(shelters)}
    s_lat = np.array([s.lat for s in shelters])
    s_lon = np.array([s.lon for s in shelters])
    has_bed = {
        t: np.array([s.beds.get(t, 0) > 0 for s in shelters])
        for t in {r.bed_type for r in requests}
    }
    max_children = np.array([s.rules.max_children for s in shelters])
    mat_ok = np.array([s.rules.mat_ok for s in shelters])
    min_age = np.array([s.rules.min_age for s in shelters])
    max_age = np.array([np.inf if s.rules.max_age is None else s.rules.max_age for s in shelters])
    # Rule 2's word lists, one shelter mask per word some woman uses.
    excludes = {
        o: np.array([o in s.rules.excluded_offenses for s in shelters])
        for o in {o for r in requests for o in r.offenses}
    }
    speaks = {
        w: np.array([w in s.rules.languages for s in shelters])
        for w in {r.language for r in requests if r.language is not None}
    }
    offers = {
        n: np.array([n in s.services for s in shelters])
        for n in {n for r in requests for n in r.needs}
    }
    # Rules 4 and 6 and declines are sparse: the (woman, shelter) pairs they bar.
    barring: defaultdict[str, set[int]] = defaultdict(set)  # token → shelters it bars
    for j, s in enumerate(shelters):
        for t in s.flagged_contacts:
            barring[t].add(j)
        for tokens, _ in ctx.residents[s.id]:
            for t in tokens:
                barring[t].add(j)
    resident_home = {p.id: s_index[p.shelter] for p in problem.residents}
    apart_homes: defaultdict[str, set[int]] = defaultdict(set)  # request → shelters
    for p in problem.residents:
        for other in p.exclude_with:
            apart_homes[other].add(resident_home[p.id])
    for r in requests:
        for other in r.exclude_with:
            if other in resident_home:
                apart_homes[r.id].add(resident_home[other])
    # Rule 5: distance from each located contact some woman carries to every shelter.
    used = sorted({t for r in requests for t in r.contacts if t in ctx.located})
    c_row = {t: k for k, t in enumerate(used)}
    c_dist = haversine(
        np.array([ctx.located[t][0] for t in used])[:, None],
        np.array([ctx.located[t][1] for t in used])[:, None],
        s_lat[None, :],
        s_lon[None, :],
    )

    for b0 in range(0, n_r, BLOCK):
        block = requests[b0 : b0 + BLOCK]
        n_b = len(block)
        stage_of = np.full((n_b, n_s), PASSES, dtype=np.int8)
        safety = np.zeros((n_b, n_s), dtype=bool)
        for i, r in enumerate(block):
            barred = apart_homes.get(r.id, set()) | {
                s_index[d] for d in r.avoid_shelters if d in s_index
            }
            for t in r.contacts:
                barred |= barring.get(t, set())
                if t in c_row:
                    safety[i] |= c_dist[c_row[t]] < r.avoid_km - TOLERANCE_KM
            if barred:
                safety[i, list(barred)] = True
        age = np.array([r.age for r in block])[:, None]
        ineligible = (
            (np.array([r.children for r in block])[:, None] > max_children[None, :])
            | (np.array([r.mat for r in block])[:, None] & ~mat_ok[None, :])
            | (age < min_age[None, :])
            | (age > max_age[None, :])
        )
        for i, r in enumerate(block):
            for o in r.offenses:
                ineligible[i] |= excludes[o]
            if r.language is not None:
                ineligible[i] |= ~speaks[r.language]
            for n in r.needs:
                ineligible[i] |= ~offers[n]
        no_bed = np.stack([~has_bed[r.bed_type] for r in block])
        # Distances only where the chain gets that far (about a third of the pairs).
        rows, cols = np.nonzero(~(no_bed | ineligible))
        origin_lat = np.array([r.origin.lat for r in block])
        origin_lon = np.array([r.origin.lon for r in block])
        max_km = np.array([r.max_km for r in block])
        d = haversine(origin_lat[rows], origin_lon[rows], s_lat[cols], s_lon[cols])
        far = np.zeros((n_b, n_s), dtype=bool)
        far[rows, cols] = d > max_km[rows] + TOLERANCE_KM
        # Later steps of the chain first, so that an earlier failing step overwrites.
        stage_of[safety] = SAFETY
        stage_of[far] = OUT_OF_RANGE
        stage_of[ineligible] = NOT_ELIGIBLE
        stage_of[no_bed] = NO_BED
        best[b0 : b0 + n_b] = stage_of.max(axis=1)
        passing[b0 : b0 + n_b] = (stage_of == PASSES).sum(axis=1)
    return best, passing


def check(problem: Problem, plan: Plan) -> list[str]:
    """Every way the plan breaks the contract; empty when it keeps it."""
    errors: list[str] = []
    requests = {r.id: r for r in problem.requests}
    shelters = {s.id: s for s in problem.shelters}
    ctx = Context(problem)
    best, passing = chain_summary(problem, ctx)
    index = {r.id: i for i, r in enumerate(problem.requests)}

    seen = Counter([a.request for a in plan.assignments] + [u.request for u in plan.unplaced])
    for rid, n in sorted(seen.items()):
        if rid not in requests:
            errors.append(f"request {rid!r} is not in the problem")
        elif n > 1:
            errors.append(f"request {rid!r} appears {n} times")
    errors.extend(
        f"request {rid!r} is missing from the plan" for rid in requests if rid not in seen
    )

    placed: defaultdict[str, list[Request]] = defaultdict(list)
    weight = km_total = 0
    for a in plan.assignments:
        r, s = requests.get(a.request), shelters.get(a.shelter)
        if r is None:
            continue
        if s is None:
            errors.append(f"assignment of {a.request!r}: unknown shelter {a.shelter!r}")
            continue
        if a.bed_type != r.bed_type:
            errors.append(f"{a.request!r}: bed type {a.bed_type!r}, she needs {r.bed_type!r}")
        st = _contract_stage(r, s, ctx)
        if st != PASSES:
            errors.append(f"{a.request!r} in {a.shelter!r} breaks {_REASON_OF_STAGE[st]}")
        if a.shelter in r.avoid_shelters:
            errors.append(
                f"{a.request!r} in {a.shelter!r}: that shelter already declined her "
                "(avoid_shelters); it is never offered her again"
            )
        home = r.home or r.origin
        km = km_cost(distance(home.lat, home.lon, s.lat, s.lon))
        if a.km != km:
            errors.append(f"{a.request!r} in {a.shelter!r}: km {a.km}, should be {km}")
        if a.alternatives is not None:
            n_pass = int(passing[index[a.request]])
            if a.alternatives != n_pass - 1:
                errors.append(
                    f"{a.request!r}: alternatives {a.alternatives}, should be {n_pass - 1}"
                )
        placed[a.shelter].append(r)
        weight += r.weight
        km_total += a.km

    for sid, women in sorted(placed.items()):
        for bed_type, n in Counter(r.bed_type for r in women).items():
            free = shelters[sid].beds.get(bed_type, 0)
            if n > free:
                errors.append(f"shelter {sid!r}: {n} {bed_type} placements, free beds {free}")
        for i, one in enumerate(women):
            for two in women[i + 1 :]:
                if set(one.contacts) & set(two.contacts) or two.id in ctx.excluded[one.id]:
                    errors.append(
                        f"shelter {sid!r}: {one.id!r} and {two.id!r} must be kept apart (rule 7)"
                    )

    if plan.objective.placed_weight != weight:
        errors.append(
            f"objective.placed_weight {plan.objective.placed_weight}, assignments add to {weight}"
        )
    if plan.objective.total_km != km_total:
        errors.append(
            f"objective.total_km {plan.objective.total_km}, assignments add to {km_total}"
        )
    if plan.bound.placed_weight < weight:
        errors.append(f"bound {plan.bound.placed_weight} is below the placed weight {weight}")
    if plan.status == "optimal" and plan.bound.placed_weight != weight:
        errors.append(f"status optimal, but the bound {plan.bound.placed_weight} exceeds {weight}")
    km_bound = plan.bound.total_km
    if km_bound is not None:
        if plan.bound.placed_weight != weight:
            errors.append(
                f"bound.total_km {km_bound} is given, but the plan places {weight}, not the "
                f"bound {plan.bound.placed_weight}: it bounds only plans placing that weight"
            )
        elif km_bound > km_total:
            errors.append(f"bound.total_km {km_bound} is above the plan's {km_total} km")
        elif plan.status == "optimal" and km_bound != km_total:
            errors.append(f"status optimal, but bound.total_km {km_bound} is below {km_total}")

    tokens = {t for r in problem.requests for t in r.contacts} | {c.id for c in problem.contacts}
    leaking = _naming({u.detail for u in plan.unplaced}, tokens)
    for u in plan.unplaced:
        r = requests.get(u.request)
        if r is None:
            continue
        furthest = int(best[index[u.request]])
        expected = "capacity" if furthest == PASSES else _REASON_OF_STAGE[furthest]
        if u.reason != expected:
            errors.append(f"{u.request!r}: reason {u.reason!r}, should be {expected!r}")
        if u.detail in leaking:
            errors.append(f"{u.request!r}: the detail names a contact token")
    return errors


def _naming(details: set[str], tokens: set[str]) -> set[str]:
    """The details that contain a token anywhere, by looking up each of their substrings of
    a token's length (a few lengths; ~100× faster than searching for every token)."""
    lengths = {len(t) for t in tokens}
    return {
        text
        for text in details
        if any(text[i : i + n] in tokens for n in lengths for i in range(len(text) - n + 1))
    }
