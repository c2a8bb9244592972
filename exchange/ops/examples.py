"""One example of each body the HTTP API reads or answers, shown at /schema.

Built from the msgspec types themselves (a test validates each against the schema the
document gives it), and telling one story: planner agency DRC in region OH asks for a
family bed for request r000042, matching run 7 offers o000123 at shelter s00001, which
accepts, and she is met at the gate.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from schema import problem
from schema.placements import (
    Decision,
    NewPickup,
    NewRequest,
    OfferSummary,
    PickupSet,
    Placement,
    Point,
    Readiness,
    ReadinessOffer,
    ReadinessRow,
    RequestView,
    RunRequest,
    RunResult,
)
from schema.wire import (
    Ack,
    BedCounts,
    BedTotals,
    Demand,
    Offer,
    Pickup,
    Region,
    RegionDay,
    RegionHistory,
    Report,
    Snapshot,
)

RELEASE = dt.date(2026, 12, 11)
CONTACT = "k7Qm2vXw9LpR3sTa"

NEW_REQUEST = NewRequest(
    ref="OH-DRC-4471",
    region="OH",
    release_date=RELEASE,
    origin=Point(lat=39.96, lon=-83.0),
    bed_type="family",
    children=2,
    age=34,
    mat=True,
    offenses=["drug_possession"],
    language="es",
    needs=["trafficking"],
    max_km=150,
    urgency=3,
    contacts=[CONTACT],
    avoid_km=50,
)

REQUEST = RequestView(
    id="r000042",
    ref="OH-DRC-4471",
    region="OH",
    status="offered",
    release_date=RELEASE,
    origin=Point(lat=39.96, lon=-83.0),
    home=None,
    bed_type="family",
    children=2,
    age=34,
    mat=True,
    offenses=["drug_possession"],
    language="es",
    needs=["trafficking"],
    max_km=150.0,
    urgency=3,
    contacts=1,
    avoid_km=50.0,
    exclude_with=[],
    created_at="2026-11-27T14:02:11Z",
    updated_at="2026-11-28T02:00:09Z",
    offer=OfferSummary(
        id="o000123", status="offered", expires_at="2026-11-29T02:00:09Z", region="OH", km=38
    ),
)

CREATED = msgspec.structs.replace(
    REQUEST, status="open", offer=None, updated_at="2026-11-27T14:02:11Z"
)

WITHDRAWN = msgspec.structs.replace(
    REQUEST, status="withdrawn", offer=None, updated_at="2026-11-28T09:30:00Z"
)

NEW_PICKUP = NewPickup(
    who="shelter", at=dt.datetime(2026, 12, 11, 9, 0, tzinfo=dt.timezone(dt.timedelta(hours=-5)))
)

PICKUP = Pickup(who="shelter", at="2026-12-11T14:00:00Z", flagged=False)

PICKUP_SET = PickupSet(request="r000042", pickup=PICKUP)

PLACEMENT = Placement(
    request="r000042",
    offer="o000123",
    status="accepted",
    shelter="s00001",
    name="Harbor House",
    address="12 Elm St, Columbus, OH 43215",
    intake_phone="+1 614 555 0142",
    bed_type="family",
    release_date=RELEASE,
    pickup=PICKUP,
)

READINESS = Readiness(
    as_of="2026-11-29T10:00:00Z",
    days=14,
    requests=[
        ReadinessRow(
            request="r000042",
            region="OH",
            status="accepted",
            release_date=RELEASE,
            days_left=12,
            offer=ReadinessOffer(
                id="o000123", status="accepted", expires_at="2026-11-29T02:00:09Z"
            ),
            pickup=None,
            at_risk=["no_pickup"],
            ref="OH-DRC-4471",
        )
    ],
)

RUN_REQUEST = RunRequest(regions=["OH"])

RUN = RunResult(
    id=7,
    status="optimal",
    placed=11,
    unplaced={"no_bed_of_type": 2, "safety_exclusion": 1},
    offers=11,
    solve_seconds=0.84,
    regions=["OH"],
    build_seconds=0.12,
    write_seconds=0.05,
    finished_at="2026-11-28T02:00:09Z",
)

PROBLEM = problem.Problem(
    version=1,
    shelters=[
        problem.Shelter(
            id="s00001",
            lat=39.98,
            lon=-82.99,
            region="OH",
            beds={"family": 2, "single": 5},
            rules=problem.ShelterRules(
                max_children=3,
                mat_ok=True,
                min_age=18,
                max_age=None,
                excluded_offenses=["arson"],
                languages=["en", "es"],
            ),
            services=["trafficking"],
            flagged_contacts=[],
        )
    ],
    requests=[
        problem.Request(
            id="r000042",
            weight=3,
            origin=problem.Point(lat=39.96, lon=-83.0),
            home=None,
            bed_type="family",
            children=2,
            age=34,
            mat=True,
            offenses=["drug_possession"],
            language="es",
            needs=["trafficking"],
            max_km=150,
            contacts=[CONTACT],
            avoid_km=50,
            exclude_with=[],
        )
    ],
)
"""A run's `problem` file (match-problem.md); its `plan` follows."""

PLAN = problem.Plan(
    version=1,
    status="optimal",
    objective=problem.Objective(placed_weight=3, total_km=3),
    bound=problem.Bound(placed_weight=3, total_km=3),
    assignments=[
        problem.Assignment(
            request="r000042", shelter="s00001", bed_type="family", km=3, alternatives=0
        )
    ],
    unplaced=[],
    solve_seconds=0.02,
)

OFFER = Offer(
    offer="o000123",
    status="accepted",
    bed_type="family",
    children=2,
    mat=True,
    language="es",
    needs=["trafficking"],
    age=34,
    release_date="2026-12-11",
    expires_at="2026-11-29T02:00:09Z",
    pickup=PICKUP,
)

DECLINED = msgspec.structs.replace(OFFER, status="declined", pickup=None)

ARRIVED = msgspec.structs.replace(OFFER, status="arrived")

DECISION = Decision(reason="full")

REPORT = Report(
    seq=17,
    beds={
        "single": BedCounts(total=12, occupied=9, out_of_service=1),
        "family": BedCounts(total=3, occupied=3, out_of_service=0),
    },
)

ACK = Ack(seq=17, status="applied")

_BEDS = {"single": BedTotals(total=80, available=7), "family": BedTotals(total=9, available=0)}
_DEMAND = Demand(open=4, offered=2, accepted=9, unplaced=3)

SNAPSHOT = Snapshot(
    seq=1042,
    degraded=False,
    regions=[
        Region(
            region="OH",
            shelters=12,
            stale=1,
            suppressed=False,
            as_of="2026-12-01T10:15:00Z",
            beds=_BEDS,
            demand=_DEMAND,
        ),
        Region(region="WV", shelters=2, stale=0, suppressed=True, as_of=None),
    ],
)

HISTORY = RegionHistory(
    region="OH",
    days=[
        RegionDay(
            day="2026-11-28",
            suppressed=False,
            shelters=12,
            contributing=11,
            beds=_BEDS,
            demand=_DEMAND,
        ),
        RegionDay(day="2026-11-29", suppressed=True),
    ],
)
