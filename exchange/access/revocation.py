"""The registry of open websocket connections, and the sweep that closes revoked ones.

Revoking a token is a database write (possibly from another process or the CLI); every
process polls for revocations among its own open tokens, so a revoked token's
connections close within `interval` seconds wherever they are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from exchange.access import store
from exchange.errors import DB_ERRORS

log = logging.getLogger("haven.connections")

Closer = Callable[[], Awaitable[None]]

WS_REVOKED = 4401
"""Close code sent when a connection's token is revoked."""


class Connections:
    """Open connections by token id; owns nothing but the map and the sweep."""

    def __init__(self) -> None:
        self._open: dict[int, dict[int, Closer]] = {}
        self._next = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self._open.values())

    def add(self, token_id: int, close: Closer) -> int:
        """Register a connection; `close` is awaited if its token is revoked."""
        self._next += 1
        self._open.setdefault(token_id, {})[self._next] = close
        return self._next

    def remove(self, token_id: int, handle: int) -> None:
        conns = self._open.get(token_id)
        if conns is not None:
            conns.pop(handle, None)
            if not conns:
                del self._open[token_id]

    async def close_revoked(self, pool: asyncpg.Pool[Any]) -> int:
        """Close every connection whose token has been revoked; return how many."""
        if not self._open:
            return 0
        revoked = await store.revoked_among(pool, list(self._open))
        closers = [c for t in revoked for c in self._open.pop(t, {}).values()]
        await asyncio.gather(*(c() for c in closers), return_exceptions=True)
        if closers:
            log.info("closed connections of revoked tokens", extra={"connections": len(closers)})
        return len(closers)

    @asynccontextmanager
    async def sweeping(self, pool: asyncpg.Pool[Any], interval: float = 1.0) -> AsyncIterator[None]:
        """Run the revocation sweep in the background while the context is open."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(interval)
                try:
                    await self.close_revoked(pool)
                except DB_ERRORS as exc:
                    log.warning("revocation sweep failed", extra={"error": type(exc).__name__})

        task = asyncio.create_task(loop(), name="revocation-sweep")
        try:
            yield
        finally:
            task.cancel()
