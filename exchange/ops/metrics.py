"""Prometheus metrics for one app: its own registry, and the `/metrics` route.

Each `haven serve` process exposes its own counters (with `--workers N`, scrape each
process or sum them; prometheus_client's multiprocess mode is not used).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from schema.wire import Ack, Error


class Metrics:
    """The exchange's instruments, registered in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.reports_applied = Counter(
            "haven_reports_applied",
            "Shelter reports committed to the database.",
            registry=self.registry,
        )
        self.reports_acked = Counter(
            "haven_reports_acked",
            "Shelter reports answered with an ack, by status.",
            ["status"],
            registry=self.registry,
        )
        self.reports_rejected = Counter(
            "haven_reports_rejected",
            "Shelter frames answered with an error, by code.",
            ["code"],
            registry=self.registry,
        )
        self.open_connections = Gauge(
            "haven_open_connections",
            "Open websocket connections, by channel.",
            ["channel"],
            registry=self.registry,
        )
        self.ack_latency = Histogram(
            "haven_ack_latency_seconds",
            "From receiving a shelter report to sending its answer.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0),
            registry=self.registry,
        )

        self.batch_reports = Histogram(
            "haven_ingest_batch_reports",
            "Reports committed per ingest transaction.",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "haven_ingest_batch_seconds",
            "One ingest transaction, from acquiring a connection to commit.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
            registry=self.registry,
        )

    def watch_hub(self, hub: HubStats) -> None:
        """Expose the dashboard hub's own counts, read at scrape time."""
        self.registry.register(_HubCollector(hub))

    def batch(self, reports: int, seconds: float) -> None:
        """Record one committed ingest batch."""
        self.batch_reports.observe(reports)
        self.batch_seconds.observe(seconds)

    def answered(self, message: Ack | Error, seconds: float | None = None) -> None:
        """Count one answer to a shelter frame (and its latency when it was a report)."""
        if isinstance(message, Ack):
            self.reports_acked.labels(message.status).inc()
            if message.status == "applied":
                self.reports_applied.inc()
        else:
            self.reports_rejected.labels(message.code).inc()
        if seconds is not None:
            self.ack_latency.observe(seconds)


class HubStats(Protocol):
    """What the metrics read of the dashboard hub (`exchange.board.hub.Hub`)."""

    resyncs: int
    dropped: int

    def __len__(self) -> int: ...

    def overheld(self) -> int: ...


class _HubCollector:
    def __init__(self, hub: HubStats) -> None:
        self._hub = hub

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "haven_dashboard_subscribers", "Dashboards connected to this process.", len(self._hub)
        )
        yield CounterMetricFamily(
            "haven_dashboard_resyncs",
            "Dashboards that fell behind and were sent a fresh snapshot.",
            self._hub.resyncs,
        )
        yield CounterMetricFamily(
            "haven_dashboard_dropped",
            "Dashboards closed (4008) for not reading even after a resync.",
            self._hub.dropped,
        )
        yield GaugeMetricFamily(
            "haven_beds_overheld",
            "Beds held for offers beyond those free: a report lowered capacity under live "
            "offers (placements invariant 2 keeps the offers; available shows 0).",
            self._hub.overheld(),
        )
