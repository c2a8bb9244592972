"""The solver against the contract: examples, each rule, each reason code, stability."""

from __future__ import annotations

import json
import time

import pytest
from match_cases import EXAMPLES, SHARED_EXAMPLES, problem, request, shelter
from msgspec.structs import replace

from matching.check import check
from matching.load import decode_problem
from matching.solve import solve
from schema.problem import Plan, Problem

ANSWERS = json.loads((EXAMPLES / "answers.json").read_text())


@pytest.mark.skipif(not SHARED_EXAMPLES.is_dir(), reason="no ../shared beside this checkout")
def test_vendored_examples_equal_the_shared_contract() -> None:
    """tests/examples is byte-for-byte the shared spec's examples."""
    shared = sorted(p.name for p in SHARED_EXAMPLES.glob("*.json"))
    assert shared == sorted(p.name for p in EXAMPLES.glob("*.json"))
    for name in shared:
        assert (EXAMPLES / name).read_bytes() == (SHARED_EXAMPLES / name).read_bytes(), name


def solved(p: Problem) -> Plan:
    plan = solve(p, time_limit=30, workers=2)
    assert check(p, plan) == []
    return plan


def placed(plan: Plan) -> dict[str, str]:
    return {a.request: a.shelter for a in plan.assignments}


def reasons(plan: Plan) -> dict[str, str]:
    return {u.request: u.reason for u in plan.unplaced}


@pytest.mark.parametrize("name", sorted(ANSWERS))
def test_examples_reach_their_optimal_values(name: str) -> None:
    """Each spec example is solved to exactly its answers.json values, proven optimal."""
    p = decode_problem((EXAMPLES / name).read_bytes())
    plan = solved(p)
    assert plan.status == "optimal"
    assert plan.objective.placed_weight == ANSWERS[name]["placed_weight"]
    assert plan.objective.total_km == ANSWERS[name]["total_km"]
    assert plan.bound.placed_weight == plan.objective.placed_weight
    assert plan.bound.total_km == plan.objective.total_km


def test_capacity_rule_fills_no_more_beds_than_free() -> None:
    """Rule 1: two women, one free bed: the more urgent one gets it."""
    p = problem([shelter()], [request(id="r1", weight=1), request(id="r2", weight=5)])
    plan = solved(p)
    assert placed(plan) == {"r2": "s1"}
    assert reasons(plan) == {"r1": "capacity"}


def test_bed_type_must_match() -> None:
    """A request is only placed in a bed of her own type."""
    p = problem([shelter(beds={"family": 3})], [request(bed_type="single")])
    assert reasons(solved(p)) == {"r1": "no_bed_of_type"}


@pytest.mark.parametrize(
    ("rules", "req"),
    [
        ({"max_children": 0}, {"bed_type": "family", "children": 1}),
        ({"mat_ok": False}, {"mat": True}),
        ({"min_age": 25}, {"age": 24}),
        ({"max_age": 29}, {"age": 30}),
        ({"excluded_offenses": ["arson"]}, {"offenses": ["theft", "arson"]}),
        ({"languages": ["en"]}, {"language": "es"}),
        ({}, {"needs": ["legal"]}),
    ],
)
def test_eligibility_rule_alone_keeps_her_out(
    rules: dict[str, object], req: dict[str, object]
) -> None:
    """Rule 2: each eligibility condition alone makes her not_eligible."""
    p = problem([shelter(rules=rules)], [request(**req)])
    assert reasons(solved(p)) == {"r1": "not_eligible"}


def test_eligibility_boundaries_admit_her() -> None:
    """Rule 2 holds at its boundaries: age = min_age = max_age, children = max_children."""
    p = problem(
        [shelter(rules={"min_age": 30, "max_age": 30, "max_children": 2})],
        [request(age=30, bed_type="family", children=2, language="es", needs=["sud"])],
    )
    assert placed(solved(p)) == {"r1": "s1"}


