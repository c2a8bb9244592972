"""Pickup at the gate on a real database: the owning agency arranges it, the accepting
shelter and the placement show it, anyone but the shelter or agency is flagged, and every
arrangement is audited with who only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import msgspec
import pytest
from test_placements import SETTINGS, live_offer, planner, request, shelters

from exchange.audit import store as audit
from exchange.errors import HavenError
from exchange.placements import offers, requests, runs, store
from exchange.placements.requests import InvalidRequest
from schema.placements import NewPickup
from schema.registry import Principal


@pytest.fixture
def solver() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


def principal(token_id: int, agency: str = "DRC") -> Principal:
    return Principal(token_id=token_id, role="planner", regions=("OH",), agency=agency)


def release_morning(days: int = 5) -> dt.datetime:
    day = dt.date.today() + dt.timedelta(days=days)
    return dt.datetime.combine(day, dt.time(9), tzinfo=dt.timezone(dt.timedelta(hours=-5)))


async def arrange(conn: asyncpg.Connection[Any], by: Principal, rid: str, **body: Any) -> Any:
    new = msgspec.convert({"who": "agency", "at": release_morning().isoformat(), **body}, NewPickup)
    async with conn.transaction():
        return await requests.arrange_pickup(conn, by, rid, new)


async def test_a_pickup_reaches_the_placement_and_the_accepting_shelter_only(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """Arranged before acceptance, the pickup is not on the offer the shelter decides on;
    once it accepts, the offer and the planner's placement carry who and when (in UTC)."""
    await shelters(conn, 1)
    planner_id = await planner(conn)
    rid = await request(conn, planner_id, "A-1")
    made = await arrange(conn, principal(planner_id), rid, who="shelter")
    assert (made.who, made.at, made.flagged) == ("shelter", _utc(release_morning()), False)
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, shelter_id = await live_offer(conn, rid)
    [offered] = await store.shelter_offers(conn, shelter_id)
    assert offered.pickup is None
    assert b"pickup" not in msgspec.json.encode(offered)  # absent, not null, for old agents
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=shelter_id)
    [accepted] = await store.shelter_offers(conn, shelter_id)
    assert accepted.pickup == made
    async with conn.transaction():
        placed = await requests.placement(conn, principal(planner_id), rid)
    assert placed.pickup == made
    changed = await arrange(conn, principal(planner_id), rid, who="verified_family")
    assert changed.flagged and changed.who == "verified_family"
    [accepted] = await store.shelter_offers(conn, shelter_id)
    assert accepted.pickup == changed


async def test_only_the_shelter_or_the_agency_is_not_flagged(
    conn: asyncpg.Connection[Any],
) -> None:
    """`verified_family` and `other` are flagged for a second look; `shelter` and `agency`
    are not."""
    planner_id = await planner(conn)
    rid = await request(conn, planner_id, "A-1")
    flags = {}
    for who in ("shelter", "agency", "verified_family", "other"):
        flags[who] = (await arrange(conn, principal(planner_id), rid, who=who)).flagged
    assert flags == {"shelter": False, "agency": False, "verified_family": True, "other": True}


async def test_each_arrangement_is_audited_with_who_and_nothing_else(
    conn: asyncpg.Connection[Any],
) -> None:
    """One `pickup.set` record per arrangement, naming the request and who; the chain holds."""
    planner_id = await planner(conn)
    rid = await request(conn, planner_id, "A-1")
    await arrange(conn, principal(planner_id), rid, who="other")
    await arrange(conn, principal(planner_id), rid, who="agency")
    rows = await conn.fetch(
        "select token_id, kind, subject, detail from audit_log"
        " where kind = 'pickup.set' order by id"
    )
    assert [tuple(r) for r in rows] == [
        (planner_id, "pickup.set", f"request:{rid}", "who=other"),
        (planner_id, "pickup.set", f"request:{rid}", "who=agency"),
    ]
    assert (await audit.verify(conn)).ok


async def test_another_agency_an_ended_request_and_a_wild_time_are_refused(
    conn: asyncpg.Connection[Any],
) -> None:
    """Another agency's request is `not_found`; a withdrawn one `already_ended`; a time
    weeks before her release names the field `at`. Nothing is stored or audited."""
    planner_id = await planner(conn)
    other_id = await planner(conn, agency="ELSEWHERE")
    rid = await request(conn, planner_id, "A-1")
    with pytest.raises(HavenError) as elsewhere:
        await arrange(conn, principal(other_id, "ELSEWHERE"), rid)
    assert elsewhere.value.code == "not_found"
    with pytest.raises(InvalidRequest) as early:
        await arrange(conn, principal(planner_id), rid, at=release_morning(-20).isoformat())
    assert early.value.field == "at" and "release" in early.value.message
    await offers.withdraw(conn, rid, agency="DRC", token_id=planner_id)
    with pytest.raises(HavenError) as ended:
        await arrange(conn, principal(planner_id), rid)
    assert ended.value.code == "already_ended"
    assert await conn.fetchval("select count(*) from pickups") == 0
    assert await conn.fetchval("select count(*) from audit_log where kind = 'pickup.set'") == 0


def test_a_pickup_time_needs_its_offset() -> None:
    """A time without a UTC offset is refused by the type (a pickup is an instant)."""
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"who": "agency", "at": "2026-12-11T09:00:00"}, NewPickup)


def _utc(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
