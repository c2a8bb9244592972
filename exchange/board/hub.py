"""The dashboard hub: this process's dashboard subscribers, fed from the live board.

The `Hub` owns the subscribers of this process. The fan-out tells it which regions
changed; it coalesces (at most one flush per `coalesce_s`, each flush sending every
region that changed since the last, latest state wins), encodes each region once per
view, and offers the text to every subscriber's bounded queue without ever awaiting one.
A subscriber whose queue is full is resynced: its queue is replaced by one fresh
snapshot. If it is still full while that snapshot waits unsent, the client is not
reading at all and is closed with 4008.

Every update in a flush carries the board's seq at the flush, and every flush sends all
regions changed since the previous one, so a client holding seq S has everything up to
S: resuming from S is exact (see `Board.changed_since`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol

import msgspec

from exchange.board.board import Board
from schema.registry import Principal
from schema.wire import Update

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
        board: Board,
        *,
        coalesce_s: float,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], float] = time.monotonic,
        call_later: CallLater | None = None,
    ) -> None:
        self.board = board
        self._call_later = call_later
        self._coalesce_s = coalesce_s
        self._limit = queue_limit
        self._clock = clock
        self._subs: set[Subscriber] = set()
        self._dirty: set[str] = set()
        self._timer: Cancellable | None = None
        self._last_flush = float("-inf")
        self._snapshots: dict[tuple[int, bool, tuple[str, ...]], str] = {}
        self.resyncs = 0
        self.dropped = 0

    def __len__(self) -> int:
        return len(self._subs)

    def overheld(self) -> int:
        return self.board.overheld()

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
            call_later = self._call_later or asyncio.get_running_loop().call_later
            self._timer = call_later(wait, self.flush)

    def flush(self) -> None:
        """Send every dirty region to every subscriber that sees it; never waits."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        dirty, self._dirty = sorted(self._dirty), set()
        self._last_flush = self._clock()
        if not dirty or not self._subs:
            return
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
