"""The shelter channel: `/ws/shelter` and `PUT /api/shelters/{id}/beds`.

Thin shells around the sans-I/O core: authenticate, decode with `board.decode`, submit
to the ingest writer, send its answer. The handshake is refused (HTTP 401/403, never
accepted) unless the bearer token is a live shelter token; the shelter is the token's.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import asyncpg
import msgspec
from litestar import Request, WebSocket, put, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Response

from exchange import auth, board
from exchange.connections import WS_REVOKED
from exchange.ingest import Unavailable, Writer
from schema.registry import Principal
from schema.wire import Ack, Error, Hello, Report

log = logging.getLogger("haven.shelter")

_ENCODER = msgspec.json.Encoder()

STATUS = {
    "missing_token": 401,
    "bad_token": 401,
    "revoked_token": 401,
    "forbidden_role": 403,
    "wrong_shelter": 403,
    "invalid_json": 400,
    "invalid_message": 400,
    "unknown_type": 400,
    "invalid_report": 422,
    "unknown_bed_type": 422,
    "unknown_shelter": 404,
    "frame_too_large": 413,
    "unavailable": 503,
}
"""HTTP status for each error code (websocket errors carry the same codes in-band)."""

_LAST_SEQ = "select last_seq from shelters where id = $1"


async def _shelter_principal(pool: asyncpg.Pool[Any], header: str | None) -> Principal:
    principal = await auth.authenticate(pool, auth.bearer(header))
    auth.require_role(principal, "shelter")
    assert principal.shelter_id is not None  # the tokens table guarantees it for shelter tokens
    return principal


async def answer(state: State, shelter_id: str, frame: str | bytes) -> Ack | Error:
    """The answer to one frame from a shelter: its ack after commit, or an error."""
    match board.decode(frame):
        case Error() as error:
            return error
        case Report() as report:
            writer: Writer = state.writer
            try:
                return await writer.submit(shelter_id, report)
            except Unavailable as exc:
                return board.error(report.seq, "unavailable", f"{exc}; resend this report")


@websocket("/ws/shelter")
async def shelter_channel(socket: WebSocket[Any, Any, Any]) -> None:
    """Live bed reports from one shelter agent (see spec/exchange-protocol.md)."""
    state = socket.app.state
    await socket.receive()  # websocket.connect
    try:
        principal = await _shelter_principal(state.pool, socket.headers.get("authorization"))
    except auth.AuthError as exc:
        log.info("shelter handshake refused", extra={"code": exc.code})
        await _refuse(socket, STATUS[exc.code], board.error(None, exc.code, exc.message))
        return
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        log.warning("shelter handshake failed", extra={"error": type(exc).__name__})
        await _refuse(socket, 503, board.error(None, "unavailable", "database unavailable; retry"))
        return
    shelter_id = principal.shelter_id
    assert shelter_id is not None
    try:
        last_seq = int(await state.pool.fetchval(_LAST_SEQ, shelter_id))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
        log.warning("shelter handshake failed", extra={"error": type(exc).__name__})
        await _refuse(socket, 503, board.error(None, "unavailable", "database unavailable; retry"))
        return

    # Litestar's accept() would wait for the connect event, already received above.
    await socket.send({"type": "websocket.accept", "subprotocol": None, "headers": []})

    async def close_revoked() -> None:
        await socket.close(code=WS_REVOKED, reason="token revoked")

    handle = state.connections.add(principal.token_id, close_revoked)
    gauge = state.metrics.open_connections.labels("shelter")
    gauge.inc()
    log.info("shelter connected", extra={"shelter": shelter_id})
    try:
        hello = Hello(shelter=shelter_id, last_seq=last_seq, heartbeat_s=state.settings.heartbeat_s)
        await socket.send_text(_ENCODER.encode(hello).decode())
        while True:
            message = await socket.receive()
            if message["type"] != "websocket.receive":
                break
            started = time.perf_counter()
            text = message.get("text")
            frame = text if text is not None else message.get("bytes") or b""
            reply = await answer(state, shelter_id, frame)
            await socket.send_text(_ENCODER.encode(reply).decode())
            state.metrics.answered(reply, time.perf_counter() - started)
    except (WebSocketDisconnect, OSError, RuntimeError):
        pass  # the peer left, or the socket was closed under us (revocation, shutdown)
    finally:
        state.connections.remove(principal.token_id, handle)
        gauge.dec()
        log.info("shelter disconnected", extra={"shelter": shelter_id})


async def _refuse(socket: WebSocket[Any, Any, Any], status: int, error: Error) -> None:
    """Refuse the handshake with an HTTP response when the server can, else a bare 403."""
    if "websocket.http.response" in (socket.scope.get("extensions") or {}):
        body = _ENCODER.encode(error)
        await socket.send(
            {
                "type": "websocket.http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await socket.send(
            {"type": "websocket.http.response.body", "body": body, "more_body": False}
        )
    else:
        await socket.close()


@put("/api/shelters/{shelter_id:str}/beds", status_code=200)
async def put_beds(request: Request[Any, Any, Any], shelter_id: str) -> Response[bytes]:
    """Apply one report (the same body as on `/ws/shelter`); the body is its ack or error."""
    state = request.app.state
    try:
        principal = await _shelter_principal(state.pool, request.headers.get("authorization"))
    except auth.AuthError as exc:
        return _reply(board.error(None, exc.code, exc.message))
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError):
        return _reply(board.error(None, "unavailable", "database unavailable; retry"))
    if principal.shelter_id != shelter_id:
        return _reply(
            board.error(
                None, "wrong_shelter", f"this token belongs to another shelter, not {shelter_id}"
            )
        )
    body = await request.body()
    started = time.perf_counter()
    if len(body) > state.settings.max_frame_bytes:
        reply: Ack | Error = board.error(
            None,
            "frame_too_large",
            f"body of {len(body)} bytes exceeds {state.settings.max_frame_bytes}",
        )
    else:
        reply = await answer(state, shelter_id, body)
    state.metrics.answered(reply, time.perf_counter() - started)
    return _reply(reply)


def _reply(message: Ack | Error) -> Response[bytes]:
    status = 200 if isinstance(message, Ack) else STATUS.get(message.code, 400)
    return Response(_ENCODER.encode(message), status_code=status, media_type="application/json")


ROUTES = [shelter_channel, put_beds]