def test_travel_rule_alone_keeps_her_out() -> None:
    """Rule 3: a shelter beyond max_km from her origin is out_of_range; within it she is placed."""
    far = problem([shelter()], [request(max_km=5)])
    assert reasons(solved(far)) == {"r1": "out_of_range"}
    near = problem([shelter()], [request(max_km=20)])
    assert placed(solved(near)) == {"r1": "s1"}


def test_flagged_shelter_rule_alone_keeps_her_out() -> None:
    """Rule 4: a shelter flagging one of her contacts is a safety_exclusion."""
    p = problem([shelter(flagged_contacts=["c9"])], [request(contacts=["c1", "c9"])])
    assert reasons(solved(p)) == {"r1": "safety_exclusion"}


def test_contact_radius_rule_alone_keeps_her_out() -> None:
    """Rule 5: a shelter within avoid_km of a contact's last known location is excluded."""
    contacts = [{"id": "c1", "lat": 41.52, "lon": -81.70}, {"id": "c2"}]
    close = problem([shelter()], [request(contacts=["c1", "c2"], avoid_km=10)], contacts)
    assert reasons(solved(close)) == {"r1": "safety_exclusion"}
    beyond = problem([shelter()], [request(contacts=["c1", "c2"], avoid_km=2)], contacts)
    assert placed(solved(beyond)) == {"r1": "s1"}


@pytest.mark.parametrize(
    ("resident", "req"),
    [
        ({"contacts": ["c1"]}, {"contacts": ["c1"]}),
        ({"contacts": [], "exclude_with": ["r1"]}, {}),
        ({"contacts": []}, {"exclude_with": ["p1"]}),
    ],
)
def test_residents_rule_alone_keeps_her_out(
    resident: dict[str, object], req: dict[str, object]
) -> None:
    """Rule 6: a resident sharing a token, or in an exclude_with relation, excludes the shelter."""
    p = problem(
        [shelter()], [request(**req)], residents=[{"id": "p1", "shelter": "s1", **resident}]
    )
    assert reasons(solved(p)) == {"r1": "safety_exclusion"}


def test_declined_nearest_shelter_gives_her_the_next_one() -> None:
    """avoid_shelters: the nearest shelter declined her, so she goes to the next one."""
    near_far = [shelter(id="near", lat=41.45, lon=-81.65), shelter(id="far", lat=41.30)]
    plan = solved(problem(near_far, [request(avoid_shelters=["near"])]))
    assert placed(plan) == {"r1": "far"}
    assert plan.assignments[0].alternatives == 0


def test_declined_only_shelter_is_a_safety_exclusion() -> None:
    """A woman whose only passing shelter declined her is unplaced as safety_exclusion."""
    plan = solved(problem([shelter()], [request(avoid_shelters=["s1"])]))
    assert reasons(plan) == {"r1": "safety_exclusion"}
    assert "declined" in plan.unplaced[0].detail


def test_decline_keeps_the_reason_chain() -> None:
    """A declined shelter that fails an earlier rule still gives that rule's reason."""
    p = problem([shelter()], [request(max_km=5, avoid_shelters=["s1"])])
    assert reasons(solved(p)) == {"r1": "out_of_range"}


def test_declined_shelter_of_a_previous_plan_is_left() -> None:
    """Her previous placement's shelter declined her: she moves rather than stays."""
    shelters = [shelter(id="a"), shelter(id="b", lat=41.6)]
    previous = with_shelter(solved(problem(shelters, [request()])), "a")
    p = problem(shelters, [request(avoid_shelters=["a"])])
    again = solve(p, time_limit=30, workers=2, previous=previous)
    assert check(p, again) == []
    assert placed(again) == {"r1": "b"}
    assert again.moved == 1


def test_declines_of_an_example_are_never_offered_again() -> None:
    """Re-solving tiny with every placement declined keeps the contract and avoids them all."""
    data = json.loads((EXAMPLES / "tiny.json").read_bytes())
    first = placed(solved(decode_problem(json.dumps(data))))
    for r in data["requests"]:
        r["avoid_shelters"] = [first[r["id"]]] if r["id"] in first else []
    again = placed(solved(decode_problem(json.dumps(data))))
    assert again
    assert all(first.get(rid) != sid for rid, sid in again.items())


