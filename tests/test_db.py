"""Migrations: ordered, idempotent, safe when two processes start at once."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import pytest

from exchange import db


async def test_migrate_is_idempotent(conn: asyncpg.Connection[Any]) -> None:
    """A second migrate on a current database applies nothing."""
    assert await db.migrate(conn) == []
    assert await db.pending(conn) == []


async def test_concurrent_migrate_applies_each_file_once(pg_server_dsn: str) -> None:
    """Two migrators racing on an empty database apply every file exactly once."""
    name = "haven_race_" + str(id(object()))
    admin = await asyncpg.connect(pg_server_dsn)
    await admin.execute(f"create database {name}")
    try:
        url = db.with_database(pg_server_dsn, name)
        a, b = await asyncpg.connect(url), await asyncpg.connect(url)
        try:
            applied = await asyncio.gather(db.migrate(a), db.migrate(b))
            names = [m.name for m in db.migrations()]
            assert sorted(applied[0] + applied[1]) == sorted(names)
            assert await db.pending(a) == []
        finally:
            await a.close()
            await b.close()
    finally:
        await admin.execute(f"drop database {name} with (force)")
        await admin.close()


def test_misnamed_migration_is_refused(tmp_path: Any) -> None:
    """A migration file not named NNN_words.sql stops the migrator."""
    (tmp_path / "1_bad.sql").write_text("select 1")
    with pytest.raises(db.MigrationError, match=r"1_bad\.sql"):
        db.migrations(tmp_path)


async def test_bed_invariants_are_enforced_by_the_database(conn: asyncpg.Connection[Any]) -> None:
    """CHECK constraints refuse negative counts and occupied + out_of_service > total."""
    await conn.execute(
        "insert into shelters (id, name, region, lat, lon) values ('s00001', 'x', 'OH', 40, -83)"
    )
    await conn.execute(
        "insert into beds (shelter_id, bed_type, total) values ('s00001', 'single', 5)"
    )
    for sql in (
        "update beds set occupied = 4, out_of_service = 2",
        "update beds set held = -1",
        "update beds set total = -1",
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(sql)
