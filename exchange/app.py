"""The Litestar application: `create_app(settings)` wires routes and lifespan resources.

The only module that imports route handlers (a test enforces it); the handlers reach the
lifespan's resources through one typed `Services` struct (`exchange.services`).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar

from exchange import db
from exchange.access.revocation import Connections
from exchange.beds import channel as shelter_channel
from exchange.beds.ingest import Writer
from exchange.board import channel as dashboard_channel
from exchange.board import fanout
from exchange.ops import health
from exchange.ops.metrics import Metrics
from exchange.pages import dashboard, signin
from exchange.services import Services
from exchange.settings import Settings, from_env

log = logging.getLogger("haven.app")


def create_app(settings: Settings, *, dsn: str | None = None) -> Litestar:
    """Build the app; `dsn` overrides the settings' database (tests pass their own)."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = dsn or db.database_url(settings)
            pool = await db.create_pool(url)
            stack.push_async_callback(pool.close)
            connections = Connections()
            await stack.enter_async_context(connections.sweeping(pool))
            meters = Metrics()
            writer = await stack.enter_async_context(
                Writer(
                    pool,
                    batch_max=settings.batch_max,
                    batch_wait_ms=settings.batch_wait_ms,
                    observe=meters.batch,
                ).running()
            )
            # The live board and its cross-process fan-out, feeding /ws/dashboard.
            hub = await stack.enter_async_context(fanout.running(settings, url, pool))
            meters.watch_hub(hub)
            app.state.services = Services(
                settings=settings,
                dsn=url,
                pool=pool,
                connections=connections,
                metrics=meters,
                writer=writer,
                hub=hub,
            )
            log.info("haven started", extra={"port": settings.port})
            yield

    return Litestar(
        route_handlers=[
            *health.ROUTES,
            *shelter_channel.ROUTES,
            *dashboard_channel.ROUTES,
            *signin.ROUTES,
            *dashboard.ROUTES,
        ],
        lifespan=[lifespan],
        openapi_config=health.openapi_config(),
        # Haven sets its JSON log format (exchange/ops/logs.py) in the CLI; Litestar keeps it.
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for uvicorn workers: settings from the environment, read once here."""
    return create_app(from_env())
