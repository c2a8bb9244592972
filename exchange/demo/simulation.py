"""`haven simulate`: register (or look up) shelters, then drive them with `clients.simulate`.

The simulator itself speaks only the wire protocol; this command is the part that
touches the configured database, to register simulated shelters or complete a tokens file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import Any

import msgspec

from clients.agent import TokenRefused
from clients.simulate import DemoShelter, simulate
from exchange import db
from exchange.access import tokens
from exchange.beds import store
from exchange.demo import seed as seeding
from exchange.settings import Settings

_TOKENS = msgspec.json.Decoder(list[dict[str, Any]])


async def _register(
    settings: Settings, n: int, seed: int, viewer: bool
) -> tuple[list[DemoShelter], str | None]:
    conn = await db.connect(db.database_url(settings))
    try:
        await db.migrate(conn)
        shelters = await seeding.register(conn, n, seed=seed)
        token = (await tokens.create_token(conn, "viewer"))[1] if viewer else None
        return shelters, token
    finally:
        await conn.close()


async def _complete(settings: Settings, entries: list[dict[str, Any]]) -> list[DemoShelter]:
    """Shelters from a tokens file; region and beds looked up in the database when absent."""
    missing = [e["id"] for e in entries if "beds" not in e or "region" not in e]
    found: dict[str, dict[str, Any]] = {}
    if missing:
        conn = await db.connect(db.database_url(settings))
        try:
            for s in await store.shelter_beds(conn, ids=missing):
                found[s.id] = {"region": s.region, "beds": s.beds}
        finally:
            await conn.close()
    return [msgspec.convert({**found.get(e["id"], {}), **e}, DemoShelter) for e in entries]


def command(args: argparse.Namespace, settings: Settings) -> int:
    viewer = args.viewer_token or os.environ.get("HAVEN_VIEWER_TOKEN")
    try:
        if args.register:
            shelters, created = asyncio.run(
                _register(settings, args.shelters, args.seed, args.dashboards > 0 and not viewer)
            )
            viewer = viewer or created
        elif args.tokens:
            entries = _TOKENS.decode(Path(args.tokens).read_bytes())
            shelters = asyncio.run(_complete(settings, entries))[: args.shelters]
        else:
            sys.stderr.write(
                "haven simulate: give --register (new shelters in the configured "
                "database) or --tokens FILE (`haven shelter import` output)\n"
            )
            return 2
        summary = asyncio.run(
            simulate(
                args.url,
                shelters,
                rate=args.rate,
                duration=args.duration,
                dashboards=args.dashboards,
                viewer_token=viewer,
                seed=args.seed,
            )
        )
    except TokenRefused as exc:
        sys.stderr.write(f"haven simulate: {exc}\n")
        return 3
    except (OSError, ValueError, msgspec.DecodeError, RuntimeError) as exc:
        sys.stderr.write(f"haven simulate: {exc}\n")
        return 2
    sys.stdout.write(msgspec.json.encode(summary).decode() + "\n")
    return 0
