"""Unmet demand on the regional board: exact for planners and admins; for viewers a count
below the minimum is null, a region whose counts are all below it shows none (exactly like
a region without demand), and a suppressed region never shows any."""

from __future__ import annotations

from test_board import ADMIN, PLANNER, VIEWER, Clock, Feed, board

from exchange.board import board as live
from schema.wire import Demand


def demand(open: int, offered: int = 0, accepted: int = 0, unplaced: int = 0) -> Demand:
    return Demand(open=open, offered=offered, accepted=accepted, unplaced=unplaced)


def loaded(shelters: int, *, confidential: bool = False) -> live.Board:
    b = board(Clock())
    feed = Feed()
    for i in range(shelters):
        b.apply(feed(f"s{i}", "OH", {"single": (4, 1, 0)}, confidential=confidential))
    b.publish(b.regions)
    return b


def shown(b: live.Board, who: object) -> Demand | None:
    return b.region("OH", live.view_of(who)).demand  # type: ignore[arg-type]


def test_planners_and_admins_see_exact_counts_viewers_see_only_large_ones() -> None:
    """open 5, offered 2, accepted 1, unplaced 4: viewers see 5 and 4, null for 2 and 1."""
    b = loaded(3)
    assert b.set_demand({"OH": demand(5, 2, 1, 4)}) == {"OH"}
    assert shown(b, ADMIN) == shown(b, PLANNER) == demand(5, 2, 1, 4)
    assert shown(b, VIEWER) == Demand(open=5, offered=None, accepted=None, unplaced=4)


def test_a_region_with_only_small_counts_looks_to_viewers_like_one_with_none() -> None:
    """One woman waiting: viewers see no `demand` at all, as when nobody waits; planners
    see her."""
    b = loaded(3)
    b.set_demand({"OH": demand(1, 0, 0, 1)})
    assert shown(b, VIEWER) is None and shown(b, PLANNER) == demand(1, 0, 0, 1)
    b.set_demand({})
    assert shown(b, VIEWER) is None and shown(b, PLANNER) is None


def test_a_suppressed_region_shows_no_demand() -> None:
    """Two shelters: suppressed for viewers, so no demand however large; with a
    confidential shelter, suppressed for planners too."""
    b = loaded(2)
    b.set_demand({"OH": demand(9, 9, 9, 9)})
    assert b.region("OH", "viewer").suppressed and shown(b, VIEWER) is None
    assert shown(b, PLANNER) == demand(9, 9, 9, 9)
    c = loaded(2, confidential=True)
    c.set_demand({"OH": demand(9, 9, 9, 9)})
    assert shown(c, PLANNER) is None and shown(c, ADMIN) == demand(9, 9, 9, 9)


def test_a_demand_change_is_a_regular_change_of_known_regions_only() -> None:
    """Changed regions are returned and due (published like a report); the same demand
    again changes nothing; a region without shelters is not on the board."""
    b = loaded(3)
    assert b.set_demand({"OH": demand(4), "PA": demand(7)}) == {"OH"}
    assert "OH" in b.due
    published = b.publish(["OH"])
    hidden = Demand(open=4, offered=None, accepted=None, unplaced=None)
    assert {(view, r.demand) for view, r in published} == {
        ("planner", demand(4)),
        ("viewer", hidden),
    }
    assert b.set_demand({"OH": demand(4), "PA": demand(7)}) == set()
    assert b.set_demand({"PA": demand(7)}) == {"OH"}
