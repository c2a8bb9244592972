"""The bed tables in SQL: the event log, the registry, the batched write, the board's load.

The only module of `beds` that sees an asyncpg Record; everything leaves it as a Struct.

Event numbering has one source, `_events_cte`: events take their numbers from the single
`event_clock` row, whose lock is held until commit, so events become visible in sequence
order and a reader that has seen seq N never later finds an N' < N. The registry's
`append` and the ingest writer's one-statement batch both embed it (the hot path shares
the SQL, not a round trip). `NOTIFY haven_events` is a wake-up only, and the only way to
send it is `committing`, which owns the transaction and sends it after commit.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
import msgspec

from exchange.audit import store as audit
from exchange.beds.model import (
    BedState,
    BoardLoad,
    BoardShelter,
    Event,
    NewEvent,
    ShelterCounts,
    ShelterState,
)
from exchange.errors import DB_ERRORS
from schema.registry import NewShelter, Rules, Shelter

log = logging.getLogger("haven.store")

CHANNEL = "haven_events"

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"
"""Anything queries can run on: a connection, a pooled one, or the pool itself."""

_ENCODE = msgspec.json.Encoder().encode


def _events_cte(first: int) -> str:
    """CTEs `clock` and `inserted` numbering and inserting the events given as four
    arrays at parameters $first.. (shelter ids, kinds, report seqs, jsonb beds)."""
    ids, kinds, seqs, beds = (f"${first + i}" for i in range(4))
    return f"""
clock as (
    update event_clock set seq = seq + cardinality({ids}::text[]) where id = 1 returning seq
), inserted as (
    insert into bed_events (seq, shelter_id, kind, report_seq, beds)
    select clock.seq - cardinality({ids}::text[]) + e.n, e.shelter_id, e.kind, e.report_seq,
           e.beds
    from clock,
         unnest({ids}::text[], {kinds}::text[], {seqs}::bigint[], {beds}::jsonb[])
         with ordinality as e (shelter_id, kind, report_seq, beds, n)
    returning 1
)"""


def _event_args(events: Sequence[NewEvent]) -> list[Any]:
    return [
        [e.shelter_id for e in events],
        [e.kind for e in events],
        [e.report_seq for e in events],
        [_ENCODE(e.beds).decode() for e in events],
    ]


class Outbox:
    """The events a transaction wrote; `committing` wakes listeners after its commit."""

    def __init__(self) -> None:
        self.last: int | None = None


@asynccontextmanager
async def committing(conn: Conn) -> AsyncIterator[Outbox]:
    """Run the block in a transaction of its own; after commit, NOTIFY if events were
    appended. Refuses a connection already in a transaction: a NOTIFY inside one takes
    PostgreSQL's global notify lock at commit, serialising every writer behind it."""
    if conn.is_in_transaction():
        raise RuntimeError("committing() must own its transaction, not nest in the caller's")
    outbox = Outbox()
    async with conn.transaction():
        yield outbox
    if outbox.last is not None:
        try:
            await conn.execute("select pg_notify($1, $2)", CHANNEL, str(outbox.last))
        except DB_ERRORS as exc:
            # Committed all the same: a lost wake-up only delays listeners to their next poll.
            log.warning("notify after commit failed", extra={"error": type(exc).__name__})


_APPEND = f"with {_events_cte(1)} select clock.seq from clock"


async def append(conn: Conn, outbox: Outbox, events: Sequence[NewEvent]) -> list[int]:
    """Append events inside `committing`; return their sequence numbers."""
    if not events:
        return []
    last = int(await conn.fetchval(_APPEND, *_event_args(events)))
    outbox.last = last
    return list(range(last - len(events) + 1, last + 1))


_SINCE = """
select e.seq, e.at, e.shelter_id, s.region, s.confidential, e.kind, e.report_seq, e.beds
from bed_events e join shelters s on s.id = e.shelter_id
where e.seq > $1 order by e.seq limit $2
"""
_OLDEST = "select min(seq) from bed_events"
_HEAD = "select seq from event_clock where id = 1"
_PRUNE = "delete from bed_events where seq <= (select seq from event_clock where id = 1) - $1"


async def since(conn: Executor, seq: int, limit: int = 10_000) -> list[Event]:
    """Committed events after `seq`, in order."""
    rows = await conn.fetch(_SINCE, seq, limit)
    return [
        msgspec.convert({**dict(r), "beds": msgspec.json.decode(r["beds"])}, Event) for r in rows
    ]


