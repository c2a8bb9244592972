"""The metrics registry: dashboard hub counts are read at scrape time."""

from __future__ import annotations

from datetime import timedelta

from prometheus_client.exposition import generate_latest

from exchange.beds.model import BedState
from exchange.board import board as live
from exchange.board import hub as dashboard
from exchange.ops.metrics import Metrics
from schema.registry import Principal


def test_hub_subscribers_resyncs_and_drops_are_exposed() -> None:
    """Subscribers, resyncs and drops of the hub appear in the exposition."""
    hub = dashboard.Hub(live.Board(stale_after=timedelta(hours=8), min_shelters=1), coalesce_s=0.0)
    metrics = Metrics()
    metrics.watch_hub(hub)
    hub.subscribe(Principal(token_id=1, role="viewer"), None)
    hub.subscribe(Principal(token_id=2, role="admin"), None)
    hub.resyncs, hub.dropped = 3, 1
    text = generate_latest(metrics.registry).decode()
    assert "haven_dashboard_subscribers 2.0" in text
    assert "haven_dashboard_resyncs_total 3.0" in text
    assert "haven_dashboard_dropped_total 1.0" in text


def test_beds_held_beyond_those_free_are_counted_not_hidden() -> None:
    """A shelter reporting fewer free beds than it has held shows in haven_beds_overheld."""
    board = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    hub = dashboard.Hub(board, coalesce_s=0.0)
    metrics = Metrics()
    metrics.watch_hub(hub)
    assert "haven_beds_overheld 0.0" in generate_latest(metrics.registry).decode()
    board.put(
        "s00001",
        region="OH",
        confidential=False,
        beds={"single": BedState(total=3, occupied=3, out_of_service=0, held=2)},
        reported_at=None,
    )
    assert "haven_beds_overheld 2.0" in generate_latest(metrics.registry).decode()
