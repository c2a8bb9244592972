"""Operations endpoints: liveness, readiness (database reachable, migrations current),
metrics, and the OpenAPI UI served from local assets (it must work with no internet)."""

from __future__ import annotations

import asyncio
import hmac
import importlib.util
import re
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, get
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.response import Response
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.exposition import generate_latest

from exchange import db
from exchange.access import tokens
from exchange.errors import AuthError
from exchange.ops import asyncapi, asyncapi_page
from exchange.services import services


@get("/livez", include_in_schema=False, sync_to_thread=False)
def livez() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    pool = services(request).pool
    try:
        async with asyncio.timeout(2):
            async with pool.acquire() as conn:
                todo = await db.pending(conn)
    except Exception as exc:  # any failure to reach the database means not ready
        return Response(
            {"status": "unready", "reason": f"database: {type(exc).__name__}"}, status_code=503
        )
    if todo:
        return Response(
            {"status": "unready", "reason": f"migrations pending: {todo}"}, status_code=503
        )
    return Response({"status": "ready"}, status_code=200)


@get("/metrics", include_in_schema=False)
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """Prometheus exposition of this process's meters; with HAVEN_METRICS_TOKEN set, only
    for `Authorization: Bearer <that token>`."""
    app = services(request)
    wanted = app.settings.metrics_token
    if wanted is not None:
        given = tokens.bearer(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(given.encode(), wanted.encode()):
            refused = AuthError(
                "bad_token", "/metrics needs Authorization: Bearer <HAVEN_METRICS_TOKEN>"
            )
            return Response(
                msgspec.json.encode(refused.frame()),
                status_code=refused.status,
                media_type="application/json",
            )
    return Response(generate_latest(app.metrics.registry), media_type=CONTENT_TYPE_LATEST)


_HOST = re.compile(r"^[A-Za-z0-9.-]{1,253}(:[0-9]{1,5})?$|^\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?$")


def _asyncapi(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The AsyncAPI document naming this server as the client reached it."""
    host = request.headers.get("host", "")
    secure = request.scope.get("scheme") in ("https", "wss")
    return asyncapi.document(
        host if _HOST.match(host) else "127.0.0.1:8000", "wss" if secure else "ws"
    )


@get("/asyncapi.json", include_in_schema=False, sync_to_thread=False)
def asyncapi_json(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The websocket channels in AsyncAPI 3.0."""
    return Response(msgspec.json.encode(_asyncapi(request)), media_type="application/json")


@get("/asyncapi", include_in_schema=False, sync_to_thread=False)
def asyncapi_html(request: Request[Any, Any, Any]) -> Response[str]:
    """The websocket channels as a page (rendered here: no script, no outside asset)."""
    return Response(asyncapi_page.render(_asyncapi(request)), media_type="text/html")


SWAGGER_ASSETS = "/static/swagger-ui"


def _swagger_ui_dir() -> Path:
    """Swagger UI 5's files in the swagger-ui-py wheel (its Python code is never imported)."""
    spec = importlib.util.find_spec("swagger_ui")
    assert spec is not None and spec.origin is not None, "swagger-ui-py is not installed"
    return Path(spec.origin).parent / "static"


def openapi_config() -> OpenAPIConfig:
    """OpenAPI at /schema; the Swagger UI page loads its scripts from this server, not a CDN."""
    return OpenAPIConfig(
        title="Haven",
        version="1",
        description="The exchange's HTTP API. Each operation lists its refusals by error "
        "`code`, each with an example. Its websocket channels (shelter agents, dashboards, "
        "planners) are described in AsyncAPI 3: [read them](/asyncapi), or fetch "
        "[/asyncapi.json](/asyncapi.json).",
        path="/schema",
        # Each operation's description is its handler's docstring (exchange/ops/openapi.py).
        use_handler_docstrings=True,
        render_plugins=[
            SwaggerRenderPlugin(
                js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' href='{SWAGGER_ASSETS}/favicon-32x32.png'>",
            )
        ],
    )


ROUTES: list[ControllerRouterHandler] = [
    livez,
    readyz,
    metrics,
    asyncapi_json,
    asyncapi_html,
    create_static_files_router(
        path=SWAGGER_ASSETS, directories=[str(_swagger_ui_dir())], name="swagger-ui"
    ),
]