async def head(conn: Executor) -> int:
    """The last sequence number handed out (committed, since the clock row is locked)."""
    return int(await conn.fetchval(_HEAD))


async def oldest(conn: Executor) -> int | None:
    value = await conn.fetchval(_OLDEST)
    return None if value is None else int(value)


async def prune(conn: Executor, keep: int) -> str:
    """Drop events older than the newest `keep`."""
    return str(await conn.execute(_PRUNE, keep))


@asynccontextmanager
async def advisory_lock(conn: Conn, key: int) -> AsyncIterator[None]:
    """Hold a session advisory lock while the block runs (across its transactions)."""
    await conn.execute("select pg_advisory_lock($1)", key)
    try:
        yield
    finally:
        await conn.execute("select pg_advisory_unlock($1)", key)


# -- the batched write of reports ---------------------------------------------------------

# Lock the batch's shelters and their beds in one fixed order (shelter id, bed type), so
# concurrent batches — in this process or another — queue behind each other, never deadlock.
_STATES = """
select s.id, s.last_seq, b.bed_type, b.total, b.occupied, b.out_of_service, b.held
from shelters s join beds b on b.shelter_id = s.id
where s.id = any($1::text[])
order by s.id, b.bed_type
"""
# No key update: no key ever changes here, and offers being inserted hold key-share locks
# on their shelters (the foreign key), which a plain `for update` would wait for, with
# the inserting run then waiting for whatever this transaction holds.
_LOCK = _STATES + "for no key update of s, b\n"
# Every write of a batch in one statement (one round trip): beds, shelters, and the
# event log, numbered by the same CTE as `append`.
_WRITE = f"""
with bed_rows as (
    update beds b set total = u.total, occupied = u.occupied, out_of_service = u.out_of_service,
                      reported = true
    from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[])
         as u (shelter_id, bed_type, total, occupied, out_of_service)
    where b.shelter_id = u.shelter_id and b.bed_type = u.bed_type
    returning 1
), shelter_rows as (
    update shelters s set last_seq = u.last_seq, last_report_at = now()
    from unnest($6::text[], $7::bigint[]) as u (id, last_seq)
    where s.id = u.id
    returning 1
), {_events_cte(8)}
select clock.seq as last,
       (select count(*) from bed_rows) as beds, (select count(*) from shelter_rows) as shelters,
       (select count(*) from inserted) as events
from clock
"""


async def lock_states(conn: Conn, shelter_ids: Sequence[str]) -> dict[str, ShelterState]:
    """The shelters' last seq and beds, row-locked until the caller's transaction ends."""
    return _states(await conn.fetch(_LOCK, sorted(set(shelter_ids))))


async def read_states(conn: Conn, shelter_ids: Sequence[str]) -> dict[str, ShelterState]:
    """The shelters' last seq and beds, not locked: a report may change them at once."""
    return _states(await conn.fetch(_STATES, sorted(set(shelter_ids))))


def _states(rows: Sequence[asyncpg.Record]) -> dict[str, ShelterState]:
    states: dict[str, ShelterState] = {}
    for r in rows:
        state = states.get(r["id"]) or ShelterState(
            shelter_id=r["id"], last_seq=r["last_seq"], beds={}
        )
        state.beds[r["bed_type"]] = BedState(
            total=r["total"],
            occupied=r["occupied"],
            out_of_service=r["out_of_service"],
            held=r["held"],
        )
        states[r["id"]] = state
    return states


async def write_reports(
    conn: Conn, outbox: Outbox, states: dict[str, ShelterState], events: Sequence[NewEvent]
) -> int:
    """Write the reports' final states and their events in one statement; the last seq."""
    rows = sorted({(e.shelter_id, t) for e in events for t in e.beds})
    final = [states[s].beds[t] for s, t in rows]
    changed = sorted({e.shelter_id for e in events})
    written = await conn.fetchrow(
        _WRITE,
        [s for s, _ in rows],
        [t for _, t in rows],
        [b.total for b in final],
        [b.occupied for b in final],
        [b.out_of_service for b in final],
        changed,
        [states[s].last_seq for s in changed],
        *_event_args(events),
    )
    assert written is not None and written["events"] == len(events)
    if (written["beds"], written["shelters"]) != (len(rows), len(changed)):
        # A row vanished under our lock (a shelter deleted): write nothing of this batch.
        raise asyncpg.IntegrityConstraintViolationError("beds or shelters rows missing")
    outbox.last = int(written["last"])
    return outbox.last


