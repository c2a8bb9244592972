"""The Litestar application: `create_app(settings)` wires routes and lifespan resources."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from litestar import Litestar

from exchange import dashboard, db, ingest, ops, page, sessions, shelter_ws
from exchange.connections import Connections
from exchange.metrics import Metrics
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
            app.state.settings = settings
            app.state.dsn = url
            app.state.pool = pool
            app.state.connections = Connections()
            await stack.enter_async_context(app.state.connections.sweeping(pool))
            app.state.metrics = Metrics()
            app.state.writer = await stack.enter_async_context(
                ingest.Writer(
                    pool,
                    batch_max=settings.batch_max,
                    batch_wait_ms=settings.batch_wait_ms,
                    observe=app.state.metrics.batch,
                ).running()
            )
            # The live board and its cross-process fan-out, feeding /ws/dashboard.
            app.state.hub = await stack.enter_async_context(dashboard.running(settings, url, pool))
            app.state.metrics.watch_hub(app.state.hub)
            log.info("haven started", extra={"port": settings.port})
            yield

    return Litestar(
        route_handlers=[
            *ops.ROUTES,
            *shelter_ws.ROUTES,
            *dashboard.ROUTES,
            *sessions.ROUTES,
            *page.ROUTES,
        ],
        lifespan=[lifespan],
        openapi_config=ops.openapi_config(),
        # Haven sets its JSON log format (exchange/logs.py) in the CLI; Litestar must keep it.
        logging_config=None,
        debug=False,
    )


def app_from_env() -> Litestar:
    """Factory for uvicorn workers: settings from the environment, read once here."""
    return create_app(from_env())
