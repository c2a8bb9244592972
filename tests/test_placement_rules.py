"""The placement rules, without a database: weights, request checks, the problem, offers."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest

from exchange.beds.model import BedState
from exchange.placements import rules
from exchange.placements.rules import OpenRequest, Resident, ShelterInfo
from matching.check import check
from matching.solve import solve
from schema import problem as p
from schema.placements import NewRequest
from schema.registry import Rules

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
EIGHT_HOURS = dt.timedelta(hours=8)
TODAY = NOW.date()
TOKEN = "k7Qm2vAAAAAAAAAAAAAA"


def new_request(**kw: object) -> NewRequest:
    body = {
        "ref": "OH-DRC-1",
        "region": "OH",
        "release_date": "2026-12-11",
        "origin": {"lat": 40.0, "lon": -83.0},
        "bed_type": "single",
        "age": 30,
        "max_km": 100,
        **kw,
    }
    return msgspec.convert(body, NewRequest)


def shelter(sid: str, *, reported: dt.datetime | None = NOW, **beds: BedState) -> ShelterInfo:
    return ShelterInfo(
        id=sid,
        region="OH",
        lat=40.0,
        lon=-83.0 + int(sid[-1]) * 0.1,
        rules=Rules(),
        services=[],
        beds=beds or {"single": BedState(total=2, occupied=0, out_of_service=0)},
        reported_at=reported,
    )


def open_request(rid: str, **kw: object) -> OpenRequest:
    fields: dict[str, object] = {
        "id": rid,
        "urgency": 3,
        "origin": p.Point(lat=40.0, lon=-83.0),
        "home": None,
        "bed_type": "single",
        "children": 0,
        "age": 30,
        "mat": False,
        "offenses": [],
        "language": None,
        "needs": [],
        "max_km": 100.0,
        "contacts": [],
        "contact_locations": [],
        "avoid_km": 0.0,
        "exclude_with": [],
        "declined_by": [],
        **kw,
    }
    return OpenRequest(**fields)  # type: ignore[arg-type]


def test_urgency_doubles_the_weight_at_each_level() -> None:
    """Weights 1, 2, 4, 8, 16: one woman of urgency n+1 weighs as much as two of urgency n."""
    assert [rules.urgency_weight(u) for u in range(1, 6)] == [1, 2, 4, 8, 16]


def test_check_request_names_the_field_and_never_the_token() -> None:
    """Cross-field rules: a located contact must be one of hers; dates within reason."""
    located = new_request(
        contacts=[TOKEN], contact_locations=[{"contact": "x" * 20, "lat": 41, "lon": -81}]
    )
    invalid = rules.check_request(located, today=TODAY)
    assert invalid is not None and invalid.field == "contact_locations[0].contact"
    assert "x" * 20 not in invalid.message
    twice = rules.check_request(new_request(contacts=[TOKEN, TOKEN]), today=TODAY)
    assert twice is not None and twice.field == "contacts" and TOKEN not in twice.message
    old = rules.check_request(new_request(release_date="2025-01-01"), today=TODAY)
    assert old is not None and old.field == "release_date"
    assert rules.check_request(new_request(release_date="2026-11-28"), today=TODAY) is None


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"children": "two"}, "children", "expected `int`, got `str`"),
        ({"origin": {"lat": 40}}, "origin.lon", "required"),
        ({"age": 30, "name": "Jane"}, "name", "unknown field"),
        ({"contacts": ["short"]}, "contacts[0]", "matching regex"),
        ({"urgency": 9}, "urgency", "<= 5"),
    ],
)
def test_field_error_names_the_field_at_fault(
    body: dict[str, object], field: str, message: str
) -> None:
    """A validation error becomes the dotted field and a lower-case reason."""
    with pytest.raises(msgspec.ValidationError) as caught:
        new_request(**body)
    invalid = rules.field_error(caught.value)
    assert invalid.field == field and message in invalid.message


def test_problem_excludes_stale_shelters_deducts_holds_and_avoids_declined() -> None:
    """Stale and never-reported shelters offer no beds; holds are deducted; a shelter that
    declined her is in her avoid_shelters; residents of those shelters are listed."""
    problem = rules.build_problem(
        [
            shelter("s00001", single=BedState(total=3, occupied=1, out_of_service=0, held=1)),
            shelter("s00002", reported=NOW - dt.timedelta(hours=9)),
            shelter("s00003", reported=None),
        ],
        [open_request("r000002", declined_by=["s00001"]), open_request("r000001", urgency=5)],
        [
            Resident(id="r000009", shelter="s00001", contacts=[TOKEN], exclude_with=[]),
            Resident(id="r000010", shelter="s00002", contacts=[], exclude_with=[]),
        ],
        now=NOW,
        stale_after=EIGHT_HOURS,
    )
    assert [s.id for s in problem.shelters] == ["s00001"]
    assert problem.shelters[0].beds == {"single": 1}
    assert [r.id for r in problem.requests] == ["r000001", "r000002"]
    assert problem.requests[0].weight == 16 and problem.requests[1].avoid_shelters == ["s00001"]
    assert [w.id for w in problem.residents] == ["r000009"]


def test_a_built_problem_solves_and_its_plan_checks() -> None:
    """The built problem is a valid match problem: the solver's plan passes the checker,
    and the shelter that declined her is never assigned."""
    problem = rules.build_problem(
        [shelter("s00001"), shelter("s00002")],
        [
            open_request("r000001", contacts=[TOKEN]),
            open_request("r000002", contacts=[TOKEN]),
            open_request("r000003", declined_by=["s00001", "s00002"]),
        ],
        [],
        now=NOW,
        stale_after=EIGHT_HOURS,
    )
    plan = solve(problem, time_limit=10, workers=1)
    assert check(problem, plan) == []
    placed = {a.request: a.shelter for a in plan.assignments}
    assert placed["r000001"] != placed["r000002"]  # the same contact: kept apart
    assert "r000003" not in placed
    assert rules.unplaced_counts(plan) == {"safety_exclusion": 1}


LATER = NOW + dt.timedelta(hours=1)


@pytest.mark.parametrize(
    ("action", "status", "expect"),
    [
        ("accept", "offered", ("accepted", "accepted", 0, 0)),
        ("decline", "offered", ("declined", "open", -1, 0)),
        ("arrived", "accepted", ("arrived", "arrived", -1, 1)),
        ("withdraw", "offered", ("withdrawn", "withdrawn", -1, 0)),
        ("withdraw", "accepted", ("withdrawn", "withdrawn", -1, 0)),
        ("no_show", "accepted", ("no_show", "no_show", -1, 0)),
    ],
)
def test_each_step_moves_the_offer_the_request_and_the_hold(
    action: rules.Action, status: str, expect: tuple[str, str, int, int]
) -> None:
    """accept keeps the hold; decline, withdraw and no-show release it; arrival turns it
    into an occupied bed."""
    step = rules.step(action, status, expires_at=LATER, now=NOW)  # type: ignore[arg-type]
    assert isinstance(step, rules.Step)
    assert (step.offer, step.request, step.held, step.occupied) == expect


@pytest.mark.parametrize(
    ("action", "status", "now", "code"),
    [
        ("accept", "accepted", NOW, "already_decided"),
        ("decline", "declined", NOW, "already_decided"),
        ("accept", "offered", LATER, "offer_expired"),
        ("accept", "expired", NOW, "offer_expired"),
        ("arrived", "expired", NOW, "offer_expired"),
        ("decline", "offered", LATER + dt.timedelta(seconds=1), "offer_expired"),
        ("arrived", "offered", NOW, "not_accepted"),
        ("arrived", "arrived", NOW, "already_decided"),
        ("withdraw", "declined", NOW, "already_decided"),
        ("expire", "offered", NOW, "not_due"),
        ("no_show", "offered", NOW, "not_due"),
    ],
)
def test_steps_that_cannot_be_taken_are_refused_with_their_code(
    action: rules.Action, status: str, now: dt.datetime, code: str
) -> None:
    """The contract's offer error codes, and the expiry an overdue offer takes instead."""
    refused = rules.step(action, status, expires_at=LATER, now=now)  # type: ignore[arg-type]
    assert isinstance(refused, rules.Refused) and refused.code == code


