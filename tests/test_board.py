"""The live regional board: pure tests of apply, snapshot, staleness, resume, and the rules
of what a dashboard may reveal (contributing shelters, suppression, publication)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import msgspec

from exchange.beds import registry
from exchange.beds import store as events
from exchange.beds.model import BedState, Event, NewEvent, ShelterState
from exchange.board import board as live
from schema.registry import NewShelter, Principal
from schema.wire import BedTotals, Region

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
VIEWER = Principal(token_id=1, role="viewer")
PLANNER = Principal(token_id=2, role="planner")
ADMIN = Principal(token_id=3, role="admin")
SUPPRESSED = {"shelters": 0, "stale": 0, "suppressed": True, "as_of": None}


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
    oh = b.region("OH", "admin")
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
    beds = b.region("OH", "admin").beds
    assert beds is not None
    assert beds["single"].available == 0 and beds["family"].available == 4


def test_events_at_or_below_the_board_seq_are_ignored() -> None:
    """Applying an already-applied event changes nothing (catch-up may overlap)."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    e = feed("s00001", "OH", {"single": (10, 0, 0)})
    b.apply(e)
    assert b.apply(e) == set()


def test_viewers_see_regions_with_too_few_contributing_shelters_suppressed() -> None:
    """A viewer sees a region with fewer than the minimum contributing (not stale) shelters
    suppressed, with no number at all; registered but stale shelters do not count."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    for i in range(3):
        b.apply(feed(f"s0000{i}", "OH", {"single": (4, 1, 0)}))
    b.apply(feed("s00009", "WV", {"single": (7, 2, 0)}, confidential=True))
    b.apply(feed("s00010", "WV", {"single": (5, 0, 0)}, kind="shelter"))
    b.apply(feed("s00011", "WV", {"single": (5, 0, 0)}, kind="shelter"))
    assert msgspec.to_builtins(b.region("WV", "viewer")) == {"region": "WV", **SUPPRESSED}
    assert b.region("OH", "viewer").beds == {"single": BedTotals(total=12, available=9)}


def test_planners_see_a_confidential_shelter_only_in_company() -> None:
    """A planner sees a region suppressed when a contributing shelter is confidential and
    there are fewer than the minimum contributing shelters; small open regions stay shown."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00001", "WV", {"single": (7, 2, 0)}, confidential=True))
    b.apply(feed("s00002", "PA", {"single": (7, 2, 0)}))
    for i in range(3):
        b.apply(feed(f"s0001{i}", "OH", {"single": (4, 1, 0)}, confidential=i == 0))
    assert msgspec.to_builtins(b.region("WV", "planner")) == {"region": "WV", **SUPPRESSED}
    assert b.region("PA", "planner").beds == {"single": BedTotals(total=7, available=5)}
    assert b.region("OH", "planner").beds == {"single": BedTotals(total=12, available=9)}
    clock.now = T0 + timedelta(hours=9)
    b.apply(feed("s00011", "OH", {"single": (4, 1, 0)}, at=clock.now))
    b.apply(feed("s00012", "OH", {"single": (4, 1, 0)}, at=clock.now))
    b.restale()
    # Two contributing, the confidential one stale: nothing confidential to protect.
    oh = b.region("OH", "planner")
    assert not oh.suppressed and oh.stale == 1 and oh.shelters == 3


def test_admins_see_every_region() -> None:
    """Admins are not bound by the rules: no region is suppressed for them."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00001", "WV", {"single": (7, 2, 0)}, confidential=True))
    wv = b.region("WV", "admin")
    assert not wv.suppressed and wv.beds == {"single": BedTotals(total=7, available=5)}
    assert wv.as_of == "2026-12-01T10:00:00Z" and wv.shelters == 1


def test_no_message_names_a_shelter() -> None:
    """Snapshots and regions carry region totals only: no shelter id, ever."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00007", "OH", {"single": (4, 1, 0)}, confidential=True))
    b.publish(b.regions)
    for principal in (VIEWER, PLANNER, ADMIN):
        text = msgspec.json.encode(b.snapshot(principal)).decode()
        assert "s00007" not in text
    assert set(Region.__struct_fields__) == {
        "region",
        "shelters",
        "stale",
        "suppressed",
        "as_of",
        "beds",
        "demand",  # request counts per region: no shelter in them
    }


