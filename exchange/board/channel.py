"""The dashboard channel `/ws/dashboard?since=N` and `GET /api/regions`.

Thin shells: check Origin and `since`, resolve the principal (bearer token or session
cookie), subscribe to the hub, and pump its queue to the socket. `/api/regions` answers
the snapshot a websocket would get, with `"degraded": true` while the numbers may be out
of date (the exchange cannot read its database), else `false`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Response

from exchange.access import sessions, tokens
from exchange.access.origin import origin_allowed
from exchange.access.revocation import WS_REVOKED
from exchange.board.hub import Subscriber
from exchange.errors import DB_ERRORS, AuthError, HavenError, Unavailable, refuse
from exchange.ops.openapi import refusals
from exchange.services import services
from schema.wire import Error, Snapshot

log = logging.getLogger("haven.dashboard")

CLOSE_TIMEOUT_S = 2.0

UNAVAILABLE = Unavailable("database unavailable; retry")


def parse_since(raw: str | None) -> int | None:
    """`since` from the query string; a `bad_since` error when it is not a number."""
    if raw is None or raw == "":
        return None
    # ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise HavenError("bad_since", f"since must be a non-negative integer, not {raw[:40]!r}")
    return int(raw)


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
        await _serve(socket, sub)
    finally:
        app.hub.unsubscribe(sub)
        app.connections.remove(principal.token_id, handle)


async def _serve(socket: WebSocket[Any, Any, Any], sub: Subscriber) -> None:
    async def pump() -> None:
        while (text := await sub.next()) is not None:
            await socket.send_text(text)

    async def drain() -> None:
        # The channel defines no client messages; reading only notices a disconnect.
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await socket.receive_data("text")

    tasks = {
        asyncio.create_task(pump()),
        asyncio.create_task(drain()),
        asyncio.create_task(sub.closed.wait()),
    }
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    for task in done:
        if (
            not task.cancelled()
            and (exc := task.exception()) is not None
            and not isinstance(exc, WebSocketDisconnect | OSError)
        ):
            raise exc
    if sub.close_code is not None:
        # A stalled client may never take the close frame; do not wait for it forever.
        with contextlib.suppress(TimeoutError, WebSocketDisconnect, OSError, RuntimeError):
            async with asyncio.timeout(CLOSE_TIMEOUT_S):
                await socket.close(code=sub.close_code)


@get(
    "/api/regions",
    responses={
        200: ResponseSpec(
            data_container=Snapshot, description="The snapshot", generate_examples=False
        ),
        **refusals(Error, 401, 403, 503),
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


ROUTES = [dashboard_ws, regions]
