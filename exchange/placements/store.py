"""Requests, offers and matching runs in SQL; the only placements module that sees a Record.

Transactions that change placements lock in one order — requests (by id), then offers,
then shelters and beds (`beds.store.lock_states`, by shelter id) — so they never
deadlock with each other or with the ingest writer, which locks shelters and beds only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, TypeAlias

import asyncpg
import msgspec

from exchange.beds.model import BedState
from exchange.placements import planners, readiness
from exchange.placements.rules import MatchingInput, Resident, ShelterInfo, pickup
from schema.placements import NewRequest, OfferSummary, Placement, RequestView, RunResult
from schema.registry import Rules
from schema.wire import Offer, OfferStatus

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"

_ENCODE = msgspec.json.Encoder().encode
_ISO = 'YYYY-MM-DD"T"HH24:MI:SS"Z"'


def _iso(column: str) -> str:
    return f"to_char({column} at time zone 'UTC', '{_ISO}')"


# -- requests -------------------------------------------------------------------------------

_INSERT_REQUEST = """
insert into requests (id, agency, token_id, ref, region, release_date, origin_lat, origin_lon,
                      home_lat, home_lon, bed_type, children, age, mat, offenses, language,
                      needs, max_km, urgency, contacts, contact_locations, avoid_km, exclude_with)
values ('r' || lpad(nextval('request_number')::text, 6, '0'), $1, $2, $3, $4, $5, $6, $7, $8,
        $9, $10, $11, $12, $13, $14::text[], $15, $16::text[], $17, $18, $19::text[], $20::jsonb,
        $21, $22::text[])
returning id
"""
_AGENCY_REQUESTS = "select id from requests where agency = $1 and id = any($2::text[])"
_LIVE_REF = """
select 1 from requests
where agency = $1 and ref = $2 and status in ('open', 'offered', 'accepted')
"""


async def live_ref_exists(conn: Executor, agency: str, ref: str) -> bool:
    return await conn.fetchval(_LIVE_REF, agency, ref) is not None


async def agency_requests(conn: Executor, agency: str, ids: Sequence[str]) -> set[str]:
    """Which of these request ids belong to the agency."""
    return {r["id"] for r in await conn.fetch(_AGENCY_REQUESTS, agency, list(ids))}


async def insert_request(conn: Conn, agency: str, token_id: int, r: NewRequest) -> str:
    locations = [{"id": c.contact, "lat": c.lat, "lon": c.lon} for c in r.contact_locations]
    return str(
        await conn.fetchval(
            _INSERT_REQUEST,
            agency,
            token_id,
            r.ref,
            r.region,
            r.release_date,
            r.origin.lat,
            r.origin.lon,
            r.home.lat if r.home else None,
            r.home.lon if r.home else None,
            r.bed_type,
            r.children,
            r.age,
            r.mat,
            sorted(set(r.offenses)),
            r.language,
            sorted(set(r.needs)),
            r.max_km,
            r.urgency,
            list(r.contacts),
            _ENCODE(locations).decode(),
            r.avoid_km,
            list(r.exclude_with),
        )
    )


_VIEW = f"""
select r.id, r.ref, r.region, r.status, r.release_date, r.origin_lat, r.origin_lon,
       r.home_lat, r.home_lon, r.bed_type, r.children, r.age, r.mat, r.offenses, r.language,
       r.needs, r.max_km, r.urgency, cardinality(r.contacts) as contacts, r.avoid_km,
       r.exclude_with, {_iso("r.created_at")} as created_at,
       {_iso("r.updated_at")} as updated_at,
       o.id as offer_id, o.status as offer_status, {_iso("o.expires_at")} as offer_expires_at,
       s.region as offer_region, o.km as offer_km
from requests r
left join offers o on o.request_id = r.id and o.status in ('offered', 'accepted')
left join shelters s on s.id = o.shelter_id
where r.agency = $1 and ($2::text[] is null or r.id = any($2::text[]))
  and ($3::text[] is null or r.status = any($3::text[]))
