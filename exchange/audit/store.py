"""The audit log in SQL: append inside the caller's transaction, and verify the chain.

Rows hold ids and kinds only — never a token, a contact token, a ref or an address.
Each row's hash is sha256(previous hash || payload), computed by the database function
`audit_append` (schema/migrations/004); `verify` recomputes every hash with the same
`audit_payload` function and walks the chain. Many records at once go through
`audit_append_many` (migration 009), which chains them the same way with one head update.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeAlias

import asyncpg
import msgspec

Conn: TypeAlias = "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any]"

_APPEND = "select audit_append($1, $2, $3, $4)"
_APPEND_MANY = "select audit_append_many($1, $2, $3::text[], $4::text[])"
_WALK = """
select id, token_id, kind, subject, detail, prev_hash, hash,
       sha256(prev_hash || audit_payload(id, at, token_id, kind, subject, detail)) as computed
from audit_log where id > $1 order by id limit $2
"""


_LOCK_HEAD = "select 1 from audit_head where id = 1 for update"


async def lock_head(conn: Conn) -> None:
    """Take the chain's head now, in the caller's transaction (an append takes it anyway).

    Every transaction that appends records and also locks bed rows takes the head before
    the beds, so all lock in one order — requests, offers, the audit head, shelters and
    beds, the event clock — and none waits for another that waits for it. A shelter's
    report locks only its beds and the event clock, so it never waits for the head."""
    await conn.execute(_LOCK_HEAD)


async def append(
    conn: Conn, token_id: int | None, kind: str, subject: str, detail: str = ""
) -> int:
    """Append one record in the caller's transaction; its id."""
    return int(await conn.fetchval(_APPEND, token_id, kind, subject, detail))


async def append_many(
    conn: Conn, token_id: int | None, kind: str, subjects: Sequence[str], details: Sequence[str]
) -> None:
    """Append one record per subject, in order, in the caller's transaction: one call
    that locks and moves the chain's head once (`audit_append_many`, migration 009)."""
    if len(subjects) != len(details):
        raise ValueError(f"{len(subjects)} subjects but {len(details)} details")
    if subjects:
        await conn.execute(_APPEND_MANY, token_id, kind, list(subjects), list(details))


class Broken(msgspec.Struct, frozen=True, kw_only=True):
    """The first row at which the chain does not hold."""

    id: int
    problem: str


class Verified(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    rows: int
    broken: Broken | None = None


async def verify(conn: Conn, *, batch: int = 10_000) -> Verified:
    """Walk the chain from the first row: ids without gaps, each prev_hash the previous
    row's hash, each hash recomputed from its row, the head naming the last row.

    It reads one snapshot (a repeatable-read transaction), so rows appended while it runs
    are simply not seen, never mistaken for a broken chain."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        return await _walk(conn, batch)


async def _walk(conn: Conn, batch: int) -> Verified:
    prev_id, prev_hash, rows = 0, bytes(32), 0
    while True:
        chunk = await conn.fetch(_WALK, prev_id, batch)
        for r in chunk:
            rid = int(r["id"])
            if rid != prev_id + 1:
                return Verified(
                    ok=False,
                    rows=rows,
                    broken=Broken(id=rid, problem=f"rows {prev_id + 1}..{rid - 1} are missing"),
                )
            if bytes(r["prev_hash"]) != prev_hash:
                return Verified(
                    ok=False,
                    rows=rows,
                    broken=Broken(id=rid, problem="prev_hash is not the previous row's hash"),
                )
            if bytes(r["computed"]) != bytes(r["hash"]):
                return Verified(
                    ok=False,
                    rows=rows,
                    broken=Broken(id=rid, problem="hash does not match the row's contents"),
                )
            prev_id, prev_hash, rows = rid, bytes(r["hash"]), rows + 1
        if len(chunk) < batch:
            break
    head = await conn.fetchrow("select last_id, hash from audit_head where id = 1")
    if head is not None and (int(head["last_id"]), bytes(head["hash"])) != (prev_id, prev_hash):
        return Verified(
            ok=False,
            rows=rows,
            broken=Broken(
                id=prev_id + 1, problem="the newest rows are missing (the head names a later row)"
            ),
        )
    return Verified(ok=True, rows=rows)
