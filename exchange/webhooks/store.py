"""Webhooks in SQL: one per agency, and the queue of deliveries.

A delivery is claimed by pushing its `next_at` past a lease in one statement (`for update
skip locked`), so several processes send each delivery once, and one whose sender died is
sent again after the lease. Bodies hold request ids and reasons only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, TypeAlias

import asyncpg
import msgspec

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"
Executor: TypeAlias = "Conn | asyncpg.Pool[Any]"


class Webhook(msgspec.Struct, frozen=True, kw_only=True):
    """An agency's webhook as `haven agency webhook --list` shows it (never the secret)."""

    agency: str
    url: str
    created_at: dt.datetime
    pending: int
    failed: int


class Due(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery claimed for sending, with where to and the key to sign it."""

    id: int
    agency: str
    body: str
    attempts: int
    url: str
    secret: str


_SET = """
insert into agency_webhooks (agency, url, secret) values ($1, $2, $3)
on conflict (agency) do update set url = excluded.url, secret = excluded.secret,
                                   created_at = now()
"""
_REMOVE = "delete from agency_webhooks where agency = $1"
_DROP_QUEUE = "delete from webhook_deliveries where agency = $1 and delivered_at is null"
_LIST = """
select w.agency, w.url, w.created_at,
       count(d.id) filter (where d.delivered_at is null and d.failed_at is null) as pending,
       count(d.id) filter (where d.failed_at is not null) as failed
from agency_webhooks w left join webhook_deliveries d on d.agency = w.agency
group by w.agency order by w.agency
"""
_SUBSCRIBED = "select agency from agency_webhooks where agency = any($1::text[])"
_ENQUEUE = """
insert into webhook_deliveries (agency, body)
select * from unnest($1::text[], $2::text[])
"""
_CLAIM = """
with due as (
    select id from webhook_deliveries
    where delivered_at is null and failed_at is null and next_at <= now()
    order by id limit $1 for update skip locked
)
update webhook_deliveries d
set attempts = d.attempts + 1, next_at = now() + make_interval(secs => $2)
from due, agency_webhooks w
where d.id = due.id and w.agency = d.agency
returning d.id, d.agency, d.body, d.attempts, w.url, w.secret
"""
_DELIVERED = "update webhook_deliveries set delivered_at = now(), last_error = null where id = $1"
_RETRY = """
update webhook_deliveries set next_at = now() + make_interval(secs => $2), last_error = $3
where id = $1
"""
_GIVE_UP = "update webhook_deliveries set failed_at = now(), last_error = $2 where id = $1"


async def set_webhook(conn: Conn, agency: str, url: str, secret: str) -> None:
    await conn.execute(_SET, agency, url, secret)


async def remove_webhook(conn: Conn, agency: str) -> bool:
    """Remove it and its undelivered queue; whether there was one."""
    await conn.execute(_DROP_QUEUE, agency)
    return str(await conn.execute(_REMOVE, agency)) != "DELETE 0"


async def webhooks(conn: Executor) -> list[Webhook]:
    return [msgspec.convert(dict(r), Webhook) for r in await conn.fetch(_LIST)]


async def subscribed(conn: Executor, agencies: Collection[str]) -> set[str]:
    """Which of these agencies have a webhook."""
    return {r["agency"] for r in await conn.fetch(_SUBSCRIBED, list(agencies))}


async def enqueue(conn: Conn, deliveries: Sequence[tuple[str, str]]) -> None:
    """Queue (agency, body) deliveries in the caller's transaction."""
    if deliveries:
        await conn.execute(_ENQUEUE, [a for a, _ in deliveries], [b for _, b in deliveries])


async def claim(conn: Executor, limit: int, lease_s: float) -> list[Due]:
    """Take up to `limit` due deliveries for `lease_s` seconds (counted as an attempt)."""
    rows = await conn.fetch(_CLAIM, limit, float(lease_s))
    return sorted((msgspec.convert(dict(r), Due) for r in rows), key=lambda d: d.id)


async def delivered(conn: Executor, delivery_id: int) -> None:
    await conn.execute(_DELIVERED, delivery_id)


async def retry(conn: Executor, delivery_id: int, delay_s: float, error: str) -> None:
    await conn.execute(_RETRY, delivery_id, float(delay_s), error[:200])


async def give_up(conn: Executor, delivery_id: int, error: str) -> None:
    await conn.execute(_GIVE_UP, delivery_id, error[:200])
