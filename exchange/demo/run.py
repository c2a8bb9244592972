"""`haven demo`: a seeded region, the exchange serving it, its shelters reporting live, and
a planner's requests matched to beds that the shelters accept or decline.

Everything runs in this one process on the configured database (the embedded one in
HAVEN_DATA_DIR, `.haven/` by default, unless DATABASE_URL is set): seed the demo region
once (`exchange.demo.seed`), start the app under uvicorn on a free port, drive every demo
shelter with `clients.simulate`, and print where to look and a fresh viewer token. Once
every shelter has reported, a planner (`exchange.demo.planner`, over HTTP) asks for beds
for 40 women and runs matching; the simulated shelters accept most offers and decline
some, and the scheduled run offers declined women another bed.

One demo runs per database: seeding issues fresh shelter tokens and revokes the previous
ones, which would cut off a demo already running. A running demo holds an advisory lock
for its whole life (released even if it is killed), and a second one refuses to start
before it touches anything.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import random
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import asyncpg
import msgspec
import uvicorn

from clients import simulate
from clients.agent import TokenRefused
from clients.simulate import DemoShelter
from exchange import db, serve
from exchange.access import tokens
from exchange.app import create_app
from exchange.demo import planner, seed
from exchange.errors import CliError
from exchange.ops import logs
from exchange.settings import Settings

_DEMO_LOCK = 7_120_002
"""Advisory lock key held by a running demo (the migrator's is 7_120_001)."""


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the demo decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _claim(url: str) -> asyncpg.Connection[Any]:
    """A connection holding the demo lock, or CliError when another demo holds it."""
    conn = await db.connect(url)
    if not await db.try_lock(conn, _DEMO_LOCK):
        await conn.close()
        raise CliError(
            "another `haven demo` is running on this database; stop it first (Ctrl-C), "
            "or run this one with its own HAVEN_DATA_DIR"
        )
    return conn


class Prepared(msgspec.Struct, frozen=True, kw_only=True):
    shelters: list[DemoShelter]
    seeded: bool
    viewer: str
    planner: str
    admin: str


async def _prepare(url: str, shelters: int) -> Prepared:
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        region, seeded = await seed.ensure_demo_region(conn, shelters)
        _, viewer = await tokens.create_token(conn, "viewer")
        _, planner = await tokens.create_token(conn, "planner", agency=seed.DEMO_AGENCY)
        _, admin = await tokens.create_token(conn, "admin")
    finally:
        await conn.close()
    return Prepared(shelters=region, seeded=seeded, viewer=viewer, planner=planner, admin=admin)


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def run(
    settings: Settings, *, port: int, shelters: int, rate: float, duration: float | None
) -> dict[str, Any]:
    url = db.database_url(settings)
    claim = await _claim(url)
    try:
        return await _run(url, settings, port=port, shelters=shelters, rate=rate, duration=duration)
    finally:
        await claim.close()


async def _run(
    url: str,
    settings: Settings,
    *,
    port: int,
    shelters: int,
    rate: float,
    duration: float | None,
    requests_n: int = 40,
) -> dict[str, Any]:
    ready = await _prepare(url, shelters)
    region, seeded, viewer = ready.shelters, ready.seeded, ready.viewer
    # Re-run matching often, so declined women are offered another bed while you watch.
    settings = msgspec.structs.replace(settings, port=port, match_every_s=20.0)
    server = _Server(serve.config(settings, create_app(settings, dsn=url), port=port))
    serving = asyncio.create_task(server.serve())
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        while not server.started:
            if serving.done():
                serving.result()
                raise RuntimeError(f"the server did not start on port {port}")
            await asyncio.sleep(0.05)
        base = f"http://{settings.host}:{port}"
        states = sorted({s.region for s in region})
        _say(
            f"Haven demo: {len(region)} shelters in {', '.join(states)} "
            f"({'seeded now' if seeded else 'reusing the seeded region'})"
        )
        _say(f"Dashboard: {base}/")
        _say(f"Sign in with this viewer token (shown once): {viewer}")
        _say(f"A release planner's token (agency {seed.DEMO_AGENCY}): {ready.planner}")
        _say(
            f"Shelter agents are reporting about {rate:g} times a second; "
            + (f"stopping after {duration:g} s." if duration else "Ctrl-C to stop.")
        )
        matching: dict[str, Any] = {}

        async def place_women() -> int:
            # Every shelter has reported (so none is stale): ask for beds and match.
            requests = seed.demo_requests(requests_n, random.Random(), dt.date.today(), states)
            withdrawn, created, run = await planner.plan(
                base, ready.planner, ready.admin, requests, states
            )
            matching.update(
                run=run.id,
                requests=created,
                placed=run.placed,
                offers=run.offers,
                unplaced=run.unplaced,
                solve_s=run.solve_seconds,
                withdrawn=withdrawn,
            )
            reasons = ", ".join(f"{n} {r}" for r, n in run.unplaced.items()) or "none"
            _say(
                f"A planner asked for {created} beds; matching run {run.id} placed "
                f"{run.placed} ({run.status}, {run.solve_seconds:.2f} s) and sent "
                f"{run.offers} offers to shelters; unplaced: {reasons}. Shelters answer "
                "offers as they come; declined women are matched again every 20 s."
            )
            return run.offers

        summary = await simulate.simulate(
            base,
            region,
            rate=rate,
            duration=duration,
            dashboards=1,
            # The latency dashboard is an admin's: a viewer's regions that have a
            # confidential shelter update once a minute (exchange-protocol.md, "What a
            # dashboard may reveal", rule 3), so a short demo would see no update at all.
            viewer_token=ready.admin,
            stop=stop,
            accept_odds=0.75,
            started=place_women,
        )
        summary["matching"] = matching
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        server.should_exit = True
        await serving
    return {"url": base, "seeded": seeded, **summary}


def command(args: argparse.Namespace, settings: Settings) -> int:
    logs.configure(settings.log_level if settings.log_level != "INFO" else "WARNING")
    if args.port:
        serve.check_port(settings.host, args.port)
    port = args.port or free_port(settings.host)
    try:
        summary = asyncio.run(
            run(settings, port=port, shelters=args.shelters, rate=args.rate, duration=args.duration)
        )
    except TokenRefused as exc:
        sys.stderr.write(
            f"haven demo: the exchange refused the demo's shelter tokens (HTTP {exc.status}): "
            "they were revoked (`haven token revoke`, or the database was re-seeded); "
            "start `haven demo` again\n"
        )
        return 2
    except (OSError, RuntimeError) as exc:
        sys.stderr.write(f"haven demo: {exc}\n")
        return 2
    _say(msgspec.json.encode(summary).decode())
    return 0
