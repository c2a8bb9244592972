"""The batched writer against a real PostgreSQL: batching, ordering, isolation of bad reports."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest

from exchange import db
from exchange.beds import ingest, registry
from exchange.beds import store as events
from exchange.beds.report import Unnumbered
from schema.registry import NewShelter
from schema.wire import Ack, BedCounts, Error, Report


async def add_shelters(conn: asyncpg.Connection[Any], n: int) -> list[str]:
    shelters = [
        NewShelter(name=f"House {i}", region="OH", lat=40.0, lon=-83.0, beds={"single": 20})
        for i in range(n)
    ]
    return [sid for sid, _ in await registry.add_shelters(conn, shelters)]


def rep(seq: int, occupied: int, total: int = 20) -> Report:
    return Report(
        seq=seq, beds={"single": BedCounts(total=total, occupied=occupied, out_of_service=0)}
    )


async def test_concurrent_reports_share_transactions(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Reports submitted together commit in fewer transactions than reports, each one applied."""
    ids = await add_shelters(conn, 50)
    writer = ingest.Writer(pool, batch_max=64, batch_wait_ms=5)
    async with writer.running():
        acks = await asyncio.gather(
            *(writer.submit(sid, rep(1, n % 20)) for n, sid in enumerate(ids))
        )
    assert acks == [Ack(seq=1, status="applied")] * 50
    assert writer.batches < 50
    rows = await conn.fetch(
        "select shelter_id, report_seq, beds from bed_events where kind = 'report' order by seq"
    )
    assert sorted(r["shelter_id"] for r in rows) == sorted(ids)
    assert await conn.fetchval("select count(*) from shelters where last_seq = 1") == 50
    occupied = dict(await conn.fetch("select shelter_id, occupied from beds"))
    assert occupied == {sid: n % 20 for n, sid in enumerate(ids)}
    for r in rows:
        assert json.loads(r["beds"])["single"]["occupied"] == occupied[r["shelter_id"]]


