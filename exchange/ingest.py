"""The batched write path: reports from every connection, committed a batch at a time.

Handlers `submit` a decoded report and await its outcome. Writer tasks take whatever
is queued (up to `batch_max`, lingering `batch_wait_ms` for more) and commit it in one
transaction: lock the shelters' rows in id order (so concurrent batches, here or in
another process, never deadlock), read last_seq and beds under that lock, let
`board.apply` decide each report, then write beds, shelters and bed events together.
Each future resolves only after its batch commits, so an `applied` ack always follows
its own commit.

Failures: a batch refused by a constraint is retried one report per transaction, so
one bad report cannot sink the others; a database that cannot be reached fails the
batch's futures with `Unavailable` (nothing is acked; the agent resends the same seq and
gets `duplicate` if the commit had in fact landed). The pool reconnects by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from exchange import board, events
from exchange.events import BedState
from schema.wire import Ack, Error, Report

log = logging.getLogger("haven.ingest")

COMMIT_TIMEOUT_S = 10.0
"""A batch that has not committed by then is failed as Unavailable (and may be resent)."""


class Unavailable(Exception):
    """The database could not be reached; the report was not acknowledged — resend it."""


class _Item:
    __slots__ = ("future", "report", "shelter_id")

    def __init__(
        self, shelter_id: str, report: Report, future: asyncio.Future[Ack | Error]
    ) -> None:
        self.shelter_id, self.report, self.future = shelter_id, report, future


_LOCK_SHELTERS = """
select id, last_seq from shelters where id = any($1::text[]) order by id for update
"""
_LOCK_BEDS = """
select shelter_id, bed_type, total, occupied, out_of_service, held
from beds where shelter_id = any($1::text[]) order by shelter_id, bed_type for update
"""
_WRITE_BEDS = """
update beds b set total = u.total, occupied = u.occupied, out_of_service = u.out_of_service
from unnest($1::text[], $2::text[], $3::int[], $4::int[], $5::int[])
     as u (shelter_id, bed_type, total, occupied, out_of_service)
where b.shelter_id = u.shelter_id and b.bed_type = u.bed_type
"""
_WRITE_SHELTERS = """
update shelters s set last_seq = u.last_seq, last_report_at = now()
from unnest($1::text[], $2::bigint[]) as u (id, last_seq)
where s.id = u.id
"""

Observer = Callable[[Sequence[Ack | Error]], None]


class Writer:
    """The queue of submitted reports and the tasks that commit them in batches."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        batch_max: int = 256,
        batch_wait_ms: float = 2.0,
        tasks: int = 2,
        observe: Observer | None = None,
    ) -> None:
        self._pool = pool
        self._batch_max = max(1, batch_max)
        self._wait = max(0.0, batch_wait_ms) / 1000
        self._tasks = max(1, tasks)
        self._observe = observe
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self.batches = 0
        """Transactions committed (for tests and the benchmark)."""

    async def submit(self, shelter_id: str, report: Report) -> Ack | Error:
        """Queue a report; its ack (after commit) or error. Raises Unavailable."""
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
            while not self._queue.empty() and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
            while not self._queue.empty():
                item = self._queue.get_nowait()
                if not item.future.done():
                    item.future.set_exception(Unavailable("the exchange is shutting down"))

    async def _run(self) -> None:
        while True:
            batch = await self._take()
            await self._settle(batch)

    async def _take(self) -> list[_Item]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self._wait
        while len(batch) < self._batch_max:
            try:
                batch.append(self._queue.get_nowait())
                continue
            except asyncio.QueueEmpty:
                pass
            left = deadline - time.monotonic()
            if left <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), left))
            except TimeoutError:
                break
        return [i for i in batch if not i.future.cancelled()]

    async def _settle(self, batch: list[_Item]) -> None:
        """Commit a batch and resolve every future in it, whatever happens."""
        if not batch:
            return
        try:
            outcomes = await self._commit_with_retry(batch)
        except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as exc:
            if len(batch) == 1:
                outcomes = [_refused(batch[0], exc)]
            else:
                log.warning(
                    "batch refused by a constraint; retrying one by one",
                    extra={"reports": len(batch)},
                )
                for item in batch:
                    await self._settle([item])
                return
        except Exception as exc:  # the database is unreachable or failed mid-commit
            log.warning(
                "batch not committed", extra={"reports": len(batch), "error": type(exc).__name__}
            )
            for item in batch:
                if not item.future.done():
                    item.future.set_exception(
                        Unavailable(f"database unavailable ({type(exc).__name__})")
                    )
            return
        for item, outcome in zip(batch, outcomes, strict=True):
            if not item.future.done():
                item.future.set_result(outcome)
        if self._observe is not None:
            self._observe(outcomes)

    async def _commit_with_retry(self, batch: list[_Item]) -> list[Ack | Error]:
        try:
            return await self._commit(batch)
        except (asyncpg.DeadlockDetectedError, asyncpg.SerializationError):
            # Another writer (a hold, another process) crossed our locks; once more is enough.
            return await self._commit(batch)

    async def _commit(self, batch: list[_Item]) -> list[Ack | Error]:
        async with asyncio.timeout(COMMIT_TIMEOUT_S), self._pool.acquire() as conn:
            async with conn.transaction():
                outcomes, new_events = await _write(conn, batch)
            self.batches += 1
            if new_events:
                try:
                    await events.notify(conn, new_events[-1])
                except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError):
                    # Committed is committed: listeners also poll, so a lost wake-up only delays them.
                    log.warning("notify after commit failed")
        return outcomes


