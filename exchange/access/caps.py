"""The per-address websocket cap, as ASGI middleware in front of both channels.

The address is known before any handler runs (and before any token is looked up), so the
cap is applied here, for every websocket, and holds for the connection's whole life:
counted when the handshake arrives, released when the handler returns. The per-token cap
needs the token, so the shelter channel applies it itself (`Connections.admit`).
"""

from __future__ import annotations

import logging
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

from exchange.access.revocation import Connections
from exchange.errors import HavenError, refuse

log = logging.getLogger("haven.connections")


def address_cap(connections: Connections) -> Any:
    """Middleware factory: refuse a websocket (429) from an address at its cap."""

    def middleware(app: ASGIApp) -> ASGIApp:
        async def capped(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != ScopeType.WEBSOCKET:
                await app(scope, receive, send)
                return
            client = scope.get("client")
            address = client[0] if client else ""
            try:
                connections.enter(address)
            except HavenError as exc:
                # Never the address itself: logs hold no addresses.
                log.warning("websocket refused: address at its cap", extra={"code": exc.code})
                await refuse(send, scope, exc)
                return
            try:
                await app(scope, receive, send)
            finally:
                connections.leave(address)

        return capped

    return middleware