def test_no_show_waits_for_the_grace_days_after_release() -> None:
    release = dt.date(2026, 12, 11)
    assert not rules.no_show_due(release, grace_days=2, today=dt.date(2026, 12, 13))
    assert rules.no_show_due(release, grace_days=2, today=dt.date(2026, 12, 14))


def test_an_arrival_at_a_full_shelter_only_releases_the_hold() -> None:
    """occupied never passes what is in service; held never goes below 0."""
    beds = {"s00001": {"single": BedState(total=2, occupied=2, out_of_service=0, held=1)}}
    after = rules.apply_holds(beds, [("s00001", "single", -1, 1)])
    assert after["s00001"]["single"] == BedState(total=2, occupied=2, out_of_service=0, held=0)
    roomy = {"s00001": {"single": BedState(total=3, occupied=1, out_of_service=0, held=1)}}
    assert rules.apply_holds(roomy, [("s00001", "single", -1, 1)])["s00001"]["single"] == (
        BedState(total=3, occupied=2, out_of_service=0, held=0)
    )


def test_exclusions_naming_women_outside_the_problem_are_dropped() -> None:
    """exclude_with may name a withdrawn woman, one releasing beyond the horizon or a
    resident of a stale shelter: the problem keeps only ids it contains and stays valid."""
    from matching.load import decode_problem

    problem = rules.build_problem(
        [shelter("s00001"), shelter("s00002", reported=None)],
        [open_request("r000001", exclude_with=["r000002", "r000008", "r000009"])],
        [
            Resident(id="r000002", shelter="s00001", contacts=[], exclude_with=["r000007"]),
            Resident(id="r000009", shelter="s00002", contacts=[], exclude_with=[]),
        ],
        now=NOW,
        stale_after=EIGHT_HOURS,
    )
    assert problem.requests[0].exclude_with == ["r000002"]
    assert [(w.id, w.exclude_with) for w in problem.residents] == [("r000002", [])]
    assert decode_problem(msgspec.json.encode(problem)) == problem
