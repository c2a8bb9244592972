"""Board reads in the audit log on a real database: one chained record per read, its
women in `audit_reads`, and `haven audit verify` finding a woman added to or taken from
a read as surely as an edited record."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import msgspec
import pytest

from exchange import cli
from exchange.audit import store as audit
from exchange.placements import reads


async def read(conn: asyncpg.Connection[Any], ids: list[str], note: str = "days=14") -> int:
    async with conn.transaction():
        return await reads.record(conn, None, "agency:DRC", ids, note)


async def test_a_read_is_one_record_naming_its_requests_by_digest(
    conn: asyncpg.Connection[Any],
) -> None:
    """However many women a read shows, it appends one chained record; the ids are its
    rows in audit_reads (each once), and both verifications pass."""
    before = await conn.fetchval("select last_id from audit_head")
    first = await read(conn, [f"r{n:06d}" for n in range(70, 0, -1)])
    second = await read(conn, ["r000002", "r000002"], note="")
    assert await conn.fetchval("select last_id from audit_head") == before + 2
    details = [
        r["detail"]
        for r in await conn.fetch("select detail from audit_log where id > $1 order by id", before)
    ]
    assert details == [
        f"read={first},requests=70,sha256={reads.digest([f'r{n:06d}' for n in range(1, 71)])}"
        ",days=14",
        f"read={second},requests=1,sha256={reads.digest(['r000002'])}",
    ]
    assert await conn.fetchval("select count(*) from audit_reads") == 71
    assert (await audit.verify(conn)).ok
    assert await reads.verify(conn) == audit.Verified(ok=True, rows=2)


async def test_a_woman_slipped_into_or_out_of_a_read_is_found(
    conn: asyncpg.Connection[Any],
    dsn: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A row added to a read, or one removed (past the append-only trigger), breaks
    `reads.verify` at that read's record, and `haven audit verify` exits 1 naming it;
    rows cannot be changed or deleted through the table."""
    await read(conn, ["r000001"])
    added = await read(conn, ["r000002", "r000003"])
    row_id = await conn.fetchval("select max(id) from audit_log")
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("delete from audit_reads where read_id = $1", added)
    await conn.execute("insert into audit_reads values ($1, 'r000009')", added)
    found = await reads.verify(conn)
    assert not found.ok and found.broken is not None and found.broken.id == row_id
    assert f"read {added}:" in found.broken.problem
    monkeypatch.setenv("DATABASE_URL", dsn)
    assert await asyncio.to_thread(cli.main, ["audit", "verify"]) == 1
    said = capsys.readouterr()
    assert msgspec.json.decode(said.out)["broken"]["id"] == row_id
    assert f"row {row_id}" in said.err
    await conn.execute("alter table audit_reads disable trigger audit_reads_append_only")
    await conn.execute("delete from audit_reads where request_id in ('r000009', 'r000003')")
    assert (await reads.verify(conn)).broken == found.broken
