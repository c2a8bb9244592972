"""The planner channel's feed in one process: read changes, keep the picture, fan out.

Like the dashboard fan-out (`board.fanout`): the audit log is the truth, NOTIFY only a
wake-up (`haven_events` after a change that moves a bed, `haven_placements` after one that
does not), and a poll every `poll_s` reads anyway. Each batch of change records names the
requests it touched; they are read again (`store.facts_of`), applied to the `Picture`,
and each agency's subscribers are offered the messages for its own requests only —
encoded once per message, never awaiting a client (the dashboard's bounded `Subscriber`:
a full queue is resynced with a snapshot, a client still not reading is closed).

It also counts every region's demand for the dashboards (`on_demand`, the hub's).

Messages (`schema.placements`): `snapshot`, then `request` (a row, absolute) and `removed`
(a request that arrived, was withdrawn or purged), each with the audit id of the change,
and `status` while the database cannot be read.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, cast

import asyncpg
import msgspec

from exchange import db
from exchange.beds import store as beds
from exchange.board.hub import QUEUE_LIMIT, WS_TOO_SLOW, Subscriber
from exchange.errors import DB_ERRORS
from exchange.placements import planners, readiness, store
from exchange.placements.planners import Gone, Item, Picture, Shown
from exchange.placements.readiness import Facts
from schema.placements import PlannerSnapshot, RequestChanged, RequestRemoved
from schema.registry import Principal
from schema.wire import Demand, Status

log = logging.getLogger("haven.planners")

BATCH = 5_000
CATCH_UP_TIMEOUT_S = 5.0
LISTENER_NAME = "haven-planner-listener"
BED_WAKE_GAP_S = 0.05
"""A `haven_events` wake-up (sent after every batch of bed reports, most of which change
no request) starts a catch-up at most this long after the previous one."""
DEMAND_EVERY_S = 60.0
"""Demand is told at least this often (`unplaced` moves with the date)."""

_ENCODE = msgspec.json.Encoder()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def encode(message: msgspec.Struct) -> str:
    return _ENCODE.encode(message).decode()


class PlannerFeed:
    """This process's planner subscribers, fed from the audit log."""

    def __init__(
        self,
        dsn: str,
        pool: asyncpg.Pool[Any],
        policy: readiness.Policy,
        *,
        poll_s: float = 1.0,
        queue_limit: int = QUEUE_LIMIT,
        clock: Callable[[], dt.datetime] = _utcnow,
        horizon_days: int = 21,
        on_demand: Callable[[dict[str, Demand]], None] | None = None,
        on_requests: Callable[[list[Facts]], None] | None = None,
    ) -> None:
        """Args:
        on_demand: told every region's demand (the dashboards' `demand`) after each
            change, and at least once a minute (the horizon moves with the date).
        on_requests: told the facts of the requests each batch of changes read again
            (the offer feed pushes pickups to the shelters that accepted them).
        """
        self._dsn, self._pool, self._policy = dsn, pool, policy
        self._on_requests = on_requests
        self._horizon_days, self._on_demand = horizon_days, on_demand
        self._demand_at = float("-inf")
        self._poll_s, self._limit, self._clock = poll_s, queue_limit, clock
        self.picture = Picture()
        self._subs: dict[str, set[Subscriber]] = {}
        self._wake = asyncio.Event()
        self._last_read = float("-inf")
        self._bed_wake_pending = False
        self.degraded = False
        self.listening = False
        self.resyncs = 0
        self.dropped = 0

    def __len__(self) -> int:
        return sum(len(s) for s in self._subs.values())

    # -- reading ---------------------------------------------------------------------------

    async def load(self) -> None:
        async with self._pool.acquire() as conn:
            facts, seq = await store.picture(cast("asyncpg.Connection[Any]", conn))
        self.picture.load(facts, seq)

    async def catch_up(self) -> int:
        """Apply every change after the picture's seq and send it; how many requests."""
        sent = 0
        while True:
            records = await store.changes_since(self._pool, self.picture.seq, BATCH)
            if not records:
                return sent
            touched = planners.changes(records)
            found = await store.facts_of(self._pool, [t.request for t in touched])
            items = self.picture.apply(touched, {f.request: f for f in found}, upto=records[-1].id)
            self._send(items)
            if self._on_requests is not None and found:
                self._on_requests(found)
            sent += len(items)
            if len(records) < BATCH:
                if sent:
                    self.tell_demand()
                return sent

    def wake(self) -> None:
        self._wake.set()

    def _on_beds(self, *_: object) -> None:
        """A bed change woke us: catch up, but not more often than every BED_WAKE_GAP_S."""
        if self._bed_wake_pending:
            return
        wait = self._last_read + BED_WAKE_GAP_S - time.monotonic()
        if wait <= 0:
            self._wake.set()
            return
        self._bed_wake_pending = True

        def fire() -> None:
            self._bed_wake_pending = False
            self._wake.set()

        asyncio.get_running_loop().call_later(wait, fire)

    def tell_demand(self) -> None:
        """Tell `on_demand` every region's demand now."""
        self._demand_at = time.monotonic()
        if self._on_demand is not None:
            today = readiness.today(self._clock())
            self._on_demand(self.picture.demand(today, self._horizon_days))

    # -- subscribers -----------------------------------------------------------------------

    def subscribe(self, principal: Principal, since: int | None) -> Subscriber:
        """A planner's subscriber with its first messages queued: the changes after `since`
        when the picture can bring it up to date that way, else a snapshot."""
        assert principal.agency is not None
        agency = principal.agency
        sub = Subscriber(principal, self._limit)
        picture = self.picture
        items = picture.changed_since(agency, since) if since and picture.covers(since) else None
        if items is None or len(items) > self._limit:
            sub.offer(self.snapshot_text(agency))
        else:
            now = self._clock()
            for item in items:
                sub.offer(self._message(item, now))
        if self.degraded:
            sub.offer(encode(Status(degraded=True)))
        self._subs.setdefault(agency, set()).add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        agency = sub.principal.agency or ""
        subs = self._subs.get(agency)
        if subs is not None:
            subs.discard(sub)
            if not subs:
                del self._subs[agency]

    def snapshot(self, agency: str) -> PlannerSnapshot:
        now = self._clock()
        rows = [readiness.row(f, now, self._policy) for f in self.picture.facts(agency)]
        return PlannerSnapshot(
            seq=self.picture.seq,
            as_of=readiness.iso(now),
            requests=sorted(rows, key=readiness.risk_key),
        )

    def snapshot_text(self, agency: str) -> str:
        return encode(self.snapshot(agency))

    def _message(self, item: Item, now: dt.datetime) -> str:
        if isinstance(item, Shown):
            row = readiness.row(item.facts, now, self._policy)
            return encode(RequestChanged(seq=item.seq, request=row))
        assert isinstance(item, Gone)
        return encode(RequestRemoved(seq=item.seq, request=item.request, status=item.status))

    def _send(self, items: list[Item]) -> None:
        if not items or not self._subs:
            return
        now = self._clock()
        for item in items:
            subs = self._subs.get(planners.agency_of(item))
            if not subs:
                continue
            text = self._message(item, now)
            for sub in list(subs):
                self._deliver(sub, text)

    def _deliver(self, sub: Subscriber, text: str) -> None:
        """Offer one message; resync a subscriber that cannot take it, or close it."""
        if sub.offer(text):
            return
        if sub.resync_pending:
            sub.close(WS_TOO_SLOW)
            self.unsubscribe(sub)
            self.dropped += 1
            log.info("planner channel too slow, closed", extra={"token_id": sub.principal.token_id})
        else:
            sub.resync(self.snapshot_text(sub.principal.agency or ""))
            self.resyncs += 1

    def status(self, degraded: bool) -> None:
        if degraded == self.degraded:
            return
        self.degraded = degraded
        text = encode(Status(degraded=degraded))
        for subs in list(self._subs.values()):
            for sub in list(subs):
                self._deliver(sub, text)

    # -- background ------------------------------------------------------------------------

    async def _read_loop(self) -> None:
        while True:
            # asyncio.timeout, never wait_for: on Python 3.11 wait_for loses a cancel that
            # lands as the event is set, and the stop then waits forever.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self._poll_s):
                    await self._wake.wait()
            self._wake.clear()
            self._last_read = time.monotonic()
            try:
                async with asyncio.timeout(CATCH_UP_TIMEOUT_S):
                    await self.catch_up()
            except DB_ERRORS as exc:
                log.warning("planner catch-up failed", extra={"error": type(exc).__name__})
                self.status(True)
                continue
            self.status(False)
            if time.monotonic() - self._demand_at >= DEMAND_EVERY_S:
                self.tell_demand()

    def _listening(self, now: bool) -> None:
        self.listening = now
        self._wake.set()  # catch up on whatever happened while not listening

    async def _listen_loop(self) -> None:
        await db.listen(
            self._dsn,
            LISTENER_NAME,
            {beds.CHANNEL: self._on_beds, store.CHANNEL: lambda *_: self._wake.set()},
            self._listening,
            lost_message="planner listener lost",
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[PlannerFeed]:
        """Load the picture, then keep it current in the background while open."""
        await self.load()
        self.tell_demand()
        tasks = [
            asyncio.create_task(self._listen_loop(), name="planner-listen"),
            asyncio.create_task(self._read_loop(), name="planner-read"),
        ]
        try:
            yield self
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            for subs in list(self._subs.values()):
                for sub in list(subs):
                    sub.close(1001)
