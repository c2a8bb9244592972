"""The placements API (placements.md): requests, matching runs, offers, the placement.

Who may do what, decided here once:

- planner: her agency's requests only (another agency's is `404`, never confirmed to
  exist), creating them only for her regions (`403 forbidden_region`); runs for her regions;
- admin: runs for any region, and their stored problem and plan files;
- shelter: its own offers only (another shelter's is `404 unknown_offer`);
- anyone else: `401` without a valid token, `403` with the wrong role.

Every refusal is `{"code", "message"}` (and `field` for a body at fault) with the status of
`errors.STATUS`. Every read of a woman's request and of a shelter's address is audited.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, Literal

import asyncpg
import msgspec
from litestar import Request, WebSocket, delete, get, post, put, websocket
from litestar.exceptions import HTTPException, ValidationException
from litestar.params import FromPath, FromQuery
from litestar.response import Response
from litestar.types import ExceptionHandlersMap

from exchange.access import sessions, tokens
from exchange.access.origin import origin_allowed
from exchange.access.revocation import WS_REVOKED
from exchange.audit import store as audit
from exchange.board.hub import parse_since, serve
from exchange.errors import DB_ERRORS, AuthError, HavenError, Unavailable, refuse
from exchange.ops import examples
from exchange.ops.openapi import TOKEN, json_body, refusals, success
from exchange.placements import offers, requests, rules, runs, store
from exchange.placements.requests import InvalidRequest
from exchange.services import Services, services
from schema.placements import (
    ApiError,
    Decision,
    NewPickup,
    NewRequest,
    PickupSet,
    Placement,
    Readiness,
    RequestView,
    RunRequest,
    RunResult,
)
from schema.problem import Plan, Problem
from schema.registry import Principal, Role
from schema.wire import Offer

log = logging.getLogger("haven.placements")

_NEW_REQUEST = msgspec.json.Decoder(NewRequest)
_RUN_REQUEST = msgspec.json.Decoder(RunRequest)
_DECISION = msgspec.json.Decoder(Decision)
_NEW_PICKUP = msgspec.json.Decoder(NewPickup)


def refusal(exc: HavenError) -> Response[ApiError]:
    """The response for any refusal of this API."""
    field = exc.field if isinstance(exc, InvalidRequest) else None
    return Response(
        ApiError(code=exc.code, message=exc.message, field=field), status_code=exc.status
    )


async def _principal(request: Request[Any, Any, Any], *roles: Role) -> Principal:
    app = services(request)
    principal = await tokens.authenticate(
        app.pool, tokens.bearer(request.headers.get("authorization"))
    )
    tokens.require_role(principal, *roles)
    return principal


_agency = requests.agency_of


async def _body(request: Request[Any, Any, Any], app: Services) -> bytes:
    body = await request.body()
    if len(body) > app.settings.max_frame_bytes:
        raise HavenError(
            "frame_too_large", f"body of {len(body)} bytes exceeds {app.settings.max_frame_bytes}"
        )
    return body


async def _wake(app: Services) -> None:
    """Wake every process's planner channel after a committed change that moved no bed
    (one that did already woke them); a lost wake-up costs a poll interval."""
    try:
        await store.notify(app.pool)
    except DB_ERRORS as exc:
        log.warning("planner wake-up failed", extra={"error": type(exc).__name__})


def _decode(decoder: msgspec.json.Decoder[Any], body: bytes) -> Any:
    try:
        return decoder.decode(body)
    except msgspec.ValidationError as exc:
        invalid = rules.field_error(exc)
        raise InvalidRequest(invalid.field, invalid.message) from None
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        raise InvalidRequest("body", "is not a JSON object") from None


# -- requests ---------------------------------------------------------------------------------


@post(
    "/api/requests",
    status_code=201,
    summary="Create a request",
    operation_class=json_body(NewRequest, examples.NEW_REQUEST, "One woman's request for one bed"),
    responses={
        **success(RequestView, examples.CREATED, "The request, `open`", status_code=201),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "forbidden_region",
            "duplicate_ref",
            "conflict",
            "frame_too_large",
            "unavailable",
        ),
    },
)
async def create_request(request: Request[Any, Any, Any]) -> RequestView:
    """Create one request for one woman (planner). Nothing is stored on refusal."""
    principal = await _principal(request, "planner")
    app = services(request)
    new: NewRequest = _decode(_NEW_REQUEST, await _body(request, app))
    async with app.pool.acquire() as conn, conn.transaction():
        request_id = await requests.create(conn, principal, new, today=dt.date.today())
        [view] = await store.request_views(conn, _agency(principal), [request_id])
    await _wake(app)
    log.info("request created", extra={"request": request_id, "region": new.region})
    return view


Status = Literal["open", "offered", "accepted", "arrived", "withdrawn", "no_show"]


@get(
    "/api/requests",
    summary="List the agency's requests",
    responses={
        **success(list[RequestView], [examples.REQUEST], "The agency's requests"),
        **refusals(ApiError, "invalid_request", *TOKEN, "unavailable"),
    },
)
async def list_requests(
    request: Request[Any, Any, Any], status: FromQuery[Status | None] = None
) -> list[RequestView]:
    """The agency's requests (optionally of one status), with their live offers."""
    principal = await _principal(request, "planner")
    app = services(request)
    async with app.pool.acquire() as conn, conn.transaction():
        return await requests.views(conn, principal, statuses=None if status is None else [status])


