"""Placements on a real database: runs make offers that hold beds; decisions, withdrawals,
expiry and no-shows move offers, requests and holds together, with an audit record each."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import msgspec
import pytest

from exchange.access import tokens
from exchange.audit import store as audit
from exchange.beds import registry
from exchange.errors import HavenError
from exchange.placements import offers, runs, store
from exchange.settings import Settings
from schema.placements import NewRequest
from schema.registry import NewShelter, Rules

SETTINGS = Settings(match_time_limit_s=10, match_workers=1)
TOKEN_A = "k7Qm2vAAAAAAAAAAAAAA"


@pytest.fixture
def solver() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


async def shelters(conn: asyncpg.Connection[Any], n: int, beds: int = 1) -> list[str]:
    """n fresh shelters in OH, each with `beds` single beds, ~10 km apart."""
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(
                name=f"S{i}",
                region="OH",
                lat=40.0,
                lon=-83.0 + 0.1 * i,
                beds={"single": beds},
                rules=Rules(),
                address=f"{i} Main St",
                intake_phone="+1 614 555 0100",
            )
            for i in range(n)
        ],
    )
    ids = [i for i, _ in added]
    await conn.execute("update shelters set last_report_at = now() where id = any($1)", ids)
    await conn.execute("update beds set reported = true where shelter_id = any($1)", ids)
    return ids


async def planner(conn: asyncpg.Connection[Any], agency: str = "DRC") -> int:
    token_id, _ = await tokens.create_token(conn, "planner", regions=["OH"], agency=agency)
    return token_id


async def request(
    conn: asyncpg.Connection[Any], token_id: int, ref: str, agency: str = "DRC", **kw: Any
) -> str:
    body = {
        "ref": ref,
        "region": "OH",
        "release_date": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        "origin": {"lat": 40.0, "lon": -83.0},
        "bed_type": "single",
        "age": 30,
        "max_km": 100,
        **kw,
    }
    async with conn.transaction():
        return await store.insert_request(conn, agency, token_id, msgspec.convert(body, NewRequest))


async def beds(conn: asyncpg.Connection[Any], shelter_id: str) -> tuple[int, int]:
    row = await conn.fetchrow(
        "select held, occupied from beds where shelter_id = $1 and bed_type = 'single'", shelter_id
    )
    assert row is not None
    return row["held"], row["occupied"]


async def status(conn: asyncpg.Connection[Any], request_id: str) -> str:
    return str(await conn.fetchval("select status from requests where id = $1", request_id))


async def live_offer(conn: asyncpg.Connection[Any], request_id: str) -> tuple[str, str]:
    row = await conn.fetchrow(
        "select id, shelter_id from offers where request_id = $1"
        " and status in ('offered', 'accepted')",
        request_id,
    )
    assert row is not None
    return row["id"], row["shelter_id"]


async def test_a_run_makes_offers_that_hold_beds_with_events_and_audit(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """Each assignment becomes an offer and held + 1, with a hold event and audit records;
    the stored problem and plan are the ones solved."""
    ids = await shelters(conn, 2)
    planner_id = await planner(conn)
    r1 = await request(conn, planner_id, "A-1", contacts=[TOKEN_A])
    r2 = await request(conn, planner_id, "A-2", contacts=[TOKEN_A])
    head = await conn.fetchval("select seq from event_clock")
    result = await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert (result.status, result.placed, result.offers) == ("optimal", 2, 2)
    (o1, s1), (o2, s2) = await live_offer(conn, r1), await live_offer(conn, r2)
    assert {s1, s2} == set(ids)  # the same contact: never one shelter
    assert [await beds(conn, s) for s in ids] == [(1, 0), (1, 0)]
    assert [await status(conn, r) for r in (r1, r2)] == ["offered", "offered"]
    kinds = await conn.fetch("select kind from bed_events where seq > $1", head)
    assert [k["kind"] for k in kinds] == ["hold", "hold"]
    logged = await conn.fetch("select kind, subject from audit_log order by id")
    assert [(r["kind"], r["subject"]) for r in logged][-3:] == [
        ("run.created", f"run:{result.id}"),
        ("offer.created", f"offer:{min(o1, o2)}"),
        ("offer.created", f"offer:{max(o1, o2)}"),
    ]
    problem = await store.run_file(pool, result.id, "problem")
    assert problem is not None and TOKEN_A.encode() in problem
    assert (await audit.verify(conn)).ok


async def _waiting_for_a_lock(conn: asyncpg.Connection[Any]) -> None:
    """Until another session of this database waits for a row lock."""
    for _ in range(500):
        waiting = await conn.fetchval(
            "select count(*) from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock' and pid <> pg_backend_pid()"
        )
        if waiting:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("no session waited for a lock")


@pytest.mark.parametrize("lowered", [True, False])
async def test_a_report_during_the_write_is_decided_against_the_beds_under_lock(
    conn: asyncpg.Connection[Any],
    pool: asyncpg.Pool[Any],
    dsn: str,
    solver: ThreadPoolExecutor,
    lowered: bool,
) -> None:
    """The run decides its offers on an unlocked read and locks the beds last. A report
    that lands between the two and takes the bed sends the write back to lock first: no
    offer, no hold, no half-written run. One that leaves the bed free changes nothing."""
    [sid] = await shelters(conn, 1)
    woman = await request(conn, await planner(conn), "A-1")
    other = await asyncpg.connect(dsn)
    try:
        report = other.transaction()
        await report.start()
        await other.execute("select * from beds where shelter_id = $1 for update", sid)
        running = asyncio.create_task(runs.run(pool, SETTINGS, solver, ["OH"], token_id=None))
        await _waiting_for_a_lock(conn)
        await other.execute(
            "update beds set occupied = $2 where shelter_id = $1", sid, 1 if lowered else 0
        )
        await report.commit()
        result = await running
    finally:
        await other.close()
    assert result.placed == 1 and result.offers == (0 if lowered else 1)
    assert await beds(conn, sid) == ((0, 1) if lowered else (1, 0))
    assert await status(conn, woman) == ("open" if lowered else "offered")
    assert await conn.fetchval("select count(*) from matching_runs") == 1
    assert await conn.fetchval("select offers from matching_runs") == result.offers
    assert await conn.fetchval("select count(*) from offers") == result.offers
    assert (await audit.verify(conn)).ok


async def test_a_bed_type_never_reported_offers_no_bed(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """A registered total is not a vacancy: until a report names the type, matching offers
    none of its beds (as dashboards count none); once reported, it does."""
    [sid] = await shelters(conn, 1)
    await conn.execute("update beds set reported = false where shelter_id = $1", sid)
    woman = await request(conn, await planner(conn), "A-1")
    first = await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert (first.placed, first.offers, first.unplaced) == (0, 0, {"no_bed_of_type": 1})
    await conn.execute("update beds set reported = true where shelter_id = $1", sid)
    second = await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert (second.placed, second.offers) == (1, 1)
    assert await status(conn, woman) == "offered"


async def test_decline_releases_the_bed_and_that_shelter_never_offers_her_again(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """A decline puts her back to open, releases the hold, and the next run places her
    elsewhere; the database refuses a new offer from the declining shelter."""
    ids = await shelters(conn, 2)
    r1 = await request(conn, await planner(conn), "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, first = await live_offer(conn, r1)
    done = await offers.act(
        conn, offer_id, "decline", token_id=None, shelter_id=first, reason="full"
    )
    assert done.status == "declined" and await status(conn, r1) == "open"
    assert await beds(conn, first) == (0, 0)
    with pytest.raises(HavenError) as again:
        await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=first)
    assert again.value.code == "already_decided"
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    _, second = await live_offer(conn, r1)
    assert second != first and second in ids
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute(
            "insert into offers (id, request_id, shelter_id, bed_type, km, expires_at)"
            " values ('o999999', $1, $2, 'single', 1, now())",
            r1,
            first,
        )


async def test_accept_then_arrival_turns_the_hold_into_an_occupied_bed(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """accepted keeps the hold and releases the address to her agency; arrived moves the
    hold to occupied. Another shelter or agency cannot see or touch the offer."""
    [sid] = await shelters(conn, 1)
    [other] = await shelters(conn, 1)
    r1 = await request(conn, await planner(conn), "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, at = await live_offer(conn, r1)
    stranger = other if at == sid else sid
    with pytest.raises(HavenError) as foreign:
        await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=stranger)
    assert foreign.value.code == "unknown_offer"
    assert await store.placement(conn, r1, "DRC") is None
    with pytest.raises(HavenError) as early:
        await offers.act(conn, offer_id, "arrived", token_id=None, shelter_id=at)
    assert early.value.code == "not_accepted" and await status(conn, r1) == "offered"
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=at)
    placed = await store.placement(conn, r1, "DRC")
    assert placed is not None and placed.shelter == at and placed.address is not None
    assert await store.placement(conn, r1, "OTHER") is None
    assert await beds(conn, at) == (1, 0)
    await offers.act(conn, offer_id, "arrived", token_id=None, shelter_id=at)
    assert await beds(conn, at) == (0, 1) and await status(conn, r1) == "arrived"


async def test_withdrawal_releases_the_hold_and_ends_the_request(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    [sid] = await shelters(conn, 1)
    planner_id = await planner(conn)
    r1 = await request(conn, planner_id, "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert await beds(conn, sid) == (1, 0)
    with pytest.raises(HavenError) as other_agency:
        await offers.withdraw(conn, r1, agency="OTHER", token_id=planner_id)
    assert other_agency.value.code == "not_found"
    await offers.withdraw(conn, r1, agency="DRC", token_id=planner_id)
    assert await beds(conn, sid) == (0, 0) and await status(conn, r1) == "withdrawn"
    with pytest.raises(HavenError) as twice:
        await offers.withdraw(conn, r1, agency="DRC", token_id=planner_id)
    assert twice.value.code == "already_ended"


async def test_expiry_and_no_show_release_beds_whoever_notices_first(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """An overdue offer is expired by the sweep or by a late accept (offer_expired); an
    accepted one past release + grace becomes a no-show. Each releases its bed."""
    ids = await shelters(conn, 3)
    planner_id = await planner(conn)
    late = await request(conn, planner_id, "A-1")
    swept = await request(conn, planner_id, "A-2")
    gone = await request(conn, planner_id, "A-3")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    o_late, s_late = await live_offer(conn, late)
    o_gone, s_gone = await live_offer(conn, gone)
    await offers.act(conn, o_gone, "accept", token_id=None, shelter_id=s_gone)
    await conn.execute(
        "update offers set expires_at = now() - interval '1 second'"
        " where request_id = any($1) and status = 'offered'",
        [late, swept],
    )
    await conn.execute("update requests set release_date = current_date - 3 where id = $1", gone)
    await conn.execute(
        "update offers set decided_at = now() - interval '4 days' where id = $1", o_gone
    )
    with pytest.raises(HavenError) as too_late:
        await offers.act(conn, o_late, "accept", token_id=None, shelter_id=s_late)
    assert too_late.value.code == "offer_expired"
    assert await status(conn, late) == "open" and await beds(conn, s_late) == (0, 0)
    assert await offers.sweep(conn, grace_days=2) == {"expired": 1, "no_show": 1}
    assert await status(conn, swept) == "open" and await status(conn, gone) == "no_show"
    assert [await beds(conn, s) for s in ids] == [(0, 0)] * 3
    assert await offers.sweep(conn, grace_days=2) == {"expired": 0, "no_show": 0}


async def test_a_report_lowering_capacity_never_deletes_an_accepted_offer(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """With its only bed held, a shelter reporting itself full keeps the offer; its
    available count is 0 and the next run offers that bed to nobody."""
    [sid] = await shelters(conn, 1)
    planner_id = await planner(conn)
    r1 = await request(conn, planner_id, "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, _ = await live_offer(conn, r1)
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=sid)
    await conn.execute("update beds set occupied = 1 where shelter_id = $1", sid)
    r2 = await request(conn, planner_id, "A-2")
    result = await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert result.offers == 0 and result.unplaced == {"no_bed_of_type": 1}
    assert await live_offer(conn, r1) == (offer_id, sid) and await status(conn, r2) == "open"


async def test_one_live_offer_per_request_is_a_database_rule(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    ids = await shelters(conn, 2)
    r1 = await request(conn, await planner(conn), "A-1")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    _, at = await live_offer(conn, r1)
    other = next(s for s in ids if s != at)
    with pytest.raises(asyncpg.UniqueViolationError):
        await conn.execute(
            "insert into offers (id, request_id, shelter_id, bed_type, km, expires_at)"
            " values ('o999999', $1, $2, 'single', 1, now() + interval '1 day')",
            r1,
            other,
        )


async def test_one_run_per_region_at_a_time(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """While a region's advisory lock is held elsewhere, a run answers run_in_progress."""
    await shelters(conn, 1)
    await conn.execute("select pg_advisory_lock(hashtext('haven.match:OH'))")
    with pytest.raises(HavenError) as busy:
        await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert busy.value.code == "run_in_progress"
    await conn.execute("select pg_advisory_unlock(hashtext('haven.match:OH'))")
    assert (await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)).offers == 0


