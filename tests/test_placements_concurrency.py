"""Two `haven serve` processes hammer one region at once, and invariants 1-6 of
placements.md hold in every snapshot and over the whole history; a run's exported problem
and plan pass `haven match --check`. Two defects the simulation found keep a test each: a
run must survive an exclusion naming someone outside its problem, and the audit chain's
verification must not misread rows appended while it runs.

Why a seeded asyncio simulation rather than hypothesis' stateful testing: the races worth
finding are between two real processes and PostgreSQL (a run's write against a report
lowering capacity, an accept against the sweeper's expiry, a withdrawal against a run),
and they need many actors in flight at once. A state machine runs one rule at a time, so
it never overlaps them; shrinking means little when two OS processes decide the
interleaving; and starting two servers per example would take minutes. So: actors
(shelters over HTTP and over /ws/shelter, two planners' agencies, a matcher per server,
each server's own sweeper and one's scheduled runs) act concurrently for a fixed time,
each choosing with its own `random.Random(SEED + n)`, while a checker reads the database
in one snapshot every few steps and checks the invariants (`placement_world`). The seed
fixes what the actors choose, not the timing between processes: a failure prints the
violations and the seed (`HAVEN_SIM_SEED` overrides it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from placement_world import (
    Shelter,
    Transitions,
    add_shelters,
    auth,
    check_history,
    check_snapshot,
    counts,
    report,
    request_body,
    snapshot,
    token,
    verify_audit,
)
from websockets.asyncio.client import connect

from exchange.audit import store as audit
from exchange.placements import offers, runs, store
from exchange.settings import Settings
from matching.check import check
from matching.load import decode_plan, decode_problem
from schema.placements import NewRequest

SEED = int(os.environ.get("HAVEN_SIM_SEED", "20261211"))
SIM_SECONDS = 20.0
STALE_AFTER_S = 5
QUIET_MATCHERS = (8.0, 11.0)
ROOT = Path(__file__).resolve().parent.parent

COMMON = {
    "HAVEN_OFFER_LIFETIME_S": "2.5",
    "HAVEN_SWEEP_EVERY_S": "0.3",
    "HAVEN_STALE_AFTER_S": str(STALE_AFTER_S),
    "HAVEN_NO_SHOW_GRACE_DAYS": "0",
    "HAVEN_MATCH_TIME_LIMIT_S": "2",
    "HAVEN_MATCH_WORKERS": "1",
}
SERVER_A = {**COMMON, "HAVEN_MATCH_EVERY_S": "1.5", "HAVEN_MATCH_EXECUTOR": "process"}
SERVER_B = {**COMMON, "HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"}

OFFER_KEYS = {
    "type", "offer", "status", "bed_type", "children", "mat", "language", "needs", "age",
    "release_date", "expires_at",
}  # fmt: skip
"""What a shelter sees of an offer: never her ref, contacts, origin or agency."""


class Unexpected(AssertionError):
    """A server answered something the contract does not allow for that call."""


def expect(r: httpx.Response, ok: int, *refusals: tuple[int, str]) -> bool:
    """True for `ok`; False for an allowed refusal (status, code); else Unexpected."""
    if r.status_code == ok:
        return True
    try:
        code = r.json().get("code") if r.status_code >= 400 else None
    except ValueError:
        code = None
    if (r.status_code, code) in refusals:
        return False
    raise Unexpected(f"{r.request.method} {r.request.url.path}: {r.status_code} {r.text}")


class World:
    """What the actors share: servers' clients, tokens, secrets to look for, tallies."""

    def __init__(self, clients: list[httpx.AsyncClient], servers: list[Any]) -> None:
        self.clients = clients
        self.servers = servers
        self.stop = asyncio.Event()
        self.started = time.monotonic()
        self.tally: Counter[str] = Counter()
        self.secrets: list[str] = []
        self.clock_moved: set[str] = set()
        """Offers whose acceptance `days_pass` moved back (written without an audit row)."""
        rng = random.Random(SEED)
        alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
        self.contacts = ["ct" + "".join(rng.choice(alphabet) for _ in range(22)) for _ in range(12)]
        self.secrets.extend(self.contacts)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    async def pause(self, rng: random.Random, low: float, high: float) -> bool:
        """Sleep a random while; False once the simulation is over."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.stop.wait(), rng.uniform(low, high))
        return not self.stop.is_set()


def random_beds(rng: random.Random, *, full: bool) -> dict[str, dict[str, int]]:
    """A report raising or lowering capacity; `full` leaves no bed free (a report that
    lowers capacity under live offers: they stay, and available is 0)."""
    beds = {}
    for bed_type, top in (("single", 5), ("family", 3)):
        total = rng.randint(1, top)
        oos = rng.randint(0, 1) if total > 1 else 0
        occupied = total - oos if full else rng.randint(0, total - oos)
        beds[bed_type] = counts(total, occupied, oos)
    return beds


async def decide(
    world: World, rng: random.Random, shelter: Shelter, offer: str, action: str
) -> None:
    r = await rng.choice(world.clients).post(
        f"/api/offers/{offer}/{action}",
        headers=auth(shelter.token),
        json={"reason": "full"} if action == "decline" and rng.random() < 0.5 else None,
    )
    refusals = [(409, "already_decided")]
    if action in ("accept", "decline"):
        refusals.append((409, "offer_expired"))
    world.tally[f"{action} {'ok' if expect(r, 200, *refusals) else r.json()['code']}"] += 1


async def shelter_over_http(
    world: World, rng: random.Random, shelter: Shelter, *, quiet: tuple[float, float] | None
) -> None:
    """Reports (PUT, rising seq) and decisions (GET offers, POST accept/decline/arrived).
    A `quiet` shelter stops reporting for that (start, end) while, and goes stale."""
    plans: dict[str, str] = {}
    while await world.pause(rng, 0.1, 0.4):
        http = rng.choice(world.clients)
        silent = quiet is not None and quiet[0] <= world.elapsed() < quiet[1]
        if not silent and rng.random() < 0.4:
            full = rng.random() < 0.3
            r = await report(http, shelter, random_beds(rng, full=full))
            assert r.status_code == 200 and r.json()["status"] == "applied", r.text
            world.tally["report full" if full else "report"] += 1
        r = await http.get(f"/api/shelters/{shelter.id}/offers", headers=auth(shelter.token))
        expect(r, 200)
        for offer in r.json():
            assert set(offer) == OFFER_KEYS, offer
            if offer["status"] == "offered":
                plan = plans.setdefault(
                    offer["offer"], rng.choices(["accept", "decline", "wait"], [5, 2, 3])[0]
                )
                if plan != "wait" and rng.random() < 0.7:
                    await decide(world, rng, shelter, offer["offer"], plan)
            elif offer["status"] == "accepted" and rng.random() < 0.25:
                coming = offer["offer"] not in world.clock_moved  # else she is not coming
                if coming:
                    await decide(world, rng, shelter, offer["offer"], "arrived")
        if plans and rng.random() < 0.05:  # an answer that comes too late
            await decide(world, rng, shelter, rng.choice(sorted(plans)), "accept")


class WsSession:
    """One connection of a shelter over /ws/shelter: the decisions it has yet to send and
    the reports it has yet to see acked."""

    def __init__(self, world: World, rng: random.Random, ws: Any, accepted: list[str]) -> None:
        self.world, self.rng, self.ws, self.accepted = world, rng, ws, accepted
        self.due: dict[str, tuple[float, str]] = {}
        self.unacked = 0

    async def read(self) -> None:
        async for frame in self.ws:
            m = json.loads(frame)
            match m["type"]:
                case "offer":
                    assert set(m) == OFFER_KEYS, m
                    action = self.rng.choices(["accept", "decline", "wait"], [5, 2, 3])[0]
                    if action != "wait":
                        when = time.monotonic() + self.rng.uniform(0, 3)
                        self.due[m["offer"]] = (when, action)
                    self.world.tally["ws offer pushed"] += 1
                case "offer_closed":
                    self.due.pop(m["offer"], None)
                case "ack":
                    assert m["status"] == "applied", m
                    self.unacked -= 1
                case "decided":
                    if m["status"] == "accepted":
                        self.accepted.append(m["offer"])
                    self.world.tally[f"ws {m['status']}"] += 1
                case "error":
                    assert m["code"] in ("offer_expired", "already_decided"), m
                    self.world.tally[f"ws {m['code']}"] += 1
                case other:
                    raise Unexpected(f"/ws/shelter sent {other}: {m}")

    async def report(self, shelter: Shelter, beds: dict[str, dict[str, int]]) -> None:
        shelter.seq += 1
        self.unacked += 1
        await self.ws.send(json.dumps({"type": "report", "seq": shelter.seq, "beds": beds}))

    async def send_due(self) -> None:
        now = time.monotonic()
        for offer, (when, action) in list(self.due.items()):
            if when <= now:
                del self.due[offer]
                decision = {"type": "decide", "offer": offer, "decision": action}
                await self.ws.send(json.dumps(decision))


async def shelter_over_ws(world: World, rng: random.Random, shelter: Shelter) -> None:
    """Reports and decisions over /ws/shelter, reconnecting now and then to either server;
    offers arrive as pushes (made by either process), arrivals go over HTTP."""
    accepted: list[str] = []
    while not world.stop.is_set():
        server = rng.choice(world.servers)
        async with connect(
            server.ws_url + "/ws/shelter", additional_headers=auth(shelter.token)
        ) as ws:
            hello = json.loads(await ws.recv())
            assert hello["type"] == "hello" and hello["last_seq"] == shelter.seq, hello
            session = WsSession(world, rng, ws, accepted)
            reader = asyncio.create_task(session.read())
            session_ends = world.elapsed() + rng.uniform(2, 6)
            try:
                while world.elapsed() < session_ends and await world.pause(rng, 0.1, 0.3):
                    if rng.random() < 0.4:
                        await session.report(shelter, random_beds(rng, full=rng.random() < 0.3))
                    await session.send_due()
                    if accepted and rng.random() < 0.3:
                        coming = accepted.pop(0)
                        if coming not in world.clock_moved:  # she is not coming
                            await decide(world, rng, shelter, coming, "arrived")
                # Every report acked before leaving: the next hello names the last seq.
                deadline = time.monotonic() + 10
                while session.unacked and time.monotonic() < deadline and not reader.done():
                    await asyncio.sleep(0.02)
                if reader.done():
                    await reader  # it failed: raise its error, not a count
                assert session.unacked == 0, f"{shelter.id}: {session.unacked} reports unacked"
            finally:
                reader.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reader
        world.tally["ws sessions"] += 1


async def planner(
    world: World, rng: random.Random, agency: str, secret: str, *, first: int, exclusions: bool
) -> None:
    """Creates requests (some sharing contacts, some excluding another), withdraws some
    (mostly ones with a live offer, as last listed), lists them and reads placements.
    With `exclusions`, her second request excludes her first, which she withdraws once
    she has `first` requests."""
    mine: list[str] = []
    live: list[str] = []
    n = 0

    async def withdraw(request_id: str) -> None:
        r = await http.delete(f"/api/requests/{request_id}", headers=auth(secret))
        done = expect(r, 200, (409, "already_ended"))
        world.tally["withdraw " + ("ok" if done else "late")] += 1

    while await world.pause(rng, 0.1, 0.35):
        http = rng.choice(world.clients)
        roll = rng.random()
        if exclusions and len(mine) == first and n == first:
            await withdraw(mine[0])
            n += 1
        elif (roll < 0.45 and len(mine) < 45) or len(mine) < first:
            n += 1
            ref = f"REF-{agency}-{n:04d}"
            world.secrets.append(ref)
            excluded: list[str] = []
            if exclusions and len(mine) == 1:
                excluded = [mine[0]]  # her second request excludes her first
            elif exclusions and mine and rng.random() < 0.25:
                excluded = [rng.choice(mine)]
            body = request_body(
                ref,
                bed_type=rng.choice(["single", "single", "family"]),
                # Some were released days ago: once accepted, the sweeper makes them no-shows.
                release_in_days=rng.choice([-2, -1, -1, 0, *range(0, 25)]),
                contacts=rng.sample(world.contacts, rng.choice([0, 1, 1, 2])),
                exclude_with=excluded,
                urgency=rng.randint(1, 5),
                mat=rng.random() < 0.2,
            )
            r = await http.post("/api/requests", json=body, headers=auth(secret))
            expect(r, 201)
            mine.append(r.json()["id"])
            world.tally["request created"] += 1
        elif roll < 0.6 and mine:
            await withdraw(rng.choice(live if live and rng.random() < 0.7 else mine))
        elif roll < 0.85:
            r = await http.get("/api/requests", headers=auth(secret))
            expect(r, 200)
            assert not any(c in r.text for c in world.contacts)
            live = []
            for view in r.json():
                offer = view["offer"]
                if view["status"] in ("offered", "accepted"):
                    assert offer is not None and offer["status"] == view["status"], view
                    assert set(offer) == {"id", "status", "expires_at", "region", "km"}, view
                    live.append(view["id"])
                else:
                    assert offer is None, view
        elif mine:
            r = await http.get(f"/api/requests/{rng.choice(mine)}/placement", headers=auth(secret))
            placed = expect(r, 200, (404, "no_placement"))
            world.tally["placement " + ("read" if placed else "none")] += 1


async def matcher(
    world: World, rng: random.Random, http: httpx.AsyncClient, secrets: list[str]
) -> None:
    """POSTs matching runs to one server; another run of the region is a fair refusal.
    Quiet for a few seconds mid-way, so the scheduled runs (server A) find it due."""
    while await world.pause(rng, 0.2, 0.9):
        if QUIET_MATCHERS[0] <= world.elapsed() < QUIET_MATCHERS[1]:
            continue
        r = await http.post(
            "/api/matching/runs", json={"regions": ["OH"]}, headers=auth(rng.choice(secrets))
        )
        made = expect(r, 201, (409, "run_in_progress"))
        world.tally["run " + ("made" if made else "in progress")] += 1


async def days_pass(world: World, conn: asyncpg.Connection[Any]) -> None:
    """Time the simulation cannot wait for: now and then, two days pass for one accepted
    offer of a woman already released (its acceptance moves back) and she never comes (no
    shelter marks her arrived), so the sweeper's no-show rule (grace from the later of
    release and acceptance) comes due."""
    pace = random.Random(SEED + 300)
    while await world.pause(pace, 0.5, 1.0):
        moved = await conn.fetchval(
            "update offers set decided_at = decided_at - interval '2 days'"
            " where id = (select o.id from offers o join requests r on r.id = o.request_id"
            "             where o.status = 'accepted' and r.release_date < current_date"
            "               and o.decided_at > now() - interval '1 day' order by o.id limit 1)"
            " returning id"
        )
        if moved is not None:
            world.clock_moved.add(moved)
            world.tally["days passed"] += 1


async def checker(world: World, conn: asyncpg.Connection[Any], transitions: Transitions) -> None:
    """Invariants 1-4 and 6 on a snapshot every few steps while the actors run."""
    pace = random.Random(SEED)
    while await world.pause(pace, 0.1, 0.2):
        s = await snapshot(conn)
        bad = check_snapshot(
            s, secrets=world.secrets, clock_moved=world.clock_moved
        ) + transitions.check(s)
        assert not bad, f"seed {SEED}, after {world.elapsed():.1f} s:\n" + "\n".join(bad[:20])
        world.tally["checks"] += 1


@pytest.mark.parametrize("exclusions", [False, True], ids=["contacts", "contacts-and-exclusions"])
async def test_two_servers_hammering_one_region_keep_invariants_1_to_6(
    conn: asyncpg.Connection[Any],
    serve: Callable[..., Any],
    dsn: str,
    tmp_path: Path,
    exclusions: bool,
) -> None:
    """Reports raising and lowering capacity, runs on both servers (and scheduled ones),
    accepts, declines, arrivals, no-shows, withdrawals and expiries, all at once: every
    snapshot keeps invariants 1-4 and 6, and the history keeps 2 and 5 at each offer's
    making; the audit chain verifies; every run's problem and plan pass the checker."""
    shelters = await add_shelters(conn, 8, {"single": 3, "family": 2})
    _, admin = await token(conn, "admin")
    _, run_planner = await token(conn, "planner", regions=["OH"], agency="DRC")
    planners = [
        (agency, (await token(conn, "planner", regions=["OH"], agency=agency))[1])
        for agency in ("DRC", "ODRC")
    ]
    servers = [serve(env=SERVER_A), serve(env=SERVER_B)]
    async with contextlib.AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=s.url, timeout=30))
            for s in servers
        ]
        world = World(clients, servers)
        world.secrets += [
            admin,
            run_planner,
            *(s for _, s in planners),
            *(s.token for s in shelters),
        ]
        for s in shelters:
            assert (
                await report(clients[0], s, random_beds(random.Random(s.id), full=False))
            ).status_code == 200
        quiet = {shelters[6].id: (2.0, 1e9), shelters[7].id: (2.0, 12.0)}
        transitions = Transitions()
        check_conn = await asyncpg.connect(dsn)
        stack.push_async_callback(check_conn.close)
        world.started = time.monotonic()
        async with asyncio.TaskGroup() as tasks:
            for n, s in enumerate(shelters):
                rng = random.Random(SEED + n)
                if n in (2, 3):
                    tasks.create_task(shelter_over_ws(world, rng, s))
                else:
                    tasks.create_task(shelter_over_http(world, rng, s, quiet=quiet.get(s.id)))
            for n, (agency, secret) in enumerate(planners):
                rng = random.Random(SEED + 100 + n)
                tasks.create_task(
                    planner(world, rng, agency, secret, first=15, exclusions=exclusions)
                )
            for n, http in enumerate(clients):
                tasks.create_task(
                    matcher(world, random.Random(SEED + 200 + n), http, [admin, run_planner])
                )
            tasks.create_task(checker(world, check_conn, transitions))
            clock_conn = await asyncpg.connect(dsn)
            stack.push_async_callback(clock_conn.close)
            tasks.create_task(days_pass(world, clock_conn))
            await asyncio.sleep(SIM_SECONDS)
            world.stop.set()

        # The sweepers (still running) settle a woman whose days passed at the very end.
        for _ in range(100):
            due = await conn.fetchval(
                "select count(*) from offers where id = any($1::text[]) and status = 'accepted'",
                sorted(world.clock_moved),
            )
            if not due:
                break
            await asyncio.sleep(0.1)
        final = await snapshot(conn)
        bad = check_snapshot(
            final, secrets=world.secrets, clock_moved=world.clock_moved
        ) + transitions.check(final)
        history = await check_history(conn, stale_after_s=STALE_AFTER_S)
        assert not bad + history.problems, f"seed {SEED}:\n" + "\n".join(
            (bad + history.problems)[:30]
        )
        # Every run's stored problem and plan keep the contract (the checker is the oracle);
        # the biggest run's files, exported over HTTP, pass `haven match --check`.
        stored = await conn.fetch(
            "select id, problem::text, plan::text, offers from matching_runs order by id"
        )
        for run in stored:
            errors = check(
                decode_problem(run["problem"].encode()), decode_plan(run["plan"].encode())
            )
            assert not errors, (run["id"], errors)
        biggest = max(stored, key=lambda r: r["offers"])
        assert await match_check(clients[1], admin, biggest["id"], tmp_path) == 0

        # The chain both processes wrote verifies, in-process and with `haven audit verify`,
        # while their sweepers may still append to it.
        verified = await verify_audit(conn)
        assert verified.ok, verified
        cli = subprocess.run(
            [sys.executable, "-m", "exchange.cli", "audit", "verify"],
            cwd=ROOT,
            env={**os.environ, "DATABASE_URL": dsn},
            capture_output=True,
            timeout=60,
        )
        assert cli.returncode == 0, cli.stderr

        # The simulation did what it claims: each kind of change happened.
        outcomes = Counter(o["status"] for o in final.offers.values())
        stale_runs = sum(shelters[6].id not in r["problem"] for r in stored)
        print(
            f"seed {SEED}: {dict(world.tally)}; offers {dict(outcomes)}; runs {len(stored)}"
            f" ({stale_runs} without the stale shelter); overheld reports"
            f" {history.overheld_reports}; audit rows {verified.rows}"
        )
        # (An arrival was an accepted offer first.)
        assert {"declined", "expired", "arrived", "withdrawn", "no_show"} <= set(outcomes)
        assert world.tally["run made"] >= 4 and world.tally["checks"] >= 30
        assert await conn.fetchval("select count(*) from matching_runs where token_id is null") > 0
        assert world.tally["ws offer pushed"] > 0 and history.overheld_reports > 0
        assert stale_runs > 0


