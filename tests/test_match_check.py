"""The checker catches every way a plan can break the contract."""

from __future__ import annotations

from match_cases import EXAMPLES, problem, request, shelter
from msgspec.structs import replace

from matching.check import NO_BED, PASSES, Context, chain_summary, check, stage
from matching.load import decode_problem
from matching.solve import solve
from schema.problem import Assignment, Bound, Objective, Unplaced

P = problem(
    [shelter(id="s1", beds={"single": 1}), shelter(id="s2", lat=41.6, beds={"single": 1})],
    [
        request(id="r1", weight=5, contacts=["c1"]),
        request(id="r2", weight=3, contacts=["c1"]),
        request(id="r3", weight=1),
        request(id="r4", bed_type="accessible"),
    ],
)
PLAN = solve(P, time_limit=10, workers=1)


def test_the_solvers_plan_passes() -> None:
    """An optimal plan from the solver has no findings."""
    assert check(P, PLAN) == []
    assert PLAN.status == "optimal"


def test_missing_and_duplicate_requests_are_found() -> None:
    """Every request must appear exactly once."""
    plan = replace(PLAN, unplaced=PLAN.unplaced[1:] + PLAN.unplaced[:1] * 2)
    assert any("appears 2 times" in e for e in check(P, plan))
    plan = replace(PLAN, unplaced=[])
    assert any("missing" in e for e in check(P, plan))


def test_capacity_and_kept_apart_breaches_are_found() -> None:
    """Two women in a one-bed shelter, sharing a contact, break rules 1 and 7."""
    a = [
        Assignment(request="r1", shelter="s1", bed_type="single", km=5),
        Assignment(request="r2", shelter="s1", bed_type="single", km=5),
    ]
    errors = check(P, replace(PLAN, assignments=a))
    assert any("free beds 1" in e for e in errors)
    assert any("rule 7" in e for e in errors)


def test_wrong_km_totals_and_bound_are_found() -> None:
    """km per assignment, the objective totals and an optimal claim above its weight are checked."""
    first = PLAN.assignments[0]
    bad = replace(
        PLAN,
        assignments=[replace(first, km=first.km + 1), *PLAN.assignments[1:]],
        objective=Objective(placed_weight=1, total_km=0),
        bound=Bound(placed_weight=PLAN.objective.placed_weight + 1),
    )
    errors = check(P, bad)
    assert any("km" in e and "should be" in e for e in errors)
    assert any("objective.placed_weight" in e for e in errors)
    assert any("status optimal" in e for e in errors)


def test_wrong_reason_and_leaked_token_are_found() -> None:
    """A wrong reason code and a detail naming a contact token are both reported."""
    unplaced = [
        Unplaced(request=u.request, reason="not_eligible", detail="see c1") for u in PLAN.unplaced
    ]
    errors = check(P, replace(PLAN, unplaced=unplaced))
    assert any("should be 'no_bed_of_type'" in e for e in errors)
    assert any("names a contact token" in e for e in errors)


def test_ineligible_assignment_is_found() -> None:
    """Placing a woman where a rule bars her is reported with the rule broken."""
    a = [Assignment(request="r4", shelter="s1", bed_type="accessible", km=0)]
    errors = check(P, replace(PLAN, assignments=a))
    assert any("breaks no_bed_of_type" in e for e in errors)


def test_placement_at_a_declined_shelter_is_found() -> None:
    """A woman placed at a shelter in her avoid_shelters is reported, naming both."""
    before = problem([shelter(id="s1")], [request(id="r1")])
    plan = solve(before, time_limit=10, workers=1)
    assert [a.shelter for a in plan.assignments] == ["s1"]
    # Without the count of alternatives, which the decline also changes, the one finding:
    plan = replace(plan, assignments=[replace(a, alternatives=None) for a in plan.assignments])
    declined = problem([shelter(id="s1")], [request(id="r1", avoid_shelters=["s1"])])
    assert check(declined, plan) == [
        "'r1' in 's1': that shelter already declined her (avoid_shelters); "
        "it is never offered her again"
    ]


def test_declined_only_shelter_must_be_reported_as_safety_exclusion() -> None:
    """The checker's reason for a woman whose only passing shelter declined her agrees."""
    p = problem([shelter(id="s1")], [request(id="r1", avoid_shelters=["s1"])])
    plan = solve(p, time_limit=10, workers=1)
    assert check(p, plan) == []
    wrong = [Unplaced(request="r1", reason="capacity", detail="beds went elsewhere")]
    assert check(p, replace(plan, unplaced=wrong)) == [
        "'r1': reason 'capacity', should be 'safety_exclusion'"
    ]


def test_km_bound_must_hold_and_match_an_optimal_plan() -> None:
    """bound.total_km above the plan's km, or below it on an optimal plan, is reported."""
    km = PLAN.objective.total_km
    assert PLAN.bound.total_km == km
    above = replace(PLAN, bound=replace(PLAN.bound, total_km=km + 1))
    assert any("above the plan" in e for e in check(P, above))
    below = replace(PLAN, bound=replace(PLAN.bound, total_km=km - 1))
    assert any("bound.total_km" in e and "below" in e for e in check(P, below))
    feasible = replace(below, status="feasible")
    assert check(P, feasible) == []


def test_chain_summary_agrees_with_the_plain_chain_on_the_examples() -> None:
    """On every spec example, the numpy pass and `stage` shelter by shelter agree."""
    for path in sorted(EXAMPLES.glob("*.json")):
        if path.name == "answers.json":
            continue
        p = decode_problem(path.read_bytes())
        ctx = Context(p)
        best, passing = chain_summary(p, ctx)
        stages = [[stage(r, s, ctx) for s in p.shelters] for r in p.requests]
        assert best.tolist() == [max(row, default=NO_BED) for row in stages], path.name
        assert passing.tolist() == [row.count(PASSES) for row in stages], path.name