async def _write(
    conn: asyncpg.Connection[Any], batch: list[_Item]
) -> tuple[list[Ack | Error], list[int]]:
    """Decide and write every report of a batch inside the caller's transaction."""
    ids = sorted({i.shelter_id for i in batch})
    last = {r["id"]: int(r["last_seq"]) for r in await conn.fetch(_LOCK_SHELTERS, ids)}
    beds: dict[str, dict[str, BedState]] = {sid: {} for sid in last}
    for r in await conn.fetch(_LOCK_BEDS, ids):
        beds[r["shelter_id"]][r["bed_type"]] = BedState(
            total=r["total"],
            occupied=r["occupied"],
            out_of_service=r["out_of_service"],
            held=r["held"],
        )
    states = {
        sid: board.ShelterState(shelter_id=sid, last_seq=seq, beds=beds[sid])
        for sid, seq in last.items()
    }
    outcomes: list[Ack | Error] = []
    new_events: list[events.NewEvent] = []
    touched: set[tuple[str, str]] = set()
    for item in batch:
        state = states.get(item.shelter_id)
        if state is None:
            outcomes.append(
                board.error(
                    item.report.seq,
                    "unknown_shelter",
                    f"shelter {item.shelter_id} is not registered",
                )
            )
            continue
        outcome = board.apply(state, item.report)
        if isinstance(outcome, board.Applied):
            states[item.shelter_id] = outcome.state
            new_events.append(outcome.event)
            touched.update((item.shelter_id, t) for t in outcome.event.beds)
            outcomes.append(outcome.ack)
        else:
            outcomes.append(outcome)
    if not new_events:
        return outcomes, []
    rows = sorted(touched)
    final = [states[s].beds[t] for s, t in rows]
    await conn.execute(
        _WRITE_BEDS,
        [s for s, _ in rows],
        [t for _, t in rows],
        [b.total for b in final],
        [b.occupied for b in final],
        [b.out_of_service for b in final],
    )
    changed = sorted({e.shelter_id for e in new_events})
    await conn.execute(_WRITE_SHELTERS, changed, [states[s].last_seq for s in changed])
    return outcomes, await events.append(conn, new_events)


def _refused(item: _Item, exc: Exception) -> Error:
    log.warning(
        "report refused by the database",
        extra={"shelter": item.shelter_id, "error": type(exc).__name__},
    )
    return board.error(
        item.report.seq, "invalid_report", f"refused by the database: {type(exc).__name__}"
    )