async def _own(request: Request[Any, Any, Any], request_id: str) -> tuple[Principal, RequestView]:
    principal = await _principal(request, "planner")
    app = services(request)
    async with app.pool.acquire() as conn, conn.transaction():
        views = await requests.views(conn, principal, [request_id])
        if not views:
            raise HavenError("not_found", f"no request {request_id[:16]} for this agency")
    return principal, views[0]


@get(
    "/api/requests/{request_id:str}",
    summary="Read one request",
    responses={
        **success(RequestView, examples.REQUEST, "The request"),
        **refusals(ApiError, "invalid_request", *TOKEN, "not_found", "unavailable"),
    },
)
async def get_request(request: Request[Any, Any, Any], request_id: FromPath[str]) -> RequestView:
    """One of the agency's requests, with its live offer (no shelter before acceptance)."""
    _, view = await _own(request, request_id)
    return view


@delete(
    "/api/requests/{request_id:str}",
    status_code=200,
    summary="Withdraw a request",
    responses={
        **success(RequestView, examples.WITHDRAWN, "The request, `withdrawn`"),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "not_found",
            "already_ended",
            "conflict",
            "unavailable",
        ),
    },
)
async def withdraw_request(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> RequestView:
    """Withdraw a request and release its hold."""
    principal = await _principal(request, "planner")
    app = services(request)
    async with app.pool.acquire() as conn:
        await offers.withdraw(
            conn, request_id, agency=_agency(principal), token_id=principal.token_id
        )
        [view] = await store.request_views(conn, _agency(principal), [request_id])
    await _wake(app)
    log.info("request withdrawn", extra={"request": request_id})
    return view


@get(
    "/api/requests/{request_id:str}/placement",
    summary="Read where she goes",
    responses={
        **success(Placement, examples.PLACEMENT, "The accepted placement"),
        **refusals(ApiError, "invalid_request", *TOKEN, "no_placement", "unavailable"),
    },
)
async def get_placement(request: Request[Any, Any, Any], request_id: FromPath[str]) -> Placement:
    """Where she goes: the shelter's name, address and intake phone, for the owning agency
    once the shelter has accepted. Every read is audited."""
    principal = await _principal(request, "planner")
    app = services(request)
    async with app.pool.acquire() as conn, conn.transaction():
        return await requests.placement(conn, principal, request_id)


@put(
    "/api/requests/{request_id:str}/pickup",
    status_code=200,
    summary="Arrange her pickup at the gate",
    operation_class=json_body(
        NewPickup, examples.NEW_PICKUP, "Who meets her at the gate, and when"
    ),
    responses={
        **success(PickupSet, examples.PICKUP_SET, "The pickup as arranged"),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "not_found",
            "already_ended",
            "conflict",
            "frame_too_large",
            "unavailable",
        ),
    },
)
async def put_pickup(request: Request[Any, Any, Any], request_id: FromPath[str]) -> PickupSet:
    """Arrange or change her pickup at the gate (owning agency): `who` is `shelter`,
    `agency`, `verified_family` or `other`; anyone but the shelter or the agency is
    `flagged` for a second look. The accepting shelter sees it with the offer."""
    principal = await _principal(request, "planner")
    app = services(request)
    new: NewPickup = _decode(_NEW_PICKUP, await _body(request, app))
    async with app.pool.acquire() as conn, conn.transaction():
        pickup = await requests.arrange_pickup(conn, principal, request_id, new)
    await _wake(app)
    log.info("pickup arranged", extra={"request": request_id, "flagged": pickup.flagged})
    return PickupSet(request=request_id, pickup=pickup)


