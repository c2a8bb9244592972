"""The app's live services, one typed struct built by `create_app`'s lifespan.

Handlers reach them with `services(connection)` instead of untyped `app.state` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Executor

    import asyncpg
    from litestar.connection import ASGIConnection

    from exchange.access.revocation import Connections
    from exchange.beds.ingest import Writer
    from exchange.board.hub import Hub
    from exchange.ops.metrics import Metrics
    from exchange.placements.delivery import OfferFeed
    from exchange.placements.feed import PlannerFeed
    from exchange.settings import Settings


@dataclass(frozen=True, kw_only=True)
class Services:
    settings: Settings
    dsn: str
    pool: asyncpg.Pool[Any]
    connections: Connections
    metrics: Metrics
    writer: Writer
    hub: Hub
    offers: OfferFeed
    """Offers to the shelters connected to this process."""
    solver: Executor
    """Where matching runs solve, off the event loop."""
    planners: PlannerFeed
    """The planner channel's subscribers in this process."""


def services(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    """The services of the app serving this request or websocket."""
    found: Services = connection.app.state.services
    return found
