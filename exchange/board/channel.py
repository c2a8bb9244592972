"""The dashboard channel `/ws/dashboard?since=N`, `GET /api/regions` and a region's daily
history `GET /api/regions/{region}/history`.

Thin shells: check Origin and `since`, resolve the principal (bearer token or session
cookie), subscribe to the hub, and pump its queue to the socket. `/api/regions` answers
the snapshot a websocket would get, with `"degraded": true` while the numbers may be out
of date (the exchange cannot read its database), else `false`.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated, Any

import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.params import FromPath
from litestar.response import Response

from exchange.access import sessions, tokens
from exchange.access.origin import origin_allowed
from exchange.access.revocation import WS_REVOKED
from exchange.board import history, store
from exchange.board.board import view_of
from exchange.board.hub import parse_since, serve
from exchange.errors import DB_ERRORS, AuthError, HavenError, Unavailable, refuse
from exchange.ops import examples
from exchange.ops.openapi import SESSION, query_parameter, refusals, success
from exchange.services import services
from schema.wire import Error, RegionHistory, Snapshot

log = logging.getLogger("haven.dashboard")

UNAVAILABLE = Unavailable("database unavailable; retry")


@websocket("/ws/dashboard")
async def dashboard_ws(socket: WebSocket[Any, Any, Any]) -> None:
    """Snapshot or resume, then live updates, for viewer, planner and admin tokens."""
    app = services(socket)
    try:
        if not origin_allowed(socket.headers, app.settings.allowed_origins):
            raise AuthError("forbidden_origin", "cross-site websocket refused: origin not allowed")
        since = parse_since(socket.query_params.get("since"))
        principal = await sessions.resolve(app.pool, socket.headers, socket.cookies)
        tokens.require_role(principal, *sessions.DASHBOARD_ROLES)
    except HavenError as exc:
        await refuse(socket.send, socket.scope, exc)
        return
    except DB_ERRORS as exc:
        log.warning("dashboard handshake failed", extra={"error": type(exc).__name__})
        await refuse(socket.send, socket.scope, UNAVAILABLE)
        return
    await socket.accept()
    sub = app.hub.subscribe(principal, since)

    async def revoke() -> None:
        sub.close(WS_REVOKED)

    handle = app.connections.add(principal.token_id, revoke)
    try:
        await serve(socket, sub)
    finally:
        app.hub.unsubscribe(sub)
        app.connections.remove(principal.token_id, handle)


@get(
    "/api/regions",
    summary="Read the dashboard snapshot",
    responses={
        **success(Snapshot, examples.SNAPSHOT, "Every region this token sees"),
        **refusals(Error, *SESSION, "unavailable"),
    },
)
async def regions(request: Request[Any, Any, Any]) -> Response[Any]:
    """The dashboard snapshot for this token (bearer or session cookie), and whether its
    numbers may be out of date (`degraded`)."""
    app = services(request)
    try:
        principal = await sessions.resolve(app.pool, request.headers, request.cookies)
        tokens.require_role(principal, *sessions.DASHBOARD_ROLES)
    except HavenError as exc:
        return Response(exc.frame(), status_code=exc.status)
    except DB_ERRORS as exc:
        log.warning("regions request failed", extra={"error": type(exc).__name__})
        return Response(UNAVAILABLE.frame(), status_code=UNAVAILABLE.status)
    snapshot = msgspec.structs.replace(app.hub.snapshot(principal), degraded=app.hub.degraded)
    return Response(
        content=msgspec.json.encode(snapshot),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


HISTORY_DAYS = 366


@get(
    "/api/regions/{region:str}/history",
    summary="Read a region's daily history",
    operation_class=query_parameter(
        "days", Annotated[int, msgspec.Meta(ge=1, le=HISTORY_DAYS)], "How many days (default 30)"
    ),
    responses={
        **success(RegionHistory, examples.HISTORY, "Daily figures, oldest first"),
        **refusals(Error, "invalid_request", *SESSION, "forbidden_region", "unavailable"),
    },
)
async def region_history(request: Request[Any, Any, Any], region: FromPath[str]) -> Response[Any]:
    """A region's daily supply (beds of its contributing shelters) and demand (open,
    offered, accepted, unplaced requests) over the last `?days=` days (1-366, default
    30), oldest first, under the dashboard's rules for this token; days not recorded are
    absent."""
    app = services(request)
    try:
        days = _days(request.query_params.get("days"))
        principal = await sessions.resolve(app.pool, request.headers, request.cookies)
        tokens.require_role(principal, *sessions.DASHBOARD_ROLES)
        if not principal.sees_region(region):
            raise AuthError("forbidden_region", f"this token does not see region {region[:16]}")
        first = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=days - 1)
        rows = await store.days(app.pool, region, first)
    except HavenError as exc:
        return Response(exc.frame(), status_code=exc.status)
    except DB_ERRORS as exc:
        log.warning("region history failed", extra={"error": type(exc).__name__})
        return Response(UNAVAILABLE.frame(), status_code=UNAVAILABLE.status)
    view = view_of(principal)
    body = RegionHistory(
        region=region,
        days=[history.shown(r, view, app.settings.min_region_shelters) for r in rows],
    )
    return Response(
        content=msgspec.json.encode(body),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


def _days(raw: str | None) -> int:
    """`days` from the query string (read here, so a bad one is refused in this channel's
    error shape): 1-366, default 30."""
    if raw is None or raw == "":
        return 30
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 3) or not 1 <= int(raw) <= HISTORY_DAYS:
        raise HavenError("invalid_request", f"days must be 1-{HISTORY_DAYS}, not {raw[:20]!r}")
    return int(raw)


ROUTES = [dashboard_ws, regions, region_history]
