"""The planner channel's feed on a real database, without sockets: changes reach the
agency's subscribers only, resume is exact, the alert sweep announces what time brings,
and a subscriber that stops reading is resynced, then closed. Time is injected."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

import asyncpg
import msgspec
from test_placements import planner
from test_placements import request as stored
from test_placements_pickup import arrange, principal

from exchange.board.hub import Subscriber
from exchange.placements import alerts, offers, requests
from exchange.placements.feed import PlannerFeed
from exchange.settings import Settings
from schema.placements import NewRequest
from schema.registry import Principal

POLICY = requests.policy(Settings())
RELEASE = dt.date.today() + dt.timedelta(days=5)


class Clock:
    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def __call__(self) -> dt.datetime:
        return self.at


def noon(days_before_release: int) -> dt.datetime:
    day = RELEASE - dt.timedelta(days=days_before_release)
    return dt.datetime.combine(day, dt.time(12), dt.UTC)


async def started(dsn: str, pool: asyncpg.Pool[Any], clock: Clock, **kw: Any) -> PlannerFeed:
    feed = PlannerFeed(dsn, pool, POLICY, clock=clock, **kw)
    await feed.load()
    return feed


def queued(sub: Subscriber) -> list[dict[str, Any]]:
    """Everything queued for the subscriber, decoded (without waiting)."""
    out = []
    while sub._items:
        text, _ = sub._items.popleft()
        out.append(msgspec.json.decode(text))
    return out


async def request(conn: asyncpg.Connection[Any], token_id: int, ref: str, **kw: Any) -> str:
    """A stored request released on RELEASE: the day fixed when this module was loaded, so a
    run that crosses midnight keeps the request and the clock on the same dates."""
    return await stored(conn, token_id, ref, release_date=RELEASE.isoformat(), **kw)


def planner_of(token_id: int, agency: str = "DRC") -> Principal:
    return principal(token_id, agency)


async def create(conn: asyncpg.Connection[Any], token_id: int, ref: str) -> str:
    """A request made as the API makes it (audited, so the channel sees it)."""
    new = msgspec.convert(
        {
            "ref": ref,
            "region": "OH",
            "release_date": RELEASE.isoformat(),
            "origin": {"lat": 40.0, "lon": -83.0},
            "bed_type": "single",
            "age": 30,
            "max_km": 100,
        },
        NewRequest,
    )
    async with conn.transaction():
        return await requests.create(conn, principal(token_id), new, today=dt.date.today())


async def test_each_agency_receives_its_own_changes_only(
    dsn: str, conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """A snapshot of the agency's requests (no refs), then a `request` message for each of
    its changes (a pickup, a new request) and `removed` for a withdrawal; the other agency's
    subscriber gets nothing of them, and gets its own."""
    drc, other = await planner(conn), await planner(conn, agency="ELSE")
    mine = await request(conn, drc, "A-1")
    theirs = await request(conn, other, "B-1", agency="ELSE")
    feed = await started(dsn, pool, Clock(noon(6)))
    a = feed.subscribe(planner_of(drc), None)
    b = feed.subscribe(planner_of(other, "ELSE"), None)
    [snap_a], [snap_b] = queued(a), queued(b)
    assert snap_a["type"] == "snapshot" and [r["request"] for r in snap_a["requests"]] == [mine]
    assert [r["request"] for r in snap_b["requests"]] == [theirs]
    assert "ref" not in snap_a["requests"][0] and "A-1" not in msgspec.json.encode(snap_a).decode()
    await arrange(conn, principal(drc), mine, who="other")
    second = await create(conn, drc, "A-2")
    await offers.withdraw(conn, mine, agency="DRC", token_id=drc)
    await feed.catch_up()
    got = queued(a)
    assert [(m["type"], m.get("status")) for m in got] == [
        ("request", None),
        ("removed", "withdrawn"),
    ]
    assert got[0]["request"]["request"] == second
    assert got[1]["request"] == mine and got[0]["seq"] < got[1]["seq"]
    assert queued(b) == []
    await arrange(conn, principal(other, "ELSE"), theirs, who="agency")
    await feed.catch_up()
    assert queued(a) == []
    [own] = queued(b)
    assert own["request"]["pickup"]["who"] == "agency"


async def test_resume_from_the_last_seq_ends_with_the_picture_of_a_fresh_snapshot(
    dsn: str, conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """A client applies everything it got, disconnects, misses changes, and resumes with
    the last seq it saw: it then holds exactly the requests of a fresh snapshot."""
    drc = await planner(conn)
    ids = [await request(conn, drc, f"A-{i}") for i in range(4)]
    feed = await started(dsn, pool, Clock(noon(6)))
    client: dict[str, Any] = {}
    last = 0

    def apply(messages: list[dict[str, Any]]) -> None:
        nonlocal last
        for m in messages:
            if m["type"] == "snapshot":
                client.clear()
                client.update({r["request"]: r for r in m["requests"]})
            elif m["type"] == "request":
                client[m["request"]["request"]] = m["request"]
            elif m["type"] == "removed":
                client.pop(m["request"], None)
            last = max(last, m.get("seq", last))

    sub = feed.subscribe(planner_of(drc), None)
    apply(queued(sub))
    await arrange(conn, principal(drc), ids[0], who="shelter")
    await feed.catch_up()
    apply(queued(sub))
    feed.unsubscribe(sub)
    # Missed while away: a withdrawal, a pickup, a new request.
    await offers.withdraw(conn, ids[1], agency="DRC", token_id=drc)
    await arrange(conn, principal(drc), ids[2], who="verified_family")
    await create(conn, drc, "A-9")
    await feed.catch_up()
    back = feed.subscribe(planner_of(drc), last)
    resumed = queued(back)
    assert resumed and all(m["type"] != "snapshot" for m in resumed)
    apply(resumed)
    fresh = feed.snapshot("DRC")
    assert client == {r["request"]: r for r in msgspec.to_builtins(fresh.requests)}
    assert feed.subscribe(planner_of(drc), 10**9) is not None  # ahead of us: a snapshot


async def test_the_alert_sweep_announces_what_time_brings_once(
    dsn: str, conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """At release - 6 days nothing is at risk; at release - 5 `no_bed` is raised once (an
    `alert.changed` record, which the channel sends as a change of that request); a second
    sweep at the same instant announces nothing; the pickup and the withdrawal clear it."""
    drc = await planner(conn)
    rid = await request(conn, drc, "A-1")
    clock = Clock(noon(8))
    feed = await started(dsn, pool, clock)
    sub = feed.subscribe(planner_of(drc), None)
    queued(sub)
    assert await alerts.sweep(pool, POLICY, now=clock()) == []
    clock.at = noon(7)
    [raised] = await alerts.sweep(pool, POLICY, now=clock()) or []
    assert (raised.request, raised.raised, raised.cleared) == (rid, ["no_bed"], [])
    assert await alerts.sweep(pool, POLICY, now=clock()) == []
    await feed.catch_up()
    [message] = queued(sub)
    assert message["request"]["at_risk"] == ["no_bed"]
    detail = await conn.fetchval("select detail from audit_log where kind = 'alert.changed'")
    assert detail == "at_risk=no_bed,raised=no_bed,cleared="
    clock.at = noon(2)
    [both] = await alerts.sweep(pool, POLICY, now=clock()) or []
    assert both.raised == ["no_pickup"] and both.at_risk == ["no_bed", "no_pickup"]
    await offers.withdraw(conn, rid, agency="DRC", token_id=drc)
    [cleared] = await alerts.sweep(pool, POLICY, now=clock()) or []
    assert (cleared.at_risk, cleared.cleared) == ([], ["no_bed", "no_pickup"])
    assert await conn.fetchval("select count(*) from alerts") == 0


async def test_one_sweep_at_a_time_across_processes(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """While another session holds the sweeps' advisory lock, a sweep does nothing."""
    await conn.execute("select pg_advisory_lock(hashtext($1))", alerts.LOCK)
    assert await alerts.sweep(pool, POLICY) is None
    await conn.execute("select pg_advisory_unlock(hashtext($1))", alerts.LOCK)
    assert await alerts.sweep(pool, POLICY) == []