_SET_HOLDS = """
update beds b set held = u.held, occupied = u.occupied
from unnest($1::text[], $2::text[], $3::int[], $4::int[])
     as u (shelter_id, bed_type, held, occupied)
where b.shelter_id = u.shelter_id and b.bed_type = u.bed_type
"""


async def write_holds(conn: Conn, outbox: Outbox, states: dict[str, dict[str, BedState]]) -> None:
    """Write beds whose holds (or occupancy on arrival) changed, locked by `lock_states`
    in this transaction, with one `hold` event per shelter."""
    rows = sorted((s, t) for s, types in states.items() for t in types)
    if not rows:
        return
    await conn.execute(
        _SET_HOLDS,
        [s for s, _ in rows],
        [t for _, t in rows],
        [states[s][t].held for s, t in rows],
        [states[s][t].occupied for s, t in rows],
    )
    await append(
        conn, outbox, [NewEvent(shelter_id=s, kind="hold", beds=states[s]) for s in sorted(states)]
    )


async def last_seq(conn: Executor, shelter_id: str) -> int:
    return int(await conn.fetchval("select last_seq from shelters where id = $1", shelter_id))


_RESET_SEQ = """
update shelters s set last_seq = $2
from (select id, last_seq from shelters where id = $1 for update) old
where s.id = old.id
returning old.last_seq
"""


async def reset_seq(conn: Conn, shelter_id: str, to: int, *, token_id: int | None = None) -> int:
    """Set a shelter's last applied seq, audited in the same transaction; the old one.

    An admin's repair after a wild seq. Beds and the event log are untouched, so
    dashboards see nothing change; the writer reads last_seq under the same row lock, so
    a report racing the reset is decided against one value or the other, never a mix.
    Raises LookupError when there is no such shelter.
    """
    async with conn.transaction():
        await audit.lock_head(conn)  # before the shelter's row, as everywhere
        old = await conn.fetchval(_RESET_SEQ, shelter_id, to)
        if old is None:
            raise LookupError(shelter_id)
        await audit.append(
            conn, token_id, "shelter.reset_seq", f"shelter:{shelter_id}", f"from={old} to={to}"
        )
    return int(old)


# -- the registry -------------------------------------------------------------------------

_INSERT_SHELTER = """
insert into shelters (id, name, region, lat, lon, confidential, max_children, mat_ok,
                      min_age, max_age, excluded_offenses, languages, services, address,
                      intake_phone)
values ('s' || lpad(nextval('shelter_number')::text, 5, '0'),
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11::text[], $12::text[], $13, $14)
returning id
"""
_INSERT_BEDS = """
insert into beds (shelter_id, bed_type, total)
select $1, * from unnest($2::text[], $3::int[])
"""
_LIST = """
select s.id, s.name, s.region, s.lat, s.lon, s.confidential, s.max_children, s.mat_ok,
       s.min_age, s.max_age, s.excluded_offenses, s.languages, s.services, s.last_seq,
       to_char(s.last_report_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as last_report_at,
       coalesce(array_agg(b.bed_type order by b.bed_type)
                filter (where b.bed_type is not null), '{}') as bed_types
from shelters s left join beds b on b.shelter_id = s.id
where ($1::text[] is null or s.region = any($1::text[]))
group by s.id order by s.id
"""


async def insert_shelters(conn: Conn, outbox: Outbox, shelters: Sequence[NewShelter]) -> list[str]:
    """Insert shelters and their beds inside `committing`, with one `shelter` event each."""
    ids: list[str] = []
    for shelter in shelters:
        r = shelter.rules
        shelter_id = await conn.fetchval(
            _INSERT_SHELTER,
            shelter.name,
            shelter.region,
            shelter.lat,
            shelter.lon,
            shelter.confidential,
            r.max_children,
            r.mat_ok,
            r.min_age,
            r.max_age,
            sorted(set(r.excluded_offenses)),
            sorted(set(r.languages)),
            sorted(set(shelter.services)),
            shelter.address,
            shelter.intake_phone,
        )
        types = sorted(shelter.beds)
        await conn.execute(_INSERT_BEDS, shelter_id, types, [shelter.beds[t] for t in types])
        ids.append(str(shelter_id))
    await append(
        conn,
        outbox,
        [
            NewEvent(
                shelter_id=i,
                kind="shelter",
                beds={t: BedState(total=s.beds[t], occupied=0, out_of_service=0) for t in s.beds},
            )
            for i, s in zip(ids, shelters, strict=True)
        ],
    )
    return ids


