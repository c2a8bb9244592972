"""`haven demo`: a seeded region, the exchange serving it, and its shelters reporting live.

Everything runs in this one process on the configured database (the embedded one in
HAVEN_DATA_DIR, `.haven/` by default, unless DATABASE_URL is set): seed the demo region
once (`exchange.demo.seed`), start the app under uvicorn on a free port, drive every demo
shelter with `clients.simulate`, and print where to look and a fresh viewer token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import msgspec
import uvicorn

from clients import simulate
from clients.agent import TokenRefused
from clients.simulate import DemoShelter
from exchange import db, serve
from exchange.access import tokens
from exchange.app import create_app
from exchange.demo import seed
from exchange.ops import logs
from exchange.settings import Settings


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the demo decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


async def _prepare(url: str, shelters: int) -> tuple[list[DemoShelter], bool, str]:
    conn = await db.connect(url)
    try:
        await db.migrate(conn)
        region, seeded = await seed.ensure_demo_region(conn, shelters)
        _, viewer = await tokens.create_token(conn, "viewer")
    finally:
        await conn.close()
    return region, seeded, viewer


def _say(text: str) -> None:
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


async def run(
    settings: Settings, *, port: int, shelters: int, rate: float, duration: float | None
) -> dict[str, Any]:
    url = db.database_url(settings)
    region, seeded, viewer = await _prepare(url, shelters)
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
        _say(
            f"Shelter agents are reporting about {rate:g} times a second; "
            + (f"stopping after {duration:g} s." if duration else "Ctrl-C to stop.")
        )
        summary = await simulate.simulate(
            base,
            region,
            rate=rate,
            duration=duration,
            dashboards=1,
            viewer_token=viewer,
            stop=stop,
        )
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        server.should_exit = True
        await serving
    return {"url": base, "seeded": seeded, **summary}


def command(args: argparse.Namespace, settings: Settings) -> int:
    logs.configure(settings.log_level if settings.log_level != "INFO" else "WARNING")
    port = args.port or free_port(settings.host)
    try:
        summary = asyncio.run(
            run(settings, port=port, shelters=args.shelters, rate=args.rate, duration=args.duration)
        )
    except (OSError, RuntimeError, TokenRefused) as exc:
        sys.stderr.write(f"haven demo: {exc}\n")
        return 2
    _say(msgspec.json.encode(summary).decode())
    return 0
