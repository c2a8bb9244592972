"""Placements end to end, for the concurrency and fault tests: a world of shelters, tokens
and requests, and the contract's invariants 1-6 checked against the database.

`check_snapshot` reads every placements table in one repeatable-read snapshot (any
committed state, taken while servers write) and lists what breaks an invariant.
`check_history` reads the bed event log and the audit log, which keep how each offer came
to be, to check what must have held at the instant an offer was made: a free bed, a fresh
shelter. Transaction ids (`xmin`) tie a row to the transaction that last wrote it: an
offer's must be the one that wrote its newest audit record (invariant 6), a run's hold
events the one that wrote its offers.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import re
import signal
import time
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

import asyncpg
import httpx
import msgspec

from exchange.access import tokens
from exchange.audit import store as audit
from exchange.beds import registry
from schema.registry import NewShelter, Rules

LIVE = ("offered", "accepted")
PLACED = ("offered", "accepted", "arrived")
"""Offer statuses that make her a resident of the shelter (invariant 4)."""

OFFER_PATHS: dict[str, list[list[str]]] = {
    "offered": [["offer.created"]],
    "accepted": [["offer.created", "offer.accepted"]],
    "declined": [["offer.created", "offer.declined"]],
    "expired": [["offer.created", "offer.expired"]],
    "withdrawn": [
        ["offer.created", "offer.withdrawn"],
        ["offer.created", "offer.accepted", "offer.withdrawn"],
    ],
    "arrived": [["offer.created", "offer.accepted", "offer.arrived"]],
    "no_show": [["offer.created", "offer.accepted", "offer.no_show"]],
}
"""The audit records an offer in each status has, in order: one per change (invariant 6)."""

# For each request status: its live offers' statuses, and its ending offer (if any).
REQUEST_SHAPES: dict[str, list[tuple[list[str], list[str]]]] = {
    "open": [([], [])],
    "offered": [(["offered"], [])],
    "accepted": [(["accepted"], [])],
    "arrived": [([], ["arrived"])],
    "withdrawn": [([], []), ([], ["withdrawn"])],
    "no_show": [([], ["no_show"])],
}

AUDIT_SUBJECT = re.compile(r"^[a-z_]+:[a-z]?[0-9]+$")
"""A subject is a kind and an id (`offer:o000123`, `run:7`): never a ref or a token."""


# -- the world --------------------------------------------------------------------------------


class Shelter(msgspec.Struct, kw_only=True):
    id: str
    token: str
    seq: int = 0


async def add_shelters(
    conn: asyncpg.Connection[Any], n: int, beds: dict[str, int], *, region: str = "OH"
) -> list[Shelter]:
    """n shelters in `region`, a few km apart, taking children and MAT, each with a token."""
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(
                name=f"House {i}",
                region=region,
                lat=40.0 + 0.02 * (i % 5),
                lon=-83.0 + 0.03 * i,
                beds=beds,
                rules=Rules(max_children=3, mat_ok=i % 2 == 0, languages=["en", "es"]),
                address=f"{i} Elm St",
                intake_phone="+1 614 555 0100",
            )
            for i in range(n)
        ],
    )
    return [Shelter(id=i, token=t) for i, t in added]


async def token(conn: asyncpg.Connection[Any], role: str, **kw: Any) -> tuple[int, str]:
    return await tokens.create_token(conn, role, **kw)  # type: ignore[arg-type]


def auth(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


def counts(total: int, occupied: int, out_of_service: int = 0) -> dict[str, int]:
    return {"total": total, "occupied": occupied, "out_of_service": out_of_service}


async def report(
    http: httpx.AsyncClient, shelter: Shelter, beds: dict[str, dict[str, int]]
) -> httpx.Response:
    """PUT the shelter's next report (seq + 1)."""
    shelter.seq += 1
    return await http.put(
        f"/api/shelters/{shelter.id}/beds",
        json={"seq": shelter.seq, "beds": beds},
        headers=auth(shelter.token),
    )


def request_body(
    ref: str,
    *,
    bed_type: str = "single",
    release_in_days: int = 5,
    contacts: Sequence[str] = (),
    exclude_with: Sequence[str] = (),
    **kw: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ref": ref,
        "region": "OH",
        "release_date": (dt.date.today() + dt.timedelta(days=release_in_days)).isoformat(),
        "origin": {"lat": 40.05, "lon": -82.9},
        "bed_type": bed_type,
        "age": 30,
        "max_km": 200,
        "contacts": list(contacts),
        "exclude_with": list(exclude_with),
        **kw,
    }
    if bed_type == "family":
        body.setdefault("children", 1)
    return body