def test_region_scope_filters_the_snapshot() -> None:
    """A token confined to regions sees only those regions."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))
    b.apply(feed("s00002", "PA", {"single": (4, 1, 0)}))
    b.publish(b.regions)
    for role in ("planner", "admin"):
        scoped = Principal(token_id=3, role=role, regions=("PA",))  # type: ignore[arg-type]
        assert [r.region for r in b.snapshot(scoped).regions] == ["PA"]
        assert b.changed_since(1, scoped) == ["PA"]


def test_stale_shelters_count_as_stale_and_add_nothing() -> None:
    """A shelter whose last report is older than the stale age is counted stale and its
    beds leave the region's total and available; a fresh report brings them back."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (10, 2, 0), "family": (2, 0, 0)}))
    b.apply(feed("s00002", "OH", {"single": (5, 0, 0)}, at=T0 + timedelta(hours=2)))
    clock.now = T0 + timedelta(hours=8, minutes=1)
    assert b.restale() == {"OH"} and b.due == {"OH"}
    assert b.restale() == set()
    oh = b.region("OH", "admin")
    assert (oh.shelters, oh.stale) == (2, 1)
    assert oh.beds == {"single": BedTotals(total=5, available=5)}
    assert oh.as_of == "2026-12-01T12:00:00Z"
    b.apply(feed("s00001", "OH", {"single": (10, 2, 0)}, at=clock.now))
    oh = b.region("OH", "admin")
    assert oh.stale == 0 and oh.beds is not None and oh.beds["single"].total == 15


def test_a_shelter_that_never_reported_is_stale() -> None:
    """Registration beds are not a vacancy statement: a never-reported shelter is stale."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (10, 0, 0)}, kind="shelter"))
    oh = b.region("OH", "admin")
    assert oh.stale == 1 and oh.as_of is None and oh.beds == {}


def test_registration_is_not_due_and_rides_with_the_next_publication() -> None:
    """A shelter event changes the live board but makes nothing due; planners and viewers
    see it with the region's next publication, which a report or hold brings."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))
    assert b.publish(b.due) == [(view, b.region("OH", view)) for view in ("planner", "viewer")]
    assert b.apply(feed("s00002", "OH", {"single": (9, 0, 0)}, kind="shelter")) == {"OH"}
    assert b.due == set() and b.snapshot(VIEWER).regions[0].shelters == 1
    assert b.snapshot(ADMIN).regions[0].shelters == 2
    b.apply(feed("s00001", "OH", {"single": (4, 2, 0)}, kind="hold"))
    assert b.due == {"OH"}
    b.publish(b.due)
    assert b.snapshot(VIEWER).regions[0].shelters == 2 and b.due == set()


def test_publish_returns_only_pictures_that_changed() -> None:
    """Publishing a region whose picture in a view is unchanged sends nothing in that view:
    a suppressed region's picture changes only when its suppression does."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00001", "PA", {"single": (4, 1, 0)}))
    assert [v for v, _ in b.publish(["PA"])] == ["planner", "viewer"]
    assert b.publish(["PA"]) == []
    b.apply(feed("s00001", "PA", {"single": (4, 3, 0)}))
    assert [v for v, _ in b.publish(b.due)] == ["planner"]  # viewers: still suppressed
    b.apply(feed("s00002", "PA", {"single": (4, 0, 0)}))
    b.apply(feed("s00003", "PA", {"single": (4, 0, 0)}))
    assert [v for v, _ in b.publish(b.due)] == ["planner", "viewer"]
    assert b.snapshot(VIEWER).regions[0].beds == {"single": BedTotals(total=12, available=9)}


def test_snapshots_show_published_pictures_to_all_but_admins() -> None:
    """Until a region is published, planners' and viewers' snapshots and resume show its
    previous picture; admins see the live board."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}))
    b.publish(b.due)
    b.apply(feed("s00001", "OH", {"single": (4, 4, 0)}))
    for principal in (VIEWER, PLANNER):
        (oh,) = b.snapshot(principal).regions
        assert oh.beds == {"single": BedTotals(total=4, available=3)}
        assert b.changed_since(2, principal) == []
    assert b.snapshot(ADMIN).regions[0].beds == {"single": BedTotals(total=4, available=0)}
    assert b.changed_since(2, ADMIN) == ["OH"]
    b.publish(b.due)
    assert b.changed_since(2, VIEWER) == ["OH"]


