"""Fan-out across processes: one event reader per process feeds the live board and hub.

The `bed_events` table is the truth. `LISTEN haven_events` on a dedicated connection is
only a wake-up (writers NOTIFY after commit); a poll every `poll_s` reads the table
anyway, so a lost or silent listener costs at most `poll_s` of latency. The listener
reconnects on its own and every (re)connect triggers a catch-up. Should this process fall
so far behind that the events it needs were pruned, it reloads the board from the beds
table instead. Old events beyond `keep` are pruned now and then.

While a catch-up fails (the database is down, unreachable, or does not answer within
`CATCH_UP_TIMEOUT_S`), the fan-out is `degraded` and says so through `on_status`; the first
catch-up that succeeds again clears it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast

import asyncpg

from exchange import db
from exchange.beds import store
from exchange.beds.model import Event
from exchange.board import board as live
from exchange.board.hub import Hub, restale_interval
from exchange.errors import DB_ERRORS
from exchange.settings import Settings

log = logging.getLogger("haven.fanout")

BATCH = 5_000
"""Events read per query while catching up."""

LISTENER_NAME = "haven-listener"
"""`application_name` of the listener connection (operators and tests can find it)."""

CATCH_UP_TIMEOUT_S = 5.0
"""A catch-up that takes longer has failed: the database is not answering."""


class Fanout:
    """Reads committed events into `board` and reports the regions they changed."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool[Any],
        board: live.Board,
        on_change: Callable[[set[str]], None],
        *,
        poll_s: float = 1.0,
        keep: int = 100_000,
        prune_every_s: float = 60.0,
        ping_every_s: float = 15.0,
        on_events: Callable[[list[Event]], None] | None = None,
        on_status: Callable[[bool], None] | None = None,
    ) -> None:
        self._dsn, self._pool, self._board, self._on_change = dsn, pool, board, on_change
        self._on_events = on_events
        """Also told every batch of committed events (offers reach shelters this way)."""
        self._poll_s, self._keep = poll_s, keep
        self._prune_every_s, self._ping_every_s = prune_every_s, ping_every_s
        self._wake = asyncio.Event()
        self.listening = False
        """Whether the listener connection is up (for readiness and tests)."""
        self.reloads = 0
        self._on_status = on_status
        self.degraded = False
        """Whether the last catch-up failed (told to `on_status` when it changes)."""

    async def catch_up(self) -> set[str]:
        """Apply every committed event after the board's seq; tell `on_change` what changed."""
        changed: set[str] = set()
        while True:
            batch = await store.since(self._pool, self._board.seq, BATCH)
            if batch and batch[0].seq != self._board.seq + 1:
                # The events between were pruned (or their shelter deleted): rebuild.
                changed |= await self.reload()
                continue
            for event in batch:
                changed |= self._board.apply(event)
            if batch and self._on_events is not None:
                self._on_events(batch)
            if len(batch) < BATCH:
                break
        if changed:
            self._on_change(changed)
        return changed

    async def reload(self) -> set[str]:
        """Rebuild the board from the beds table; return every region it knew or knows."""
        self.reloads += 1
        async with self._pool.acquire() as conn:
            loaded = await store.load_board(cast("asyncpg.Connection[Any]", conn))
        regions = live.load(self._board, loaded)
        log.info("board reloaded", extra={"seq": self._board.seq, "regions": len(regions)})
        return regions

    async def prune(self) -> None:
        """Drop events beyond `keep`; clients resuming from before them get a snapshot."""
        await store.prune(self._pool, self._keep)
        oldest = await store.oldest(self._pool)
        if oldest is not None:
            self._board.floor = max(self._board.floor, oldest - 1)

    async def _read_loop(self) -> None:
        last_prune = time.monotonic()
        while True:
            # asyncio.timeout, never wait_for: on Python 3.11 wait_for loses a cancel that
            # lands as the event is set, and the stop then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()
            try:
                async with asyncio.timeout(CATCH_UP_TIMEOUT_S):
                    await self.catch_up()
            except DB_ERRORS as exc:
                log.warning("event catch-up failed", extra={"error": type(exc).__name__})
                self._set_degraded(True)
                continue
            except Exception:  # never let one surprise end the reader (and the status)
                log.exception("event catch-up failed unexpectedly")
                self._set_degraded(True)
                continue
            self._set_degraded(False)
            if time.monotonic() - last_prune >= self._prune_every_s:
                last_prune = time.monotonic()
                try:
                    # Bounded like the catch-up: a prune caught by the database going away
                    # can wait on the pool for long, and this loop is what says `degraded`.
                    async with asyncio.timeout(CATCH_UP_TIMEOUT_S):
                        await self.prune()
                except DB_ERRORS as exc:
                    log.warning("event prune failed", extra={"error": type(exc).__name__})
                except Exception:
                    log.exception("event prune failed unexpectedly")

    def _set_degraded(self, degraded: bool) -> None:
        if degraded != self.degraded:
            self.degraded = degraded
            if self._on_status is not None:
                self._on_status(degraded)

    def _listening(self, now: bool) -> None:
        self.listening = now
        self._wake.set()  # catch up on whatever happened while not listening

    async def _listen_loop(self) -> None:
        await db.listen(
            self._dsn,
            LISTENER_NAME,
            {store.CHANNEL: lambda *_: self._wake.set()},
            self._listening,
            ping_every_s=self._ping_every_s,
            lost_message="event listener lost",
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Fanout]:
        """Catch up once, then keep reading in the background while the context is open."""
        await self.catch_up()
        tasks = [
            asyncio.create_task(self._listen_loop(), name="fanout-listen"),
            asyncio.create_task(self._read_loop(), name="fanout-read"),
        ]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)


@asynccontextmanager
async def running(
    settings: Settings,
    dsn: str,
    pool: asyncpg.Pool[Any],
    on_events: Callable[[list[Event]], None] | None = None,
) -> AsyncIterator[Hub]:
    """Load the board, start the fan-out and the staleness ticker; yield the hub.
    `on_events` is told every batch of committed events as well."""
    board = live.Board(
        stale_after=timedelta(seconds=settings.stale_after_s),
        min_shelters=settings.min_region_shelters,
        interval=timedelta(seconds=settings.confidential_interval_s),
    )
    hub = Hub(
        board,
        coalesce_s=settings.coalesce_ms / 1000,
        interval_s=settings.confidential_interval_s,
    )
    async with pool.acquire() as conn:
        live.load(board, await store.load_board(cast("asyncpg.Connection[Any]", conn)))
    fanout = Fanout(
        dsn,
        pool,
        board,
        hub.changed,
        keep=settings.history_events,
        on_events=on_events,
        on_status=hub.status,
    )

    async def tick() -> None:
        interval = restale_interval(settings.stale_after_s)
        while True:
            await asyncio.sleep(interval)
            hub.restale()

    async with fanout.running():
        ticker = asyncio.create_task(tick(), name="dashboard-restale")
        try:
            yield hub
        finally:
            ticker.cancel()
            hub.close()
