"""Pickup at the gate on a real database: the owning agency arranges it, the accepting
shelter and the placement show it, anyone but the shelter or agency is flagged, and every
arrangement is audited with who only."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
import test_placements_api as api
from test_placements import SETTINGS, live_offer, planner, request, shelters
from websockets.asyncio.client import connect

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


async def test_the_accepting_shelter_hears_of_its_pickup_live(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """Over a real /ws/shelter: a pickup arranged before acceptance follows `decided`; one
    arranged or changed after reaches the connected shelter as `pickup` (in this process
    or another); a reconnect gets the current one after `hello`. The other shelter hears
    nothing, and no message carries her ref or contact token."""
    t = await api.setup(conn)
    first = serve(env=api.ENV)
    second = serve(env=api.ENV)  # another process, for the shelter's second connection
    put = {"who": "shelter", "at": release_morning().isoformat()}
    async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
        planner, admin = api.bearer(t["planner"]), api.bearer(t["admin"])
        rid = (await http.post("/api/requests", headers=planner, json=api.body())).json()["id"]
        r = await http.put(f"/api/requests/{rid}/pickup", headers=planner, json=put)
        assert r.status_code == 200, r.text
        await http.post("/api/matching/runs", headers=admin, json={"regions": ["OH"]})
        oid, at = await conn.fetchrow("select id, shelter_id from offers")
        mine = next(tok for sid, tok in t["shelters"] if sid == at)
        other = next(tok for sid, tok in t["shelters"] if sid != at)
        async with (
            connect(first.ws_url + "/ws/shelter", additional_headers=api.bearer(mine)) as ws,
            connect(second.ws_url + "/ws/shelter", additional_headers=api.bearer(mine)) as ws2,
            connect(first.ws_url + "/ws/shelter", additional_headers=api.bearer(other)) as ows,
        ):
            assert [(await _frame(w))["type"] for w in (ws, ws2, ows)] == ["hello"] * 3
            offered = await _frame(ws)
            assert offered["type"] == "offer" and "pickup" not in offered
            assert (await _frame(ws2))["type"] == "offer"
            await ws.send(json.dumps({"type": "decide", "offer": oid, "decision": "accept"}))
            assert await _frame(ws) == {"type": "decided", "offer": oid, "status": "accepted"}
            shelter = {"who": "shelter", "at": _utc(release_morning()), "flagged": False}
            assert await _frame(ws) == {"type": "pickup", "offer": oid, "pickup": shelter}
            assert await _frame(ws2) == {"type": "pickup", "offer": oid, "pickup": shelter}
            family = {**put, "who": "verified_family"}
            r = await http.put(f"/api/requests/{rid}/pickup", headers=planner, json=family)
            assert r.status_code == 200, r.text
            flagged = {**shelter, "who": "verified_family", "flagged": True}
            for w in (ws, ws2):
                got = await _frame(w)
                assert got == {"type": "pickup", "offer": oid, "pickup": flagged}
                assert api.REF not in json.dumps(got) and api.CONTACT not in json.dumps(got)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ows.recv(), 1.0)
        async with connect(
            second.ws_url + "/ws/shelter", additional_headers=api.bearer(mine)
        ) as ws:
            assert (await _frame(ws))["type"] == "hello"
            assert await _frame(ws) == {"type": "pickup", "offer": oid, "pickup": flagged}


async def _frame(ws: Any) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))