def test_declines_of_absent_shelters_change_nothing() -> None:
    """avoid_shelters naming no shelter of the problem leaves the plan as it was."""
    data = json.loads((EXAMPLES / "tiny.json").read_bytes())
    before = solved(decode_problem(json.dumps(data)))
    for r in data["requests"]:
        r["avoid_shelters"] = ["s-gone-stale"]
    after = solved(decode_problem(json.dumps(data)))
    assert (after.objective, after.assignments, after.unplaced) == (
        before.objective,
        before.assignments,
        before.unplaced,
    )


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ({"contacts": ["c1", "c2"]}, {"contacts": ["c2"]}),
        ({"exclude_with": ["r2"]}, {}),
        ({}, {"exclude_with": ["r1"]}),
    ],
)
def test_kept_apart_rule_alone_keeps_her_out(a: dict[str, object], b: dict[str, object]) -> None:
    """Rule 7: two women sharing a token or an exclude_with relation never share a shelter."""
    p = problem(
        [shelter(beds={"single": 2})],
        [request(id="r1", weight=2, **a), request(id="r2", weight=1, **b)],
    )
    plan = solved(p)
    assert placed(plan) == {"r1": "s1"}
    assert reasons(plan) == {"r2": "capacity"}
    assert "rule 7" in plan.unplaced[0].detail


def test_kept_apart_women_go_to_different_shelters() -> None:
    """Rule 7 splits a pair across shelters rather than leaving one out."""
    p = problem(
        [shelter(id="s1", beds={"single": 2}), shelter(id="s2", lat=41.6, beds={"single": 1})],
        [request(id="r1", contacts=["c1"]), request(id="r2", contacts=["c1"])],
    )
    assert sorted(placed(solved(p)).values()) == ["s1", "s2"]


def test_weight_the_lp_promises_but_no_plan_reaches_is_proven_out() -> None:
    """Two rule-7 triangles: the LP places 1.5 + 1.5, a plan 1 + 1; the plan is proven."""
    tokens = [["c000001", "c000002"], ["c000002", "c000003"], ["c000003", "c000001"]]
    east = {"lat": 45.0, "lon": -80.0}
    women = [request(id=f"w{i}", weight=1, contacts=t, home=None) for i, t in enumerate(tokens)] + [
        request(id=f"e{i}", weight=1, contacts=[x + "9" for x in t], origin=east, home=None)
        for i, t in enumerate(tokens)
    ]
    p = problem(
        [shelter(id="west", beds={"single": 3}), shelter(id="east", beds={"single": 3}, **east)],
        women,
    )
    plan = solved(p)
    assert plan.status == "optimal"
    assert plan.objective.placed_weight == plan.bound.placed_weight == 2
    assert plan.bound.total_km == plan.objective.total_km


def test_fractional_weight_lp_bounds_the_distance_at_its_floor() -> None:
    """One rule-7 triangle: the weight LP places 1.5, no plan on its face exists, so the
    distance level is bounded over plans placing 1 (said on the progress line)."""
    tokens = [["c000001", "c000002"], ["c000002", "c000003"], ["c000003", "c000001"]]
    women = [request(id=f"w{i}", weight=1, contacts=t, home=None) for i, t in enumerate(tokens)]
    phases: list[str] = []
    plan = solve(problem([shelter(beds={"single": 3})], women), time_limit=30,
                 progress=phases.append)  # fmt: skip
    assert plan.status == "optimal"
    assert plan.objective.placed_weight == plan.bound.placed_weight == 1
    assert plan.bound.total_km == plan.objective.total_km
    assert "LP, km level (weight proven ≤ 1: the weight LP's 1.50 rounded down)" in phases