# -- servers and their PostgreSQL backends -------------------------------------------------


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (a server's solver worker, multiprocessing's helpers)."""
    children: dict[int, list[int]] = defaultdict(list)
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        children[int(stat.rsplit(")", 1)[1].split()[1])].append(int(entry))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def kill(server: Any) -> None:
    """SIGKILL the server, then the processes it started (its solver worker would
    otherwise solve on, orphaned, to its time limit)."""
    assert server.proc is not None
    below = descendants(server.proc.pid)
    server.kill()
    for pid in below:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


async def backends(conn: asyncpg.Connection[Any], *exclude: int) -> set[int]:
    """PostgreSQL backends on this database other than these (and this connection's)."""
    rows = await conn.fetch(
        "select pid from pg_stat_activity where datname = current_database()"
        " and pid <> pg_backend_pid() and not (pid = any($1::int[]))",
        list(exclude),
    )
    return {r["pid"] for r in rows}


async def until_gone(conn: asyncpg.Connection[Any], pids: set[int], timeout: float = 15) -> None:
    """Wait until these backends have exited (their transactions rolled back)."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await conn.fetch(
            "select pid from pg_stat_activity where pid = any($1::int[])", list(pids)
        )
        if not rows:
            return
        assert time.monotonic() < deadline, f"backends {sorted(r['pid'] for r in rows)} linger"
        await asyncio.sleep(0.05)


async def blocked_at(
    conn: asyncpg.Connection[Any], fragment: str, *, at_least: int = 1, timeout: float = 20
) -> list[int]:
    """Wait until `at_least` backends wait on a lock in a statement containing `fragment`."""
    deadline = time.monotonic() + timeout
    while True:
        rows = await conn.fetch(
            "select pid from pg_stat_activity where datname = current_database()"
            " and wait_event_type = 'Lock' and position($1 in query) > 0",
            fragment,
        )
        if len(rows) >= at_least:
            return [r["pid"] for r in rows]
        assert time.monotonic() < deadline, f"no backend blocked in {fragment!r}"
        await asyncio.sleep(0.01)


# -- invariants on one snapshot ---------------------------------------------------------------


class Snapshot(msgspec.Struct, kw_only=True):
    requests: dict[str, dict[str, Any]]
    offers: dict[str, dict[str, Any]]
    beds: dict[tuple[str, str], dict[str, Any]]
    runs: dict[int, dict[str, Any]]
    audit: list[dict[str, Any]]


async def snapshot(conn: asyncpg.Connection[Any]) -> Snapshot:
    """Every placements table at one instant (repeatable read)."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        requests = await conn.fetch(
            "select id, agency, ref, status, contacts, exclude_with, xmin::text as xmin"
            " from requests"
        )
        offers = await conn.fetch(
            "select id, request_id, shelter_id, bed_type, run_id, status, created_at,"
            " decided_at, arrived_at, xmin::text as xmin from offers"
        )
        beds = await conn.fetch(
            "select shelter_id, bed_type, total, occupied, out_of_service, held from beds"
        )
        runs = await conn.fetch("select id, offers, xmin::text as xmin from matching_runs")
        rows = await conn.fetch(
            "select id, kind, subject, detail, xmin::text as xmin from audit_log"
            " where kind <> 'request.read' order by id"
        )
    return Snapshot(
        requests={r["id"]: dict(r) for r in requests},
        offers={r["id"]: dict(r) for r in offers},
        beds={(r["shelter_id"], r["bed_type"]): dict(r) for r in beds},
        runs={r["id"]: dict(r) for r in runs},
        audit=[dict(r) for r in rows],
    )


def _detail(detail: str) -> dict[str, str]:
    return dict(p.split("=", 1) for p in detail.split(",") if "=" in p)


