"""The planner channel's picture: audit records name the requests they change, each agency
sees only its own, and resume from any seq at or above the floor is exact."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from exchange.placements.planners import Gone, Picture, Record, Shown, Touched, changes
from exchange.placements.readiness import Facts

RELEASE = dt.date(2026, 12, 11)


def facts(rid: str, status: str = "open", agency: str = "DRC", **kw: Any) -> Facts:
    base = {"request": rid, "agency": agency, "region": "OH", "release_date": RELEASE}
    return Facts(**{**base, "status": status, **kw})


def test_records_name_requests_by_subject_or_offer_detail_and_skip_reads() -> None:
    """Request, pickup and alert records name it in the subject, offer records in the
    detail; reads and runs name none; each request once, at its newest id, in id order."""
    records = [
        Record(1, "request.created", "request:r000001", ""),
        Record(2, "request.read", "request:r000001", ""),
        Record(3, "run.created", "run:1", "regions=OH"),
        Record(4, "offer.created", "offer:o000001", "request=r000002,shelter=s00001,run=1"),
        Record(5, "pickup.set", "request:r000002", "who=agency"),
        Record(6, "offer.accepted", "offer:o000002", "request=r000001,shelter=s00001"),
        Record(7, "request.purged", "request:r000003", "agency=ELSE"),
    ]
    assert changes(records) == [
        Touched("r000002", 5),
        Touched("r000001", 6),
        Touched("r000003", 7, agency="ELSE"),
    ]


def test_changes_reach_only_the_agency_of_the_request() -> None:
    """A change of DRC's request is an item for DRC; ELSE's picture is untouched."""
    p = Picture()
    p.load([facts("r000001"), facts("r000002", agency="ELSE")], seq=10)
    items = p.apply([Touched("r000001", 11)], {"r000001": facts("r000001", "offered")}, upto=11)
    assert [(type(i).__name__, i.seq) for i in items] == [("Shown", 11)]
    assert [f.status for f in p.facts("DRC")] == ["offered"]
    assert [f.status for f in p.facts("ELSE")] == ["open"]
    assert p.changed_since("ELSE", 11) == []


def test_a_request_leaves_with_its_end_and_a_purged_one_with_none() -> None:
    """Arrived: `Gone` with status arrived. Purged (no facts left): `Gone` with no status,
    to the agency the purge record names. A request that ended before it was ever seen
    here sends nothing."""
    p = Picture()
    p.load([facts("r000001", "accepted"), facts("r000002", "no_show")], seq=1)
    items = p.apply(
        [Touched("r000001", 2), Touched("r000002", 3, agency="DRC"), Touched("r000009", 4)],
        {"r000001": facts("r000001", "arrived"), "r000009": facts("r000009", "withdrawn")},
        upto=4,
    )
    assert items == [
        Gone(seq=2, request="r000001", agency="DRC", status="arrived"),
        Gone(seq=3, request="r000002", agency="DRC", status=None),
    ]
    assert p.facts("DRC") == [] and p.seq == 4


def test_resume_sends_what_changed_at_or_after_since_and_ends_with_the_snapshot() -> None:
    """A client that applied every item up to seq S and resumes from S, applying what
    `changed_since` gives, holds exactly the picture a fresh snapshot shows."""
    p = Picture()
    p.load([facts(f"r00000{i}") for i in range(1, 6)], seq=100)
    client = {f.request: f for f in p.facts("DRC")}

    def apply(items: list[Shown | Gone]) -> None:
        for i in items:
            if isinstance(i, Shown):
                client[i.facts.request] = i.facts
            else:
                client.pop(i.request, None)

    apply(p.apply([Touched("r000001", 101)], {"r000001": facts("r000001", "offered")}, upto=101))
    since = p.seq
    p.apply([Touched("r000002", 102)], {"r000002": facts("r000002", "withdrawn")}, upto=102)
    p.apply([Touched("r000003", 105)], {"r000003": facts("r000003", "accepted")}, upto=107)
    p.apply([Touched("r000006", 108)], {"r000006": facts("r000006")}, upto=108)
    assert p.covers(since)
    resumed = p.changed_since("DRC", since)
    assert [i.seq for i in resumed] == [101, 102, 105, 108]
    apply(resumed)
    assert client == {f.request: f for f in p.facts("DRC")}


def test_forgotten_tombstones_raise_the_floor_so_old_clients_get_a_snapshot() -> None:
    """With room for one tombstone, the second removal forgets the first and the floor
    rises past it: resuming from before it is not covered."""
    p = Picture(tombstones=1)
    p.load([facts("r000001"), facts("r000002")], seq=5)
    p.apply([Touched("r000001", 6)], {"r000001": facts("r000001", "withdrawn")}, upto=6)
    assert p.covers(6)
    p.apply([Touched("r000002", 7)], {"r000002": facts("r000002", "withdrawn")}, upto=7)
    assert p.floor == 7 and not p.covers(6) and p.covers(7)
    assert not p.covers(4)  # before the load


def test_demand_counts_every_agency_by_region_and_status() -> None:
    """Open, offered and accepted per region over all agencies; unplaced is open and
    releasing within the horizon; no-shows count nowhere."""
    p = Picture()
    p.load(
        [
            facts("r000001"),
            facts("r000002", agency="ELSE", release_date=RELEASE + dt.timedelta(days=40)),
            facts("r000003", "offered"),
            facts("r000004", "accepted"),
            facts("r000005", "no_show"),
            Facts(
                request="r000006", agency="DRC", region="PA", status="open", release_date=RELEASE
            ),
        ],
        seq=1,
    )
    got = p.demand(RELEASE - dt.timedelta(days=10), horizon_days=21)
    assert {r: (d.open, d.offered, d.accepted, d.unplaced) for r, d in got.items()} == {
        "OH": (2, 1, 1, 1),
        "PA": (1, 0, 0, 1),
    }


def test_demand_kept_as_requests_change_equals_a_recount() -> None:
    """Demand is kept as requests come, change status, region or release date, and go; after
    every change it equals a count over the picture's requests, and a region with none
    left is gone."""
    rng = random.Random(7)
    p = Picture()
    p.load([], seq=0)
    live: dict[str, Facts] = {}
    statuses = ["open", "offered", "accepted", "no_show", "arrived", "withdrawn"]
    today = RELEASE - dt.timedelta(days=10)
    for seq in range(1, 600):
        rid = f"r{rng.randrange(40):06d}"
        f = facts(
            rid,
            rng.choice(statuses),
            region=rng.choice(["OH", "PA", "WV"]),
            release_date=RELEASE + dt.timedelta(days=rng.randrange(-5, 30)),
        )
        found = {} if rng.random() < 0.1 else {rid: f}  # sometimes purged
        p.apply([Touched(rid, seq, agency="DRC")], found, upto=seq)
        if rid in found and f.status in ("open", "offered", "accepted", "no_show"):
            live[rid] = f
        else:
            live.pop(rid, None)
        expected: dict[str, list[int]] = {}
        for g in live.values():
            c = expected.setdefault(g.region, [0, 0, 0, 0])
            c[0] += g.status == "open"
            c[1] += g.status == "offered"
            c[2] += g.status == "accepted"
            c[3] += g.status == "open" and g.release_date <= today + dt.timedelta(days=21)
        got = p.demand(today, horizon_days=21)
        assert {r: [d.open, d.offered, d.accepted, d.unplaced] for r, d in got.items()} == expected
