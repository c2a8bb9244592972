"""The bed event log: every change to bed state, numbered by one global clock.

Events are appended inside the transaction that changes the beds. Taking numbers from
the single `event_clock` row locks it until commit, so events become visible in
sequence order and a reader that has seen seq N never later finds an N' < N.
After commit the writer sends `NOTIFY haven_events` — a wake-up only; the table is
the truth, and listeners catch up from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal, TypeAlias

import asyncpg
import msgspec

CHANNEL = "haven_events"

Executor: TypeAlias = (
    "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
)
"""Anything queries can run on: a connection, a pooled one, or the pool itself."""

EventKind = Literal["report", "shelter", "hold"]


class BedState(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    occupied: int
    out_of_service: int
    held: int = 0

    @property
    def available(self) -> int:
        return max(0, self.total - self.occupied - self.out_of_service - self.held)


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    shelter_id: str
    kind: EventKind
    beds: dict[str, BedState]
    report_seq: int | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A committed event, as dashboards read it (with the shelter's region and flags)."""

    seq: int
    at: datetime
    shelter_id: str
    region: str
    confidential: bool
    kind: EventKind
    beds: dict[str, BedState]
    report_seq: int | None


_TAKE = "update event_clock set seq = seq + $1 where id = 1 returning seq"
_INSERT = """
insert into bed_events (seq, shelter_id, kind, report_seq, beds)
select * from unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::jsonb[])
"""
_SINCE = """
select e.seq, e.at, e.shelter_id, s.region, s.confidential, e.kind, e.report_seq, e.beds
from bed_events e join shelters s on s.id = e.shelter_id
where e.seq > $1 order by e.seq limit $2
"""
_OLDEST = "select min(seq) from bed_events"
_HEAD = "select seq from event_clock where id = 1"
_PRUNE = "delete from bed_events where seq <= (select seq from event_clock where id = 1) - $1"


async def append(conn: asyncpg.Connection[Any], events: Sequence[NewEvent]) -> list[int]:
    """Append events in the caller's transaction; return their sequence numbers."""
    if not events:
        return []
    last = int(await conn.fetchval(_TAKE, len(events)))
    seqs = list(range(last - len(events) + 1, last + 1))
    await conn.execute(
        _INSERT,
        seqs,
        [e.shelter_id for e in events],
        [e.kind for e in events],
        [e.report_seq for e in events],
        [msgspec.json.encode(e.beds).decode() for e in events],
    )
    return seqs


async def notify(conn: Executor, last_seq: int) -> None:
    """Wake listeners in every process; call only after the events are committed."""
    await conn.execute("select pg_notify($1, $2)", CHANNEL, str(last_seq))


async def since(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], seq: int, limit: int = 10_000
) -> list[Event]:
    """Committed events after `seq`, in order."""
    rows = await conn.fetch(_SINCE, seq, limit)
    return [
        msgspec.convert({**dict(r), "beds": msgspec.json.decode(r["beds"])}, Event) for r in rows
    ]


async def head(conn: asyncpg.Connection[Any] | asyncpg.Pool[Any]) -> int:
    """The last sequence number handed out (committed, since the clock row is locked)."""
    return int(await conn.fetchval(_HEAD))


async def oldest(conn: asyncpg.Connection[Any] | asyncpg.Pool[Any]) -> int | None:
    value = await conn.fetchval(_OLDEST)
    return None if value is None else int(value)


async def prune(conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], keep: int) -> str:
    """Drop events older than the newest `keep`."""
    return str(await conn.execute(_PRUNE, keep))