async def test_the_audit_chain_names_the_first_broken_row(conn: asyncpg.Connection[Any]) -> None:
    """verify walks the chain; a row changed behind the append-only trigger is found."""
    for n in range(5):
        async with conn.transaction():
            await audit.append(conn, None, "request.read", f"request:r00000{n}")
    assert await audit.verify(conn) == audit.Verified(ok=True, rows=5)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("update audit_log set kind = 'x' where id = 3")
    await conn.execute("alter table audit_log disable trigger audit_log_append_only")
    await conn.execute("update audit_log set subject = 'request:r999999' where id = 3")
    broken = await audit.verify(conn)
    assert not broken.ok and broken.broken is not None and broken.broken.id == 3
    await conn.execute("delete from audit_log where id = 5")
    tail = await audit.verify(conn)
    assert tail.broken is not None and tail.broken.id == 3


async def test_a_woman_released_before_acceptance_gets_the_grace_from_acceptance(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """A request five days past release may still be placed; once accepted, the sweep
    does not end it at once as a no-show: the grace runs from the acceptance."""
    [sid] = await shelters(conn, 1)
    late = await request(
        conn,
        await planner(conn),
        "A-1",
        release_date=(dt.date.today() - dt.timedelta(days=5)).isoformat(),
    )
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, _ = await live_offer(conn, late)
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=sid)
    assert await offers.sweep(conn, grace_days=2) == {"expired": 0, "no_show": 0}
    await conn.execute(
        "update offers set decided_at = now() - interval '3 days' where id = $1", offer_id
    )
    assert await offers.sweep(conn, grace_days=2) == {"expired": 0, "no_show": 1}
