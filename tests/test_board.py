"""The live regional board: pure tests of apply, snapshot, suppression, staleness and resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from exchange.beds import registry
from exchange.beds import store as events
from exchange.beds.model import BedState, Event
from exchange.board import board as live
from schema.registry import NewShelter, Principal
from schema.wire import Region

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VIEWER = Principal(token_id=1, role="viewer")
PLANNER = Principal(token_id=2, role="planner")


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


def board(clock: Clock, *, min_shelters: int = 3) -> live.Board:
    return live.Board(stale_after=timedelta(hours=8), min_shelters=min_shelters, clock=clock)


class Feed:
    """Hands out events with rising sequence numbers."""

    def __init__(self) -> None:
        self.seq = 0

    def __call__(
        self,
        shelter: str,
        region: str,
        beds: dict[str, tuple[int, int, int]],
        *,
        at: datetime = T0,
        kind: events.EventKind = "report",
        confidential: bool = False,
        held: int = 0,
    ) -> Event:
        self.seq += 1
        return Event(
            seq=self.seq,
            at=at,
            shelter_id=shelter,
            region=region,
            confidential=confidential,
            kind=kind,
            beds={
                t: BedState(total=a, occupied=b, out_of_service=c, held=held)
                for t, (a, b, c) in beds.items()
            },
            report_seq=self.seq if kind == "report" else None,
        )


def by_region(b: live.Board, principal: Principal) -> dict[str, dict[str, Any]]:
    return {r.region: msgspec.to_builtins(r) for r in b.snapshot(principal).regions}


def test_region_totals_sum_shelters_and_subtract_held() -> None:
    """Totals add up shelters; available = total - occupied - out_of_service - held."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    assert b.apply(feed("s00001", "OH", {"single": (10, 4, 1)})) == {"OH"}
    b.apply(feed("s00002", "OH", {"single": (5, 1, 0), "family": (3, 3, 0)}, held=1))
    oh = b.region("OH", suppress_small=False)
    assert oh.beds is not None
    assert oh.beds["single"].total == 15 and oh.beds["single"].available == 5 + 3
    assert oh.beds["family"].available == 0
    assert oh.shelters == 2 and oh.stale == 0 and not oh.suppressed
    assert oh.as_of == "2026-12-01T10:00:00Z"
    assert b.seq == 2


def test_reports_replace_only_named_bed_types() -> None:
    """A report restates the bed types it names; other types keep their last state."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00001", "OH", {"single": (10, 0, 0), "family": (4, 0, 0)}))
    b.apply(feed("s00001", "OH", {"single": (10, 10, 0)}))
    beds = b.region("OH", suppress_small=False).beds
    assert beds is not None
    assert beds["single"].available == 0 and beds["family"].available == 4


def test_events_at_or_below_the_board_seq_are_ignored() -> None:
    """Applying an already-applied event changes nothing (catch-up may overlap)."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    e = feed("s00001", "OH", {"single": (10, 0, 0)})
    b.apply(e)
    assert b.apply(e) == set()


def test_viewers_see_small_regions_suppressed_without_numbers() -> None:
    """Viewer snapshots carry no numbers for regions under the minimum; planners see them."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    for i in range(3):
        b.apply(feed(f"s0000{i}", "OH", {"single": (4, 1, 0)}))
    b.apply(feed("s00009", "WV", {"single": (7, 2, 0)}, confidential=True))
    viewer = by_region(b, VIEWER)
    assert viewer["WV"] == {
        "region": "WV",
        "shelters": 0,
        "stale": 0,
        "suppressed": True,
        "as_of": None,
    }
    assert viewer["OH"]["beds"] == {"single": {"total": 12, "available": 9}}
    planner = by_region(b, PLANNER)
    assert planner["WV"]["beds"] == {"single": {"total": 7, "available": 5}}
    assert planner["WV"]["suppressed"] is False


def test_no_message_names_a_shelter() -> None:
    """Snapshots and regions carry region totals only: no shelter id, ever."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00007", "OH", {"single": (4, 1, 0)}, confidential=True))
    for principal in (VIEWER, PLANNER):
        text = msgspec.json.encode(b.snapshot(principal)).decode()
        assert "s00007" not in text
    assert set(Region.__struct_fields__) == {
        "region",
        "shelters",
        "stale",
        "suppressed",
        "as_of",
        "beds",
    }


