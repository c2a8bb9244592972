"""Shared fixtures: a real PostgreSQL (DATABASE_URL, or an embedded one), a fresh
migrated database per test, and a real `haven serve` process on demand."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from exchange import db
from exchange.serve import ServerProcess

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def pg_server_dsn(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A PostgreSQL server: DATABASE_URL when set, else an embedded one for this session."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    return db.embedded_url(tmp_path_factory.mktemp("pg"))


async def _admin(dsn: str, *sql: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        for statement in sql:
            await conn.execute(statement)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def template_db(pg_server_dsn: str) -> Iterator[str]:
    """A migrated template database; each test clones it."""
    name = f"haven_tpl_{uuid.uuid4().hex[:10]}"
    asyncio.run(_admin(pg_server_dsn, f"create database {name}"))

    async def migrate() -> None:
        conn = await asyncpg.connect(db.with_database(pg_server_dsn, name))
        try:
            await db.migrate(conn)
        finally:
            await conn.close()

    asyncio.run(migrate())
    yield name
    asyncio.run(_admin(pg_server_dsn, f"drop database if exists {name} with (force)"))


@pytest.fixture
def dsn(pg_server_dsn: str, template_db: str) -> Iterator[str]:
    """A fresh, migrated database for one test."""
    name = f"haven_t_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(pg_server_dsn, f"create database {name} template {template_db}"))
    yield db.with_database(pg_server_dsn, name)
    asyncio.run(_admin(pg_server_dsn, f"drop database if exists {name} with (force)"))


@pytest.fixture
async def conn(dsn: str) -> AsyncIterator[asyncpg.Connection[Any]]:
    c = await asyncpg.connect(dsn)
    try:
        yield c
    finally:
        await c.close()


@pytest.fixture
async def pool(dsn: str) -> AsyncIterator[asyncpg.Pool[Any]]:
    """A connection pool on this test's database."""
    p = await db.create_pool(dsn, min_size=1, max_size=4)
    try:
        yield p
    finally:
        await p.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


Server = ServerProcess
"""A real `haven serve` subprocess (the one helper the demo and benches also use)."""


@pytest.fixture
def serve(dsn: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """Start real servers on this test's database: `serve(env={...}, args=[...])`."""
    started: list[Server] = []

    def start(
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        database: str | None = None,
    ) -> Server:
        port = free_port()
        server = Server(
            database or dsn, port, env=env, args=args, log=tmp_path / f"serve-{port}.log"
        )
        started.append(server)
        return server.start()

    yield start
    for server in started:
        server.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that starts a real server is in the slow tier, marked or not."""
    for item in items:
        if "serve" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
