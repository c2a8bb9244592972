"""The placements' background work in every process: expiry and no-show sweeps, scheduled
matching runs, and the release-day sweep (alerts, the regions' daily figures, the
retention purge).

All are safe with several processes: the sweep settles each offer in its own
transaction and skips one settled elsewhere; a scheduled run skips a region matched
within the interval (by any process) or being matched now (its advisory lock); the alert
sweep runs in one process at a time (its advisory lock).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from exchange.board import store as board_store
from exchange.errors import DB_ERRORS, HavenError
from exchange.placements import alerts, offers, purge, requests, runs, store
from exchange.settings import Settings

log = logging.getLogger("haven.schedule")


async def sweep_once(pool: asyncpg.Pool[Any], settings: Settings) -> dict[str, int]:
    async with pool.acquire() as conn:
        done = await offers.sweep(conn, grace_days=settings.no_show_grace_days)
    if any(done.values()):
        log.info("offers swept", extra=done)
    return done


async def match_due_regions(
    pool: asyncpg.Pool[Any], settings: Settings, executor: Executor
) -> list[int]:
    """Run matching for every region with open requests not matched within the interval."""
    horizon = dt.date.today() + dt.timedelta(days=settings.match_horizon_days)
    done: list[int] = []
    for region in await store.regions_with_open_requests(pool, horizon):
        if await store.ran_recently(pool, region, settings.match_every_s * 0.9):
            continue
        try:
            result = await runs.run(pool, settings, executor, [region], token_id=None)
        except HavenError as exc:
            if exc.code != "run_in_progress":
                raise
            continue
        log.info(
            "scheduled matching run",
            extra={"run": result.id, "region": region, "offers": result.offers},
        )
        done.append(result.id)
    return done


async def release_sweep(
    pool: asyncpg.Pool[Any], settings: Settings, *, now: dt.datetime | None = None
) -> bool:
    """Announce changed alerts, record today's figures of every region, then purge what
    retention no longer keeps, in one process at a time; whether this process did."""
    now = now or dt.datetime.now(dt.UTC)
    if await alerts.sweep(pool, requests.policy(settings), now=now) is None:
        return False
    async with pool.acquire() as conn:
        await board_store.record_day(
            conn,
            day=now.date(),
            fresh_since=now - dt.timedelta(seconds=settings.stale_after_s),
            horizon=now.date() + dt.timedelta(days=settings.match_horizon_days),
        )
    purged = await purge.purge(
        pool,
        days=settings.retention_days,
        stay_days=settings.stay_days,
        now=now,
        limit=purge.BATCH,
    )
    if purged is not None and purged.requests:
        log.info("requests purged", extra={"requests": len(purged.requests)})
    return True


@asynccontextmanager
async def running(
    pool: asyncpg.Pool[Any], settings: Settings, executor: Executor
) -> AsyncIterator[None]:
    """Sweep and run scheduled matching in the background while the context is open."""

    async def every(seconds: float, what: str, job: Any) -> None:
        while True:
            await asyncio.sleep(seconds)
            try:
                await job()
            except DB_ERRORS as exc:
                log.warning(f"{what} failed", extra={"error": type(exc).__name__})
            except Exception:
                log.exception(f"{what} failed; continuing")

    tasks = [
        asyncio.create_task(
            every(settings.sweep_every_s, "offer sweep", lambda: sweep_once(pool, settings)),
            name="offer-sweep",
        )
    ]
    tasks.append(
        asyncio.create_task(
            every(settings.alert_every_s, "alert sweep", lambda: release_sweep(pool, settings)),
            name="alert-sweep",
        )
    )
    if settings.match_every_s > 0:
        tasks.append(
            asyncio.create_task(
                every(
                    settings.match_every_s,
                    "scheduled matching",
                    lambda: match_due_regions(pool, settings, executor),
                ),
                name="scheduled-matching",
            )
        )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*tasks, return_exceptions=True)