def test_region_scope_filters_the_snapshot() -> None:
    """A token confined to regions sees only those regions."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))
    b.apply(feed("s00002", "PA", {"single": (4, 1, 0)}))
    scoped = Principal(token_id=3, role="planner", regions=("PA",))
    assert [r.region for r in b.snapshot(scoped).regions] == ["PA"]
    assert b.changed_since(1, scoped) == ["PA"]


def test_stale_shelters_are_counted_and_offer_no_beds() -> None:
    """A shelter whose last report is older than the stale age is counted stale; its
    beds stay in the total but not in available; a fresh report makes it fresh again."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (10, 2, 0)}))
    b.apply(feed("s00002", "OH", {"single": (5, 0, 0)}, at=T0 + timedelta(hours=2)))
    clock.now = T0 + timedelta(hours=8, minutes=1)
    assert b.restale() == {"OH"}
    assert b.restale() == set()
    oh = b.region("OH", suppress_small=False)
    assert oh.stale == 1
    assert oh.beds is not None
    assert (oh.beds["single"].total, oh.beds["single"].available) == (15, 5)
    b.apply(feed("s00001", "OH", {"single": (10, 2, 0)}, at=clock.now))
    assert b.region("OH", suppress_small=False).stale == 0


def test_a_shelter_that_never_reported_is_stale() -> None:
    """Registration beds are not a vacancy statement: a never-reported shelter is stale."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (10, 0, 0)}, kind="shelter"))
    oh = b.region("OH", suppress_small=False)
    assert oh.stale == 1 and oh.as_of is None
    assert oh.beds is not None and oh.beds["single"].available == 0


def test_changed_since_names_every_region_changed_at_or_after_since() -> None:
    """Resume needs the regions changed after the client's seq (at it, harmlessly, too)."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))  # 1
    b.apply(feed("s00002", "PA", {"single": (4, 1, 0)}))  # 2
    b.apply(feed("s00003", "WV", {"single": (4, 1, 0)}))  # 3
    assert b.changed_since(3, PLANNER) == ["WV"]
    assert b.changed_since(2, PLANNER) == ["PA", "WV"]
    assert b.covers(2) and not b.covers(0) and not b.covers(4)
    b.floor = 2
    assert not b.covers(1) and b.covers(2)


def test_going_stale_is_stamped_for_resume() -> None:
    """A region that went stale without an event is resent to a client resuming from before."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))
    b.apply(feed("s00002", "PA", {"single": (4, 1, 0)}))
    clock.now = T0 + timedelta(hours=9)
    b.apply(feed("s00002", "PA", {"single": (4, 1, 0)}, at=clock.now))
    assert b.restale() == {"OH"}
    assert b.changed_since(3, PLANNER) == ["OH", "PA"]


async def test_load_reads_the_database_consistently(conn: asyncpg.Connection[Any]) -> None:
    """A board loaded from the database equals one fed with the same events."""
    shelters = [
        NewShelter(
            name=f"S{i}",
            region=region,
            lat=40,
            lon=-83,
            beds={"single": 4 + i},
            confidential=i == 1,
        )
        for i, region in enumerate(["OH", "OH", "OH", "PA"])
    ]
    await registry.add_shelters(conn, shelters)
    loaded = live.Board(stale_after=timedelta(hours=8), min_shelters=3)
    regions = live.load(loaded, await events.load_board(conn))
    fed = live.Board(stale_after=timedelta(hours=8), min_shelters=3)
    for e in await events.since(conn, 0):
        fed.apply(e)
    assert regions == {"OH", "PA"}
    assert loaded.seq == fed.seq == 4
    for principal in (VIEWER, PLANNER):
        assert loaded.snapshot(principal) == fed.snapshot(principal)
    assert loaded.covers(1) and loaded.changed_since(4, PLANNER) == ["OH", "PA"]