def check_snapshot(
    s: Snapshot, *, secrets: Iterable[str] = (), clock_moved: Iterable[str] = ()
) -> list[str]:
    """What in this snapshot breaks invariants 1-4 and 6 (empty when nothing does).

    `clock_moved`: offers whose acceptance the test itself moved back in time (the one
    write to an offer that no audit record accompanies)."""
    moved = set(clock_moved)
    bad: list[str] = []
    by_request: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for o in s.offers.values():
        by_request[o["request_id"]].append(o)

    # 1. At most one live offer per request, and its status agrees with its offers.
    for rid, r in s.requests.items():
        mine = by_request.get(rid, [])
        live = sorted(o["status"] for o in mine if o["status"] in LIVE)
        ended = sorted(
            o["status"] for o in mine if o["status"] in ("arrived", "withdrawn", "no_show")
        )
        if (live, ended) not in REQUEST_SHAPES[r["status"]]:
            bad.append(
                f"1: request {rid} is {r['status']} with offers "
                f"{sorted((o['id'], o['status']) for o in mine)}"
            )

    # 2. held = live offers of that shelter and bed type (never more, never fewer).
    live_at = Counter(
        (o["shelter_id"], o["bed_type"]) for o in s.offers.values() if o["status"] in LIVE
    )
    for key, b in s.beds.items():
        if b["held"] != live_at.get(key, 0):
            bad.append(f"2: {key} held {b['held']} but {live_at.get(key, 0)} live offers")
    for key in live_at.keys() - s.beds.keys():
        bad.append(f"2: live offers at {key}, which has no beds row")

    # 3. No offer after a decline, for that request and shelter.
    for d in s.offers.values():
        if d["status"] != "declined":
            continue
        for o in by_request[d["request_id"]]:
            if o["shelter_id"] == d["shelter_id"] and int(o["id"][1:]) > int(d["id"][1:]):
                bad.append(f"3: offer {o['id']} made after {d['id']} was declined")

    # 4. No two women placed at one shelter share a contact or an exclusion.
    placed: dict[str, list[str]] = defaultdict(list)
    for o in s.offers.values():
        if o["status"] in PLACED:
            placed[o["shelter_id"]].append(o["request_id"])
    for shelter_id, women in placed.items():
        for i, one in enumerate(women):
            r1 = s.requests[one]
            for other in women[i + 1 :]:
                r2 = s.requests[other]
                if set(r1["contacts"]) & set(r2["contacts"]):
                    bad.append(f"4: {one} and {other} share a contact at {shelter_id}")
                if other in r1["exclude_with"] or one in r2["exclude_with"]:
                    bad.append(f"4: {one} and {other} exclude each other, at {shelter_id}")

    bad.extend(_check_audit(s, secrets, moved))
    return bad


def _check_audit(s: Snapshot, secrets: Iterable[str], moved: set[str]) -> list[str]:
    """6. Every change of a request, offer or run has its audit record, written by the
    same transaction (the row's xmin is its newest record's); no record holds a secret."""
    bad: list[str] = []
    by_subject: dict[str, list[dict[str, Any]]] = defaultdict(list)
    request_xmins: dict[str, set[str]] = defaultdict(set)
    run_offers: Counter[str] = Counter()
    secrets = [x for x in secrets if x]
    for row in s.audit:
        by_subject[row["subject"]].append(row)
        if not AUDIT_SUBJECT.match(row["subject"]):
            bad.append(f"6: audit row {row['id']} has subject {row['subject']!r}")
        for secret in secrets:
            if secret in row["subject"] or secret in row["detail"]:
                bad.append(f"6: audit row {row['id']} ({row['kind']}) holds a token or ref")
        detail = _detail(row["detail"])
        if row["kind"].startswith("offer.") and "request" in detail:
            request_xmins[detail["request"]].add(row["xmin"])
        if row["kind"] == "offer.created":
            run_offers[detail.get("run", "")] += 1
    for oid, o in s.offers.items():
        rows = [r for r in by_subject.get(f"offer:{oid}", []) if r["kind"].startswith("offer.")]
        kinds = [r["kind"] for r in rows]
        if kinds not in OFFER_PATHS[o["status"]]:
            bad.append(f"6: offer {oid} is {o['status']} with audit records {kinds}")
            continue
        if rows[-1]["xmin"] != o["xmin"] and oid not in moved:
            bad.append(f"6: offer {oid} ({o['status']}) was last written unaudited")
        for r in rows:
            d = _detail(r["detail"])
            if (d.get("request"), d.get("shelter")) != (o["request_id"], o["shelter_id"]):
                bad.append(f"6: audit row {r['id']} names another request or shelter")
    for rid, r in s.requests.items():
        rows = [
            x
            for x in by_subject.get(f"request:{rid}", [])
            if x["kind"] in ("request.created", "request.withdrawn")
        ]
        kinds = [x["kind"] for x in rows]
        want = ["request.created"] + (["request.withdrawn"] if r["status"] == "withdrawn" else [])
        if kinds != want:
            bad.append(f"6: request {rid} is {r['status']} with audit records {kinds}")
        if r["xmin"] not in {x["xmin"] for x in rows} | request_xmins[rid]:
            bad.append(f"6: request {rid} ({r['status']}) was last written unaudited")
    for run_id, run in s.runs.items():
        rows = [x for x in by_subject.get(f"run:{run_id}", []) if x["kind"] == "run.created"]
        if len(rows) != 1 or rows[0]["xmin"] != run["xmin"]:
            bad.append(f"6: run {run_id} has {len(rows)} run.created records in its transaction")
        made = sum(1 for o in s.offers.values() if o["run_id"] == run_id)
        if not run["offers"] == made == run_offers[str(run_id)]:
            bad.append(
                f"6: run {run_id} says {run['offers']} offers, has {made}, "
                f"audited {run_offers[str(run_id)]}"
            )
    for o in s.offers.values():
        if o["run_id"] not in s.runs:
            bad.append(f"6: offer {o['id']} belongs to no run ({o['run_id']})")
    return bad