def test_distance_breaks_ties_from_home() -> None:
    """Among equal weights she goes nearest her home, and km is counted from home."""
    p = problem(
        [shelter(id="near", lat=41.45, lon=-81.65), shelter(id="far", lat=41.30, lon=-81.50)],
        [request()],
    )
    plan = solved(p)
    assert placed(plan) == {"r1": "near"}
    assert plan.assignments[0].km == 0
    assert plan.assignments[0].alternatives == 1


def test_reason_order_follows_the_rule_chain() -> None:
    """The reason is judged over the chain: a shelter failing rule 2 does not count for rule 3."""
    p = problem(
        [shelter(id="s1", rules={"mat_ok": False}), shelter(id="s2", lat=45.0, lon=-80.0)],
        [request(mat=True)],
    )
    plan = solved(p)
    assert reasons(plan) == {"r1": "out_of_range"}
    assert "1 accepts her" in plan.unplaced[0].detail


def test_detail_never_names_a_contact_token() -> None:
    """Unplaced details speak in counts, never in contact tokens."""
    p = problem([shelter(flagged_contacts=["c000017"])], [request(contacts=["c000017"])])
    plan = solved(p)
    assert "c000017" not in plan.unplaced[0].detail


def test_same_input_same_plan() -> None:
    """Solving the same problem twice with the same options gives the same plan."""
    p = decode_problem((EXAMPLES / "ohio-400.json").read_bytes())
    a, b = solve(p, time_limit=30, workers=2), solve(p, time_limit=30, workers=2)
    assert (a.assignments, a.unplaced, a.objective) == (b.assignments, b.unplaced, b.objective)


def test_previous_plan_is_kept_when_nothing_forces_a_change() -> None:
    """With a previous plan, equally good placements stay where they were (moved = 0)."""
    twins = [shelter(id="a", lat=41.45, lon=-81.65), shelter(id="b", lat=41.45, lon=-81.65)]
    p = problem(twins, [request()])
    first = solved(p)
    other = "b" if placed(first)["r1"] == "a" else "a"
    again = solve(p, time_limit=30, workers=2, previous=with_shelter(first, other))
    assert placed(again) == {"r1": other}
    assert again.moved == 0


def test_previous_plan_reports_forced_moves() -> None:
    """When a previous placement is no longer possible, the plan counts it as moved."""
    p = problem([shelter(id="a", beds={"single": 0}), shelter(id="b")], [request()])
    before = problem([shelter(id="a"), shelter(id="b", lat=45.0)], [request()])
    previous = with_shelter(solved(before), "a")
    again = solve(p, time_limit=30, workers=2, previous=previous)
    assert placed(again) == {"r1": "b"}
    assert again.moved == 1


def with_shelter(plan: Plan, shelter_id: str) -> Plan:
    """The same plan with every placement moved to `shelter_id`."""
    return replace(plan, assignments=[replace(a, shelter=shelter_id) for a in plan.assignments])


def _texas_out_of_time(monkeypatch: pytest.MonkeyPatch) -> Plan:
    """texas-1000 solved in 0.5 s with every LP stopped by the clock: a valid plan, said
    to be cut. (Its first LP starts after ~0.05 s.)"""
    import matching.master as master_module

    def out_of_time(self: master_module.Relaxation, time_limit: float) -> None:
        """GLOP stopped by the time limit."""
        time.sleep(max(0.0, time_limit))

    monkeypatch.setattr(master_module.Relaxation, "solve", out_of_time)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=0.5, workers=2)
    assert plan.cut_by_time_limit
    assert check(p, plan) == []
    return plan


def test_national_path_proves_the_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The national-size path (the folded-cost flow, then the LP over every arc started
    from its arcs) proves the optimum on both levels, its bounds the flow's or better."""
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=30, workers=2)
    assert check(p, plan) == []
    answer = ANSWERS["texas-1000.json"]
    assert plan.status == "optimal"
    assert plan.objective.placed_weight == answer["placed_weight"] == plan.bound.placed_weight
    assert plan.objective.total_km == answer["total_km"] == plan.bound.total_km


