"""The readiness board on a real database: the agency's requests only, with their offers
and pickups, at an injected instant; every request on it an audited read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
from test_placements import SETTINGS, live_offer, planner, request, shelters
from test_placements_pickup import arrange, principal

from exchange.placements import offers, readiness, reads, requests, runs
from exchange.placements.requests import InvalidRequest
from exchange.settings import Settings

POLICY = requests.policy(Settings())


@pytest.fixture
def solver() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


async def board(conn: asyncpg.Connection[Any], token_id: int, now: dt.datetime, **kw: Any) -> Any:
    async with conn.transaction():
        return await requests.readiness_board(
            conn,
            principal(token_id, kw.pop("agency", "DRC")),
            now=now,
            policy=POLICY,
            days=kw.pop("days", 14),
        )


async def test_the_board_shows_the_agencys_women_at_risk_first_and_audits_each(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """Three requests of DRC (one accepted with a pickup, one offered, one far off) and one of
    another agency: DRC's board lists its two within the window, the offered one first
    (`no_bed`), refs included, and leaves one `readiness.read` record naming both, which
    `audit_reads` lists."""
    await shelters(conn, 1)
    drc = await planner(conn)
    other = await planner(conn, agency="ELSEWHERE")
    placed = await request(conn, drc, "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, shelter_id = await live_offer(conn, placed)
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=shelter_id)
    await arrange(conn, principal(drc), placed, who="agency")
    waiting = await request(conn, drc, "A-2")
    await request(
        conn, drc, "A-3", release_date=(dt.date.today() + dt.timedelta(days=60)).isoformat()
    )
    await request(conn, other, "B-1", agency="ELSEWHERE")
    now = dt.datetime.now(dt.UTC)
    before = await conn.fetchval("select count(*) from audit_log")
    got = await board(conn, drc, now)
    assert [(r.request, r.ref, r.status, r.at_risk) for r in got.requests] == [
        (waiting, "A-2", "open", ["no_bed"]),
        (placed, "A-1", "accepted", []),
    ]
    accepted = got.requests[1]
    assert accepted.offer is not None and accepted.offer.id == offer_id
    assert accepted.pickup is not None and accepted.pickup.who == "agency"
    assert got.requests[0].days_left == 5 and got.days == 14
    records = await conn.fetch(
        "select token_id, kind, subject, detail from audit_log where id > $1 order by id",
        before,
    )
    [(read_id,)] = await conn.fetch("select distinct read_id from audit_reads")
    ids = sorted([waiting, placed])
    assert [tuple(r) for r in records] == [
        (
            drc,
            "readiness.read",
            "agency:DRC",
            f"read={read_id},requests=2,sha256={reads.digest(ids)},days=14",
        )
    ]
    shown = await conn.fetch("select request_id from audit_reads order by request_id")
    assert [r["request_id"] for r in shown] == ids
    assert (await reads.verify(conn)).ok
    assert (await board(conn, other, now, agency="ELSEWHERE")).requests[0].ref == "B-1"
    wide = await board(conn, drc, now, days=90)
    assert len(wide.requests) == 3


async def test_the_board_at_a_later_instant_shows_what_time_brought(
    conn: asyncpg.Connection[Any],
) -> None:
    """The same request read at release - 3 days and at release - 2 days: `no_pickup`
    appears at the second, exactly as the core says."""
    drc = await planner(conn)
    rid = await request(conn, drc, "A-1")
    release = dt.date.today() + dt.timedelta(days=5)
    early = dt.datetime.combine(release - dt.timedelta(days=3), dt.time(23, 59), dt.UTC)
    late = dt.datetime.combine(release - dt.timedelta(days=2), dt.time(0, 0), dt.UTC)
    assert (await board(conn, drc, early)).requests[0].at_risk == ["no_bed"]
    assert (await board(conn, drc, late)).requests[0].at_risk == ["no_bed", "no_pickup"]
    assert (
        readiness.days_left(
            readiness.Facts(
                request=rid, agency="DRC", region="OH", status="open", release_date=release
            ),
            late,
        )
        == 2
    )


async def test_a_window_outside_one_to_ninety_days_is_refused(
    conn: asyncpg.Connection[Any],
) -> None:
    """`days=0` and `days=91` name the field and read nothing."""
    drc = await planner(conn)
    for days in (0, 91):
        with pytest.raises(InvalidRequest) as refused:
            await board(conn, drc, dt.datetime.now(dt.UTC), days=days)
        assert refused.value.field == "days"
