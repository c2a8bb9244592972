"""Scheduled matching and the sweep: due regions are matched once per interval, whichever
process gets there first; a region matched recently or being matched is skipped."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import asyncpg
import pytest
from test_placements import planner, request, shelters

from exchange.placements import schedule
from exchange.settings import Settings

SETTINGS = Settings(match_time_limit_s=10, match_workers=1, match_every_s=300)


@pytest.fixture
def solver() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


async def test_due_regions_are_matched_once_per_interval(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """A region with open requests is matched; a second pass within the interval skips it;
    a region whose advisory lock is held (another process matching) is skipped too."""
    await shelters(conn, 2)
    planner_id = await planner(conn)
    await request(conn, planner_id, "A-1")
    assert len(await schedule.match_due_regions(pool, SETTINGS, solver)) == 1
    assert await conn.fetchval("select count(*) from offers") == 1
    await request(conn, planner_id, "A-2")
    assert await schedule.match_due_regions(pool, SETTINGS, solver) == []
    await conn.execute("update matching_runs set finished_at = now() - interval '1 hour'")
    await conn.execute("select pg_advisory_lock(hashtext('haven.match:OH'))")
    assert await schedule.match_due_regions(pool, SETTINGS, solver) == []
    await conn.execute("select pg_advisory_unlock(hashtext('haven.match:OH'))")
    assert len(await schedule.match_due_regions(pool, SETTINGS, solver)) == 1
    assert await conn.fetchval("select count(*) from offers") == 2


async def test_a_region_without_open_requests_is_not_matched(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    await shelters(conn, 1)
    assert await schedule.match_due_regions(pool, SETTINGS, solver) == []
    assert await conn.fetchval("select count(*) from matching_runs") == 0
