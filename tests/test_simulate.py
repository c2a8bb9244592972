"""The simulator: shelter behaviour, latency matching, and a short run against `haven serve`."""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from clients.simulate import (
    DemoShelter,
    SendLog,
    ShelterModel,
    Shelters,
    match_latencies,
    simulate,
)
from exchange.access import tokens as auth
from exchange.demo import seed
from exchange.demo.simulation import _complete
from exchange.settings import Settings
from schema.wire import Decided, Offer, OfferClosed

ROOT = Path(__file__).resolve().parent.parent


def _shelter(**beds: int) -> DemoShelter:
    return DemoShelter(id="s00001", token="hvn_x", region="OH", beds=beds)


def test_shelter_events_keep_counts_possible() -> None:
    """A day of events never makes occupied + out_of_service exceed total or go negative."""
    model = ShelterModel(_shelter(single=12, family=3), random.Random(3))
    for step in range(2000):
        name, new = model.propose(hour=(step / 2000 * 24) % 24)
        model.beds[name] = new
        total, occ, oos = new
        assert occ >= 0 and oos >= 0 and occ + oos <= total == model.shelter.beds[name]


def test_arrivals_outnumber_departures_in_the_evening() -> None:
    """Evening proposals fill beds more often than morning ones empty them less."""

    def net(hour: float) -> int:
        model = ShelterModel(_shelter(single=1000), random.Random(5))
        model.beds["single"] = [1000, 500, 0]
        return sum(model.propose(hour)[1][1] - 500 for _ in range(3000))

    assert net(17.0) > 0 > net(9.0)


def _offer(offer: str, bed_type: str = "single") -> Offer:
    return Offer(
        offer=offer,
        status="offered",
        bed_type=bed_type,
        children=0,
        mat=False,
        language=None,
        needs=[],
        age=30,
        release_date="2026-12-01",
        expires_at="2026-12-01T00:00:00Z",
    )


def test_offers_hold_beds_in_the_totals_the_simulator_expects() -> None:
    """A new offer takes a bed from the region's available count until it is declined,
    expires or is withdrawn; an accepted one keeps it; a repeat changes nothing; and the
    count never goes below zero, as the exchange's does not."""
    shelter = DemoShelter(id="s00001", token="hvn_x", region="OH", beds={"single": 4})
    fleet = Shelters("http://127.0.0.1:1", [shelter], random.Random(1))
    fleet.models["s00001"].beds["single"] = [4, 2, 0]
    fleet.sums["OH"] = dict(fleet.models["s00001"].available())
    hear = fleet._listener("s00001")

    def available() -> int:
        return fleet.sums["OH"]["single"][1]

    assert available() == 2
    hear(_offer("o000001"))
    hear(_offer("o000001"))  # sent again after a reconnect's hello
    hear(_offer("o000002"))
    assert available() == 0
    hear(_offer("o000003"))  # held beyond what is free: still 0, never -1
    assert available() == 0
    hear(Decided(offer="o000001", status="accepted"))
    hear(Decided(offer="o000002", status="declined"))
    assert available() == 0  # o000003 still holds the bed o000002 gave back
    hear(OfferClosed(offer="o000003", status="expired"))
    assert available() == 1
    hear(OfferClosed(offer="o000003", status="expired"))
    assert available() == 1 and fleet.models["s00001"].held["single"] == 1


def _log(*sends: tuple[float, int]) -> SendLog:
    return SendLog(
        t_start=1.0,
        model0={"OH": {"single": (10, 4)}},
        sends={"OH": [(t, (("single", 10, avail),)) for t, avail in sends]},
    )


def test_latency_counts_every_report_up_to_the_matching_one() -> None:
    """An update showing report k's totals resolves reports up to k at its arrival time."""
    log = _log((2.0, 3), (2.1, 2), (2.2, 1))
    seen = [
        (0.5, "OH", {"single": (10, 4)}),
        (2.15, "OH", {"single": (10, 2)}),
        (2.5, "OH", {"single": (10, 1)}),
    ]
    latencies, unseen = match_latencies(log, seen)
    assert [round(x, 3) for x in latencies] == [0.15, 0.05, 0.3] and unseen == 0


def test_latency_adds_the_offset_of_shelters_not_driven() -> None:
    """Totals shown above the simulator's own sums at start are an offset, not a mismatch."""
    log = _log((2.0, 3))
    seen = [(0.5, "OH", {"single": (30, 9)}), (2.2, "OH", {"single": (30, 8)})]
    latencies, unseen = match_latencies(log, seen)
    assert [round(x, 3) for x in latencies] == [0.2] and unseen == 0


def test_latency_ignores_updates_that_match_no_report() -> None:
    """A state no report implies (reordered commits) resolves nothing; unseen are counted."""
    log = _log((2.0, 3), (2.1, 2))
    seen = [(0.5, "OH", {"single": (10, 4)}), (2.2, "OH", {"single": (10, 7)})]
    assert match_latencies(log, seen) == ([], 2)


def test_reports_sent_after_an_update_are_not_matched_by_it() -> None:
    """An update cannot show a report sent after it arrived."""
    log = _log((2.0, 3), (3.0, 4))
    seen = [(0.5, "OH", {"single": (10, 4)}), (2.5, "OH", {"single": (10, 4)})]
    assert match_latencies(log, seen) == ([], 2)


async def test_tokens_file_entries_get_region_and_beds_from_the_database(
    conn: asyncpg.Connection[Any], dsn: str
) -> None:
    """`haven shelter import` output (id, token) is completed with region and bed totals."""
    registered = await seed.register(conn, 3, seed=9)
    entries = [{"id": s.id, "token": s.token} for s in registered]
    got = await _complete(Settings(database_url=dsn), entries)
    assert got == registered


@pytest.mark.slow
async def test_short_run_against_haven_serve(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """A short run applies reports and reports ack and dashboard latency percentiles."""
    shelters = await seed.register(conn, 9, seed=4)
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve(env={"HAVEN_COALESCE_MS": "20"})
    summary = await simulate(
        server.url, shelters, rate=60, duration=2.0, dashboards=2, viewer_token=viewer, seed=4
    )
    assert summary["errors"] == {}
    assert summary["sent"] >= 80 and summary["unanswered"] == 0
    assert summary["applied"] == summary["sent"] + len(shelters)
    assert summary["applied_per_s"] > 0
    assert summary["ack_ms"]["p50"] <= summary["ack_ms"]["p99"]
    dash = summary["dashboard_ms"]
    assert dash["samples"] >= summary["sent"]  # two dashboards see most reports
    assert 0 < dash["p50"] <= dash["p99"] < 5000
    applied = await conn.fetchval("select sum(last_seq) from shelters")
    assert applied == summary["applied"]


@pytest.mark.slow
async def test_simulate_command_registers_its_own_shelters(
    dsn: str, serve: Callable[..., Any]
) -> None:
    """`haven simulate --register` needs only the database and the URL, and prints a summary."""
    server = serve()
    done = await asyncio.to_thread(
        subprocess.run,
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "simulate",
            "--url",
            server.url,
            "--register",
            "--shelters",
            "6",
            "--rate",
            "20",
            "--duration",
            "1",
            "--dashboards",
            "1",
        ],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": dsn},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    for key in ("applied_per_s", "ack_ms", "dashboard_ms", "errors"):
        assert key in summary
    assert summary["shelters"] == 6 and summary["applied"] >= 6
    assert "hvn_" not in done.stdout + done.stderr
