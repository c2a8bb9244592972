"""A matching run inside the exchange: build the problem, solve off the event loop, write
the offers that hold beds.

Steps, each timed: under the regions' advisory locks (one run per region at a time,
across every process), read shelters, open requests and residents at one instant and
build the problem (`rules.build_problem`); solve it in the executor (a process pool by
default, so the matcher's Python work never holds this process's GIL); then, in one
transaction, re-check each assignment under lock — the request still open, the shelter
still fresh, a bed of her type still available — and write the run, its offers, the
holds with their bed events, the requests' new status and the audit records. A crash
before that commit leaves nothing; after it, everything.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from concurrent.futures import Executor
from typing import Any

import asyncpg
import msgspec

from exchange.audit import store as audit
from exchange.beds import store as beds
from exchange.beds.model import BedState
from exchange.errors import HavenError
from exchange.placements import rules, store
from exchange.placements.solver import solve_json
from exchange.settings import Settings
from matching.load import decode_plan
from schema.placements import RunResult


async def run(
    pool: asyncpg.Pool[Any],
    settings: Settings,
    executor: Executor,
    regions: list[str],
    *,
    token_id: int | None,
) -> RunResult:
    """Run the matcher for these regions now; HavenError `run_in_progress` when one of
    them is being matched already (here or in another process)."""
    regions = sorted(set(regions))
    async with pool.acquire() as conn, store.region_locks(conn, regions) as taken:
        if not taken:
            raise HavenError(
                "run_in_progress",
                f"a matching run for {', '.join(regions)} is in progress; try again shortly",
            )
        return await _run_locked(conn, settings, executor, regions, token_id)


async def _run_locked(
    conn: store.Conn,
    settings: Settings,
    executor: Executor,
    regions: list[str],
    token_id: int | None,
) -> RunResult:
    started = time.perf_counter()
    horizon = dt.date.today() + dt.timedelta(days=settings.match_horizon_days)
    data = await store.matching_input(conn, regions, horizon)
    problem = rules.build_problem(
        data.shelters,
        data.requests,
        data.residents,
        now=data.now,
        stale_after=dt.timedelta(seconds=settings.stale_after_s),
    )
    problem_json = msgspec.json.encode(problem)
    built = time.perf_counter()
    plan_json = await asyncio.get_running_loop().run_in_executor(
        executor, solve_json, problem_json, settings.match_time_limit_s, settings.match_workers
    )
    solved = time.perf_counter()
    plan = decode_plan(plan_json)
    assignments = sorted(plan.assignments, key=lambda a: a.request)
    async with beds.committing(conn) as outbox:
        requests = await store.lock_requests(conn, [a.request for a in assignments])
        shelter_ids = sorted({a.shelter for a in assignments})
        states = await beds.lock_states(conn, shelter_ids)
        fresh = await store.fresh_shelters(conn, shelter_ids, settings.stale_after_s)
        current: dict[str, dict[str, BedState]] = {s: dict(states[s].beds) for s in states}
        kept: list[tuple[str, str, str, int]] = []
        changes: list[tuple[str, str, int, int]] = []
        for a in assignments:
            request = requests.get(a.request)
            bed = current.get(a.shelter, {}).get(a.bed_type)
            # Between the read and this lock a report may have lowered capacity, the
            # shelter gone stale, or the request been withdrawn: those offers are not made.
            if request is None or request.status != "open" or a.shelter not in fresh:
                continue
            if bed is None or bed.available < 1:
                continue
            current[a.shelter][a.bed_type] = BedState(
                total=bed.total,
                occupied=bed.occupied,
                out_of_service=bed.out_of_service,
                held=bed.held + 1,
            )
            kept.append((a.request, a.shelter, a.bed_type, a.km))
            changes.append((a.shelter, a.bed_type, 1, 0))
        unplaced = rules.unplaced_counts(plan)
        run_id = await store.insert_run(
            conn,
            regions=regions,
            token_id=token_id,
            started_at=data.now,
            status=plan.status,
            placed=len(plan.assignments),
            unplaced=unplaced,
            offers=len(kept),
            build_seconds=built - started,
            solve_seconds=solved - built,
            problem=problem_json,
            plan=plan_json,
        )
        made = await store.insert_offers(conn, run_id, kept, settings.offer_lifetime_s)
        await store.set_request_status(conn, list(made), "offered")
        held = {s: dict(states[s].beds) for s in states}
        await beds.write_holds(conn, outbox, rules.apply_holds(held, changes))
        await audit.append(
            conn, token_id, "run.created", f"run:{run_id}", f"regions={'.'.join(regions)}"
        )
        await audit.append_many(
            conn,
            token_id,
            "offer.created",
            [f"offer:{made[r]}" for r, *_ in kept],
            [f"request={r},shelter={s},run={run_id}" for r, s, *_ in kept],
        )
    written = time.perf_counter()
    return RunResult(
        id=run_id,
        status=plan.status,
        placed=len(plan.assignments),
        unplaced=unplaced,
        offers=len(kept),
        solve_seconds=round(solved - built, 3),
        regions=regions,
        build_seconds=round(built - started, 3),
        write_seconds=round(written - solved, 3),
        finished_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )
