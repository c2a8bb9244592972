"""The shelter channel: `/ws/shelter` and `PUT /api/shelters/{id}/beds`.

Thin shells around the sans-I/O core: authenticate, decode with `report.decode`, submit
to the ingest writer, send its answer. The handshake is refused (HTTP 401/403, never
accepted) unless the bearer token is a live shelter token, or the browser's session
cookie is of one (the operator's page listens here; a cross-site Origin is refused, as on
the dashboard channel); the shelter is the token's. The PUT takes the bearer token only.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import msgspec
from litestar import Request, WebSocket, put, websocket
from litestar.exceptions import WebSocketDisconnect
from litestar.params import FromPath
from litestar.response import Response

from exchange.access import sessions, tokens
from exchange.access.origin import origin_allowed
from exchange.access.revocation import WS_REVOKED
from exchange.access.store import Executor
from exchange.beds import report as core
from exchange.beds import store
from exchange.errors import DB_ERRORS, AuthError, HavenError, Unavailable, refuse, status
from exchange.ops import examples
from exchange.ops.openapi import TOKEN, json_body, refusals, success
from exchange.placements import offers, rules
from exchange.services import Services, services
from schema.registry import Principal
from schema.wire import Ack, Decide, Decided, Error, Hello, Report

log = logging.getLogger("haven.shelter")

_ENCODER = msgspec.json.Encoder()


async def _shelter_principal(pool: Executor, header: str | None) -> Principal:
    principal = await tokens.authenticate(pool, tokens.bearer(header))
    tokens.require_role(principal, "shelter")
    assert principal.shelter_id is not None  # the tokens table guarantees it for shelter tokens
    return principal


async def answer(
    app: Services,
    shelter_id: str,
    frame: str | bytes,
    *,
    typed: bool = True,
    token_id: int | None = None,
) -> Ack | Error | Decided:
    """The answer to one frame from a shelter: its ack after commit, or an error.

    `typed` is false for a PUT body, which may leave out `type` (see `report.decode`).
    """
    match core.decode(frame, typed=typed):
        case Error() as error:
            return error
        case Report() | core.Unnumbered() as report:
            try:
                return await app.writer.submit(shelter_id, report)
            except Unavailable as exc:
                seq = report.seq if isinstance(report, Report) else None
                return core.error(seq, "unavailable", f"{exc.message}; resend this report")
        case Decide() as decide if typed:
            return await decided(app, shelter_id, decide, token_id)
        case Decide():
            return core.error(
                None, "unknown_type", "this body takes reports; answer offers at /api/offers/{id}"
            )
    raise AssertionError("decode returns a Report, a Decide or an Error")


async def decided(
    app: Services, shelter_id: str, decide: Decide, token_id: int | None
) -> Decided | Error:
    """A shelter's decision on one of its offers, after commit, or the error refusing it;
    audited with the deciding token, as the same decision over HTTP is."""
    action: rules.Action = "accept" if decide.decision == "accept" else "decline"
    try:
        async with app.pool.acquire() as conn:
            done = await offers.act(
                conn,
                decide.offer,
                action,
                token_id=token_id,
                shelter_id=shelter_id,
                reason=decide.reason,
            )
    except HavenError as exc:
        return core.error(None, exc.code, exc.message)
    except DB_ERRORS:
        return core.error(None, "unavailable", "database unavailable; resend this decision")
    return Decided(offer=done.offer, status=done.status)


@websocket("/ws/shelter")
async def shelter_channel(socket: WebSocket[Any, Any, Any]) -> None:
    """Live bed reports from one shelter agent (see spec/exchange-protocol.md)."""
    app = services(socket)
    await socket.receive()  # websocket.connect

    async def close_revoked() -> None:
        await socket.close(code=WS_REVOKED, reason="token revoked")

    try:
        if not origin_allowed(socket.headers, app.settings.allowed_origins):
            raise AuthError("forbidden_origin", "cross-site websocket refused: origin not allowed")
        principal = await sessions.resolve(app.pool, socket.headers, socket.cookies)
        tokens.require_role(principal, "shelter")
        shelter_id = principal.shelter_id
        assert shelter_id is not None
        last_seq = await store.last_seq(app.pool, shelter_id)
        # Before accepting, so a token over its cap is refused (429), never half-served.
        handle = app.connections.admit(principal.token_id, close_revoked)
    except HavenError as exc:
        log.info("shelter handshake refused", extra={"code": exc.code})
        await refuse(socket.send, socket.scope, exc)
        return
    except DB_ERRORS as exc:
        log.warning("shelter handshake failed", extra={"error": type(exc).__name__})
        await refuse(socket.send, socket.scope, Unavailable("database unavailable; retry"))
        return

    try:
        # Litestar's accept() would wait for the connect event, already received above.
        await socket.send({"type": "websocket.accept", "subprotocol": None, "headers": []})
    except OSError:  # the peer left during the handshake
        app.connections.remove(principal.token_id, handle)
        return
    gauge = app.metrics.open_connections.labels("shelter")
    gauge.inc()
    log.info("shelter connected", extra={"shelter": shelter_id})
    # A connection without a bearer token was signed in by the page's session cookie.
    page = tokens.bearer(socket.headers.get("authorization")) is None
    outlet = app.offers.attach(shelter_id, socket.send_text, page=page)
    try:
        hello = Hello(shelter=shelter_id, last_seq=last_seq, heartbeat_s=app.settings.heartbeat_s)
        await outlet.send(_ENCODER.encode(hello).decode())
        await app.offers.push(outlet)  # every unanswered offer, after hello
        while True:
            message = await socket.receive()
            if message["type"] != "websocket.receive":
                break
            started = time.perf_counter()
            reply = await _answer_frame(app, shelter_id, message, principal.token_id)
            await outlet.send(_ENCODER.encode(reply).decode())
            if not isinstance(reply, Decided):
                app.metrics.answered(reply, time.perf_counter() - started)
            elif reply.status == "accepted":
                await app.offers.push(outlet)  # a pickup arranged before she was accepted
    except (WebSocketDisconnect, OSError):
        pass  # the peer left
    except RuntimeError as exc:
        # The socket was closed under us (revocation, shutdown). A RecursionError is a
        # RuntimeError too: never swallow one unseen.
        if isinstance(exc, RecursionError):
            raise
    finally:
        app.offers.detach(outlet)
        app.connections.remove(principal.token_id, handle)
        gauge.dec()
        log.info("shelter disconnected", extra={"shelter": shelter_id})


_BINARY = core.error(
    None, "invalid_message", "send text frames: binary frames are not read (the contract)"
)


async def _answer_frame(
    app: Services, shelter_id: str, message: Any, token_id: int
) -> Ack | Error | Decided:
    """The answer to one websocket message; no frame, however crafted, ends the connection."""
    text = message.get("text")
    try:
        reply = _BINARY if text is None else await answer(app, shelter_id, text, token_id=token_id)
    except Exception as exc:  # a defect of ours: answer it, log it, keep the connection
        log.exception(
            "shelter frame failed", extra={"shelter": shelter_id, "error": type(exc).__name__}
        )
        return core.error(None, "internal", "the exchange failed on this frame; resend it")
    if isinstance(reply, Error) and reply.code != "unavailable":
        # The code only: the frame itself may hold anything, and is never logged.
        log.info("shelter frame refused", extra={"shelter": shelter_id, "code": reply.code})
    return reply


@put(
    "/api/shelters/{shelter_id:str}/beds",
    status_code=200,
    summary="Report a shelter's beds",
    operation_class=json_body(
        Report, examples.REPORT, "One report: the same body as on /ws/shelter"
    ),
    responses={
        **success(Ack, examples.ACK, "The ack, after commit (`applied`, `duplicate`, `stale`)"),
        **refusals(
            Error,
            "invalid_json",
            "invalid_message",
            "unknown_type",
            *TOKEN,
            "wrong_shelter",
            "unknown_shelter",
            "frame_too_large",
            "invalid_report",
            "unknown_bed_type",
            "internal",
            "unavailable",
        ),
    },
)
async def put_beds(request: Request[Any, Any, Any], shelter_id: FromPath[str]) -> Response[bytes]:
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
        answered = await answer(app, shelter_id, body, typed=False)
        assert not isinstance(answered, Decided)  # an untyped body is never a decision
        reply = answered
    if isinstance(reply, Error) and reply.code != "unavailable":
        log.info("shelter body refused", extra={"shelter": shelter_id, "code": reply.code})
    app.metrics.answered(reply, time.perf_counter() - started)
    return _reply(reply)


def _reply(message: Ack | Error) -> Response[bytes]:
    code = 200 if isinstance(message, Ack) else status(message.code)
    return Response(_ENCODER.encode(message), status_code=code, media_type="application/json")


ROUTES = [shelter_channel, put_beds]
