"""Shared fixtures: a real PostgreSQL (DATABASE_URL, or an embedded one), a fresh
migrated database per test, and a real `haven serve` process on demand."""

from __future__ import annotations

import asyncio
import os
import queue
import re
import socket
import threading
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
    url = db.embedded_url(tmp_path_factory.mktemp("pg"))
    # This server lives only for the session, in its own directory: durability buys the
    # tests nothing, and every test clones a database, which otherwise waits on fsync.
    asyncio.run(
        _admin(
            url,
            "alter system set fsync = off",
            "alter system set synchronous_commit = off",
            "alter system set full_page_writes = off",
            "select pg_reload_conf()",
        )
    )
    return url


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


class Databases:
    """Fresh databases cloned from the template a couple ahead of the tests by a
    background thread, and dropped behind them, so a test seldom waits for either."""

    AHEAD = 3
    MAKERS = 2

    def __init__(self, server_dsn: str, template: str) -> None:
        self._server_dsn, self._template = server_dsn, template
        self._ready: queue.Queue[str] = queue.Queue(maxsize=self.AHEAD)
        self._making = 0
        self._doomed: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._failed: BaseException | None = None
        self._thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self._thread.start()

    def take(self) -> str:
        """The name of a fresh, migrated database, for one test only."""
        while True:
            try:
                return self._ready.get(timeout=0.5)
            except queue.Empty:
                if self._failed is not None or not self._thread.is_alive():
                    raise RuntimeError("test databases cannot be made") from self._failed

    def discard(self, name: str) -> None:
        self._doomed.put(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(60)

    def _work(self) -> None:
        try:
            asyncio.run(self._loop())
        except BaseException as exc:  # surfaced by take()
            self._failed = exc

    async def _drop(self, conn: asyncpg.Connection[Any]) -> None:
        while not self._doomed.empty():
            await conn.execute(f"drop database if exists {self._doomed.get()} with (force)")

    async def _loop(self) -> None:
        # Two at a time: a clone spends most of its ~0.25 s waiting inside the server, and
        # two connections make them twice as fast (four, no faster).
        conns = [await asyncpg.connect(self._server_dsn) for _ in range(self.MAKERS)]
        try:
            await asyncio.gather(*(self._make(conn) for conn in conns))
            while not self._ready.empty():
                self._doomed.put(self._ready.get())
            await self._drop(conns[0])
        finally:
            for conn in conns:
                await conn.close()

    async def _make(self, conn: asyncpg.Connection[Any]) -> None:
        while not self._stop.is_set():
            if self._ready.qsize() + self._making >= self.AHEAD:
                await self._drop(conn)
                await asyncio.sleep(0.002)
                continue
            self._making += 1
            try:
                name = f"haven_t_{uuid.uuid4().hex[:12]}"
                await conn.execute(f"create database {name} template {self._template}")
            finally:
                self._making -= 1
            self._ready.put_nowait(name)


@pytest.fixture(scope="session")
def databases(pg_server_dsn: str, template_db: str) -> Iterator[Databases]:
    made = Databases(pg_server_dsn, template_db)
    yield made
    made.close()


@pytest.fixture
def dsn(pg_server_dsn: str, databases: Databases) -> Iterator[str]:
    """A fresh, migrated database for one test (made ahead, dropped behind)."""
    name = databases.take()
    yield db.with_database(pg_server_dsn, name)
    databases.discard(name)


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


SLOW_MODULE = re.compile(r"^pytestmark = pytest\.mark\.slow\s*(#.*)?$", re.MULTILINE)


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """The fast tier (`-m "not slow"`) does not even import a module that is slow as a
    whole: importing the six took 2.5 s of its collection (the API fuzz module builds
    every case from the app's OpenAPI document)."""
    if config.getoption("markexpr") != "not slow" or collection_path.suffix != ".py":
        return None
    if collection_path.name.startswith("test_") and SLOW_MODULE.search(collection_path.read_text()):
        return True
    return None