@get(
    "/api/readiness",
    summary="Read the release-day readiness board",
    responses={
        **success(Readiness, examples.READINESS, "The board, most at risk first"),
        **refusals(ApiError, "invalid_request", *TOKEN, "unavailable"),
    },
)
async def get_readiness(request: Request[Any, Any, Any], days: FromQuery[int] = 14) -> Readiness:
    """The agency's release-day readiness board (planner): every request releasing within
    `days` (1-90; and those already released without a bed), with its status, days left
    and `at_risk` reasons, most at risk first, then by release date. Every request on it
    is an audited read."""
    principal = await _principal(request, "planner")
    app = services(request)
    # No transaction: the facts are one statement, and the audit record commits by itself,
    # holding the audit chain's head for that statement only (boards run concurrently).
    async with app.pool.acquire() as conn:
        return await requests.readiness_board(
            conn,
            principal,
            now=dt.datetime.now(dt.UTC),
            days=days,
            policy=requests.policy(app.settings),
        )


@websocket("/ws/planner")
async def planner_ws(socket: WebSocket[Any, Any, Any]) -> None:
    """The agency's requests, live (planner token or session): a snapshot (or, with
    `?since=N`, the changes after N), then every change of status, offer, pickup or
    `at_risk`. Never another agency's, never a ref or a contact token."""
    app = services(socket)
    try:
        if not origin_allowed(socket.headers, app.settings.allowed_origins):
            raise AuthError("forbidden_origin", "cross-site websocket refused: origin not allowed")
        since = parse_since(socket.query_params.get("since"))
        principal = await sessions.resolve(app.pool, socket.headers, socket.cookies)
        tokens.require_role(principal, "planner")
    except HavenError as exc:
        await refuse(socket.send, socket.scope, exc)
        return
    except DB_ERRORS as exc:
        log.warning("planner channel handshake failed", extra={"error": type(exc).__name__})
        await refuse(socket.send, socket.scope, Unavailable("database unavailable; retry"))
        return
    await socket.accept()
    sub = app.planners.subscribe(principal, since)

    async def revoke() -> None:
        sub.close(WS_REVOKED)

    handle = app.connections.add(principal.token_id, revoke)
    try:
        await serve(socket, sub)
    finally:
        app.planners.unsubscribe(sub)
        app.connections.remove(principal.token_id, handle)


# -- matching runs ----------------------------------------------------------------------------


@post(
    "/api/matching/runs",
    status_code=201,
    summary="Run the matcher now",
    operation_class=json_body(RunRequest, examples.RUN_REQUEST, "The regions to match now"),
    responses={
        **success(RunResult, examples.RUN, "The run's summary", status_code=201),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "forbidden_region",
            "run_in_progress",
            "conflict",
            "frame_too_large",
            "unavailable",
        ),
    },
)
async def create_run(request: Request[Any, Any, Any]) -> RunResult:
    """Run the matcher now for these regions (admin, or a planner for her regions)."""
    principal = await _principal(request, "admin", "planner")
    app = services(request)
    body: RunRequest = _decode(_RUN_REQUEST, await _body(request, app))
    outside = [r for r in body.regions if not principal.sees_region(r)]
    if outside:
        raise HavenError("forbidden_region", f"this token cannot run matching for {outside[0]}")
    result = await runs.run(
        app.pool, app.settings, app.solver, list(body.regions), token_id=principal.token_id
    )
    log.info(
        "matching run",
        extra={"run": result.id, "placed": result.placed, "offers": result.offers},
    )
    return result


