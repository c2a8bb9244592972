"""The shelter channel: `/ws/shelter` and `PUT /api/shelters/{id}/beds`.

Thin shells around the sans-I/O core: authenticate, decode with `report.decode`, submit
to the ingest writer, send its answer. The handshake is refused (HTTP 401/403, never
accepted) unless the bearer token is a live shelter token; the shelter is the token's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar import Request, WebSocket, put, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Response

from exchange.access import tokens
from exchange.access.revocation import WS_REVOKED
from exchange.access.store import Executor
from exchange.beds import report as core
from exchange.beds import store
from exchange.errors import DB_ERRORS, HavenError, Unavailable, refuse, status
from exchange.services import Services, services
from schema.registry import Principal
from schema.wire import Ack, Error, Hello, Report

log = logging.getLogger("haven.shelter")

_ENCODER = msgspec.json.Encoder()


async def _shelter_principal(pool: Executor, header: str | None) -> Principal:
    principal = await tokens.authenticate(pool, tokens.bearer(header))
    tokens.require_role(principal, "shelter")
    assert principal.shelter_id is not None  # the tokens table guarantees it for shelter tokens
    return principal


async def answer(app: Services, shelter_id: str, frame: str | bytes) -> Ack | Error:
    """The answer to one frame from a shelter: its ack after commit, or an error."""
    match core.decode(frame):
        case Error() as error:
            return error
        case Report() as report:
            try:
                return await app.writer.submit(shelter_id, report)
            except Unavailable as exc:
                return core.error(report.seq, "unavailable", f"{exc.message}; resend this report")


@websocket("/ws/shelter")
async def shelter_channel(socket: WebSocket[Any, Any, Any]) -> None:
    """Live bed reports from one shelter agent (see spec/exchange-protocol.md)."""
    app = services(socket)
    await socket.receive()  # websocket.connect
    try:
        principal = await _shelter_principal(app.pool, socket.headers.get("authorization"))
        shelter_id = principal.shelter_id
        assert shelter_id is not None
        last_seq = await store.last_seq(app.pool, shelter_id)
    except HavenError as exc:
        log.info("shelter handshake refused", extra={"code": exc.code})
        await refuse(socket.send, socket.scope, exc)
        return
    except DB_ERRORS as exc:
        log.warning("shelter handshake failed", extra={"error": type(exc).__name__})
        await refuse(socket.send, socket.scope, Unavailable("database unavailable; retry"))
        return

    # Litestar's accept() would wait for the connect event, already received above.
    await socket.send({"type": "websocket.accept", "subprotocol": None, "headers": []})

    async def close_revoked() -> None:
        await socket.close(code=WS_REVOKED, reason="token revoked")

    handle = app.connections.add(principal.token_id, close_revoked)
    gauge = app.metrics.open_connections.labels("shelter")
    gauge.inc()
    log.info("shelter connected", extra={"shelter": shelter_id})
    try:
        hello = Hello(shelter=shelter_id, last_seq=last_seq, heartbeat_s=app.settings.heartbeat_s)
        await socket.send_text(_ENCODER.encode(hello).decode())
        while True:
            message = await socket.receive()
            if message["type"] != "websocket.receive":
                break
            started = time.perf_counter()
            text = message.get("text")
            frame = text if text is not None else message.get("bytes") or b""
            reply = await answer(app, shelter_id, frame)
            await socket.send_text(_ENCODER.encode(reply).decode())
            app.metrics.answered(reply, time.perf_counter() - started)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the peer left, or the socket was closed under us (revocation, shutdown)
    finally:
        app.connections.remove(principal.token_id, handle)
        gauge.dec()
        log.info("shelter disconnected", extra={"shelter": shelter_id})


@put("/api/shelters/{shelter_id:str}/beds", status_code=200)
async def put_beds(request: Request[Any, Any, Any], shelter_id: str) -> Response[bytes]:
    """Apply one report (the same body as on `/ws/shelter`); the body is its ack or error."""
    app = services(request)
    try:
        principal = await _shelter_principal(app.pool, request.headers.get("authorization"))
    except HavenError as exc:
        return _reply(exc.frame())
    except DB_ERRORS:
        return _reply(core.error(None, "unavailable", "database unavailable; retry"))
    if principal.shelter_id != shelter_id:
        return _reply(
            core.error(
                None, "wrong_shelter", f"this token belongs to another shelter, not {shelter_id}"
            )
        )
    body = await request.body()
    started = time.perf_counter()
    if len(body) > app.settings.max_frame_bytes:
        reply: Ack | Error = core.error(
            None,
            "frame_too_large",
            f"body of {len(body)} bytes exceeds {app.settings.max_frame_bytes}",
        )
    else:
        reply = await answer(app, shelter_id, body)
    app.metrics.answered(reply, time.perf_counter() - started)
    return _reply(reply)


def _reply(message: Ack | Error) -> Response[bytes]:
    code = 200 if isinstance(message, Ack) else status(message.code)
    return Response(_ENCODER.encode(message), status_code=code, media_type="application/json")


ROUTES = [shelter_channel, put_beds]