class Transitions:
    """Statuses only move forward between snapshots, and offers never vanish."""

    OFFER_NEXT: ClassVar[dict[str, set[str]]] = {
        "offered": set(OFFER_PATHS),
        "accepted": {"accepted", "arrived", "withdrawn", "no_show"},
    }
    REQUEST_FINAL: ClassVar[tuple[str, ...]] = ("arrived", "withdrawn", "no_show")

    def __init__(self) -> None:
        self.offers: dict[str, str] = {}
        self.requests: dict[str, str] = {}

    def check(self, s: Snapshot) -> list[str]:
        bad = []
        for oid, before in self.offers.items():
            now = s.offers.get(oid, {}).get("status")
            if now not in self.OFFER_NEXT.get(before, {before}):
                bad.append(f"offer {oid} went from {before} to {now}")
        for rid, before in self.requests.items():
            now = s.requests.get(rid, {}).get("status")
            if now is None or (before in self.REQUEST_FINAL and now != before):
                bad.append(f"request {rid} went from {before} to {now}")
        self.offers = {k: v["status"] for k, v in s.offers.items()}
        self.requests = {k: v["status"] for k, v in s.requests.items()}
        return bad


# -- invariants over the history ----------------------------------------------------------


class History(msgspec.Struct, kw_only=True):
    problems: list[str]
    overheld_reports: int
    """Reports that lowered capacity below the beds held (offers kept, available 0)."""
    offers_checked: int


async def check_history(conn: asyncpg.Connection[Any], *, stale_after_s: float) -> History:
    """Invariants 2 and 5 at the instant each offer was made: in the run's transaction,
    after its holds, the shelter had no more beds held than free (and exactly as many
    more as it got offers), and its last report was no older than `stale_after_s`."""
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        events = await conn.fetch(
            "select seq, at, shelter_id, kind, beds, xmin::text as xmin"
            " from bed_events order by seq"
        )
        offers = await conn.fetch(
            "select id, shelter_id, bed_type, run_id, created_at from offers order by id"
        )
        runs = await conn.fetch(
            "select subject, xmin::text as xmin from audit_log where kind = 'run.created'"
        )
    run_xmin = {int(r["subject"].split(":")[1]): r["xmin"] for r in runs}
    stale_after = dt.timedelta(seconds=stale_after_s)
    bad: list[str] = []
    by_shelter: dict[str, list[asyncpg.Record]] = defaultdict(list)
    overheld = 0
    for e in events:
        by_shelter[e["shelter_id"]].append(e)
        if e["kind"] == "report":
            for b in json.loads(e["beds"]).values():
                overheld += b["occupied"] + b["out_of_service"] + b["held"] > b["total"]
    made: dict[tuple[int, str], list[asyncpg.Record]] = defaultdict(list)
    for o in offers:
        made[(o["run_id"], o["shelter_id"])].append(o)
    for (run_id, shelter_id), group in sorted(made.items()):
        xmin = run_xmin.get(run_id)
        trail = by_shelter[shelter_id]
        holds = [n for n, e in enumerate(trail) if e["kind"] == "hold" and e["xmin"] == xmin]
        if len(holds) != 1:
            bad.append(f"2: run {run_id} wrote {len(holds)} hold events for {shelter_id}")
            continue
        at = holds[0]
        hold = json.loads(trail[at]["beds"])
        for bed_type, n in Counter(o["bed_type"] for o in group).items():
            b = hold.get(bed_type)
            before = next(
                (
                    json.loads(e["beds"])[bed_type]
                    for e in reversed(trail[:at])
                    if bed_type in json.loads(e["beds"])
                ),
                None,
            )
            if b is None or before is None:
                bad.append(f"2: run {run_id}'s hold at {shelter_id} lacks {bed_type}")
                continue
            if b["held"] > b["total"] - b["occupied"] - b["out_of_service"]:
                bad.append(f"2: run {run_id} held {b['held']} {bed_type} at {shelter_id}: {b}")
            if b["held"] - before["held"] != n:
                bad.append(
                    f"2: run {run_id} made {n} {bed_type} offers at {shelter_id} "
                    f"but held went {before['held']} -> {b['held']}"
                )
        last_report = next((e for e in reversed(trail[:at]) if e["kind"] == "report"), None)
        created = group[0]["created_at"]
        if last_report is None or last_report["at"] < created - stale_after:
            seen = None if last_report is None else last_report["at"].isoformat()
            bad.append(
                f"5: run {run_id} made offers at {shelter_id} at {created.isoformat()}, "
                f"last report {seen}"
            )
    return History(problems=bad, overheld_reports=overheld, offers_checked=len(offers))


async def verify_audit(conn: asyncpg.Connection[Any]) -> audit.Verified:
    return await audit.verify(conn)