@get(
    "/api/matching/runs/{run_id:int}",
    summary="Read a matching run",
    responses={
        **success(RunResult, examples.RUN, "The run's summary"),
        **refusals(ApiError, "invalid_request", *TOKEN, "not_found", "unavailable"),
    },
)
async def get_run(request: Request[Any, Any, Any], run_id: FromPath[int]) -> RunResult:
    """A run's summary (admin)."""
    await _principal(request, "admin")
    found = await store.run(services(request).pool, run_id)
    if found is None:
        raise HavenError("not_found", f"no matching run {run_id}")
    return found


@get(
    "/api/matching/runs/{run_id:int}/{which:str}",
    summary="Read a run's problem or plan file",
    responses={
        **success(
            Problem | Plan,
            examples.PROBLEM,
            "`problem`: the problem as the matcher read it; `plan`: its answer",
            more={"plan": examples.PLAN},
        ),
        **refusals(ApiError, "invalid_request", *TOKEN, "not_found", "unavailable"),
    },
)
async def get_run_file(
    request: Request[Any, Any, Any], run_id: FromPath[int], which: FromPath[str]
) -> Response[bytes]:
    """A run's exact problem or plan file (admin), for `haven match --check`."""
    principal = await _principal(request, "admin")
    if which not in ("problem", "plan"):
        raise HavenError("not_found", f"a run has a problem and a plan, not {which[:16]!r}")
    app = services(request)
    async with app.pool.acquire() as conn, conn.transaction():
        data = await store.run_file(conn, run_id, which)
        if data is None:
            raise HavenError("not_found", f"no matching run {run_id}")
        await audit.append(conn, principal.token_id, f"run.{which}.read", f"run:{run_id}")
    return Response(data, media_type="application/json")


# -- offers, at the shelter -------------------------------------------------------------------


@get(
    "/api/shelters/{shelter_id:str}/offers",
    summary="List the shelter's offers",
    responses={
        **success(list[Offer], [examples.OFFER], "Its unanswered and accepted offers"),
        **refusals(ApiError, "invalid_request", *TOKEN, "wrong_shelter", "unavailable"),
    },
)
async def shelter_offers(request: Request[Any, Any, Any], shelter_id: FromPath[str]) -> list[Offer]:
    """This shelter's unanswered and accepted offers (shelter token)."""
    principal = await _principal(request, "shelter")
    if principal.shelter_id != shelter_id:
        raise HavenError(
            "wrong_shelter", f"this token belongs to another shelter, not {shelter_id[:16]}"
        )
    return await store.shelter_offers(services(request).pool, shelter_id)


async def _act(request: Request[Any, Any, Any], offer_id: str, action: rules.Action) -> Offer:
    principal = await _principal(request, "shelter")
    app = services(request)
    reason = None
    if action == "decline":
        body = await _body(request, app)
        reason = _decode(_DECISION, body).reason if body.strip() else None
    async with app.pool.acquire() as conn:
        done = await offers.act(
            conn,
            offer_id,
            action,
            token_id=principal.token_id,
            shelter_id=principal.shelter_id,
            reason=reason,
        )
        [offer] = await store.shelter_offers(conn, done.shelter, [done.status], offer_id=done.offer)
    log.info("offer decided", extra={"offer": offer_id, "status": done.status})
    return offer


