"""The dashboard hub: this process's dashboard subscribers, fed from the live board.

The `Hub` owns the subscribers of this process and decides *when* the board's regions are
published (the board decides *what*: see `exchange.board.board`). The fan-out tells it
which regions changed, and it flushes at most once per `coalesce_s`:

- admins get every changed region, live, latest state winning;
- planners and viewers get the regions the flush publishes: the due regions without a
  confidential shelter, at once. A due region with one (`Board.throttled`) waits for the
  next tick of a grid of `interval_s` at least `interval_s` after its last publication,
  so its updates never follow a report and never come closer than the interval. The grid
  is aligned to the wall clock, so every process publishes at the same instants.

Each message is encoded once per view and offered to every subscriber's bounded queue
without ever awaiting one. A subscriber whose queue is full is resynced: its queue is
replaced by one fresh snapshot. If it is still full while that snapshot waits unsent, the
client is not reading at all and is closed with 4008.

Every update carries the board's seq when it is sent, and a region's resume stamp is
that seq too, so a client holding seq S has everything up to S: resuming from S is exact
(see `Board.changed_since`).

The fan-out also says whether it can read the database; while it cannot, every
subscriber is told `{"type": "status", "degraded": true}` (new ones right after their
first messages), and `false` once it can again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import msgspec
from litestar import WebSocket
from litestar.exceptions import WebSocketDisconnect

from exchange.board.board import Board, View, view_of
from exchange.errors import HavenError
from schema.registry import Principal
from schema.wire import Demand, Region, Snapshot, Status, Update

log = logging.getLogger("haven.dashboard")

QUEUE_LIMIT = 256
"""Messages a dashboard may fall behind before it is resynced with a snapshot."""

WS_TOO_SLOW = 4008
"""Close code for a dashboard that stopped reading."""

CLOSE_TIMEOUT_S = 2.0

_ENCODE = msgspec.json.Encoder()


def encode(message: msgspec.Struct) -> str:
    return _ENCODE.encode(message).decode()


class Cancellable(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Cancellable]
"""Schedules a call after a delay on the hub's clock (the event loop's by default)."""


class Subscriber:
    """One dashboard connection's bounded outbox."""

    def __init__(self, principal: Principal, limit: int) -> None:
        self.principal = principal
        self.view: View = view_of(principal)
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
        board: Board,
        *,
        coalesce_s: float,
        interval_s: float = 60.0,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        call_later: CallLater | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        """Args:
        interval_s: the least time between two updates of a region with a contributing
            confidential shelter (`HAVEN_CONFIDENTIAL_INTERVAL_S`).
        wall: the wall clock, read once, to align the grid of such updates across
            processes; `clock` and `call_later` do all the timing.
        """
        self.board = board
        self._call_later = call_later
        self._coalesce_s = coalesce_s
        self._interval_s = interval_s
        self._limit = queue_limit
        self._clock = clock
        self._wall_offset = wall() - clock()
        self._started = clock()
        self._subs: set[Subscriber] = set()
        self._dirty: set[str] = set()
        self._timer: Cancellable | None = None
        self._last_flush = float("-inf")
        self._published_at: dict[str, float] = {}
        self._held: dict[str, float] = {}
        """Throttled due regions and the grid tick each waits for."""
        self._tick: Cancellable | None = None
        self._tick_at = math.inf
        self._snapshots: dict[tuple[int, int, View, tuple[str, ...]], str] = {}
        self.degraded = False
        """Whether the fan-out last failed to read the database."""
        self.resyncs = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subs)

    def overheld(self) -> int:
        return self.board.overheld()

    # -- what a new subscriber is sent ---------------------------------------------------

    def snapshot(self, principal: Principal) -> Snapshot:
        """Every region this principal may see, as its live updates have shown them."""
        return self.board.snapshot(principal)

    def snapshot_text(self, principal: Principal) -> str:
        """The encoded snapshot for this principal's view, shared by identical views."""
        board = self.board
        key = (board.version, board.published_version, view_of(principal), principal.regions)
        text = self._snapshots.get(key)
        if text is None:
            if len(self._snapshots) > 64:
                self._snapshots.clear()
            text = self._snapshots[key] = encode(board.snapshot(principal))
        return text

    def subscribe(self, principal: Principal, since: int | None) -> Subscriber:
        """A new subscriber with its first messages queued: updates after `since` when the
        board can bring it up to date that way, else a snapshot; then the status if the
        numbers may be out of date."""
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
                sub.offer(encode(Update(seq=board.seq, region=board.shown(name, principal))))
        if self.degraded:
            sub.offer(encode(Status(degraded=True)))
        self._subs.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        self._subs.discard(sub)

    # -- when regions are sent -----------------------------------------------------------

    def changed(self, regions: set[str]) -> None:
        """Regions whose picture changed; they are sent now or at the end of the window."""
        self._dirty |= regions
        if self._timer is not None or not self._dirty:
            return
        wait = self._last_flush + self._coalesce_s - self._clock()
        if wait <= 0:
            self.flush()
        else:
            self._timer = self._later(wait, self.flush)

    def flush(self) -> None:
        """Send admins every changed region, and publish the due live regions; hold the
        throttled ones for their grid tick. Never waits."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._last_flush = self._clock()
        dirty, self._dirty = sorted(self._dirty), set()
        board = self.board
        due = board.due - self._held.keys()
        for name in sorted(r for r in due if board.throttled(r)):
            last = self._published_at.get(name, self._started)
            self._held[name] = self._grid(max(now, last + self._interval_s))
        live = [r for r in due if r not in self._held]
        self._send(dirty, self._publish(live, now))
        self._arm_tick()

    def _grid(self, at: float) -> float:
        """The first tick of the interval grid at or after `at` (on this hub's clock)."""
        ticks = (at + self._wall_offset) / self._interval_s
        # A tick computed from an earlier one may land a hair past it: do not skip it.
        return math.ceil(ticks - 1e-6) * self._interval_s - self._wall_offset

    def _arm_tick(self) -> None:
        at = min(self._held.values(), default=math.inf)
        if at == self._tick_at:
            return
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None
        self._tick_at = at
        if at < math.inf:
            self._tick = self._later(max(0.0, at - self._clock()), self._on_tick)

    def _on_tick(self) -> None:
        """Publish the throttled regions whose tick has come, with their latest state."""
        at, self._tick, self._tick_at = self._tick_at, None, math.inf
        names = [r for r, tick in self._held.items() if tick <= at]
        for name in names:
            del self._held[name]
        self._send([], self._publish(names, at))
        self._arm_tick()

    def _publish(self, names: list[str], at: float) -> list[tuple[View, Region]]:
        published = self.board.publish(names)
        for name in {region.region for _, region in published}:
            self._published_at[name] = at
        return published

    def _later(self, delay: float, fn: Callable[[], None]) -> Cancellable:
        call_later = self._call_later or asyncio.get_running_loop().call_later
        return call_later(delay, fn)

    # -- delivery ------------------------------------------------------------------------

    def _send(self, live: list[str], published: list[tuple[View, Region]]) -> None:
        """Offer admins the live regions and the others the published pictures."""
        if not self._subs or not (live or published):
            return
        seq = self.board.seq
        out: dict[View, list[tuple[str, str]]] = {}
        for view, region in published:
            text = encode(Update(seq=seq, region=region))
            out.setdefault(view, []).append((region.region, text))
        if live:
            out["admin"] = [
                (name, encode(Update(seq=seq, region=self.board.region(name, "admin"))))
                for name in live
            ]
        for sub in list(self._subs):
            for name, text in out.get(sub.view, ()):
                if sub.principal.sees_region(name) and not self._deliver(sub, text):
                    break

    def status(self, degraded: bool) -> None:
        """Tell every subscriber whether the numbers may be out of date, when that changes."""
        if degraded == self.degraded:
            return
        self.degraded = degraded
        log.warning("dashboards degraded" if degraded else "dashboards live again")
        text = encode(Status(degraded=degraded))
        for sub in list(self._subs):
            self._deliver(sub, text)

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
            if self.degraded:
                sub.offer(encode(Status(degraded=True)))
            self.resyncs += 1
            log.info("dashboard behind, resynced", extra={"token_id": sub.principal.token_id})
        return False

    def demand(self, demand: dict[str, Demand]) -> None:
        """Every region's demand (from the planner feed); changed regions are sent like any
        regular change."""
        changed = self.board.set_demand(demand)
        if changed:
            self.changed(changed)

    def restale(self) -> None:
        """Re-evaluate staleness; regions whose stale count changed go out as updates."""
        changed = self.board.restale()
        if changed:
            self.changed(changed)

    def close(self) -> None:
        for timer in (self._timer, self._tick):
            if timer is not None:
                timer.cancel()
        self._timer = self._tick = None


def parse_since(raw: str | None) -> int | None:
    """`since` from the query string; a `bad_since` error when it is not a number."""
    if raw is None or raw == "":
        return None
    # ASCII digits only: str.isdigit() also takes "²" and other digits int() refuses.
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 19:
        raise HavenError("bad_since", f"since must be a non-negative integer, not {raw[:40]!r}")
    return int(raw)


async def serve(socket: WebSocket[Any, Any, Any], sub: Subscriber) -> None:
    """Pump a subscriber's queue to its socket until either ends; close with its code."""

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


def restale_interval(stale_after_s: float) -> float:
    """How often staleness is re-evaluated: a small fraction of the stale age, 0.25-5 s."""
    return min(5.0, max(0.25, stale_after_s / 16))
