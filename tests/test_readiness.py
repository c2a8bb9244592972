"""The readiness core: each at-risk reason appears at its instant and clears with the change
that answers it; the board lists the window and sorts by risk, then release. No clock."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from exchange.placements import readiness
from exchange.placements.readiness import Facts, Policy

POLICY = Policy(bed_days=7, pickup_days=2, offer_warn=dt.timedelta(hours=6))
RELEASE = dt.date(2026, 12, 11)


def at(day: dt.date, hour: int = 0, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), tzinfo=dt.UTC)


def days_before(n: int, hour: int = 0) -> dt.datetime:
    return at(RELEASE - dt.timedelta(days=n), hour)


def facts(**kw: Any) -> Facts:
    base: dict[str, Any] = {
        "request": "r000001",
        "agency": "DRC",
        "region": "OH",
        "status": "open",
        "release_date": RELEASE,
    }
    return Facts(**{**base, **kw})


def risk(f: Facts, now: dt.datetime) -> list[str]:
    return list(readiness.at_risk(f, now, POLICY))


def test_no_bed_appears_at_midnight_seven_days_before_and_clears_on_acceptance() -> None:
    """Open or offered with 8 days left: ready; at 00:00 UTC of day 7: `no_bed`;
    accepted: gone."""
    assert "no_bed" not in risk(facts(), days_before(8, 23))
    assert "no_bed" in risk(facts(), days_before(7))
    assert "no_bed" in risk(facts(status="offered"), days_before(7))
    assert "no_bed" not in risk(facts(status="accepted"), days_before(7))
    assert "no_bed" in risk(facts(), days_before(-3))  # released and still without a bed


def test_no_pickup_appears_two_days_before_and_clears_when_arranged() -> None:
    """No pickup with 3 days left: ready; with 2: `no_pickup`; a pickup arranged clears it,
    whoever it is."""
    accepted = facts(status="accepted")
    assert risk(accepted, days_before(3, 23)) == []
    assert risk(accepted, days_before(2)) == ["no_pickup"]
    arranged = msgspec.structs.replace(accepted, pickup_who="shelter", pickup_at=at(RELEASE, 9))
    assert risk(arranged, days_before(2)) == []


def test_offer_expiring_appears_six_hours_before_expiry_and_clears_with_an_answer() -> None:
    """An unanswered offer is `offer_expiring` from 6 h before it expires (to the second);
    accepted, it is not."""
    expires = at(RELEASE - dt.timedelta(days=20), 18)
    offered = facts(
        status="offered", offer="o000001", offer_status="offered", offer_expires_at=expires
    )
    assert risk(offered, expires - dt.timedelta(hours=6, seconds=1)) == []
    assert risk(offered, expires - dt.timedelta(hours=6)) == ["offer_expiring"]
    accepted = msgspec.structs.replace(offered, status="accepted", offer_status="accepted")
    assert risk(accepted, expires) == []


def test_a_flagged_pickup_asks_for_a_second_look_until_changed() -> None:
    """Family or anyone else at the gate: `pickup_flagged`; the shelter or agency: not."""
    family = facts(status="accepted", pickup_who="verified_family", pickup_at=at(RELEASE, 9))
    assert risk(family, days_before(10)) == ["pickup_flagged"]
    other = msgspec.structs.replace(family, pickup_who="other")
    assert risk(other, days_before(10)) == ["pickup_flagged"]
    agency = msgspec.structs.replace(family, pickup_who="agency")
    assert risk(agency, days_before(1)) == []


def test_a_no_show_is_the_worst_and_an_arrival_or_withdrawal_ends_every_reason() -> None:
    """`no_show` alone for a no-show; nothing for arrived or withdrawn."""
    assert risk(facts(status="no_show"), days_before(-3)) == ["no_show"]
    assert risk(facts(status="arrived"), days_before(0)) == []
    assert risk(facts(status="withdrawn"), days_before(0)) == []


def test_reasons_are_ordered_most_severe_first() -> None:
    """An open request 1 day out, offered and expiring, with family at the gate: all four."""
    f = facts(
        status="offered",
        offer="o1",
        offer_status="offered",
        offer_expires_at=days_before(1, 2),
        pickup_who="other",
        pickup_at=at(RELEASE, 9),
    )
    assert risk(f, days_before(1)) == ["no_bed", "offer_expiring", "pickup_flagged"]
    assert risk(msgspec.structs.replace(f, pickup_who=None), days_before(1)) == [
        "no_bed",
        "offer_expiring",
        "no_pickup",
    ]


def test_the_board_lists_the_window_and_sorts_by_risk_then_release() -> None:
    """Live requests releasing within the window (or already released), arrivals and
    no-shows with their release within it either side, never withdrawn ones; the most at
    risk first, then by release date."""
    now = at(RELEASE - dt.timedelta(days=5), 12)
    rows = [
        facts(
            request="r000001",
            status="accepted",
            release_date=RELEASE,
            pickup_who="agency",
            pickup_at=at(RELEASE, 9),
        ),
        facts(request="r000002", release_date=RELEASE),  # no_bed
        facts(request="r000003", release_date=RELEASE - dt.timedelta(days=1)),  # no_bed, sooner
        facts(request="r000004", status="no_show", release_date=RELEASE - dt.timedelta(days=9)),
        facts(request="r000005", release_date=RELEASE + dt.timedelta(days=30)),  # outside
        facts(request="r000006", status="withdrawn"),
        facts(request="r000007", status="arrived", release_date=RELEASE - dt.timedelta(days=20)),
        facts(request="r000008", release_date=RELEASE - dt.timedelta(days=40)),  # overdue, no bed
        facts(request="r000009", status="accepted", release_date=RELEASE - dt.timedelta(days=4)),
    ]
    board = readiness.board(rows, now, POLICY, days=14)
    assert [(r.request, r.at_risk) for r in board] == [
        ("r000004", ["no_show"]),
        ("r000008", ["no_bed", "no_pickup"]),
        ("r000003", ["no_bed"]),
        ("r000002", ["no_bed"]),
        ("r000009", ["no_pickup"]),
        ("r000001", []),
    ]
    assert [r.days_left for r in board][:2] == [-4, -35]


def test_a_row_never_carries_a_ref_unless_the_facts_have_one() -> None:
    """The channel's facts have no ref, so its rows encode none; the board's do."""
    now = days_before(3)
    assert b"ref" not in msgspec.json.encode(readiness.row(facts(), now, POLICY))
    assert b'"ref":"A-1"' in msgspec.json.encode(readiness.row(facts(ref="A-1"), now, POLICY))


def test_transitions_name_what_was_raised_and_cleared_since_the_last_announcement() -> None:
    """A new reason is raised; a request whose reasons did not change is not named; one that
    ended (no longer among the facts) clears what was announced."""
    now = days_before(2)
    open_ = facts(request="r000001")
    ready = facts(
        request="r000002", status="accepted", pickup_who="agency", pickup_at=at(RELEASE, 9)
    )
    announced = {
        "r000001": ("DRC", ["no_bed"]),
        "r000003": ("DRC", ["no_pickup"]),
    }
    got = readiness.transitions([open_, ready], announced, now, POLICY)
    assert [(t.request, t.at_risk, t.raised, t.cleared) for t in got] == [
        ("r000001", ["no_bed", "no_pickup"], ["no_pickup"], []),
        ("r000003", [], [], ["no_pickup"]),
    ]
    assert (
        readiness.transitions([open_], {"r000001": ("DRC", ["no_pickup", "no_bed"])}, now, POLICY)
        == []
    )
