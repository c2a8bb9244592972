"""The Litestar application: `create_app(settings)` wires routes and lifespan resources.

The only module that imports route handlers (a test enforces it); the handlers reach the
lifespan's resources through one typed `Services` struct (`exchange.services`).
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AsyncExitStack, asynccontextmanager, contextmanager

from litestar import Litestar, Router
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from exchange import db
from exchange.access.caps import address_cap
from exchange.access.revocation import Connections
from exchange.beds import channel as shelter_channel
from exchange.beds.ingest import Writer
from exchange.board import channel as dashboard_channel
from exchange.board import fanout
from exchange.ops import health
from exchange.ops.metrics import Metrics
from exchange.pages import dashboard, operator, planner, signin
from exchange.placements import channel as placements
from exchange.placements import requests, schedule
from exchange.placements.delivery import OfferFeed
from exchange.placements.feed import PlannerFeed
from exchange.placements.solver import init_worker
from exchange.services import Services
from exchange.settings import Settings, from_env
from exchange.webhooks.delivery import Sender

log = logging.getLogger("haven.app")


def create_app(settings: Settings, *, dsn: str | None = None) -> Litestar:
    """Build the app; `dsn` overrides the settings' database (tests pass their own)."""
    connections = Connections(
        per_token=settings.max_connections_per_token,
        per_address=settings.max_connections_per_address,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = dsn or db.database_url(settings)
            pool = await db.create_pool(url)
            stack.push_async_callback(pool.close)
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
            feed = OfferFeed(pool)
            stack.push_async_callback(feed.close)
            # The live board and its cross-process fan-out, feeding /ws/dashboard (and
            # telling the offer feed of holds, so offers reach shelters connected here).
            hub = await stack.enter_async_context(
                fanout.running(settings, url, pool, on_events=feed.on_events)
            )
            meters.watch_hub(hub)
            solver = stack.enter_context(solver_executor(settings))
            await stack.enter_async_context(schedule.running(pool, settings, solver))
            # Planners' live channel (read from the audit log; it counts the dashboards'
            # demand too) and their agencies' webhooks.
            planners = await stack.enter_async_context(
                PlannerFeed(
                    url,
                    pool,
                    requests.policy(settings),
                    horizon_days=settings.match_horizon_days,
                    on_demand=hub.demand,
                    on_requests=feed.on_requests,
                ).running()
            )
            await stack.enter_async_context(
                Sender(
                    pool, timeout_s=settings.webhook_timeout_s, attempts=settings.webhook_attempts
                ).running()
            )
            app.state.services = Services(
                settings=settings,
                dsn=url,
                pool=pool,
                connections=connections,
                metrics=meters,
                writer=writer,
                hub=hub,
                offers=feed,
                solver=solver,
                planners=planners,
            )
            # What start-up built (modules, the app, catalogs, the loaded board) lives as
            # long as the process: moved out of the collector's reach, a full collection
            # scans only what came after, and a matching run's thousands of new objects
            # no longer cost every shelter's acknowledgement a 75-90 ms pause.
            gc.collect()
            gc.freeze()
            log.info("haven started", extra={"port": settings.port})
            try:
                yield
            finally:
                gc.unfreeze()  # an app built again in this process (tests) starts afresh

    return Litestar(
        route_handlers=[
            *health.ROUTES,
            *shelter_channel.ROUTES,
            *dashboard_channel.ROUTES,
            *signin.ROUTES,
            *dashboard.ROUTES,
            *operator.ROUTES,
            *planner.ROUTES,
            Router(
                path="/",
                route_handlers=placements.ROUTES,
                exception_handlers=placements.EXCEPTION_HANDLERS,
            ),
        ],
        lifespan=[lifespan],
        # No route for a path (or method): the same {"code", "message"} as every refusal.
        exception_handlers={
            NotFoundException: placements.http_refusal,
            MethodNotAllowedException: placements.http_refusal,
        },
        middleware=[address_cap(connections)],
        openapi_config=health.openapi_config(),
        # Haven sets its JSON log format (exchange/ops/logs.py) in the CLI; Litestar keeps it.
        logging_config=None,
        debug=False,
    )


@contextmanager
def solver_executor(settings: Settings) -> Iterator[Executor]:
    """Where matching runs solve: one worker process (spawned, so it shares no threads or
    sockets with this one; niced, so it never starves the event loop) or one worker
    thread, per HAVEN_MATCH_EXECUTOR."""
    executor: Executor
    if settings.match_executor == "process":
        executor = ProcessPoolExecutor(
            max_workers=1,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=init_worker,
        )
    else:
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="matching")
    try:
        yield executor
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


def app_from_env() -> Litestar:
    """Factory for uvicorn workers: settings from the environment, read once here."""
    return create_app(from_env())
