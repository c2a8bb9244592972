"""A server SIGKILLed during a matching run and during accepts: afterwards no half-written
run, no offer without its hold nor hold without its offer, request statuses that agree
with their offers, an audit chain that verifies; restarted, the server serves normally.

Where the kill lands is chosen, not hoped for: the test holds a lock the server's
transaction needs (the audit chain's head, taken by the last statement of every change),
waits until PostgreSQL shows the server's backend blocked on it (every write of the
transaction done, the commit not yet sent), and kills then. A run is also killed while it
solves (its region lock held, no transaction open), and accepts are killed mid-stream
with some answered and some in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from placement_world import (
    Shelter,
    add_shelters,
    auth,
    backends,
    blocked_at,
    check_history,
    check_snapshot,
    counts,
    kill,
    report,
    request_body,
    snapshot,
    token,
    until_gone,
    verify_audit,
)
from websockets.asyncio.client import connect
from websockets.exceptions import WebSocketException

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
STALE_AFTER_S = 3600
ENV = {
    "HAVEN_MATCH_EVERY_S": "0",
    "HAVEN_STALE_AFTER_S": str(STALE_AFTER_S),
    "HAVEN_MATCH_TIME_LIMIT_S": "30",
    "HAVEN_MATCH_WORKERS": "1",
    "HAVEN_MATCH_EXECUTOR": "process",
    "HAVEN_SWEEP_EVERY_S": "0.5",
}


OH_RUNS = "select count(*) from matching_runs where 'OH' = any(regions)"
UNRUN = "select count(*) from audit_log where kind <> 'run.created'"
"""Audit records of anything but a run (the warm-up runs of another region add some)."""


class Setting:
    """A database with shelters, tokens and requests, and a server on it."""

    def __init__(self, conn: asyncpg.Connection[Any], server: Any, http: httpx.AsyncClient):
        self.conn, self.server, self.http = conn, server, http
        self.shelters: list[Shelter] = []
        self.admin = self.planner = ""
        self.secrets: list[str] = []

    async def check(self) -> None:
        """Invariants 1-4 and 6 on the database now, 2 and 5 over its history, the chain."""
        bad = check_snapshot(await snapshot(self.conn), secrets=self.secrets)
        history = await check_history(self.conn, stale_after_s=STALE_AFTER_S)
        assert not bad + history.problems, "\n".join((bad + history.problems)[:30])
        verified = await verify_audit(self.conn)
        assert verified.ok, verified

    async def killed(self, during: Callable[[], Any]) -> None:
        """SIGKILL the server (and its solver); wait until its backends have gone, so
        whatever it left uncommitted is rolled back."""
        mine = await backends(self.conn)
        await during()
        kill(self.server)
        await until_gone(self.conn, mine)


@contextlib.asynccontextmanager
async def setting(
    conn: asyncpg.Connection[Any],
    serve: Callable[..., Any],
    *,
    shelters: int,
    beds: dict[str, int],
    requests: int,
    contacts: int,
) -> AsyncIterator[Setting]:
    """`shelters` fresh shelters, an admin and a planner, and `requests` open requests
    created over HTTP (contacts drawn from a pool of `contacts`, so many conflict)."""
    rng = random.Random(4471)
    found = await add_shelters(conn, shelters, beds)
    _, admin = await token(conn, "admin")
    _, planner = await token(conn, "planner", regions=["OH"], agency="DRC")
    server = serve(env=ENV)
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
        s = Setting(conn, server, http)
        s.shelters, s.admin, s.planner = found, admin, planner
        pool = [f"contact{n:04d}" + "x" * 12 for n in range(contacts)]
        s.secrets = [admin, planner, *pool, *(x.token for x in found)]
        for shelter in found:
            full = {t: counts(n, 0) for t, n in beds.items()}
            assert (await report(http, shelter, full)).status_code == 200
        limit = asyncio.Semaphore(8)

        async def create(n: int) -> None:
            ref = f"REF-FAULT-{n:05d}"
            s.secrets.append(ref)
            body = request_body(
                ref,
                release_in_days=rng.randint(1, 15),
                contacts=rng.sample(pool, rng.choice([0, 1, 2])) if pool else [],
                urgency=rng.randint(1, 5),
                origin={
                    "lat": 40.0 + rng.uniform(-0.3, 0.3),
                    "lon": -83.0 + rng.uniform(-0.3, 0.6),
                },
                avoid_km=0,
            )
            async with limit:
                r = await http.post("/api/requests", json=body, headers=auth(planner))
            assert r.status_code == 201, r.text

        await asyncio.gather(*(create(n) for n in range(requests)))
        yield s


async def restart(s: Setting) -> None:
    """Start the server again; it is ready, and a run of another region (nothing to
    place) goes through, which also starts its solver process."""
    s.server.start()
    assert (await s.http.get("/readyz")).status_code == 200
    await warm(s)


async def warm(s: Setting) -> None:
    r = await s.http.post("/api/matching/runs", json={"regions": ["PA"]}, headers=auth(s.admin))
    assert r.status_code == 201 and r.json()["offers"] == 0, r.text


async def test_sigkill_during_a_matching_run_leaves_all_of_it_or_nothing(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Killed while solving, and killed with every write of the run's transaction done but
    not committed: no run, offer, hold, hold event or audit record of it remains, every
    request is open, the chain verifies. Restarted, the run goes through whole."""
    async with setting(
        conn, serve, shelters=30, beds={"single": 5}, requests=300, contacts=50
    ) as s:
        await warm(s)
        before = await conn.fetchval(UNRUN)

        async def nothing_of_the_run() -> None:
            await s.check()
            assert await conn.fetchval(OH_RUNS) == 0
            assert await conn.fetchval("select count(*) from offers") == 0
            assert await conn.fetchval("select sum(held) from beds") == 0
            assert await conn.fetchval("select count(*) from bed_events where kind = 'hold'") == 0
            assert await conn.fetchval(UNRUN) == before
            statuses = await conn.fetch("select distinct status from requests")
            assert [r["status"] for r in statuses] == ["open"]

        def post_run() -> asyncio.Task[httpx.Response]:
            return asyncio.create_task(
                s.http.post("/api/matching/runs", json={"regions": ["OH"]}, headers=auth(s.admin))
            )

        # 1. While the matcher solves: the region's lock is held by a session with no
        # transaction open that has read the problem (its last statement ended that read;
        # before it, the last was taking the lock). The write starts only after the solve.
        posted = post_run()

        async def solving() -> None:
            for _ in range(4000):
                row = await conn.fetchrow(
                    "select a.pid from pg_locks l join pg_stat_activity a on a.pid = l.pid"
                    " where l.locktype = 'advisory' and l.granted and a.state = 'idle'"
                    " and a.datname = current_database() and a.query not like '%advisory%'"
                )
                if row is not None:
                    await asyncio.sleep(0.02)
                    return
                await asyncio.sleep(0.005)
            raise AssertionError("the run never started solving")

        await s.killed(solving)
        with pytest.raises(httpx.TransportError):
            await posted  # the kill landed while the POST was in flight
        await nothing_of_the_run()

        # 2. In its write transaction, after writing the run, its offers and the requests'
        # status: blocked on the audit chain's head (the holds and their events come last).
        await restart(s)
        lock = await asyncpg.connect(s.server.dsn)
        try:
            held = lock.transaction()
            await held.start()
            await lock.execute("select 1 from audit_head where id = 1 for update")
            posted = post_run()

            mine = await backends(conn, lock.get_server_pid())
            [pid] = await blocked_at(conn, "audit_append")
            # An xid is assigned at a transaction's first write: it has written, uncommitted.
            xid = await conn.fetchval(
                "select backend_xid from pg_stat_activity where pid = $1", pid
            )
            assert xid is not None
            kill(s.server)
            await held.rollback()
            await until_gone(conn, mine)
        finally:
            await lock.close()
        with pytest.raises(httpx.TransportError):
            await posted
        await nothing_of_the_run()

        # 3. Restarted, it serves: the run goes through, whole.
        await restart(s)
        r = await s.http.post("/api/matching/runs", json={"regions": ["OH"]}, headers=auth(s.admin))
        assert r.status_code == 201, r.text
        run = r.json()
        # A solve as long as the one phase 1 interrupted 0.02 s in (warm solver, same problem).
        assert run["solve_seconds"] > 0.05, run
        assert run["offers"] > 100
        await s.check()
        assert await conn.fetchval("select count(*) from offers") == run["offers"]
        assert await conn.fetchval("select sum(held) from beds") == run["offers"]
        cli = subprocess.run(
            [sys.executable, "-m", "exchange.cli", "audit", "verify"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": s.server.dsn},
            capture_output=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr


AFTER = {"accept": "accepted", "decline": "declined", "arrived": "arrived", "withdraw": "withdrawn"}
"""An offer's status once the action on it is answered."""


async def offers_by_status(conn: asyncpg.Connection[Any]) -> dict[str, list[dict[str, Any]]]:
    rows = await conn.fetch("select id, request_id, shelter_id, status from offers order by id")
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r["status"], []).append(dict(r))
    return out


async def test_sigkill_during_accepts_keeps_what_was_answered_and_nothing_half_done(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Decisions blocked before commit are all rolled back; killed mid-stream, every
    decision answered (HTTP 200, websocket `decided`) is stored and the rest are whole or
    absent: holds, statuses and audit records agree. Restarted, the server serves."""
    async with setting(conn, serve, shelters=20, beds={"single": 6}, requests=120, contacts=0) as s:
        r = await s.http.post("/api/matching/runs", json={"regions": ["OH"]}, headers=auth(s.admin))
        assert r.status_code == 201 and r.json()["offers"] == 120, r.text
        token_of = {x.id: x.token for x in s.shelters}
        offered = (await offers_by_status(conn))["offered"]

        def act(offer: dict[str, Any], action: str) -> Any:
            if action == "withdraw":
                return s.http.delete(
                    f"/api/requests/{offer['request_id']}", headers=auth(s.planner)
                )
            return s.http.post(
                f"/api/offers/{offer['id']}/{action}", headers=auth(token_of[offer["shelter_id"]])
            )

        # 1. Every decision blocked on the audit chain's head, which it takes before the
        # beds (audit.lock_head), its request and offer rows locked.
        lock = await asyncpg.connect(s.server.dsn)
        try:
            held = lock.transaction()
            await held.start()
            await lock.execute("select 1 from audit_head where id = 1 for update")
            plan = [(o, "accept") for o in offered[:8]] + [(o, "decline") for o in offered[8:12]]
            plan += [(o, "withdraw") for o in offered[12:14]]
            fired = [asyncio.create_task(act(o, a)) for o, a in plan]
            mine = await backends(conn, lock.get_server_pid())
            # Accepts reach the head; declines and withdrawals at one shelter may queue
            # behind each other's bed locks first. Either way, none can commit.
            await blocked_at(conn, "audit_head", at_least=6)
            await asyncio.sleep(0.3)
            kill(s.server)
            await held.rollback()
            await until_gone(conn, mine)
        finally:
            await lock.close()
        for task in fired:
            with pytest.raises(httpx.TransportError):
                await task
        await s.check()
        assert [o["id"] for o in (await offers_by_status(conn))["offered"]] == [
            o["id"] for o in offered
        ]
        assert await conn.fetchval("select sum(held) from beds") == 120

        # 2. Killed mid-stream: accepts, declines, arrivals and withdrawals over HTTP and
        # decisions over /ws/shelter, some answered, some in flight.
        await restart(s)
        for o in offered[:20]:
            assert (await act(o, "accept")).status_code == 200
        rng = random.Random(7)
        plan = [(o, "arrived") for o in offered[:20]]
        plan += [
            (o, rng.choice(["accept", "accept", "decline", "withdraw"])) for o in offered[20:100]
        ]
        rng.shuffle(plan)
        by_ws = offered[100:]  # accepted by their shelters over /ws/shelter
        answered: dict[str, str] = {}
        done = asyncio.Event()

        async def one(offer: dict[str, Any], action: str) -> None:
            with contextlib.suppress(httpx.TransportError):
                r = await act(offer, action)
                assert r.status_code == 200, r.text
                answered[offer["id"]] = AFTER[action]
                if len(answered) >= 40:
                    done.set()

        async def over_ws(shelter: Shelter) -> None:
            mine = [o["id"] for o in by_ws if o["shelter_id"] == shelter.id]
            with contextlib.suppress(OSError, WebSocketException):  # the kill, at any step
                async with connect(
                    s.server.ws_url + "/ws/shelter", additional_headers=auth(shelter.token)
                ) as ws:
                    for offer in mine:
                        decision = {"type": "decide", "offer": offer, "decision": "accept"}
                        await ws.send(json.dumps(decision))
                    async for frame in ws:
                        if '"decided"' in frame:
                            m = json.loads(frame)
                            answered[m["offer"]] = m["status"]

        deciding = {o["shelter_id"] for o in by_ws}
        sockets = [asyncio.create_task(over_ws(x)) for x in s.shelters if x.id in deciding]
        fired = [asyncio.create_task(one(o, a)) for o, a in plan]
        await asyncio.wait_for(done.wait(), 30)
        mine = await backends(conn)
        kill(s.server)
        await asyncio.gather(*fired, *sockets)
        await until_gone(conn, mine)
        assert 40 <= len(answered) < len(plan) + len(by_ws), len(answered)
        now = {o["id"]: o["status"] for os_ in (await offers_by_status(conn)).values() for o in os_}
        lost = {o: (want, now[o]) for o, want in answered.items() if now[o] != want}
        assert not lost, f"answered but not stored: {lost}"
        await s.check()

        # 3. Restarted, it serves: decisions, a run, offers pushed after hello.
        await restart(s)
        still = await offers_by_status(conn)
        first = still["offered"][0]
        assert (await act(first, "accept")).status_code == 200
        if still.get("accepted"):
            assert (await act(still["accepted"][0], "arrived")).status_code == 200
        r = await s.http.post("/api/matching/runs", json={"regions": ["OH"]}, headers=auth(s.admin))
        assert r.status_code == 201, r.text
        await s.check()
        shelter = s.shelters[5]
        want = [
            o["id"]
            for o in (await offers_by_status(conn)).get("offered", [])
            if o["shelter_id"] == shelter.id
        ]
        async with connect(
            s.server.ws_url + "/ws/shelter", additional_headers=auth(shelter.token)
        ) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            pushed = [json.loads(await asyncio.wait_for(ws.recv(), 5))["offer"] for _ in want]
        assert sorted(pushed) == want