order by r.id
limit $4
"""


async def request_views(
    conn: Executor,
    agency: str,
    ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
    limit: int = 1000,
) -> list[RequestView]:
    """The agency's requests (these ids, these statuses), with their live offer."""
    rows = await conn.fetch(
        _VIEW,
        agency,
        None if ids is None else list(ids),
        None if statuses is None else list(statuses),
        limit,
    )
    return [_view(r) for r in rows]


def _view(r: asyncpg.Record) -> RequestView:
    home = None if r["home_lat"] is None else {"lat": r["home_lat"], "lon": r["home_lon"]}
    offer = (
        None
        if r["offer_id"] is None
        else OfferSummary(
            id=r["offer_id"],
            status=r["offer_status"],
            expires_at=r["offer_expires_at"],
            region=r["offer_region"],
            km=r["offer_km"],
        )
    )
    # A Record iterates its values: its keys need .keys().
    skip = ("offer_", "origin_", "home_")
    data = {k: r[k] for k in r.keys() if not k.startswith(skip)}  # noqa: SIM118
    return msgspec.convert(
        {
            **data,
            "origin": {"lat": r["origin_lat"], "lon": r["origin_lon"]},
            "home": home,
            "offer": None if offer is None else msgspec.to_builtins(offer),
        },
        RequestView,
    )


_AGENCY_VERSION = """
select count(*)::text || '.' || coalesce(to_char(max(updated_at), 'J.SSSS.US'), '0')
from requests where agency = $1
"""


async def agency_version(conn: Executor, agency: str) -> str:
    """Changes whenever one of the agency's requests is created or changes status (the
    planner's page polls this, and re-reads its requests, audited, only when it moves)."""
    return str(await conn.fetchval(_AGENCY_VERSION, agency))


class RequestRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agency: str
    status: str
    region: str
    release_date: dt.date


_LOCK_REQUESTS = """
select id, agency, status, region, release_date from requests
where id = any($1::text[]) order by id for no key update
"""


async def lock_requests(conn: Conn, ids: Sequence[str]) -> dict[str, RequestRow]:
    """Lock these requests (in id order) until the transaction ends."""
    rows = await conn.fetch(_LOCK_REQUESTS, sorted(set(ids)))
    return {r["id"]: msgspec.convert(dict(r), RequestRow) for r in rows}


async def set_request_status(conn: Conn, ids: Sequence[str], status: str) -> None:
    await conn.execute(
        "update requests set status = $2, updated_at = now() where id = any($1::text[])",
        list(ids),
        status,
    )


# -- offers ---------------------------------------------------------------------------------


class OfferRow(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    request_id: str
    shelter_id: str
    bed_type: str
    status: OfferStatus
    expires_at: dt.datetime
    release_date: dt.date
    decided_at: dt.datetime | None = None


_OFFER = """
select o.id, o.request_id, o.shelter_id, o.bed_type, o.status, o.expires_at, r.release_date,
       o.decided_at
from offers o join requests r on r.id = o.request_id
where o.id = $1
"""
_LOCK_OFFER = """
select o.id, o.request_id, o.shelter_id, o.bed_type, o.status, o.expires_at, r.release_date,
       o.decided_at
from offers o join requests r on r.id = o.request_id
where o.id = $1 for update of o
"""
_LOCK_LIVE_OFFER = """
select o.id, o.request_id, o.shelter_id, o.bed_type, o.status, o.expires_at, r.release_date,
       o.decided_at
from offers o join requests r on r.id = o.request_id
where o.request_id = $1 and o.status in ('offered', 'accepted') for update of o
"""


async def offer(conn: Executor, offer_id: str) -> OfferRow | None:
    row = await conn.fetchrow(_OFFER, offer_id)
    return None if row is None else msgspec.convert(dict(row), OfferRow)


async def lock_offer(conn: Conn, offer_id: str) -> OfferRow | None:
    row = await conn.fetchrow(_LOCK_OFFER, offer_id)
    return None if row is None else msgspec.convert(dict(row), OfferRow)


async def lock_live_offer(conn: Conn, request_id: str) -> OfferRow | None:
    row = await conn.fetchrow(_LOCK_LIVE_OFFER, request_id)
    return None if row is None else msgspec.convert(dict(row), OfferRow)


_SET_OFFER = """
update offers set status = $2, reason = coalesce($3, reason),
       decided_at = case when $2 in ('accepted', 'declined') then now() else decided_at end,
       arrived_at = case when $2 = 'arrived' then now() else arrived_at end
where id = $1
"""


async def set_offer_status(
    conn: Conn, offer_id: str, status: OfferStatus, reason: str | None = None
) -> None:
    await conn.execute(_SET_OFFER, offer_id, status, reason)


_SHELTER_OFFERS = f"""
select o.id as offer, o.status, o.bed_type, r.children, r.mat, r.language, r.needs, r.age,
       to_char(r.release_date, 'YYYY-MM-DD') as release_date,
       {_iso("o.expires_at")} as expires_at, p.who as pickup_who, p.at as pickup_at
from offers o join requests r on r.id = o.request_id
left join pickups p on p.request_id = o.request_id and o.status in ('accepted', 'arrived')
where o.shelter_id = $1 and o.status = any($2::text[]) and ($3::text is null or o.id = $3)
order by o.id
"""


async def shelter_offers(
    conn: Executor,
    shelter_id: str,
    statuses: Sequence[str] = ("offered", "accepted"),
    offer_id: str | None = None,
) -> list[Offer]:
    """This shelter's offers as it sees them (no ref, contact, origin or agency); the
    pickup at the gate only once it has accepted her."""
    rows = await conn.fetch(_SHELTER_OFFERS, shelter_id, list(statuses), offer_id)
    return [msgspec.convert(_with_pickup(r), Offer) for r in rows]


def _with_pickup(r: asyncpg.Record) -> dict[str, Any]:
    """A row's columns, `pickup_who` and `pickup_at` folded into one `pickup` object."""
    data = {k: r[k] for k in r.keys() if not k.startswith("pickup_")}  # noqa: SIM118
    who = r["pickup_who"]
    data["pickup"] = None if who is None else msgspec.to_builtins(pickup(who, r["pickup_at"]))
    return data


_OFFER_STATUSES = "select id, status from offers where id = any($1::text[])"


async def offer_statuses(conn: Executor, ids: Sequence[str]) -> dict[str, OfferStatus]:
    return {r["id"]: r["status"] for r in await conn.fetch(_OFFER_STATUSES, list(ids))}


_DUE = """
select o.id from offers o join requests r on r.id = o.request_id
where (o.status = 'offered' and o.expires_at <= $1)
   or (o.status = 'accepted'
       and greatest(r.release_date, (o.decided_at at time zone 'UTC')::date) + $2::int
           < ($1 at time zone 'UTC')::date)
order by o.id limit $3
"""


async def due_offers(conn: Executor, now: dt.datetime, grace_days: int, limit: int) -> list[str]:
    """Offers past their expiry, and accepted ones past release (or acceptance, when she
    was released before it) + grace: no-shows."""
    return [r["id"] for r in await conn.fetch(_DUE, now, grace_days, limit)]


_FRESH = """
select id from shelters
where id = any($1::text[]) and last_report_at is not null
  and last_report_at >= now() - make_interval(secs => $2)
"""


async def fresh_shelters(conn: Conn, ids: Sequence[str], stale_after_s: float) -> set[str]:
    return {r["id"] for r in await conn.fetch(_FRESH, list(ids), float(stale_after_s))}


# -- placement ------------------------------------------------------------------------------

_PLACEMENT = """
select r.id as request, o.id as offer, o.status, s.id as shelter, s.name, s.address,
       s.intake_phone, o.bed_type, r.release_date, p.who as pickup_who, p.at as pickup_at
from requests r
join offers o on o.request_id = r.id and o.status in ('accepted', 'arrived')
join shelters s on s.id = o.shelter_id
left join pickups p on p.request_id = r.id
where r.id = $1 and r.agency = $2
order by o.id desc limit 1
"""


async def placement(conn: Conn, request_id: str, agency: str) -> Placement | None:
    row = await conn.fetchrow(_PLACEMENT, request_id, agency)
    return None if row is None else msgspec.convert(_with_pickup(row), Placement)


# -- pickup at the gate -----------------------------------------------------------------------

_SET_PICKUP = """
insert into pickups (request_id, who, at, token_id) values ($1, $2, $3, $4)
on conflict (request_id) do update
set who = excluded.who, at = excluded.at, token_id = excluded.token_id, updated_at = now()
"""


async def set_pickup(
    conn: Conn, request_id: str, who: str, at: dt.datetime, token_id: int | None
) -> None:
    """Arrange (or replace) her pickup; the caller holds the request's lock."""
    await conn.execute(_SET_PICKUP, request_id, who, at, token_id)


# -- readiness --------------------------------------------------------------------------------

_FACTS = """
select r.id as request, r.agency, r.region, r.status, r.release_date, {ref} as ref,
       o.id as offer, o.status as offer_status, o.expires_at as offer_expires_at,
       p.who as pickup_who, p.at as pickup_at
from requests r
left join offers o on o.request_id = r.id and o.status in ('offered', 'accepted')
left join pickups p on p.request_id = r.id
"""
_BOARD = (
    _FACTS.format(ref="r.ref")
    + """
where r.agency = $1 and r.release_date <= $2
  and (r.status in ('open', 'offered', 'accepted')
       or (r.status in ('arrived', 'no_show') and r.release_date >= $3))
order by r.id
"""
)
_FACTS_OF = _FACTS.format(ref="null::text") + "where r.id = any($1::text[]) order by r.id"
_FACTS_LIVE = (
    _FACTS.format(ref="null::text")
    + """
where r.status in ('open', 'offered', 'accepted', 'no_show') and ($1::text is null or r.agency = $1)
order by r.id
"""
)


async def board_facts(
    conn: Executor, agency: str, first: dt.date, last: dt.date
) -> list[readiness.Facts]:
    """The agency's requests a board from `first` to `last` may list (refs included): live
    ones releasing by `last`, arrived and no-shows releasing between the two."""
    rows = await conn.fetch(_BOARD, agency, last, first)
    return [msgspec.convert(dict(r), readiness.Facts) for r in rows]


async def facts_of(conn: Executor, ids: Sequence[str]) -> list[readiness.Facts]:
    """These requests, whatever their agency or status (no refs); purged ones are absent."""
    rows = await conn.fetch(_FACTS_OF, list(ids))
    return [msgspec.convert(dict(r), readiness.Facts) for r in rows]


async def live_facts(conn: Executor, agency: str | None = None) -> list[readiness.Facts]:
    """Live requests and no-shows (of one agency, or all), no refs: what can be at risk."""
    rows = await conn.fetch(_FACTS_LIVE, agency)
    return [msgspec.convert(dict(r), readiness.Facts) for r in rows]


# -- board reads in the audit log (`reads`) ---------------------------------------------------

_INSERT_READ = """
with read as (select nextval('audit_read_number') as id),
     rows as (insert into audit_reads (read_id, request_id)
              select read.id, u.request_id from read, unnest($1::text[]) as u (request_id))
select id from read
"""
_READS = """
select a.id, a.detail, count(r.request_id) as requests,
       encode(sha256(convert_to(coalesce(
           string_agg(r.request_id, ',' order by r.request_id collate "C"), ''), 'UTF8')),
           'hex') as digest
from audit_log a
left join audit_reads r on r.read_id = substring(a.detail from '^read=([0-9]+),')::bigint
where a.kind = $1 and a.id > $2
group by a.id order by a.id limit $3
"""


class ReadRecord(msgspec.Struct, frozen=True, kw_only=True):
    """A read's chained record, with the count and digest of its rows in `audit_reads`."""

    id: int
    detail: str
    requests: int
    digest: str


async def insert_read(conn: Executor, request_ids: Sequence[str]) -> int:
    """A new read's number, with one `audit_reads` row per id (distinct ids)."""
    return int(await conn.fetchval(_INSERT_READ, list(request_ids)))


async def read_records(conn: Executor, kind: str, after: int, limit: int) -> list[ReadRecord]:
    """Records of `kind` after audit id `after`, each with its rows' count and digest."""
    rows = await conn.fetch(_READS, kind, after, limit)
    return [msgspec.convert(dict(r), ReadRecord) for r in rows]


# -- the planner channel and alerts ----------------------------------------------------------

CHANNEL = "haven_placements"
"""NOTIFY channel: a wake-up for the planner channel after a change that moves no bed (a
new request, a pickup, an alert). Changes that move a bed wake it through `haven_events`."""

_CHANGES = """
select id, kind, subject, detail from audit_log
where id > $1 and kind not like '%.read'
order by id limit $2
"""
_AUDIT_HEAD = "select last_id from audit_head where id = 1"


async def changes_since(conn: Executor, after: int, limit: int) -> list[planners.Record]:
    """Audit records after id `after` that are not reads (the planner channel's outbox)."""
    rows = await conn.fetch(_CHANGES, after, limit)
    return [planners.Record(r["id"], r["kind"], r["subject"], r["detail"]) for r in rows]


async def picture(conn: Conn) -> tuple[list[readiness.Facts], int]:
    """Every live request and no-show, and the audit id they include every change up to,
    read in one snapshot."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        seq = int(await conn.fetchval(_AUDIT_HEAD))
        facts = await live_facts(conn)
    return facts, seq


async def notify(conn: Executor) -> None:
    """Wake the planner channels of every process (call after commit)."""
    await conn.execute("select pg_notify($1, '')", CHANNEL)


_ANNOUNCED = "select request_id, agency, reasons from alerts"
_ANNOUNCE = """
insert into alerts (request_id, agency, reasons)
select u.request_id, u.agency, string_to_array(u.reasons, ',')
from unnest($1::text[], $2::text[], $3::text[]) as u (request_id, agency, reasons)
where u.reasons <> '' and exists (select 1 from requests r where r.id = u.request_id)
on conflict (request_id) do update set reasons = excluded.reasons, updated_at = now()
"""
_UNANNOUNCE = "delete from alerts where request_id = any($1::text[])"


async def announced(conn: Executor) -> dict[str, tuple[str, list[str]]]:
    """The at-risk reasons last announced, per request: (agency, reasons)."""
    rows = await conn.fetch(_ANNOUNCED)
    return {r["request_id"]: (r["agency"], list(r["reasons"])) for r in rows}


async def announce(conn: Conn, changed: Sequence[readiness.Transition]) -> None:
    """Record these reasons as announced (none: forget the request)."""
    await conn.execute(
        _ANNOUNCE,
        [t.request for t in changed],
        [t.agency for t in changed],
        [",".join(t.at_risk) for t in changed],
    )
    await conn.execute(_UNANNOUNCE, [t.request for t in changed if not t.at_risk])


# -- retention --------------------------------------------------------------------------------


class Ended(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    agency: str
    status: str
    ended_at: dt.datetime


_ENDED = """
select id, agency, status, updated_at as ended_at from requests
where status in ('arrived', 'withdrawn', 'no_show') and updated_at <= $1
  and (status <> 'arrived' or updated_at <= $3)
order by id limit $2
"""
_LOCK_ENDED = """
select id, agency, status, updated_at as ended_at from requests
where id = any($1::text[]) and status in ('arrived', 'withdrawn', 'no_show')
  and updated_at <= $2 and (status <> 'arrived' or updated_at <= $3)
order by id for update
"""
_RUNS_NAMING = "select id from matching_runs where problem @> $1::jsonb or problem @> $2::jsonb"
_RUNS_FILES = """
select id, problem::text as problem, plan::text as plan from matching_runs
where id = any($1::bigint[]) order by id for update
"""
_REWRITE_RUN = "update matching_runs set problem = $2::jsonb, plan = $3::jsonb where id = $1"
_UNLINK = """
update requests r set exclude_with = array(
    select x from unnest(r.exclude_with) as x where x <> all($1::text[]))
where r.exclude_with && $1::text[] and r.id <> all($1::text[])
returning r.id
"""
_COUNT_OF = "select count(*) from {table} where request_id = any($1::text[])"
_DELETE_OF = "delete from {table} where request_id = any($1::text[])"
_DELIVERIES_NAMING = "delete from webhook_deliveries where body like any($1::text[])"
_DELETE_REQUESTS = "delete from requests where id = any($1::text[])"


async def ended_before(
    conn: Executor, before: dt.datetime, limit: int, *, arrived_before: dt.datetime
) -> list[Ended]:
    """Requests that ended no later than `before`, and arrived ones no later than
    `arrived_before` too (`retention.cutoffs`)."""
    rows = await conn.fetch(_ENDED, before, limit, arrived_before)
    return [msgspec.convert(dict(r), Ended) for r in rows]


async def lock_ended(
    conn: Conn, ids: Sequence[str], before: dt.datetime, *, arrived_before: dt.datetime
) -> list[Ended]:
    """Lock those of these requests still ended as `ended_before` says (in id order)."""
    rows = await conn.fetch(_LOCK_ENDED, sorted(ids), before, arrived_before)
    return [msgspec.convert(dict(r), Ended) for r in rows]


async def runs_naming(conn: Executor, ids: Sequence[str]) -> list[int]:
    """Runs whose stored problem has one of these requests as a request or resident."""
    found: set[int] = set()
    for request_id in ids:
        entry = [{"id": request_id}]
        as_request = _ENCODE({"requests": entry}).decode()
        as_resident = _ENCODE({"residents": entry}).decode()
        found |= {r["id"] for r in await conn.fetch(_RUNS_NAMING, as_request, as_resident)}
    return sorted(found)


async def run_files(conn: Conn, run_ids: Sequence[int]) -> list[tuple[int, bytes, bytes]]:
    """Lock these runs and return their stored problem and plan."""
    rows = await conn.fetch(_RUNS_FILES, list(run_ids))
    return [(r["id"], r["problem"].encode(), r["plan"].encode()) for r in rows]


async def rewrite_run(conn: Conn, run_id: int, problem: bytes, plan: bytes) -> None:
    await conn.execute(_REWRITE_RUN, run_id, problem.decode(), plan.decode())


async def unlink(conn: Conn, ids: Sequence[str]) -> list[str]:
    """Remove these ids from other requests' `exclude_with`; the requests changed."""
    return sorted(r["id"] for r in await conn.fetch(_UNLINK, list(ids)))


_LINKED = """
select id from requests where exclude_with && $1::text[] and id <> all($1::text[]) order by id
"""


async def linked(conn: Executor, ids: Sequence[str]) -> list[str]:
    """Other requests whose `exclude_with` names one of these."""
    return [r["id"] for r in await conn.fetch(_LINKED, list(ids))]


async def traces(conn: Executor, ids: Sequence[str]) -> dict[str, int]:
    """How many rows of each table name these requests (what a purge would delete)."""
    return {
        table: int(await conn.fetchval(_COUNT_OF.format(table=table), list(ids)))
        for table in ("offers", "pickups", "alerts")
    }


async def delete_requests(conn: Conn, ids: Sequence[str]) -> None:
    """Delete these requests and every row that names them (the caller holds their locks
    and has scrubbed the runs and unlinked the others)."""
    for table in ("pickups", "alerts", "offers"):
        await conn.execute(_DELETE_OF.format(table=table), list(ids))
    await conn.execute(_DELIVERIES_NAMING, [f'%"{i}"%' for i in ids])
    await conn.execute(_DELETE_REQUESTS, list(ids))


# -- matching -------------------------------------------------------------------------------

_SHELTERS = """
select s.id, s.region, s.lat, s.lon, s.max_children, s.mat_ok, s.min_age, s.max_age,
       s.excluded_offenses, s.languages, s.services, s.last_report_at,
       b.bed_type, b.total, b.occupied, b.out_of_service, b.held, b.reported
from shelters s join beds b on b.shelter_id = s.id
where s.region = any($1::text[])
order by s.id, b.bed_type
"""
# The open requests as one JSON array in `OpenRequest`'s shape, passed on as it is
# (`MatchingInput.requests_json`): thousands of rows turned into structs here would hold
# the event loop, and every shelter's acknowledgement, for a tenth of a second.
_OPEN = """
select coalesce(json_agg(json_build_object(
    'id', r.id, 'urgency', r.urgency,
    'origin', json_build_object('lat', r.origin_lat, 'lon', r.origin_lon),
    'home', case when r.home_lat is null then null
                 else json_build_object('lat', r.home_lat, 'lon', r.home_lon) end,
    'bed_type', r.bed_type, 'children', r.children, 'age', r.age, 'mat', r.mat,
    'offenses', r.offenses, 'language', r.language, 'needs', r.needs, 'max_km', r.max_km,
    'contacts', r.contacts, 'contact_locations', r.contact_locations,
    'avoid_km', r.avoid_km, 'exclude_with', r.exclude_with,
    'declined_by', coalesce(array(select distinct o.shelter_id from offers o
                                  where o.request_id = r.id and o.status = 'declined'), '{}')
) order by r.id), '[]')::text
from requests r
where r.region = any($1::text[]) and r.status = 'open' and r.release_date <= $2
"""
_RESIDENTS = """
select r.id, o.shelter_id as shelter, r.contacts, r.exclude_with
from offers o join requests r on r.id = o.request_id join shelters s on s.id = o.shelter_id
where s.region = any($1::text[]) and o.status in ('offered', 'accepted', 'arrived')
order by r.id
"""


async def matching_input(conn: Conn, regions: Sequence[str], horizon: dt.date) -> MatchingInput:
    """Shelters, open requests releasing by `horizon`, and residents, at one instant."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        now = await conn.fetchval("select now()")
        shelter_rows = await conn.fetch(_SHELTERS, list(regions))
        open_json = await conn.fetchval(_OPEN, list(regions), horizon)
        resident_rows = await conn.fetch(_RESIDENTS, list(regions))
    shelters: dict[str, dict[str, Any]] = {}
    for r in shelter_rows:
        s = shelters.get(r["id"])
        if s is None:
            s = shelters[r["id"]] = {
                "id": r["id"],
                "region": r["region"],
                "lat": r["lat"],
                "lon": r["lon"],
                "rules": Rules(
                    max_children=r["max_children"],
                    mat_ok=r["mat_ok"],
                    min_age=r["min_age"],
                    max_age=r["max_age"],
                    excluded_offenses=list(r["excluded_offenses"]),
                    languages=list(r["languages"]),
                ),
                "services": list(r["services"]),
                "reported_at": r["last_report_at"],
                "beds": {},
            }
        if r["reported"]:
            # A registered total is not a statement of vacancy: a type the shelter has
            # never reported offers no bed, as it counts for none on dashboards.
            s["beds"][r["bed_type"]] = BedState(
                total=r["total"],
                occupied=r["occupied"],
                out_of_service=r["out_of_service"],
                held=r["held"],
            )
    return MatchingInput(
        shelters=[ShelterInfo(**s) for s in shelters.values()],
        requests_json=open_json.encode(),
        residents=[
            Resident(
                id=r["id"],
                shelter=r["shelter"],
                contacts=list(r["contacts"]),
                exclude_with=list(r["exclude_with"]),
            )
            for r in resident_rows
        ],
        now=now,
    )


_INSERT_RUN = """
insert into matching_runs (regions, token_id, started_at, status, placed, unplaced, offers,
                           build_seconds, solve_seconds, problem, plan)
values ($1::text[], $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::jsonb, $11::jsonb)
returning id
"""


async def insert_run(
    conn: Conn,
    *,
    regions: Sequence[str],
    token_id: int | None,
    started_at: dt.datetime,
    status: str,
    placed: int,
    unplaced: dict[str, int],
    offers: int,
    build_seconds: float,
    solve_seconds: float,
    problem: bytes,
    plan: bytes,
) -> int:
    return int(
        await conn.fetchval(
            _INSERT_RUN,
            list(regions),
            token_id,
            started_at,
            status,
            placed,
            _ENCODE(unplaced).decode(),
            offers,
            build_seconds,
            solve_seconds,
            problem.decode(),
            plan.decode(),
        )
    )


async def set_run_offers(conn: Conn, run_id: int, offers: int) -> None:
    """The number of offers a run made, known once its assignments are re-checked."""
    await conn.execute("update matching_runs set offers = $2 where id = $1", run_id, offers)


_INSERT_OFFERS = """
insert into offers (id, request_id, shelter_id, bed_type, run_id, km, expires_at)
select 'o' || lpad(nextval('offer_number')::text, 6, '0'), u.request_id, u.shelter_id,
       u.bed_type, $4, u.km, now() + make_interval(secs => $6)
from unnest($1::text[], $2::text[], $3::text[], $5::int[])
     with ordinality as u (request_id, shelter_id, bed_type, km, n)
order by u.n
returning id, request_id
"""


async def insert_offers(
    conn: Conn,
    run_id: int,
    offers: Sequence[tuple[str, str, str, int]],
    lifetime_s: float,
) -> dict[str, str]:
    """Insert offers (request, shelter, bed type, km); request id → offer id."""
    rows = await conn.fetch(
        _INSERT_OFFERS,
        [o[0] for o in offers],
        [o[1] for o in offers],
        [o[2] for o in offers],
        run_id,
        [o[3] for o in offers],
        float(lifetime_s),
    )
    return {r["request_id"]: r["id"] for r in rows}


_RUN = f"""
select id, status, placed, unplaced, offers, solve_seconds, regions, build_seconds,
       {_iso("finished_at")} as finished_at
from matching_runs where id = $1
"""
_RUN_FILE = "select {column}::text from matching_runs where id = $1"


async def run(conn: Executor, run_id: int) -> RunResult | None:
    row = await conn.fetchrow(_RUN, run_id)
    if row is None:
        return None
    return msgspec.convert(
        {**dict(row), "unplaced": msgspec.json.decode(row["unplaced"])}, RunResult
    )


async def run_file(conn: Executor, run_id: int, which: str) -> bytes | None:
    """The stored problem or plan of a run, exactly as the matcher read or wrote it."""
    column = {"problem": "problem", "plan": "plan"}[which]
    text = await conn.fetchval(_RUN_FILE.format(column=column), run_id)
    return None if text is None else str(text).encode()


_RECENT_RUN = """
select 1 from matching_runs
where $1 = any(regions) and finished_at > now() - make_interval(secs => $2)
"""
_REGIONS_WITH_OPEN = """
select distinct region from requests where status = 'open' and release_date <= $1 order by region
"""


async def ran_recently(conn: Executor, region: str, within_s: float) -> bool:
    return await conn.fetchval(_RECENT_RUN, region, float(within_s)) is not None


async def regions_with_open_requests(conn: Executor, horizon: dt.date) -> list[str]:
    return [r["region"] for r in await conn.fetch(_REGIONS_WITH_OPEN, horizon)]


@asynccontextmanager
async def region_locks(conn: Conn, regions: Sequence[str]) -> AsyncIterator[bool]:
    """Try the advisory locks of these regions (sorted); yields whether all were taken.

    One matching run per region at a time, across every process sharing the database.
    """
    keys = [f"haven.match:{r}" for r in sorted(set(regions))]
    taken: list[str] = []
    try:
        for key in keys:
            if not await conn.fetchval("select pg_try_advisory_lock(hashtext($1))", key):
                yield False
                return
            taken.append(key)
        yield True
    finally:
        for key in reversed(taken):
            await conn.execute("select pg_advisory_unlock(hashtext($1))", key)


@asynccontextmanager
async def advisory(conn: Conn, key: str) -> AsyncIterator[bool]:
    """Try the session advisory lock named `key`; yields whether it was taken (and holds it
    until the block ends)."""
    taken = bool(await conn.fetchval("select pg_try_advisory_lock(hashtext($1))", key))
    try:
        yield taken
    finally:
        if taken:
            await conn.execute("select pg_advisory_unlock(hashtext($1))", key)
