"""The dashboard channel `/ws/dashboard?since=N` and `GET /api/regions`.

The `Hub` owns the subscribers of this process. The fan-out tells it which regions
changed; it coalesces (at most one flush per `coalesce_s`, each flush sending every
region that changed since the last, latest state wins), encodes each region once per
view, and offers the text to every subscriber's bounded queue without ever awaiting one.
A subscriber whose queue is full is resynced: its queue is replaced by one fresh
snapshot. If it is still full while that snapshot waits unsent, the client is not
reading at all and is closed with 4008.

Every update in a flush carries the board's seq at the flush, and every flush sends all
regions changed since the previous one, so a client holding seq S has everything up to
S: resuming from S is exact (see `live.Board.changed_since`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any, cast
from urllib.parse import urlsplit

import asyncpg
import msgspec
from litestar import Request, WebSocket, get, websocket
from litestar.connection import ASGIConnection
from litestar.exceptions import WebSocketDisconnect
from litestar.response import Response
from litestar.types import WebSocketResponseBodyEvent, WebSocketResponseStartEvent

from exchange import auth, live, sessions
from exchange.auth import AuthError
from exchange.connections import WS_REVOKED
from exchange.fanout import Fanout
from exchange.settings import Settings
from schema.registry import Principal
from schema.wire import Error, Update

log = logging.getLogger("haven.dashboard")

QUEUE_LIMIT = 256
"""Messages a dashboard may fall behind before it is resynced with a snapshot."""

WS_TOO_SLOW = 4008
"""Close code for a dashboard that stopped reading."""

CLOSE_TIMEOUT_S = 2.0

_ENCODE = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> str:
    return _ENCODE.encode(message).decode()


class Subscriber:
    """One dashboard connection's bounded outbox."""

    def __init__(self, principal: Principal, limit: int) -> None:
        self.principal = principal
        self.suppress_small = principal.role == "viewer"
        self._items: deque[tuple[str, bool]] = deque()
        self._limit = limit
        self._wake = asyncio.Event()
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self.resync_pending = False
        """A resync snapshot sits in the queue, not yet taken by the sender."""

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, text: str) -> bool:
        """Queue a message; False when the queue is full."""
        if self.close_code is not None:
            return True
        if len(self._items) >= self._limit:
            return False
        self._items.append((text, False))
        self._wake.set()
        return True

    def resync(self, snapshot: str) -> None:
        """Drop everything queued in favour of one fresh snapshot."""
        self._items.clear()
        self._items.append((snapshot, True))
        self.resync_pending = True
        self._wake.set()

    def close(self, code: int) -> None:
        if self.close_code is None:
            self.close_code = code
            self._items.clear()
            self.closed.set()
            self._wake.set()

    async def next(self) -> str | None:
        """The next message to send, or None once the subscriber is closed."""
        while True:
            if self.close_code is not None:
                return None
            if self._items:
                text, was_resync = self._items.popleft()
                if was_resync:
                    self.resync_pending = False
                return text
            self._wake.clear()
            await self._wake.wait()


