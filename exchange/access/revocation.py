"""The registry of open websocket connections, and the sweep that closes revoked ones.

Revoking a token is a database write (possibly from another process or the CLI); every
process polls for revocations among its own open tokens, so a revoked token's
connections close within `interval` seconds wherever they are.

The registry also counts connections per token and per client address, so that one
token or one host cannot hold thousands of sockets: `admit` refuses a shelter token over
its cap, and `enter` (the middleware of `access.caps`) an address over its own, each with
`too_many_connections` (HTTP 429 on the handshake). Caps are per process.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from exchange.access import store
from exchange.errors import DB_ERRORS, HavenError

log = logging.getLogger("haven.connections")

Closer = Callable[[], Awaitable[None]]

WS_REVOKED = 4401
"""Close code sent when a connection's token is revoked."""


class Connections:
    """Open connections by token id, and their count per client address."""

    def __init__(self, *, per_token: int | None = None, per_address: int | None = None) -> None:
        self._open: dict[int, dict[int, Closer]] = {}
        self._next = 0
        self._per_token, self._per_address = per_token, per_address
        self._addresses: Counter[str] = Counter()

    def __len__(self) -> int:
        return sum(len(v) for v in self._open.values())

    def add(self, token_id: int, close: Closer) -> int:
        """Register a connection; `close` is awaited if its token is revoked."""
        self._next += 1
        self._open.setdefault(token_id, {})[self._next] = close
        return self._next

    def admit(self, token_id: int, close: Closer) -> int:
        """`add`, unless the token already holds its cap: then HavenError
        `too_many_connections`, and nothing is registered."""
        held = len(self._open.get(token_id, ()))
        if self._per_token is not None and held >= self._per_token:
            raise HavenError(
                "too_many_connections",
                f"this token already holds {held} open connections (the limit); "
                "close one (an old agent still running?) and retry",
            )
        return self.add(token_id, close)

    def enter(self, address: str) -> None:
        """Count one more websocket from `address`; HavenError `too_many_connections`
        (and nothing counted) when it already holds its cap. Pair with `leave`."""
        if self._per_address is not None and self._addresses[address] >= self._per_address:
            raise HavenError(
                "too_many_connections",
                f"too many open websockets from this address (limit {self._per_address}); "
                "close some and retry",
            )
        self._addresses[address] += 1

    def leave(self, address: str) -> None:
        self._addresses[address] -= 1
        if self._addresses[address] <= 0:
            del self._addresses[address]

    def from_address(self, address: str) -> int:
        """Open websockets counted for a client address."""
        return self._addresses[address]

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