async def list_shelters(conn: Executor, regions: Sequence[str] | None = None) -> list[Shelter]:
    rows = await conn.fetch(_LIST, list(regions) if regions else None)
    return [_shelter(r) for r in rows]


def _shelter(r: asyncpg.Record) -> Shelter:
    rules = Rules(
        max_children=r["max_children"],
        mat_ok=r["mat_ok"],
        min_age=r["min_age"],
        max_age=r["max_age"],
        excluded_offenses=list(r["excluded_offenses"]),
        languages=list(r["languages"]),
    )
    fields = {
        k: r[k]
        for k in (
            "id",
            "name",
            "region",
            "lat",
            "lon",
            "confidential",
            "services",
            "bed_types",
            "last_seq",
            "last_report_at",
        )
    }
    return msgspec.convert({**fields, "rules": msgspec.to_builtins(rules)}, Shelter)


_COUNTS = """
select s.id, s.name, s.last_seq, s.last_report_at,
       b.bed_type, b.total, b.occupied, b.out_of_service, b.held, b.reported
from shelters s join beds b on b.shelter_id = s.id
where s.id = $1
order by b.bed_type
"""


async def shelter_counts(conn: Executor, shelter_id: str) -> ShelterCounts | None:
    """One shelter's name, last seq, last report time and beds (no lock)."""
    rows = await conn.fetch(_COUNTS, shelter_id)
    if not rows:
        return None
    first = rows[0]
    return ShelterCounts(
        id=first["id"],
        name=first["name"],
        last_seq=first["last_seq"],
        reported_at=first["last_report_at"],
        beds={
            r["bed_type"]: BedState(
                total=r["total"],
                occupied=r["occupied"],
                out_of_service=r["out_of_service"],
                held=r["held"],
            )
            for r in rows
        },
        reported={r["bed_type"] for r in rows if r["reported"]},
    )


class ShelterBeds(msgspec.Struct, frozen=True, kw_only=True):
    """A shelter's region and bed totals by type (what a simulated agent needs)."""

    id: str
    region: str
    beds: dict[str, int]


_BEDS_OF = """
select s.id, s.region, jsonb_object_agg(b.bed_type, b.total)::text as beds
from shelters s join beds b on b.shelter_id = s.id
where ($1::text[] is null or s.id = any($1::text[]))
  and ($2::text is null or s.name like $2 || '%')
group by s.id order by s.id
"""


async def shelter_beds(
    conn: Executor, *, ids: Sequence[str] | None = None, name_prefix: str | None = None
) -> list[ShelterBeds]:
    """Region and bed totals of the shelters with these ids, or names with this prefix."""
    rows = await conn.fetch(_BEDS_OF, None if ids is None else list(ids), name_prefix)
    return [
        ShelterBeds(id=r["id"], region=r["region"], beds=msgspec.json.decode(r["beds"]))
        for r in rows
    ]


# -- the live board's load ----------------------------------------------------------------

_LOAD_SHELTERS = """
select s.id, s.region, s.confidential, s.last_report_at,
       b.bed_type, b.total, b.occupied, b.out_of_service, b.held, b.reported
from shelters s left join beds b on b.shelter_id = s.id
order by s.id, b.bed_type
"""
_LOAD_CHANGED = """
select s.region, max(e.seq) as seq
from bed_events e join shelters s on s.id = e.shelter_id
group by s.region
"""


async def load_board(conn: Conn) -> BoardLoad:
    """Every shelter's bed state and each region's newest event, at one instant."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        head_seq = await head(conn)
        oldest_seq = await oldest(conn)
        rows = await conn.fetch(_LOAD_SHELTERS)
        changed = {r["region"]: int(r["seq"]) for r in await conn.fetch(_LOAD_CHANGED)}
    shelters: dict[str, BoardShelter] = {}
    for r in rows:
        s = shelters.get(r["id"])
        if s is None:
            s = shelters[r["id"]] = BoardShelter(
                id=r["id"],
                region=r["region"],
                confidential=r["confidential"],
                reported_at=r["last_report_at"],
                beds={},
            )
        if r["bed_type"] is not None:
            s.beds[r["bed_type"]] = BedState(
                total=r["total"],
                occupied=r["occupied"],
                out_of_service=r["out_of_service"],
                held=r["held"],
            )
            if r["reported"]:
                s.reported.add(r["bed_type"])
    return BoardLoad(
        head=head_seq, oldest=oldest_seq, shelters=list(shelters.values()), changed=changed
    )