async def test_a_subscriber_that_stops_reading_is_resynced_then_closed(
    dsn: str, conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """With room for two messages: the third change replaces the queue by one snapshot;
    two more while that snapshot waits close the subscriber with 4008."""
    drc = await planner(conn)
    rid = await request(conn, drc, "A-1")
    feed = await started(dsn, pool, Clock(noon(6)), queue_limit=2)
    sub = feed.subscribe(planner_of(drc), None)

    async def change(who: str) -> None:
        await arrange(conn, principal(drc), rid, who=who)
        await feed.catch_up()

    await change("shelter")
    assert len(sub) == 2  # the snapshot and one change: full
    await change("agency")
    assert sub.resync_pending and len(sub) == 1 and feed.resyncs == 1
    await change("other")
    assert len(sub) == 2 and sub.close_code is None
    await change("shelter")
    assert sub.close_code == 4008 and feed.dropped == 1 and len(feed) == 0


async def test_a_wake_up_as_it_stops_does_not_keep_it_running(
    dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """A NOTIFY that wakes the reader in the moment the feed is stopped: the stop still ends
    it (`asyncio.wait_for` on Python 3.11 loses such a cancel; shutdown waited forever)."""
    feed = PlannerFeed(dsn, pool, POLICY, poll_s=30)
    async with asyncio.timeout(5):
        async with feed.running():
            while not feed.listening:
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.05)  # the reader is back to waiting for a wake-up
            feed._wake.set()  # what the listener does on a NOTIFY, in the same tick as the stop
