"""Random small problems: the solver's optimum equals brute force's, and the checker agrees."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from match_cases import problem, request, shelter

from matching.check import NO_BED, PASSES, Context, chain_summary, check, stage
from matching.solve import solve
from schema.problem import Problem, Request

TOKENS = ["c1", "c2", "c3"]
coord = st.floats(min_value=-0.6, max_value=0.6, allow_nan=False)


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    n_s = draw(st.integers(1, 3))
    n_r = draw(st.integers(1, 6))
    shelters = [
        shelter(
            id=f"s{j}",
            lat=41.5 + draw(coord),
            lon=-81.7 + draw(coord),
            beds={t: draw(st.integers(0, 2)) for t in ("single", "family")},
            rules={
                "max_children": draw(st.integers(0, 2)),
                "mat_ok": draw(st.booleans()),
                "max_age": draw(st.sampled_from([None, 40])),
                "languages": draw(st.sampled_from([["en"], ["en", "es"]])),
            },
            services=draw(st.sampled_from([[], ["sud"], ["sud", "trafficking"]])),
            flagged_contacts=draw(st.lists(st.sampled_from(TOKENS), max_size=1, unique=True)),
        )
        for j in range(n_s)
    ]
    # Declines: absent (older problems), empty, or shelters of the problem or a gone one.
    declines = st.none() | st.lists(
        st.sampled_from([f"s{j}" for j in range(n_s)] + ["s9"]), max_size=2, unique=True
    )
    requests: list[dict[str, Any]] = []
    for i in range(n_r):
        bed_type = draw(st.sampled_from(["single", "single", "family"]))
        home = draw(st.sampled_from([None, "near"]))
        avoid = draw(declines)
        requests.append(
            request(
                id=f"r{i}",
                weight=draw(st.integers(1, 4)),
                origin={"lat": 41.5 + draw(coord), "lon": -81.7 + draw(coord)},
                home=None
                if home is None
                else {"lat": 41.5 + draw(coord), "lon": -81.7 + draw(coord)},
                bed_type=bed_type,
                children=draw(st.integers(0, 2)) if bed_type == "family" else 0,
                age=draw(st.integers(18, 50)),
                mat=draw(st.booleans()),
                language=draw(st.sampled_from([None, "en", "es"])),
                needs=draw(st.sampled_from([[], ["sud"]])),
                max_km=draw(st.sampled_from([40, 80, 150])),
                contacts=draw(st.lists(st.sampled_from(TOKENS), max_size=2, unique=True)),
                avoid_km=draw(st.sampled_from([0, 20])),
                exclude_with=draw(
                    st.lists(st.sampled_from([f"r{k}" for k in range(i)] or ["p0"]), max_size=1)
                ),
                **({} if avoid is None else {"avoid_shelters": avoid}),
            )
        )
    contacts = [{"id": "c1", "lat": 41.5 + draw(coord), "lon": -81.7 + draw(coord)}, {"id": "c2"}]
    residents = [
        {
            "id": "p0",
            "shelter": "s0",
            "contacts": draw(st.lists(st.sampled_from(TOKENS), max_size=1)),
        }
    ]
    return problem(shelters, requests, contacts, residents)


def kept_apart(a: Request, b: Request) -> bool:
    """Rule 7 between two requests, read straight from the spec."""
    return (
        bool(set(a.contacts) & set(b.contacts)) or a.id in b.exclude_with or b.id in a.exclude_with
    )


def brute_force(p: Problem) -> tuple[int, int]:
    """The lexicographic optimum (weight, -km) by trying every assignment."""
    from matching.geo import distance, km_cost

    ctx = Context(p)
    options: list[list[tuple[int, int] | None]] = []
    for r in p.requests:
        home = r.home or r.origin
        opts: list[tuple[int, int] | None] = [None]
        for j, s in enumerate(p.shelters):
            # Declines read straight from the request too: a checker that forgot them
            # must not hide a solver that did.
            if stage(r, s, ctx) == PASSES and s.id not in r.avoid_shelters:
                opts.append((j, km_cost(distance(home.lat, home.lon, s.lat, s.lon))))
        options.append(opts)
    best = (0, 0)
    for combo in itertools.product(*options):
        used = Counter((o[0], r.bed_type) for o, r in zip(combo, p.requests, strict=True) if o)
        if any(n > p.shelters[j].beds.get(t, 0) for (j, t), n in used.items()):
            continue
        pairs = itertools.combinations(zip(combo, p.requests, strict=True), 2)
        if any(oa and ob and oa[0] == ob[0] and kept_apart(a, b) for (oa, a), (ob, b) in pairs):
            continue
        w = sum(r.weight for o, r in zip(combo, p.requests, strict=True) if o)
        km = sum(o[1] for o in combo if o)
        best = max(best, (w, -km))
    return best


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_solver_matches_brute_force_and_passes_the_checker(p: Problem) -> None:
    """Same optimum as exhaustive search, status optimal, and no checker findings."""
    plan = solve(p, time_limit=20, workers=1)
    assert check(p, plan) == []
    assert plan.status == "optimal"
    assert (plan.objective.placed_weight, -plan.objective.total_km) == brute_force(p)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_same_input_same_options_same_plan(p: Problem) -> None:
    """Two solves of one problem with the same options give the same plan."""
    a, b = solve(p, time_limit=20, workers=2), solve(p, time_limit=20, workers=2)
    assert (a.assignments, a.unplaced) == (b.assignments, b.unplaced)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_chain_summary_is_stage_over_every_shelter(p: Problem) -> None:
    """The checker's numpy pass gives each woman the furthest stage and the count of passing
    shelters that the plain chain gives, shelter by shelter."""
    ctx = Context(p)
    best, passing = chain_summary(p, ctx)
    for i, r in enumerate(p.requests):
        stages = [stage(r, s, ctx) for s in p.shelters]
        assert int(best[i]) == max(stages, default=NO_BED)
        assert int(passing[i]) == stages.count(PASSES)