def test_a_region_is_throttled_while_a_confidential_shelter_contributes_and_once_after() -> None:
    """Throttled: a contributing confidential shelter now or at the last publication, so
    the update in which it goes stale is throttled too."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    b.apply(feed("s00001", "OH", {"single": (4, 1, 0)}, at=T0 - timedelta(hours=7)))
    b.apply(feed("s00002", "OH", {"single": (4, 1, 0)}, kind="shelter", confidential=True))
    assert not b.throttled("OH")  # registered, never reported
    b.apply(feed("s00002", "OH", {"single": (4, 1, 0)}, confidential=True))
    assert b.throttled("OH")
    b.publish(b.due)
    clock.now = T0 + timedelta(hours=8, minutes=1)
    b.restale()
    assert not b._confidential("OH") and b.throttled("OH")
    b.publish(b.due)
    assert not b.throttled("OH")


def test_changed_since_names_every_region_changed_at_or_after_since() -> None:
    """Resume needs the regions changed after the client's seq (at it, harmlessly, too)."""
    clock, feed = Clock(), Feed()
    b = board(clock, min_shelters=1)
    for i, region in enumerate(["OH", "PA", "WV"]):
        b.apply(feed(f"s0000{i}", region, {"single": (4, 1, 0)}))  # 1, 2, 3
        b.publish(b.due)
    for principal in (ADMIN, PLANNER, VIEWER):
        assert b.changed_since(3, principal) == ["WV"]
        assert b.changed_since(2, principal) == ["PA", "WV"]
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
    assert b.changed_since(3, ADMIN) == ["OH", "PA"]
    b.publish(b.due)
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
    fed.publish(fed.regions)  # the first load publishes everything
    assert regions == {"OH", "PA"}
    assert loaded.seq == fed.seq == 4
    for principal in (VIEWER, PLANNER, ADMIN):
        assert loaded.snapshot(principal) == fed.snapshot(principal)
    assert loaded.covers(1) and loaded.changed_since(4, PLANNER) == ["OH", "PA"]


async def test_a_reload_makes_due_only_regions_where_shelters_reported(
    conn: asyncpg.Connection[Any],
) -> None:
    """Reloading (history pruned, shelters removed) publishes nothing by itself: a region is
    due only when one of its shelters reported meanwhile, not when one was registered."""
    oh = NewShelter(name="S", region="OH", lat=40, lon=-83, beds={"single": 4})
    ((first, _),) = await registry.add_shelters(conn, [oh])
    b = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    live.load(b, await events.load_board(conn))
    assert b.due == set() and [r.region for r in b.snapshot(PLANNER).regions] == ["OH"]
    pa = msgspec.structs.replace(oh, region="PA", confidential=True)
    await registry.add_shelters(conn, [oh, pa])
    assert live.load(b, await events.load_board(conn)) == {"OH", "PA"}
    assert b.due == set() and b.snapshot(PLANNER).regions[0].shelters == 1
    assert [r.region for r in b.snapshot(PLANNER).regions] == ["OH"]
    await conn.execute("update shelters set last_report_at = now() where id = $1", first)
    live.load(b, await events.load_board(conn))
    assert b.due == {"OH"}


def test_registered_beds_of_a_type_never_reported_count_for_nothing() -> None:
    """A shelter registered with single and family beds that reports only single adds no
    family beds (neither total nor available) until a report names family."""
    clock, feed = Clock(), Feed()
    b = board(clock)
    b.apply(feed("s00001", "OH", {"single": (10, 0, 0), "family": (2, 0, 0)}, kind="shelter"))
    b.apply(feed("s00001", "OH", {"single": (10, 4, 0)}))
    beds = b.region("OH", "admin").beds
    assert beds == {"single": BedTotals(total=10, available=6)}
    b.apply(feed("s00001", "OH", {"family": (2, 1, 0)}))
    beds = b.region("OH", "admin").beds
    assert beds is not None and beds["family"] == BedTotals(total=2, available=1)


async def test_a_board_loaded_knows_which_types_were_reported(
    conn: asyncpg.Connection[Any],
) -> None:
    """A report marks the types it names as reported in the database: a board loaded
    from it counts a registered but never reported type for nothing, as a fed one does."""
    [(sid, _)] = await registry.add_shelters(
        conn,
        [NewShelter(name="S", region="OH", lat=40, lon=-83, beds={"single": 10, "family": 2})],
    )
    async with events.committing(conn) as outbox:
        states = await events.lock_states(conn, [sid])
        beds = {"single": BedState(total=10, occupied=4, out_of_service=0)}
        report = NewEvent(shelter_id=sid, kind="report", beds=beds, report_seq=1)
        states[sid] = ShelterState(shelter_id=sid, last_seq=1, beds={**states[sid].beds, **beds})
        await events.write_reports(conn, outbox, states, [report])
    reported = await conn.fetch(
        "select bed_type, reported from beds where shelter_id = $1 order by bed_type", sid
    )
    assert [(r["bed_type"], r["reported"]) for r in reported] == [
        ("family", False),
        ("single", True),
    ]
    loaded = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    live.load(loaded, await events.load_board(conn))
    fed = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    for e in await events.since(conn, 0):
        fed.apply(e)
    only_single = {"single": BedTotals(total=10, available=6)}
    assert loaded.region("OH", "admin").beds == fed.region("OH", "admin").beds == only_single
