"""The regions' daily history in SQL: the last figures of each day, per region.

Supply is counted as the live board counts it (`board.board`): contributing shelters are
those whose last report is newer than the stale age, and of theirs only the bed types a
report has named; demand as the dashboards count it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, TypeAlias

import asyncpg
import msgspec

from exchange.board.history import DayRow

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"


_SUPPLY = """
select region, count(*)::int as shelters,
       count(*) filter (where last_report_at >= $1)::int as contributing,
       coalesce(bool_or(confidential) filter (where last_report_at >= $1), false)
           as confidential
from shelters group by region
"""
_BEDS = """
select s.region, b.bed_type, sum(b.total)::int as total,
       sum(greatest(0, b.total - b.occupied - b.out_of_service - b.held))::int as available
from shelters s join beds b on b.shelter_id = s.id
where s.last_report_at >= $1 and b.reported
group by s.region, b.bed_type
"""
_DEMAND = """
select region,
       count(*) filter (where status = 'open')::int as open,
       count(*) filter (where status = 'offered')::int as offered,
       count(*) filter (where status = 'accepted')::int as accepted,
       count(*) filter (where status = 'open' and release_date <= $1)::int as unplaced
from requests where status in ('open', 'offered', 'accepted')
group by region
"""
_UPSERT = """
insert into region_days (region, day, shelters, contributing, confidential, beds, open,
                         offered, accepted, unplaced)
select u.region, $1, u.shelters, u.contributing, u.confidential, u.beds::jsonb, u.open,
       u.offered, u.accepted, u.unplaced
from unnest($2::text[], $3::int[], $4::int[], $5::bool[], $6::text[], $7::int[], $8::int[],
            $9::int[], $10::int[])
     as u (region, shelters, contributing, confidential, beds, open, offered, accepted,
           unplaced)
on conflict (region, day) do update
set shelters = excluded.shelters, contributing = excluded.contributing,
    confidential = excluded.confidential, beds = excluded.beds, open = excluded.open,
    offered = excluded.offered, accepted = excluded.accepted,
    unplaced = excluded.unplaced, updated_at = now()
"""
_DAYS = """
select region, day, shelters, contributing, confidential, beds::text as beds, open, offered,
       accepted, unplaced
from region_days where region = $1 and day >= $2 order by day
"""


async def record_day(
    conn: Conn, *, day: dt.date, fresh_since: dt.datetime, horizon: dt.date
) -> int:
    """Write (or overwrite) `day`'s figures of every region with shelters or requests;
    how many regions."""
    async with conn.transaction(isolation="repeatable_read"):
        supply = {r["region"]: r for r in await conn.fetch(_SUPPLY, fresh_since)}
        beds: dict[str, dict[str, dict[str, int]]] = {}
        for r in await conn.fetch(_BEDS, fresh_since):
            beds.setdefault(r["region"], {})[r["bed_type"]] = {
                "total": r["total"],
                "available": r["available"],
            }
        demand = {r["region"]: r for r in await conn.fetch(_DEMAND, horizon)}
        regions = sorted(supply.keys() | demand.keys())

        def col(table: dict[str, Any], key: str, default: Any) -> list[Any]:
            return [table[r][key] if r in table else default for r in regions]

        await conn.execute(
            _UPSERT,
            day,
            regions,
            col(supply, "shelters", 0),
            col(supply, "contributing", 0),
            col(supply, "confidential", False),
            [msgspec.json.encode(dict(sorted(beds.get(r, {}).items()))).decode() for r in regions],
            col(demand, "open", 0),
            col(demand, "offered", 0),
            col(demand, "accepted", 0),
            col(demand, "unplaced", 0),
        )
    return len(regions)


async def days(conn: Executor, region: str, first: dt.date) -> list[DayRow]:
    """The region's recorded days from `first` on."""
    rows = await conn.fetch(_DAYS, region, first)
    return [
        msgspec.convert({**dict(r), "beds": msgspec.json.decode(r["beds"])}, DayRow) for r in rows
    ]