async def match_check(http: httpx.AsyncClient, admin: str, run_id: int, where: Path) -> int:
    """Export a run's problem and plan (admin) and run `haven match --check` on them."""
    files = []
    for which in ("problem", "plan"):
        r = await http.get(f"/api/matching/runs/{run_id}/{which}", headers=auth(admin))
        assert r.status_code == 200, r.text
        path = where / f"run-{run_id}-{which}.json"
        path.write_bytes(r.content)
        files.append(str(path))
    done = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "match", "--check", *files],
        cwd=ROOT,
        capture_output=True,
        timeout=60,
    )
    if done.returncode == 0:
        assert json.loads(done.stdout) == {"ok": True, "errors": []}
    return done.returncode


async def test_a_runs_exported_problem_and_plan_pass_haven_match_check(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any], tmp_path: Path
) -> None:
    """Both files of a run, exported by an admin over HTTP, pass `haven match --check` —
    a first run, and one after a decline and an accept (residents, avoid_shelters) — and
    the plan is the run's offers; a plan that breaks the contract fails the check."""
    shelters = await add_shelters(conn, 4, {"single": 3, "family": 1})
    _, admin = await token(conn, "admin")
    _, planner_secret = await token(conn, "planner", regions=["OH"], agency="DRC")
    server = serve(env={"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"})
    contacts = [f"contact{n}" + "x" * 12 for n in range(3)]
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        for s in shelters:
            assert (
                await report(http, s, {"single": counts(3, 0), "family": counts(1, 0)})
            ).status_code == 200
        ids: list[str] = []
        for n in range(7):
            body = request_body(
                f"REF-X-{n}",
                bed_type="family" if n == 6 else "single",
                contacts=contacts[: n % 3],
                contact_locations=[{"contact": contacts[0], "lat": 40.0, "lon": -83.0}]
                if n % 3
                else [],
                avoid_km=2 if n % 3 else 0,
                exclude_with=ids[-1:] if n == 5 else [],
                urgency=1 + n % 5,
            )
            r = await http.post("/api/requests", json=body, headers=auth(planner_secret))
            assert r.status_code == 201, r.text
            ids.append(r.json()["id"])

        async def run() -> int:
            r = await http.post("/api/matching/runs", json={"regions": ["OH"]}, headers=auth(admin))
            assert r.status_code == 201, r.text
            return int(r.json()["id"])

        first = await run()
        made = await conn.fetch("select id, request_id, shelter_id from offers order by id")
        assert len(made) >= 5 and made[0]["request_id"] == ids[0]  # she has no contacts
        token_of = {s.id: s.token for s in shelters}
        declined, accepted = made[0], made[1]
        for offer, action in ((declined, "decline"), (accepted, "accept")):
            r = await http.post(
                f"/api/offers/{offer['id']}/{action}", headers=auth(token_of[offer["shelter_id"]])
            )
            assert r.status_code == 200, r.text
        second = await run()

        for run_id in (first, second):
            assert await match_check(http, admin, run_id, tmp_path) == 0
            plan = json.loads((tmp_path / f"run-{run_id}-plan.json").read_text())
            offers = await conn.fetch(
                "select request_id, shelter_id from offers where run_id = $1", run_id
            )
            assert sorted((a["request"], a["shelter"]) for a in plan["assignments"]) == sorted(
                (o["request_id"], o["shelter_id"]) for o in offers
            )
        problem = json.loads((tmp_path / f"run-{second}-problem.json").read_text())
        [again] = [q for q in problem["requests"] if q["id"] == declined["request_id"]]
        assert again["avoid_shelters"] == [declined["shelter_id"]]
        residents = {p["id"]: p["shelter"] for p in problem["residents"]}
        assert residents[accepted["request_id"]] == accepted["shelter_id"]
        assert {c["id"] for c in problem["contacts"]} == {contacts[0]}

        # The check can fail: the declining shelter takes her after all.
        plan_path = tmp_path / f"run-{second}-plan.json"
        plan = json.loads(plan_path.read_text())
        [mine] = [a for a in plan["assignments"] if a["request"] == declined["request_id"]]
        mine["shelter"] = declined["shelter_id"]
        plan_path.write_text(json.dumps(plan))
        problem_path = tmp_path / f"run-{second}-problem.json"
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "exchange.cli",
                "match",
                "--check",
                str(problem_path),
                str(plan_path),
            ],
            cwd=ROOT,
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 1 and not json.loads(done.stdout)["ok"], done.stdout
        for secret in (planner_secret, shelters[0].token):
            r = await http.get(f"/api/matching/runs/{second}/problem", headers=auth(secret))
            assert r.status_code == 403, r.text