class Hub:
    """This process's dashboard subscribers, fed from the live board."""

    def __init__(
        self,
        board: live.Board,
        *,
        coalesce_s: float,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.board = board
        self._coalesce_s = coalesce_s
        self._limit = queue_limit
        self._clock = clock
        self._subs: set[Subscriber] = set()
        self._dirty: set[str] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._last_flush = float("-inf")
        self._snapshots: dict[tuple[int, bool, tuple[str, ...]], str] = {}
        self.resyncs = 0
        self.dropped = 0
        self.flushes = 0

    def __len__(self) -> int:
        return len(self._subs)

    def snapshot_text(self, principal: Principal) -> str:
        """The encoded snapshot for this principal's view, shared by identical views."""
        key = (self.board.version, principal.role == "viewer", principal.regions)
        text = self._snapshots.get(key)
        if text is None:
            if len(self._snapshots) > 64:
                self._snapshots.clear()
            text = self._snapshots[key] = encode(self.board.snapshot(principal))
        return text

    def subscribe(self, principal: Principal, since: int | None) -> Subscriber:
        """A new subscriber with its first messages queued: updates after `since` when the
        board can bring it up to date that way, else a snapshot."""
        sub = Subscriber(principal, self._limit)
        board = self.board
        names = board.changed_since(since, principal) if since and board.covers(since) else None
        if (
            names is None
            or len(names) >= max(1, len(board.visible(principal)))
            or len(names) > self._limit
        ):
            sub.offer(self.snapshot_text(principal))
        else:
            for name in names:
                region = board.region(name, suppress_small=sub.suppress_small)
                sub.offer(encode(Update(seq=board.seq, region=region)))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)

    def changed(self, regions: set[str]) -> None:
        """Regions whose picture changed; they are sent now or at the end of the window."""
        self._dirty |= regions
        if self._timer is not None or not self._dirty:
            return
        wait = self._last_flush + self._coalesce_s - self._clock()
        if wait <= 0:
            self.flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(wait, self.flush)

    def flush(self) -> None:
        """Send every dirty region to every subscriber that sees it; never waits."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = sorted(self._dirty), set()
        self._last_flush = self._clock()
        if not dirty or not self._subs:
            return
        self.flushes += 1
        seq = self.board.seq
        encoded: dict[tuple[str, bool], str] = {}
        for sub in list(self._subs):
            for name in dirty:
                if not sub.principal.sees_region(name):
                    continue
                key = (name, sub.suppress_small)
                text = encoded.get(key)
                if text is None:
                    region = self.board.region(name, suppress_small=sub.suppress_small)
                    text = encoded[key] = encode(Update(seq=seq, region=region))
                if not self._deliver(sub, text):
                    break

    def _deliver(self, sub: Subscriber, text: str) -> bool:
        """Offer one message; resync or drop a subscriber that cannot take it."""
        if sub.offer(text):
            return True
        if sub.resync_pending:
            sub.close(WS_TOO_SLOW)
            self._subs.discard(sub)
            self.dropped += 1
            log.info("dashboard too slow, closed", extra={"token_id": sub.principal.token_id})
        else:
            sub.resync(self.snapshot_text(sub.principal))
            self.resyncs += 1
            log.info("dashboard behind, resynced", extra={"token_id": sub.principal.token_id})
        return False

    def restale(self) -> None:
        """Re-evaluate staleness; regions whose stale count changed go out as updates."""
        changed = self.board.restale()
        if changed:
            self.changed(changed)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


def restale_interval(stale_after_s: float) -> float:
    """How often staleness is re-evaluated: a small fraction of the stale age, 0.25-5 s."""
    return min(5.0, max(0.25, stale_after_s / 16))


@asynccontextmanager
async def running(settings: Settings, dsn: str, pool: asyncpg.Pool[Any]) -> AsyncIterator[Hub]:
    """Load the board, start the fan-out and the staleness ticker; yield the hub."""
    board = live.Board(
        stale_after=timedelta(seconds=settings.stale_after_s),
        min_shelters=settings.min_region_shelters,
    )
    async with pool.acquire() as conn:
        await live.load(cast("asyncpg.Connection[Any]", conn), board)
    hub = Hub(board, coalesce_s=settings.coalesce_ms / 1000)
    fanout = Fanout(dsn, pool, board, hub.changed, keep=settings.history_events)

    async def tick() -> None:
        interval = restale_interval(settings.stale_after_s)
        while True:
            await asyncio.sleep(interval)
            hub.restale()

    async with fanout.running():
        ticker = asyncio.create_task(tick(), name="dashboard-restale")
        try:
            yield hub
        finally:
            ticker.cancel()
            hub.close()


# -- the HTTP and websocket edges ---------------------------------------------------------

_STATUS = {"forbidden_role": 403, "forbidden_origin": 403, "bad_since": 400}


def origin_allowed(
    connection: ASGIConnection[Any, Any, Any, Any], allowed: tuple[str, ...]
) -> bool:
    """A browser's Origin must be this host or an allowed origin; no Origin (a non-browser
    client) is fine, since cookies are what cross-site hijacking would abuse."""
    origin = connection.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = connection.headers.get("host")
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and host is not None
        and parts.netloc.lower() == host.lower()
        and parts.path in ("", "/")
    )


def parse_since(raw: str | None) -> int | None:
    """`since` from the query string; AuthError-shaped error when it is not a number."""
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 19:
        raise AuthError("bad_since", f"since must be a non-negative integer, not {raw[:40]!r}")
    return int(raw)


async def _refuse(socket: WebSocket[Any, Any, Any], error: AuthError) -> None:
    """Refuse the handshake with an HTTP status and an error body, before any message."""
    status = _STATUS.get(error.code, 401)
    if "websocket.http.response" in (socket.scope.get("extensions") or {}):
        body = _ENCODE.encode(Error(seq=None, code=error.code, message=error.message))
        start: WebSocketResponseStartEvent = {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
        await socket.send(start)
        done: WebSocketResponseBodyEvent = {
            "type": "websocket.http.response.body",
            "body": body,
            "more_body": False,
        }
        await socket.send(done)
    else:
        await socket.close(code=4000 + status)


@websocket("/ws/dashboard")
async def dashboard_ws(socket: WebSocket[Any, Any, Any]) -> None:
    """Snapshot or resume, then live updates, for viewer, planner and admin tokens."""
    state = socket.app.state
    try:
        if not origin_allowed(socket, state.settings.allowed_origins):
            raise AuthError("forbidden_origin", "cross-site websocket refused: origin not allowed")
        since = parse_since(socket.query_params.get("since"))
        principal = await sessions.resolve(state.pool, socket)
        auth.require_role(principal, *sessions.DASHBOARD_ROLES)
    except AuthError as exc:
        await _refuse(socket, exc)
        return
    await socket.accept()
    hub: Hub = state.hub
    sub = hub.subscribe(principal, since)

    async def revoke() -> None:
        sub.close(WS_REVOKED)

    handle = state.connections.add(principal.token_id, revoke)
    try:
        await _serve(socket, sub)
    finally:
        hub.unsubscribe(sub)
        state.connections.remove(principal.token_id, handle)


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


@get("/api/regions")
async def regions(request: Request[Any, Any, Any]) -> Response[Any]:
    """The dashboard snapshot for this token (bearer or session cookie)."""
    try:
        principal = await sessions.resolve(request.app.state.pool, request)
        auth.require_role(principal, *sessions.DASHBOARD_ROLES)
    except AuthError as exc:
        return Response(
            Error(seq=None, code=exc.code, message=exc.message),
            status_code=_STATUS.get(exc.code, 401),
        )
    hub: Hub = request.app.state.hub
    return Response(
        content=hub.snapshot_text(principal).encode(),
        media_type="application/json",
        headers={"cache-control": "no-store"},
    )


ROUTES = [dashboard_ws, regions]