def test_national_path_the_clock_cuts_keeps_the_flows_women(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the clock stops the LP over every arc, the plan is the folded flow's as far as
    rule 7 allows, not one made afresh by cost: valid, near the optimum, said to be cut."""
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    plan = _texas_out_of_time(monkeypatch)
    answer = ANSWERS["texas-1000.json"]
    assert plan.objective.placed_weight <= answer["placed_weight"] <= plan.bound.placed_weight
    assert plan.objective.placed_weight >= 0.99 * answer["placed_weight"]
    assert plan.objective.total_km <= 1.02 * answer["total_km"]


def test_regional_path_keeps_the_contract(monkeypatch: pytest.MonkeyPatch) -> None:
    """The national-size path (folded flow, regions re-solved) yields a valid, near plan whose
    bounds on both levels hold against the known optimum."""
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    monkeypatch.setattr(solve_module, "WHOLE_ARCS", 0)
    monkeypatch.setattr(solve_module, "REGION_SHELTERS", 15)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=30, workers=2)
    assert check(p, plan) == []
    optimum = ANSWERS["texas-1000.json"]["placed_weight"]
    assert plan.objective.placed_weight <= optimum <= plan.bound.placed_weight
    assert plan.objective.placed_weight >= 0.99 * optimum
    # Here the plan reaches the flow's weight bound, so the flow also bounds the km.
    assert plan.bound.total_km is not None
    assert plan.bound.total_km <= ANSWERS["texas-1000.json"]["total_km"] <= plan.objective.total_km


def test_regions_the_clock_cuts_keep_the_flows_women(monkeypatch: pytest.MonkeyPatch) -> None:
    """When the clock stops each region's LP, the region keeps the flow's plan as far as
    rule 7 allows rather than a plan made afresh by cost: a valid plan near the optimum,
    said to be cut."""
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    monkeypatch.setattr(solve_module, "WHOLE_ARCS", 0)
    monkeypatch.setattr(solve_module, "REGION_SHELTERS", 15)
    plan = _texas_out_of_time(monkeypatch)
    optimum = ANSWERS["texas-1000.json"]["placed_weight"]
    assert plan.objective.placed_weight <= optimum <= plan.bound.placed_weight
    assert plan.objective.placed_weight >= 0.99 * optimum


@pytest.mark.slow  # solves the national path twice
def test_national_path_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of the national-size path over every arc, its budgets binding, give the same
    plan bit for bit."""
    import matching.master as master_module
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    # Budgets small enough to stop pricing and the MIPs before they finish: where they
    # stop must not depend on how fast the machine happens to be.
    monkeypatch.setattr(solve_module, "PRICING_ROUNDS", 1)
    monkeypatch.setattr(master_module, "NODE_LIMIT", 2)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    a, b = (solve(p, time_limit=30, workers=2) for _ in range(2))
    assert not a.cut_by_time_limit
    assert replace(a, solve_seconds=0) == replace(b, solve_seconds=0)
    assert check(p, a) == []


@pytest.mark.slow  # solves the regional path twice
def test_regional_path_is_reproducible(monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs of the national-size path, its budgets binding, give the same plan bit for bit,
    whether its regions are solved on two threads or one."""
    import matching.master as master_module
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "LARGE_ARCS", 0)
    monkeypatch.setattr(solve_module, "WHOLE_ARCS", 0)
    monkeypatch.setattr(solve_module, "REGION_SHELTERS", 15)
    # Budgets small enough to stop pricing and the MIPs before they finish: where they
    # stop must not depend on how fast the machine happens to be.
    monkeypatch.setattr(solve_module, "PRICING_ROUNDS", 1)
    monkeypatch.setattr(master_module, "NODE_LIMIT", 2)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    a, b = (solve(p, time_limit=30, workers=2) for _ in range(2))
    one_thread = solve(p, time_limit=30, workers=1)
    assert not a.cut_by_time_limit
    assert replace(a, solve_seconds=0) == replace(b, solve_seconds=0)
    assert replace(a, solve_seconds=0) == replace(one_thread, solve_seconds=0)
    assert check(p, a) == []


def test_unproven_plan_still_has_valid_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no MIP allowed, the LP-rounded plan's bounds still hold against the optimum."""
    import matching.solve as solve_module

    monkeypatch.setattr(solve_module, "MIP_ARCS", 0)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=30, workers=2)
    assert check(p, plan) == []
    answer = ANSWERS["texas-1000.json"]
    assert plan.objective.placed_weight <= answer["placed_weight"] <= plan.bound.placed_weight
    if plan.bound.total_km is not None and plan.bound.placed_weight == answer["placed_weight"]:
        assert plan.bound.total_km <= answer["total_km"]


def test_time_limit_gives_a_valid_plan_with_certified_bounds() -> None:
    """A limit too short for any LP still returns, at once, a valid plan and true bounds."""
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=0.001, workers=2)
    assert plan.cut_by_time_limit
    assert plan.solve_seconds < 2
    assert check(p, plan) == []
    answer = ANSWERS["texas-1000.json"]
    assert plan.objective.placed_weight <= answer["placed_weight"] <= plan.bound.placed_weight