async def test_one_shelters_reports_in_a_batch_apply_in_order(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Within one batch a shelter's reports are decided in submission order against each other."""
    (sid,) = await add_shelters(conn, 1)
    writer = ingest.Writer(pool, batch_max=64, batch_wait_ms=20, tasks=1)
    async with writer.running():
        outcomes = await asyncio.gather(
            writer.submit(sid, rep(1, 1)),
            writer.submit(sid, rep(3, 3)),
            writer.submit(sid, rep(3, 4)),
            writer.submit(sid, rep(2, 5)),
            writer.submit(sid, rep(4, 6)),
        )
    assert [o.status for o in outcomes if isinstance(o, Ack)] == [
        "applied",
        "applied",
        "duplicate",
        "stale",
        "applied",
    ]
    assert writer.batches == 1
    assert await conn.fetchval("select last_seq from shelters") == 4
    assert await conn.fetchval("select occupied from beds") == 6
    seqs = [
        r["report_seq"]
        for r in await conn.fetch(
            "select report_seq from bed_events where kind = 'report' order by seq"
        )
    ]
    assert seqs == [1, 3, 4]


async def test_two_writers_check_seq_in_the_database(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """Two writers (as in two processes) never both apply one seq: last_seq is read under lock."""
    ids = await add_shelters(conn, 5)
    other_pool = await db.create_pool(dsn)
    try:
        a = ingest.Writer(pool, batch_wait_ms=1)
        b = ingest.Writer(other_pool, batch_wait_ms=1)
        async with a.running(), b.running():
            outcomes = await asyncio.gather(
                *(w.submit(sid, rep(seq, seq)) for seq in (1, 2) for sid in ids for w in (a, b))
            )
    finally:
        await other_pool.close()
    applied = [o for o in outcomes if isinstance(o, Ack) and o.status == "applied"]
    assert len(applied) <= 10
    events = await conn.fetch("select shelter_id, report_seq from bed_events where kind = 'report'")
    assert len(events) == len(applied)
    assert len({(e["shelter_id"], e["report_seq"]) for e in events}) == len(events)


async def test_a_report_refused_by_the_database_does_not_sink_its_batch(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """A batch hitting a constraint is retried one by one: the others apply, the bad one errors."""
    ids = await add_shelters(conn, 6)
    # A stand-in for any rule the database enforces that Python does not know about.
    await conn.execute("alter table beds add constraint not_999 check (total <> 999)")
    writer = ingest.Writer(pool, batch_max=64, batch_wait_ms=20, tasks=1)
    async with writer.running():
        outcomes = await asyncio.gather(
            *(
                writer.submit(sid, rep(1, 1, total=999 if n == 2 else 20))
                for n, sid in enumerate(ids)
            )
        )
    bad = outcomes.pop(2)
    assert isinstance(bad, Error) and (bad.code, bad.seq) == ("invalid_report", 1)
    assert outcomes == [Ack(seq=1, status="applied")] * 5
    assert await conn.fetchval("select last_seq from shelters where id = $1", ids[2]) == 0
    assert await conn.fetchval("select count(*) from bed_events where kind = 'report'") == 5


async def test_unreachable_database_fails_reports_without_acking(
    conn: asyncpg.Connection[Any], dsn: str
) -> None:
    """With the database unreachable, submit raises Unavailable and nothing is written."""
    (sid,) = await add_shelters(conn, 1)
    pool = await db.create_pool(dsn)
    writer = ingest.Writer(pool, batch_wait_ms=0)
    async with writer.running():
        pool.terminate()  # every connection gone, and the pool refuses new ones
        with pytest.raises(ingest.Unavailable):
            await writer.submit(sid, rep(1, 1))
    assert await conn.fetchval("select last_seq from shelters") == 0
    assert await conn.fetchval("select count(*) from bed_events where kind = 'report'") == 0


async def test_unknown_shelter_is_an_error(pool: asyncpg.Pool[Any]) -> None:
    """A report for a shelter that is not registered (deleted meanwhile) gets unknown_shelter."""
    writer = ingest.Writer(pool)
    async with writer.running():
        outcome = await writer.submit("s99999", rep(1, 1))
    assert isinstance(outcome, Error) and outcome.code == "unknown_shelter"


async def test_listeners_are_woken_with_the_last_event_seq(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """A committed batch wakes `haven_events` listeners with its last event's seq."""
    (sid,) = await add_shelters(conn, 1)
    woken: asyncio.Queue[str] = asyncio.Queue()
    await conn.add_listener(events.CHANNEL, lambda *args: woken.put_nowait(args[-1]))
    writer = ingest.Writer(pool)
    async with writer.running():
        await writer.submit(sid, rep(1, 1))
    assert await asyncio.wait_for(woken.get(), 5) == str(await events.head(conn))


async def test_shutdown_commits_what_was_submitted(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Leaving `running()` first commits every report already submitted."""
    ids = await add_shelters(conn, 20)
    writer = ingest.Writer(pool, batch_max=4, batch_wait_ms=5)
    async with writer.running():
        pending = [asyncio.ensure_future(writer.submit(sid, rep(1, 1))) for sid in ids]
        await asyncio.sleep(0)
    assert [p.result() for p in pending] == [Ack(seq=1, status="applied")] * 20
    assert await conn.fetchval("select count(*) from shelters where last_seq = 1") == 20


async def test_unnumbered_reports_are_numbered_under_the_lock(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Reports the exchange numbers, submitted at once, are all applied with consecutive seqs
    after the last one; `after` a seq that is no longer the last is refused, nothing written."""
    (sid,) = await add_shelters(conn, 1)
    beds = {"single": BedCounts(total=20, occupied=2, out_of_service=0)}
    writer = ingest.Writer(pool, batch_max=4, batch_wait_ms=5)
    async with writer.running():
        await writer.submit(sid, rep(7, 1))
        acks = await asyncio.gather(*(writer.submit(sid, Unnumbered(beds=beds)) for _ in range(6)))
        late = await writer.submit(sid, Unnumbered(beds=beds, after=7))
    assert sorted(a.seq for a in acks if isinstance(a, Ack) and a.status == "applied") == list(
        range(8, 14)
    )
    assert isinstance(late, Error) and late.code == "counts_changed"
    assert await conn.fetchval("select last_seq from shelters where id = $1", sid) == 13