@post(
    "/api/offers/{offer_id:str}/accept",
    status_code=200,
    summary="Accept an offer",
    responses={
        **success(Offer, examples.OFFER, "The offer, `accepted`"),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "unknown_offer",
            "already_decided",
            "offer_expired",
            "conflict",
            "unavailable",
        ),
    },
)
async def accept_offer(request: Request[Any, Any, Any], offer_id: FromPath[str]) -> Offer:
    """Accept an offer: the bed stays held for her until she arrives."""
    return await _act(request, offer_id, "accept")


@post(
    "/api/offers/{offer_id:str}/decline",
    status_code=200,
    summary="Decline an offer",
    operation_class=json_body(Decision, examples.DECISION, "Optional: why"),
    responses={
        **success(Offer, examples.DECLINED, "The offer, `declined`"),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "unknown_offer",
            "already_decided",
            "offer_expired",
            "conflict",
            "frame_too_large",
            "unavailable",
        ),
    },
)
async def decline_offer(request: Request[Any, Any, Any], offer_id: FromPath[str]) -> Offer:
    """Decline an offer (optional body `{"reason": "full"}`): the bed is released and
    this shelter is never offered her again."""
    return await _act(request, offer_id, "decline")


@post(
    "/api/offers/{offer_id:str}/arrived",
    status_code=200,
    summary="Record her arrival",
    responses={
        **success(Offer, examples.ARRIVED, "The offer, `arrived`"),
        **refusals(
            ApiError,
            "invalid_request",
            *TOKEN,
            "unknown_offer",
            "not_accepted",
            "already_decided",
            "offer_expired",
            "conflict",
            "unavailable",
        ),
    },
)
async def offer_arrived(request: Request[Any, Any, Any], offer_id: FromPath[str]) -> Offer:
    """She arrived: the hold becomes an occupied bed."""
    return await _act(request, offer_id, "arrived")


ROUTES = [
    create_request,
    list_requests,
    get_request,
    withdraw_request,
    get_placement,
    put_pickup,
    get_readiness,
    planner_ws,
    create_run,
    get_run,
    get_run_file,
    shelter_offers,
    accept_offer,
    decline_offer,
    offer_arrived,
]


def _refused(_: Request[Any, Any, Any], exc: Exception) -> Response[ApiError]:
    if isinstance(exc, HavenError):
        return refusal(exc)
    if isinstance(exc, HTTPException):
        return http_refusal(_, exc)
    if isinstance(exc, asyncpg.DataError):
        # A path value the database cannot hold (a number beyond bigint, a NUL byte).
        return refusal(HavenError("invalid_request", "a value in the path is out of range"))
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        # A race another request won (the same ref twice at once, an offer just made).
        log.warning("placement write refused", extra={"error": type(exc).__name__})
        return refusal(HavenError("conflict", "another change got there first; try again"))
    if isinstance(exc, DB_ERRORS):
        log.warning("placements: database unavailable", extra={"error": type(exc).__name__})
        return refusal(HavenError("unavailable", "database unavailable; retry"))
    # A defect of ours: logged with its traceback (never the body), answered in our shape.
    log.error("placements: unexpected failure", exc_info=exc)
    return refusal(HavenError("internal", "the exchange failed on this request; try again"))


_HTTP_CODES = {400: "invalid_request", 404: "not_found", 405: "method_not_allowed"}


def http_refusal(_: Request[Any, Any, Any], exc: HTTPException) -> Response[ApiError]:
    """Litestar's own refusals (a path or query parameter it cannot parse, no such route)
    in the same shape as every other refusal."""
    field = None
    if isinstance(exc, ValidationException) and isinstance(exc.extra, list) and exc.extra:
        first = exc.extra[0]
        field = str(first.get("key")) if isinstance(first, dict) and first.get("key") else None
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    message = str(exc.detail).lower() if exc.detail else code.replace("_", " ")
    return Response(ApiError(code=code, message=message, field=field), status_code=exc.status_code)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    HavenError: _refused,
    HTTPException: _refused,
    **{kind: _refused for kind in DB_ERRORS if issubclass(kind, Exception)},
    Exception: _refused,
}
"""Refusals of this API, as `{"code", "message", "field"}` with their status."""