@pytest.mark.parametrize(
    "absent", ["withdrawn", "beyond-horizon", "resident-of-stale-shelter", "resident-names-ended"]
)
async def test_a_run_survives_an_exclusion_naming_someone_outside_its_problem(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], absent: str
) -> None:
    """`exclude_with` may name a request that is not in the run's problem — withdrawn,
    releasing after the horizon, placed at a shelter gone stale — or a resident may name
    one that ended: the run still goes through, and places her."""
    await add_shelters(conn, 2, {"single": 2})
    await conn.execute("update shelters set last_report_at = now()")
    await conn.execute("update beds set reported = true")
    planner_id, _ = await token(conn, "planner", regions=["OH"], agency="DRC")

    async def new(ref: str, **kw: Any) -> str:
        body = msgspec.convert(request_body(ref, **kw), NewRequest)
        async with conn.transaction():
            return await store.insert_request(conn, "DRC", planner_id, body)

    settings = Settings(match_time_limit_s=10, match_workers=1)
    with ThreadPoolExecutor(1) as solver:

        async def run() -> Any:
            return await runs.run(pool, settings, solver, ["OH"], token_id=None)

        if absent == "withdrawn":
            other = await new("A-1")
            await offers.withdraw(conn, other, agency="DRC", token_id=planner_id)
            await new("A-2", exclude_with=[other])
        elif absent == "beyond-horizon":
            other = await new("A-1", release_in_days=60)
            await new("A-2", exclude_with=[other])
        elif absent == "resident-of-stale-shelter":
            other = await new("A-1")
            await run()
            await conn.execute(
                "update shelters set last_report_at = now() - interval '1 day'"
                " where id = (select shelter_id from offers where request_id = $1)",
                other,
            )
            await new("A-2", exclude_with=[other])
        else:
            far = await new("A-1", origin={"lat": 47.0, "lon": -120.0}, max_km=1)
            await new("A-2", exclude_with=[far])
            assert (await run()).offers == 1  # she is placed; the far one is not
            await offers.withdraw(conn, far, agency="DRC", token_id=planner_id)
            await new("A-3")
        assert (await run()).offers == 1


async def test_the_audit_chain_verifies_while_it_grows(
    conn: asyncpg.Connection[Any], dsn: str
) -> None:
    """`haven audit verify` on a live exchange: rows appended meanwhile are never read as
    a broken chain."""
    writer = await asyncpg.connect(dsn)
    stop = asyncio.Event()

    async def append() -> None:
        n = 0
        while not stop.is_set():
            async with writer.transaction():
                await audit.append(writer, None, "request.read", f"request:r{n:06d}")
            n += 1

    appending = asyncio.create_task(append())
    try:
        results = [await audit.verify(conn) for _ in range(100)]
    finally:
        stop.set()
        await appending
        await writer.close()
    broken = [r for r in results if not r.ok]
    assert not broken, f"{len(broken)} of 100 verifications failed, first: {broken[0]}"
