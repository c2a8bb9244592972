"""Unplaced details name, for her nearest shelters, the rule that stopped each."""

from __future__ import annotations

from match_cases import problem, request, shelter

from matching.check import check
from matching.solve import solve
from schema.problem import Plan, Problem


def solved(p: Problem) -> Plan:
    plan = solve(p, time_limit=30, workers=1)
    assert check(p, plan) == []
    return plan


def detail(p: Problem, rid: str = "r1") -> str:
    return next(u.detail for u in solved(p).unplaced if u.request == rid)


def test_not_eligible_names_each_refusing_clause_nearest_first() -> None:
    """Rule 2: each nearest shelter is named with the clause that refuses her, in km order."""
    p = problem(
        [
            shelter(id="far", lat=41.9, rules={"mat_ok": False}),
            shelter(id="near", rules={"max_children": 0, "languages": ["en"]}),
        ],
        [request(bed_type="family", children=4, mat=True, language="es")],
    )
    text = detail(p)
    assert "none accepts her (rule 2)" in text
    assert "near, 7 km: children 4 > max 0, does not speak es" in text
    assert text.index("near,") < text.index("far,")
    assert "far, 50 km: children 4 > max 2, no MAT" in text


def test_out_of_range_gives_distance_from_release_point() -> None:
    """Rule 3: the nearest accepting shelter is named with its distance from her release."""
    p = problem([shelter(lat=45.0, lon=-80.0)], [request(max_km=100)])
    assert "s1: 421 km from her release point" in detail(p)


def test_safety_names_which_rule_closes_each_shelter_without_tokens() -> None:
    """Rules 4, 5 and 6 are each named for their shelter, and no contact token appears."""
    contacts = [{"id": "c000017", "lat": 41.52, "lon": -81.70}, {"id": "c000230"}]
    p = problem(
        [
            shelter(id="flagging", lat=41.46, lon=-81.66, flagged_contacts=["c000230"]),
            shelter(id="near_contact"),
            shelter(id="housing", lat=41.7),
        ],
        [request(contacts=["c000017", "c000230"], avoid_km=10)],
        contacts,
        residents=[{"id": "p1", "shelter": "housing", "contacts": ["c000230"]}],
    )
    text = detail(p)
    assert "flagging, 1 km: flagged for one of her contacts (rule 4)" in text
    assert "near_contact, 7 km: 2 km from a contact's last known location" in text
    assert "under her 10 km (rule 5)" in text
    assert "housing, 28 km: a resident there shares one of her contacts (rule 6)" in text
    assert "c000017" not in text and "c000230" not in text


def test_capacity_says_whether_beds_ran_out_or_rule_7_kept_her_out() -> None:
    """Capacity: a full shelter is named as full, one held by a kept-apart woman by rule 7."""
    p = problem(
        [
            shelter(id="full", services=["legal"]),
            shelter(id="shared", lat=41.6, beds={"single": 2}, services=["sud"]),
        ],
        [
            request(id="r1", weight=1, contacts=["c1"]),
            request(id="r2", weight=5, needs=["legal"]),
            request(id="r3", weight=5, needs=["sud"], contacts=["c1"]),
        ],
    )
    text = detail(p)
    assert "2 shelters pass every rule for her alone" in text
    assert "full, 7 km: its 1 single bed went to other women" in text
    assert "shared, 17 km: a woman she must be kept apart from is placed there (rule 7)" in text


def test_counts_agree_in_number() -> None:
    """One shelter passes, one accepts: singular verbs for a count of one."""
    p = problem([shelter()], [request(id="r1", weight=1), request(id="r2", weight=5)])
    assert detail(p).startswith("1 shelter passes every rule for her alone, but its single beds")
