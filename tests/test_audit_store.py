"""The audit chain's two ways in: one record, or many records in one call."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from exchange.audit import store as audit


async def _rows(conn: asyncpg.Connection[Any]) -> list[tuple[int, str, str, bytes, bytes]]:
    rows = await conn.fetch(
        "select id, subject, detail, prev_hash, hash from audit_log order by id"
    )
    return [
        (r["id"], r["subject"], r["detail"], bytes(r["prev_hash"]), bytes(r["hash"])) for r in rows
    ]


async def test_many_records_chain_in_order_between_single_ones(
    conn: asyncpg.Connection[Any],
) -> None:
    """A batch lands in the given order, each row chained to the one before it, between
    single appends; the head names the last row and the chain verifies."""
    async with conn.transaction():
        first = await audit.append(conn, 7, "run.created", "run:1", "regions=OH")
        await audit.append_many(
            conn,
            7,
            "offer.created",
            [f"offer:o00000{n}" for n in range(1, 6)],
            [f"request=r00000{n},shelter=s{n},run=1" for n in range(1, 6)],
        )
        last = await audit.append(conn, None, "request.read", "request:r000001")
    rows = await _rows(conn)
    assert [r[0] for r in rows] == list(range(first, last + 1)) and len(rows) == 7
    assert [r[1] for r in rows[1:6]] == [f"offer:o00000{n}" for n in range(1, 6)]
    assert all(rows[i][3] == rows[i - 1][4] for i in range(1, len(rows)))
    head = await conn.fetchrow("select last_id, hash from audit_head")
    assert head is not None and (head["last_id"], bytes(head["hash"])) == (last, rows[-1][4])
    assert await audit.verify(conn) == audit.Verified(ok=True, rows=7)


async def test_a_batch_hashes_exactly_as_single_appends_would(
    conn: asyncpg.Connection[Any],
) -> None:
    """Each batched row's hash is recomputed by verify from its own contents, so a row
    changed afterwards is named, as for a single append."""
    async with conn.transaction():
        await audit.append_many(
            conn, None, "request.read", [f"request:r00000{n}" for n in range(4)], [""] * 4
        )
    assert await audit.verify(conn) == audit.Verified(ok=True, rows=4)
    await conn.execute("alter table audit_log disable trigger audit_log_append_only")
    await conn.execute("update audit_log set detail = 'x' where id = 2")
    broken = await audit.verify(conn)
    assert broken.broken is not None and broken.broken.id == 2


async def test_a_batch_with_mismatched_details_writes_nothing(
    conn: asyncpg.Connection[Any],
) -> None:
    """Subjects and details must pair up, in Python and in the database function."""
    with pytest.raises(ValueError, match="2 subjects but 1 details"):
        await audit.append_many(conn, None, "request.read", ["request:a", "request:b"], [""])
    with pytest.raises(asyncpg.InvalidParameterValueError, match="2 subjects but 1 details"):
        await conn.execute(
            "select audit_append_many(null, 'request.read', $1::text[], $2::text[])",
            ["request:a", "request:b"],
            [""],
        )
    await audit.append_many(conn, None, "request.read", [], [])
    assert await _rows(conn) == []
    assert await audit.verify(conn) == audit.Verified(ok=True, rows=0)
