"""Dashboards on fake time: a live board and hub fed events by hand and watched by
subscribers of any role, recording what each receives and when. No sockets, no sleeps:
the hub's clock and timers are `FakeTime`, the board's clock follows it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from exchange.access import tokens
from exchange.access.store import Executor
from exchange.beds.model import BedState, Event, EventKind
from exchange.board import board as live
from exchange.board import hub as dashboard
from schema.registry import Principal, Role

START = 100.0
"""What the fake clock reads first."""

VIEWER = Principal(token_id=1, role="viewer")
PLANNER = Principal(token_id=2, role="planner")
ADMIN = Principal(token_id=3, role="admin")


@dataclass
class Timer:
    at: float
    fn: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


class FakeTime:
    """A clock and timer the test advances by hand (no real sleeps)."""

    def __init__(self) -> None:
        self.now = START
        self.timers: list[Timer] = []

    def clock(self) -> float:
        return self.now

    def call_later(self, delay: float, fn: Callable[[], None]) -> Timer:
        timer = Timer(self.now + delay, fn)
        self.timers.append(timer)
        return timer

    def advance(self, seconds: float) -> None:
        self.advance_to(self.now + seconds)

    def advance_to(self, at: float) -> None:
        """Move the clock to `at` and run the timers due by then, in order."""
        self.now = at
        due = [t for t in self.timers if t.at <= self.now]
        self.timers = [t for t in self.timers if t.at > self.now]
        for timer in sorted(due, key=lambda t: t.at):
            if not timer.cancelled:
                timer.fn()

    def next_timer(self) -> float | None:
        return min((t.at for t in self.timers if not t.cancelled), default=None)


def drain(sub: dashboard.Subscriber) -> list[dict[str, Any]]:
    """Take every message queued for a subscriber, as the sender would."""
    out = []
    while len(sub):
        text = sub._items.popleft()[0]
        out.append(json.loads(text))
    sub.resync_pending = False
    return out


class Watcher:
    """One dashboard: every message it received, with the fake time it was taken."""

    def __init__(self, sub: dashboard.Subscriber) -> None:
        self.sub = sub
        self.got: list[tuple[float, dict[str, Any]]] = []

    def read(self, now: float) -> None:
        self.got += [(now, m) for m in drain(self.sub)]

    def updates(self, region: str | None = None) -> list[tuple[float, dict[str, Any]]]:
        """(time, region) of every update received, of one region or all."""
        return [
            (t, m["region"])
            for t, m in self.got
            if m["type"] == "update" and region in (None, m["region"]["region"])
        ]

    def pictures(self, region: str) -> list[dict[str, Any]]:
        """Every picture of a region this dashboard was shown, snapshots included."""
        out = []
        for _, m in self.got:
            if m["type"] == "snapshot":
                out += [r for r in m["regions"] if r["region"] == region]
            elif m["type"] == "update" and m["region"]["region"] == region:
                out.append(m["region"])
        return out

    @property
    def seq(self) -> int:
        return max((m["seq"] for _, m in self.got if "seq" in m), default=0)

    def picture(self) -> dict[str, dict[str, Any]]:
        """What the dashboard shows after applying everything it received."""
        regions: dict[str, dict[str, Any]] = {}
        for _, m in self.got:
            if m["type"] == "snapshot":
                regions = {r["region"]: r for r in m["regions"]}
            elif m["type"] == "update":
                regions[m["region"]["region"]] = m["region"]
        return regions


class Scene:
    """A board and hub on fake time; `report` and `register` feed them as the fan-out does.

    Hub keyword arguments pass through (the defaults are the production ones: a 60 s
    interval for regions with a confidential shelter, on a wall-clock grid). The board's
    clock is that wall clock moving with the fake one, as in production.
    """

    def __init__(
        self,
        *,
        min_shelters: int = 3,
        stale_after: timedelta = timedelta(hours=8),
        coalesce_s: float = 0.1,
        **hub: Any,
    ) -> None:
        self.time = FakeTime()
        self.wall0 = hub.get("wall", time.time)()
        self.board = live.Board(stale_after=stale_after, min_shelters=min_shelters, clock=self.at)
        self.hub = dashboard.Hub(
            self.board,
            coalesce_s=coalesce_s,
            queue_limit=4096,
            clock=self.time.clock,
            call_later=self.time.call_later,
            **hub,
        )
        self.seq = 0
        self.watchers: list[Watcher] = []

    def at(self) -> datetime:
        return datetime.fromtimestamp(self.wall0 + self.time.now - START, UTC)

    def event(
        self,
        shelter: str,
        region: str,
        *,
        kind: EventKind,
        total: int,
        available: int,
        confidential: bool,
    ) -> None:
        self.seq += 1
        beds = {"single": BedState(total=total, occupied=total - available, out_of_service=0)}
        event = Event(
            seq=self.seq,
            at=self.at(),
            shelter_id=shelter,
            region=region,
            confidential=confidential,
            kind=kind,
            beds=beds,
            report_seq=self.seq if kind == "report" else None,
        )
        self.hub.changed(self.board.apply(event))
        self.read()

    def report(
        self,
        shelter: str,
        region: str,
        *,
        available: int = 5,
        total: int = 10,
        confidential: bool = False,
    ) -> None:
        self.event(
            shelter,
            region,
            kind="report",
            total=total,
            available=available,
            confidential=confidential,
        )

    def register(
        self, shelter: str, region: str, *, total: int = 10, confidential: bool = False
    ) -> None:
        self.event(
            shelter, region, kind="shelter", total=total, available=0, confidential=confidential
        )

    def watch(self, principal: Principal, since: int | None = None) -> Watcher:
        watcher = Watcher(self.hub.subscribe(principal, since))
        watcher.read(self.time.now)
        self.watchers.append(watcher)
        return watcher

    def read(self) -> None:
        for watcher in self.watchers:
            watcher.read(self.time.now)

    def advance(self, seconds: float, step: float = 0.25) -> None:
        """Let time pass in steps, re-checking staleness as the server's ticker does; each
        timer fires at its own time, so what it sends is received exactly then."""
        end = self.time.now + seconds
        while self.time.now < end:
            timer = self.time.next_timer()
            at = min(self.time.now + step, end)
            if timer is not None and self.time.now < timer < at:
                at = timer
            self.time.advance_to(at)
            self.hub.restale()
            self.read()


async def dashboard_token(conn: Executor, role: Role) -> tuple[int, str]:
    """A new viewer, planner or admin token (a planner's names its agency)."""
    agency = "test" if role == "planner" else None
    return await tokens.create_token(conn, role, agency=agency)
