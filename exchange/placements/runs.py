"""A matching run inside the exchange: build the problem, solve off the event loop, write
the offers that hold beds.

Steps, each timed: under the regions' advisory locks (one run per region at a time,
across every process), read shelters, open requests and residents at one instant; build
the problem (`rules.build_problem`) and solve it in the executor (a process pool by
default, so neither the build's nor the matcher's Python work holds this process's GIL);
then, in one transaction, re-check each assignment under lock — the request still open,
the shelter still fresh, a bed of her type still available — and write the run, its
offers, the holds with their bed events, the requests' new status and the audit records.
A crash before that commit leaves nothing; after it, everything.

Reports to a shelter wait while the run holds its bed rows, and every report while it
holds the event clock, so the transaction takes them last (see `_write`): the run's
files, offers, request statuses and audit records (one call, `audit_append_many`) are
written first, and the beds are locked only to confirm and write the holds and their
events just before the commit.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from concurrent.futures import Executor
from typing import Any

import asyncpg
import msgspec

from exchange.audit import store as audit
from exchange.beds import store as beds
from exchange.beds.model import BedState, ShelterState
from exchange.beds.store import Outbox
from exchange.errors import HavenError
from exchange.placements import rules, store
from exchange.placements.solver import build_and_solve, encode_input
from exchange.settings import Settings
from matching.load import decode_plan
from schema.placements import RunResult
from schema.problem import Assignment, Plan

log = logging.getLogger("haven.placements")


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
    read = time.perf_counter() - started
    solved = await asyncio.get_running_loop().run_in_executor(
        executor,
        build_and_solve,
        encode_input(data),
        settings.stale_after_s,
        settings.match_time_limit_s,
        settings.match_workers,
    )
    problem_json, plan_json = solved.problem, solved.plan
    build_seconds = read + solved.build_seconds
    written_from = time.perf_counter()
    plan = decode_plan(plan_json)
    assignments = sorted(plan.assignments, key=lambda a: a.request)
    unplaced = rules.unplaced_counts(plan)
    facts = _Written(
        regions=regions,
        token_id=token_id,
        started_at=data.now,
        plan=plan,
        assignments=assignments,
        unplaced=unplaced,
        build_seconds=build_seconds,
        solve_seconds=solved.solve_seconds,
        problem_json=problem_json,
        plan_json=plan_json,
    )
    try:
        async with beds.committing(conn) as outbox:
            run_id, kept, locked = await _write(conn, outbox, settings, facts, lock_first=False)
    except _BedsMoved:
        log.info("a report changed an assigned shelter's beds during the write; locking first")
        async with beds.committing(conn) as outbox:
            run_id, kept, locked = await _write(conn, outbox, settings, facts, lock_first=True)
    written = time.perf_counter()
    log.info(
        "matching run written",
        extra={
            "run": run_id,
            "offers": len(kept),
            "write_ms": round(1000 * (written - written_from), 1),
            "beds_locked_ms": round(1000 * (written - locked), 1),
        },
    )
    return RunResult(
        id=run_id,
        status=plan.status,
        placed=len(plan.assignments),
        unplaced=unplaced,
        offers=len(kept),
        solve_seconds=round(solved.solve_seconds, 3),
        regions=regions,
        build_seconds=round(build_seconds, 3),
        write_seconds=round(written - written_from, 3),
        finished_at=dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    )


class _BedsMoved(Exception):
    """A report changed an assigned shelter's beds between the read and the lock."""


class _Written(msgspec.Struct, frozen=True, kw_only=True):
    """What the write transaction records: the run and its assignments."""

    regions: list[str]
    token_id: int | None
    started_at: dt.datetime
    plan: Plan
    assignments: list[Assignment]
    unplaced: dict[str, int]
    build_seconds: float
    solve_seconds: float
    problem_json: bytes
    plan_json: bytes


async def _write(
    conn: store.Conn, outbox: Outbox, settings: Settings, run: _Written, *, lock_first: bool
) -> tuple[int, list[tuple[str, str, str, int]], float]:
    """Write the run, its offers, their holds and audit records; the run id, the offers
    made (request, shelter, bed type, km) and when the bed rows were locked.

    Reports to a shelter wait while its bed rows (and every report while the event
    clock) are locked, so by default they are locked last: the offers are decided on an
    unlocked read and written with their audit records (the chain's head is taken before
    the beds, as everywhere: `audit.lock_head`), and the beds are then locked and read
    again just before the holds and their events are written. If a report got in between
    and the same offers would no longer be made, `_BedsMoved` rolls the transaction back
    and the caller writes again with `lock_first`, the beds locked before deciding."""
    run_id = await store.insert_run(
        conn,
        regions=run.regions,
        token_id=run.token_id,
        started_at=run.started_at,
        status=run.plan.status,
        placed=len(run.plan.assignments),
        unplaced=run.unplaced,
        offers=0,
        build_seconds=run.build_seconds,
        solve_seconds=run.solve_seconds,
        problem=run.problem_json,
        plan=run.plan_json,
    )
    requests = await store.lock_requests(conn, [a.request for a in run.assignments])
    shelter_ids = sorted({a.shelter for a in run.assignments})
    fresh = await store.fresh_shelters(conn, shelter_ids, settings.stale_after_s)
    if lock_first:
        await audit.lock_head(conn)  # the head before the beds (audit.lock_head)
    locked = time.perf_counter()
    read = beds.lock_states if lock_first else beds.read_states
    states = await read(conn, shelter_ids)
    kept, changes = _still_possible(run.assignments, requests, states, fresh)
    made = await store.insert_offers(conn, run_id, kept, settings.offer_lifetime_s)
    await store.set_run_offers(conn, run_id, len(kept))
    await store.set_request_status(conn, list(made), "offered")
    await audit.append(
        conn, run.token_id, "run.created", f"run:{run_id}", f"regions={'.'.join(run.regions)}"
    )
    await audit.append_many(
        conn,
        run.token_id,
        "offer.created",
        [f"offer:{made[r]}" for r, *_ in kept],
        [f"request={r},shelter={s},run={run_id}" for r, s, *_ in kept],
    )
    if not lock_first:
        locked = time.perf_counter()
        states = await beds.lock_states(conn, shelter_ids)
        if _still_possible(run.assignments, requests, states, fresh)[0] != kept:
            raise _BedsMoved
    held = {s: dict(states[s].beds) for s in states}
    await beds.write_holds(conn, outbox, rules.apply_holds(held, changes))
    return run_id, kept, locked


def _still_possible(
    assignments: list[Assignment],
    requests: dict[str, store.RequestRow],
    states: dict[str, ShelterState],
    fresh: set[str],
) -> tuple[list[tuple[str, str, str, int]], list[tuple[str, str, int, int]]]:
    """The assignments that can still become offers, and the holds they add.

    Between the read and the locks a report may have lowered capacity, the shelter gone
    stale, or the request been withdrawn: those offers are not made."""
    current: dict[str, dict[str, BedState]] = {s: dict(states[s].beds) for s in states}
    kept: list[tuple[str, str, str, int]] = []
    changes: list[tuple[str, str, int, int]] = []
    for a in assignments:
        request = requests.get(a.request)
        bed = current.get(a.shelter, {}).get(a.bed_type)
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
    return kept, changes
