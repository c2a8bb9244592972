"""The batched write path: reports from every connection, committed a batch at a time.

Handlers `submit` a decoded report and await its outcome. Writer tasks take whatever
is queued (up to `batch_max`, lingering `batch_wait_ms` for more) and commit it in one
transaction: lock the shelters' rows in id order (so concurrent batches, here or in
another process, never deadlock), read last_seq and beds under that lock, let
`beds.report.apply` decide each report, then write beds, shelters and bed events together.
Each future resolves only after its batch commits, so an `applied` ack always follows
its own commit.

Failures: a batch refused by a constraint is retried one report per transaction, so
one bad report cannot sink the others; a database that cannot be reached fails the
batch's futures with `Unavailable` (nothing is acked; the agent resends the same seq and
gets `duplicate` if the commit had in fact landed). The pool reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from exchange.beds import report as core
from exchange.beds import store
from exchange.beds.model import NewEvent, ShelterState
from exchange.beds.store import Conn
from exchange.errors import Unavailable
from schema.wire import Ack, Error, Report

log = logging.getLogger("haven.ingest")

COMMIT_TIMEOUT_S = 10.0
"""A batch that has not committed by then is failed as Unavailable (and may be resent)."""


class _Item:
    __slots__ = ("future", "report", "shelter_id")

    def __init__(
        self,
        shelter_id: str,
        report: Report | core.Unnumbered,
        future: asyncio.Future[Ack | Error],
    ) -> None:
        self.shelter_id, self.report, self.future = shelter_id, report, future


BatchObserver = Callable[[int, float], None]
"""Told each committed batch's size and its seconds from acquiring a connection to commit."""


class Writer:
    """The queue of submitted reports and the tasks that commit them in batches."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        batch_max: int = 256,
        batch_wait_ms: float = 2.0,
        tasks: int = 2,
        observe: BatchObserver | None = None,
    ) -> None:
        self._pool = pool
        self._batch_max = max(1, batch_max)
        self._wait = max(0.0, batch_wait_ms) / 1000
        self._tasks = max(1, tasks)
        self._observe = observe
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._in_flight = 0
        self.batches = 0
        """Transactions committed (for tests and the benchmark)."""

    async def submit(self, shelter_id: str, report: Report | core.Unnumbered) -> Ack | Error:
        """Queue a report; its ack (after commit) or error. Raises Unavailable.

        An `Unnumbered` report is numbered in its batch's transaction, under the lock.
        """
        future: asyncio.Future[Ack | Error] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Item(shelter_id, report, future))
        return await future

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Writer]:
        """Commit in the background while open; on exit, finish what is queued."""
        workers = [
            asyncio.create_task(self._run(), name=f"ingest-writer-{n}") for n in range(self._tasks)
        ]
        try:
            yield self
        finally:
            deadline = time.monotonic() + COMMIT_TIMEOUT_S
            while (self._in_flight or not self._queue.empty()) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if not item.future.done():
                    item.future.set_exception(Unavailable("the exchange is shutting down"))

    async def _run(self) -> None:
        lease = _Lease(self._pool)
        try:
            while True:
                batch = await self._take()
                self._in_flight += 1
                try:
                    await self._settle(batch, lease)
                except BaseException as exc:
                    # Whatever escaped (even a stray CancelledError from the driver), no
                    # report may wait forever: fail what is left, and keep the writer alive
                    # unless this task itself is being cancelled.
                    _fail(batch, exc)
                    task = asyncio.current_task()
                    if task is not None and task.cancelling():
                        raise
                    log.exception("ingest writer error; continuing")
                    await lease.drop()
                finally:
                    self._in_flight -= 1
        finally:
            await lease.give_back()

    async def _take(self) -> list[_Item]:
        """The next batch: what is queued now, plus what arrives while lingering (if set)."""
        batch = [await self._queue.get()]
        self._drain(batch)
        if self._wait and len(batch) < self._batch_max:
            await asyncio.sleep(self._wait)
            self._drain(batch)
        return [i for i in batch if not i.future.cancelled()]

    def _drain(self, batch: list[_Item]) -> None:
        while len(batch) < self._batch_max and not self._queue.empty():
            batch.append(self._queue.get_nowait())

    async def _settle(self, batch: list[_Item], lease: _Lease) -> None:
        """Commit a batch and resolve every future in it, whatever happens."""
        if not batch:
            return
        try:
            outcomes = await self._commit_with_retry(batch, lease)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            if len(batch) == 1:
                outcomes = [_refused(batch[0], exc)]
            else:
                log.warning(
                    "batch refused by a constraint; retrying one by one",
                    extra={"reports": len(batch)},
                )
                for item in batch:
                    await self._settle([item], lease)
                return
        except Exception as exc:  # the database is unreachable or failed mid-commit
            _fail(batch, exc)
            log.warning(
                "batch not committed", extra={"reports": len(batch), "error": type(exc).__name__}
            )
            await lease.drop()
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)

    async def _commit_with_retry(self, batch: list[_Item], lease: _Lease) -> list[Ack | Error]:
        try:
            return await self._commit(batch, lease)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            # Another writer (a hold, another process) crossed our locks; once more is enough.
            return await self._commit(batch, lease)

    async def _commit(self, batch: list[_Item], lease: _Lease) -> list[Ack | Error]:
        async with asyncio.timeout(COMMIT_TIMEOUT_S):
            conn = await lease.connection()
            started = time.perf_counter()
            async with store.committing(conn) as outbox:
                outcomes = await _write(conn, outbox, batch)
        self.batches += 1
        if self._observe is not None:
            self._observe(len(batch), time.perf_counter() - started)
        return outcomes


class _Lease:
    """The pooled connection a writer task keeps between batches.

    Keeping it saves the pool's acquire and per-release reset (a round trip) on every
    batch; after a failure it is terminated, and the next batch leases a fresh one.
    """

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool
        self._conn: asyncpg.pool.PoolConnectionProxy[Any] | None = None

    async def connection(self) -> asyncpg.pool.PoolConnectionProxy[Any]:
        if self._conn is None:
            self._conn = await self._pool.acquire()
        return self._conn

    async def drop(self) -> None:
        """Discard the connection: its state is unknown after a failure."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        # A connection that died has often been taken back by the pool already, and then
        # refuses terminate() and release(); either way, never wait long on it.
        with contextlib.suppress(Exception):
            conn.terminate()
        with contextlib.suppress(Exception):
            async with asyncio.timeout(1):
                await self._pool.release(conn)

    async def give_back(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                await asyncio.shield(self._pool.release(conn))


async def _write(conn: Conn, outbox: store.Outbox, batch: list[_Item]) -> list[Ack | Error]:
    """Decide and write every report of a batch inside the caller's transaction."""
    states: dict[str, ShelterState] = await store.lock_states(conn, [i.shelter_id for i in batch])
    outcomes: list[Ack | Error] = []
    new_events: list[NewEvent] = []
    for item in batch:
        current = states.get(item.shelter_id)
        if current is None:
            outcomes.append(
                core.error(
                    _seq(item), "unknown_shelter", f"shelter {item.shelter_id} is not registered"
                )
            )
            continue
        report = item.report
        if isinstance(report, core.Unnumbered):
            numbered = core.number(current, report)
            if isinstance(numbered, Error):
                outcomes.append(numbered)
                continue
            report = numbered
        outcome = core.apply(current, report)
        if isinstance(outcome, core.Applied):
            states[item.shelter_id] = outcome.state
            new_events.append(outcome.event)
            outcomes.append(outcome.ack)
        else:
            outcomes.append(outcome)
    if new_events:
        await store.write_reports(conn, outbox, states, new_events)
    return outcomes


def _fail(batch: list[_Item], exc: BaseException) -> None:
    for item in batch:
        if not item.future.done():
            item.future.set_exception(Unavailable(f"database unavailable ({type(exc).__name__})"))


def _refused(item: _Item, exc: Exception) -> Error:
    log.warning(
        "report refused by the database",
        extra={"shelter": item.shelter_id, "error": type(exc).__name__},
    )
    return core.error(
        _seq(item), "invalid_report", f"refused by the database: {type(exc).__name__}"
    )


def _seq(item: _Item) -> int | None:
    return item.report.seq if isinstance(item.report, Report) else None