@pytest.mark.slow  # solves under real time limits: seconds each
@pytest.mark.parametrize("lps", [0, 1, 2, 4])
def test_lp_stopped_by_the_clock_keeps_the_bounds_true(
    monkeypatch: pytest.MonkeyPatch, lps: int
) -> None:
    """GLOP stopping at the time limit after `lps` solves (either level) leaves the plan
    valid and both bounds true against the known optimum."""
    import matching.master as master_module

    solved = master_module.Relaxation.solve
    calls = 0

    def stopping(self: master_module.Relaxation, time_limit: float) -> object:
        nonlocal calls
        calls += 1
        return solved(self, time_limit) if calls <= lps else None

    monkeypatch.setattr(master_module.Relaxation, "solve", stopping)
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    plan = solve(p, time_limit=30, workers=2)
    assert check(p, plan) == []
    answer = ANSWERS["texas-1000.json"]
    assert plan.objective.placed_weight <= answer["placed_weight"] <= plan.bound.placed_weight
    if plan.bound.total_km is not None and plan.bound.placed_weight == answer["placed_weight"]:
        assert plan.bound.total_km <= answer["total_km"]


@pytest.mark.slow
@pytest.mark.parametrize(("scarcity", "contacts"), [(0.6, 0.3), (1.2, 0.3), (0.3, 0.9)])
def test_state_size_shapes_are_proven_and_reproducible(scarcity: float, contacts: float) -> None:
    """State size (300 × 3000) in shapes the sweep proves: optimal, checked, same plan twice."""
    import msgspec

    from bench.instances import generate

    data = generate(300, 3000, "TX", seed=1, scarcity=scarcity, contacts=contacts)
    p = decode_problem(msgspec.json.encode(data))
    a, b = (solve(p, time_limit=120, workers=2) for _ in range(2))
    assert a.status == "optimal"
    assert not a.cut_by_time_limit
    assert a.bound.total_km == a.objective.total_km
    assert check(p, a) == []
    assert replace(a, solve_seconds=0) == replace(b, solve_seconds=0)


@pytest.mark.parametrize(("shelters", "requests"), [([], [request()]), ([shelter()], []), ([], [])])
def test_empty_sides_give_an_optimal_empty_plan(shelters: list, requests: list) -> None:  # type: ignore[type-arg]
    """No shelters or no requests is a proven-optimal plan, each woman with her reason."""
    plan = solved(problem(shelters, requests))
    assert plan.status == "optimal"
    assert [u.reason for u in plan.unplaced] == ["no_bed_of_type"] * len(requests)


def test_progress_is_told_each_phase() -> None:
    """A progress callback hears the phases in order."""
    phases: list[str] = []
    p = decode_problem((EXAMPLES / "texas-1000.json").read_bytes())
    solve(p, time_limit=30, workers=2, progress=phases.append)
    assert phases[:3] == [
        "candidate shelters (rules 1–6)",
        "min-cost flow on the weight (the LP's first columns)",
        "LP, weight level",
    ]
    assert phases[3].startswith("LP, km level")
