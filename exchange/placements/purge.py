"""The retention purge: forget requests `HAVEN_RETENTION_DAYS` after they ended (arrived
ones no sooner than `HAVEN_STAY_DAYS` after she arrived: `retention`).

One process at a time (the release sweeps' advisory lock). Each batch is one transaction:
lock the requests still due (the placements lock order: requests first), scrub them out
of the stored files of the runs that name them (`retention.scrub_run`), remove them from
other requests' `exclude_with` (audited as `request.unlinked` on each), delete their
pickups, alerts, offers and webhook deliveries and the requests themselves, and append a
`request.purged` record each (its id and agency only). The planner channels then drop
them. `dry_run` reports what would go and writes nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import msgspec

from exchange.audit import store as audit
from exchange.placements import alerts, retention, store

BATCH = 200


class Purged(msgspec.Struct, frozen=True, kw_only=True):
    """What a purge removed (or, dry, would remove): ids and counts only."""

    requests: list[str]
    offers: int
    pickups: int
    alerts: int
    runs: int
    """Stored runs whose problem and plan were (would be) scrubbed."""
    unlinked: list[str]
    """Other requests whose `exclude_with` named one of them."""
    dry_run: bool


async def purge(
    pool: asyncpg.Pool[Any],
    *,
    days: int,
    stay_days: int,
    now: dt.datetime | None = None,
    dry_run: bool = False,
    limit: int = 10_000,
) -> Purged | None:
    """Purge (or with `dry_run` list) requests ended `days` or more ago, arrived ones also
    `stay_days` or more after she arrived; None when another process holds the sweeps'
    lock."""
    before, arrived = retention.cutoffs(now or dt.datetime.now(dt.UTC), days, stay_days)
    done = Purged(requests=[], offers=0, pickups=0, alerts=0, runs=0, unlinked=[], dry_run=dry_run)
    async with pool.acquire() as conn, store.advisory(conn, alerts.LOCK) as taken:
        if not taken:
            return None
        due = [e.id for e in await store.ended_before(conn, before, limit, arrived_before=arrived)]
        for start in range(0, len(due), BATCH):
            batch = due[start : start + BATCH]
            if dry_run:
                part = await _describe(conn, batch)
            else:
                part = await _purge(conn, batch, before, arrived)
            done = _add(done, part)
        if done.requests and not dry_run:
            await store.notify(conn)
    return done


async def _describe(conn: store.Conn, ids: list[str]) -> Purged:
    counts = await store.traces(conn, ids)
    return Purged(
        requests=ids,
        offers=counts["offers"],
        pickups=counts["pickups"],
        alerts=counts["alerts"],
        runs=len(await store.runs_naming(conn, ids)),
        unlinked=await store.linked(conn, ids),
        dry_run=True,
    )


async def _purge(
    conn: store.Conn, ids: list[str], before: dt.datetime, arrived: dt.datetime
) -> Purged:
    async with conn.transaction():
        locked = await store.lock_ended(conn, ids, before, arrived_before=arrived)
        ids = [e.id for e in locked]
        if not ids:
            return Purged(
                requests=[], offers=0, pickups=0, alerts=0, runs=0, unlinked=[], dry_run=False
            )
        counts = await store.traces(conn, ids)
        runs = await store.runs_naming(conn, ids)
        for run_id, problem, plan in await store.run_files(conn, runs):
            scrubbed = retention.scrub_run(
                msgspec.json.decode(problem), msgspec.json.decode(plan), ids
            )
            if scrubbed is not None:
                await store.rewrite_run(
                    conn, run_id, msgspec.json.encode(scrubbed[0]), msgspec.json.encode(scrubbed[1])
                )
        unlinked = await store.unlink(conn, ids)
        await audit.append_many(
            conn,
            None,
            "request.unlinked",
            [f"request:{r}" for r in unlinked],
            ["purged" for _ in unlinked],
        )
        await store.delete_requests(conn, ids)
        await audit.append_many(
            conn,
            None,
            "request.purged",
            [f"request:{e.id}" for e in locked],
            [f"agency={e.agency}" for e in locked],
        )
    return Purged(
        requests=ids,
        offers=counts["offers"],
        pickups=counts["pickups"],
        alerts=counts["alerts"],
        runs=len(runs),
        unlinked=unlinked,
        dry_run=False,
    )


def _add(a: Purged, b: Purged) -> Purged:
    return Purged(
        requests=a.requests + b.requests,
        offers=a.offers + b.offers,
        pickups=a.pickups + b.pickups,
        alerts=a.alerts + b.alerts,
        runs=a.runs + b.runs,
        unlinked=sorted(set(a.unlinked) | set(b.unlinked)),
        dry_run=a.dry_run,
    )
