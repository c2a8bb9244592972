"""A region's daily history on a real database: the release-day sweep records each day's
supply and demand, overwriting the day as it goes; each view sees it under the dashboard's
rules (small demand counts null for viewers, thin days suppressed)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
from test_placements import planner, request

from exchange.beds import registry
from exchange.board import history, store
from exchange.placements import schedule
from exchange.settings import Settings
from schema.registry import NewShelter
from schema.wire import BedTotals, Demand

SETTINGS = Settings()


async def shelters(conn: asyncpg.Connection[Any], fresh: int, stale: int = 0) -> None:
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(name=f"S{i}", region="OH", lat=40, lon=-83 + i / 10, beds={"single": 4})
            for i in range(fresh + stale)
        ],
    )
    ids = [i for i, _ in added]
    await conn.execute("update shelters set last_report_at = now() where id = any($1)", ids[:fresh])
    await conn.execute("update beds set reported = true where shelter_id = any($1)", ids[:fresh])


async def test_each_day_keeps_its_last_figures_and_views_see_them_by_the_rules(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Three contributing shelters (one stale besides) and four open requests, one far
    off: yesterday's and today's rows; admins see every count, viewers the beds and the
    counts of three or more, nulls for the rest."""
    await shelters(conn, fresh=3, stale=1)
    drc = await planner(conn)
    for i in range(3):
        await request(conn, drc, f"A-{i}")
    far = (dt.date.today() + dt.timedelta(days=60)).isoformat()
    await request(conn, drc, "A-far", release_date=far)
    now = dt.datetime.now(dt.UTC)
    assert await schedule.release_sweep(pool, SETTINGS, now=now - dt.timedelta(days=1))
    await request(conn, drc, "A-late")
    assert await schedule.release_sweep(pool, SETTINGS, now=now)
    assert await schedule.release_sweep(pool, SETTINGS, now=now)  # the day is overwritten
    rows = await store.days(conn, "OH", now.date() - dt.timedelta(days=29))
    assert [(r.day, r.open, r.unplaced) for r in rows] == [
        (now.date() - dt.timedelta(days=1), 4, 3),
        (now.date(), 5, 4),
    ]
    today = rows[-1]
    assert (today.shelters, today.contributing, today.confidential) == (4, 3, False)
    admin = history.shown(today, "admin", 3)
    assert admin.beds == {"single": BedTotals(total=12, available=12)}
    assert admin.demand == Demand(open=5, offered=0, accepted=0, unplaced=4)
    viewer = history.shown(today, "viewer", 3)
    assert viewer.beds == admin.beds
    assert viewer.demand == Demand(open=5, offered=None, accepted=None, unplaced=4)


async def test_a_thin_day_is_suppressed_for_viewers_and_a_confidential_one_for_planners(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Two contributing shelters: viewers get the date only; with one of them
    confidential, planners too; admins always the figures."""
    await shelters(conn, fresh=2)
    assert await schedule.release_sweep(pool, SETTINGS)
    [row] = await store.days(conn, "OH", dt.date.today() - dt.timedelta(days=1))
    assert history.shown(row, "viewer", 3).beds is None
    assert history.shown(row, "viewer", 3).suppressed
    assert not history.shown(row, "planner", 3).suppressed
    await conn.execute("update shelters set confidential = true where name = 'S0'")
    assert await schedule.release_sweep(pool, SETTINGS)
    [row] = await store.days(conn, "OH", dt.date.today() - dt.timedelta(days=1))
    shown = history.shown(row, "planner", 3)
    assert shown.suppressed and shown.demand is None and shown.shelters is None
    assert not history.shown(row, "admin", 3).suppressed


async def test_a_bed_type_never_reported_is_not_supply(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Registered beds of a type no report named are neither total nor available in the
    day's figures, as on the live board."""
    await shelters(conn, fresh=3)
    await registry.add_shelters(
        conn,
        [NewShelter(name="F", region="OH", lat=40, lon=-83, beds={"single": 2, "family": 5})],
    )
    await conn.execute(
        "update shelters set last_report_at = now() where name = 'F';"
        " update beds set reported = true where bed_type = 'single'"
    )
    assert await schedule.release_sweep(pool, SETTINGS)
    [row] = await store.days(conn, "OH", dt.date.today() - dt.timedelta(days=1))
    assert history.shown(row, "admin", 3).beds == {"single": BedTotals(total=14, available=14)}
