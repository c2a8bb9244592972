"""The simulator: many shelter agents and dashboards against one exchange, with figures.

Shelters follow a compressed day (one run is one day, starting 06:00): departures peak
in the morning, arrivals in the late afternoon, beds go out of service and come back,
and operators now and then correct a count after a recount. Every shelter is a real
`clients.agent.Agent` on its own websocket; every dashboard a real `/ws/dashboard`
client.

Report-to-dashboard latency. The simulator knows the state of every shelter it drives,
so after each report it knows what its region's totals must become. Before measuring,
every shelter sends its initial state and the dashboards settle; the difference between
what each dashboard then shows and the simulator's own sums is the region's offset
(shelters the simulator does not drive). During the run each report is logged with its
send time and the region totals it implies (plus the offset). When a dashboard receives
a region whose totals equal those implied by a pending report, that report and every
earlier pending one in the region are visible, and their latency is arrival time minus
send time. To make "equal" unambiguous the simulator never lets a region's totals
return to a value they had in the last `window` reports (it picks another event; a
report it cannot make unique is logged as ambiguous and not measured). When commits
reorder reports of different shelters, an intermediate state matches no log entry and
the reports resolve at the next update: the method can only overstate latency.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import msgspec
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from clients.agent import Agent, Backoff, TokenRefused
from schema.wire import (
    BedCounts,
    Decide,
    Decided,
    Error,
    Offer,
    OfferClosed,
    Region,
    ServerMessage,
    Snapshot,
    Update,
)

RELEASED = frozenset({"declined", "expired", "withdrawn", "no_show"})
"""Offer statuses that give the bed back (accepted keeps it held, arrived occupies it)."""

Vec = tuple[tuple[str, int, int], ...]
"""A region's totals: (bed type, total, available) for each type, sorted by type."""


# --- one shelter's day ------------------------------------------------------------------


class DemoShelter(msgspec.Struct, frozen=True, kw_only=True):
    """What a simulator needs to drive one shelter: its token, region and bed totals."""

    id: str
    token: str
    region: str
    beds: dict[str, int]


def _bump(hour: float, centre: float, width: float) -> float:
    d = (hour - centre + 12) % 24 - 12
    return 1.0 + 2.0 * math.exp(-((d / width) ** 2))


class ShelterModel:
    """Bed counts of one shelter, moved by plausible events."""

    def __init__(self, shelter: DemoShelter, rng: random.Random) -> None:
        self.shelter = shelter
        self.rng = rng
        self.beds: dict[str, list[int]] = {}
        for name, total in sorted(shelter.beds.items()):
            oos = 1 if total > 5 and rng.random() < 0.15 else 0
            occupied = min(total - oos, round(total * rng.uniform(0.6, 0.95)))
            self.beds[name] = [total, occupied, oos]
        self.held: Counter[str] = Counter()
        """Beds the exchange holds for this shelter's open and accepted offers."""

    def report(self) -> dict[str, BedCounts]:
        """A full statement of every bed type."""
        return {
            t: BedCounts(total=v[0], occupied=v[1], out_of_service=v[2])
            for t, v in self.beds.items()
        }

    def available(self) -> dict[str, tuple[int, int]]:
        """(total, available) of each type, as the exchange counts them: holds deducted."""
        return {t: (v[0], self.free(t, v)) for t, v in self.beds.items()}

    def free(self, name: str, counts: list[int]) -> int:
        return max(0, counts[0] - counts[1] - counts[2] - self.held[name])

    def propose(self, hour: float) -> tuple[str, list[int]]:
        """One event at this hour of the day: (bed type, new [total, occupied, oos])."""
        rng = self.rng
        name = rng.choices(list(self.beds), weights=[v[0] + 1 for v in self.beds.values()])[0]
        total, occ, oos = self.beds[name]
        roll = rng.random()
        if roll < 0.05:  # a bed breaks or is repaired
            oos = max(0, min(total - occ, oos + rng.choice((-1, 1))))
        elif roll < 0.08:  # a recount corrects the occupied count
            occ = max(0, min(total - oos, occ + rng.choice((-3, -2, 2, 3))))
        else:
            arrive = _bump(hour, 17, 3)
            leave = _bump(hour, 9, 2.5)
            fullness = occ / max(1, total - oos)
            arrive *= 1.5 - fullness  # full shelters turn people away
            occ += 1 if rng.random() < arrive / (arrive + leave) else -1
            occ = max(0, min(total - oos, occ))
        return name, [total, occ, oos]


# --- sends and what dashboards saw ------------------------------------------------------


class SendLog(msgspec.Struct, kw_only=True):
    """What the shelters sent, for latency matching (possibly in another process)."""

    t_start: float = 0.0
    """Monotonic time measuring began; model0 is the simulator's region totals then."""
    model0: dict[str, dict[str, tuple[int, int]]] = {}
    sends: dict[str, list[tuple[float, Vec]]] = {}
    ambiguous: int = 0


Observation = tuple[float, str, dict[str, tuple[int, int]]]
"""(monotonic arrival time, region, {bed type: (total, available)})."""


def _vec(totals: dict[str, tuple[int, int]]) -> Vec:
    return tuple((t, a, b) for t, (a, b) in sorted(totals.items()) if (a, b) != (0, 0))


def _shift(
    sums: dict[str, tuple[int, int]], name: str, before: tuple[int, int], after: tuple[int, int]
) -> dict[str, tuple[int, int]]:
    """Region totals with one shelter's (total, available) of a type moved from `before`
    to `after`."""
    old = sums.get(name, (0, 0))
    return {**sums, name: (old[0] - before[0] + after[0], old[1] - before[1] + after[1])}


def region_totals(region: Region) -> dict[str, tuple[int, int]] | None:
    if region.suppressed or region.beds is None:
        return None
    return {t: (b.total, b.available) for t, b in region.beds.items()}


def match_latencies(log: SendLog, seen: Sequence[Observation]) -> tuple[list[float], int]:
    """Latencies of the reports one dashboard saw, and how many it never saw (see module doc)."""
    latencies: list[float] = []
    unmatched = 0
    by_region: dict[str, list[tuple[float, dict[str, tuple[int, int]]]]] = {}
    for t, region, totals in seen:
        by_region.setdefault(region, []).append((t, totals))
    for region, sends in log.sends.items():
        obs = by_region.get(region, [])
        before = [o for o in obs if o[0] <= log.t_start]
        if not before:
            unmatched += len(sends)
            continue
        shown0 = before[-1][1]
        model0 = log.model0.get(region, {})
        offset = {
            t: (
                shown0.get(t, (0, 0))[0] - model0.get(t, (0, 0))[0],
                shown0.get(t, (0, 0))[1] - model0.get(t, (0, 0))[1],
            )
            for t in set(shown0) | set(model0)
        }
        # The index of each expected (offset-adjusted) vector among pending sends.
        expected = [_vec(_add(dict(v_as(vec)), offset)) for _, vec in sends]
        i = 0
        for t, totals in obs:
            if t <= log.t_start or i >= len(sends):
                continue
            target = _vec(totals)
            j = i
            found = -1
            while j < len(sends) and sends[j][0] <= t:
                if expected[j] == target:
                    found = j
                j += 1
            if found >= 0:
                latencies.extend(t - sends[k][0] for k in range(i, found + 1))
                i = found + 1
        unmatched += len(sends) - i
    return latencies, unmatched


def v_as(vec: Vec) -> list[tuple[str, tuple[int, int]]]:
    return [(t, (a, b)) for t, a, b in vec]


def _add(
    a: dict[str, tuple[int, int]], b: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int]]:
    return {
        t: (a.get(t, (0, 0))[0] + b.get(t, (0, 0))[0], a.get(t, (0, 0))[1] + b.get(t, (0, 0))[1])
        for t in set(a) | set(b)
    }


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q / 100 * len(ordered)) - 1))]


def ms(values: Sequence[float]) -> dict[str, float | int | None]:
    def r(v: float | None) -> float | None:
        return None if v is None else round(v * 1000, 1)

    return {
        "p50": r(percentile(values, 50)),
        "p99": r(percentile(values, 99)),
        "max": r(max(values) if values else None),
        "samples": len(values),
    }


# --- the shelters -----------------------------------------------------------------------


@dataclass
class Shelters:
    """Agents and models for the driven shelters, with the send log."""

    url: str
    shelters: Sequence[DemoShelter]
    rng: random.Random
    window: int = 2000
    acks: list[float] = field(default_factory=list)
    log: SendLog = field(default_factory=SendLog)
    sent: int = 0
    accept_odds: float | None = None
    """When set, every offer a shelter receives is answered after a few seconds: accepted
    with these odds, else declined as full."""

    def __post_init__(self) -> None:
        self.models = {s.id: ShelterModel(s, self.rng) for s in self.shelters}
        self.agents = {
            s.id: Agent(
                self.url,
                s.token,
                backoff=Backoff(initial=0.2, cap=5.0),
                rng=self.rng,
                latencies=self.acks,
                on_message=self._listener(s.id),
            )
            for s in self.shelters
        }
        self.offers_seen: set[str] = set()
        self.offer_beds: dict[str, tuple[str, str]] = {}
        """Each offer received: (shelter id, bed type), to release its hold."""
        self.sums: dict[str, dict[str, tuple[int, int]]] = {}
        for m in self.models.values():
            region = m.shelter.region
            self.sums[region] = _add(self.sums.get(region, {}), m.available())
        self.recent: dict[str, deque[Vec]] = {r: deque() for r in self.sums}
        self.recent_count: dict[str, Counter[Vec]] = {r: Counter() for r in self.sums}
        self._tasks: list[asyncio.Task[None]] = []

    def _listener(self, shelter_id: str) -> Callable[[ServerMessage], None]:
        """Follow the holds of the offers this shelter receives (a new offer holds a bed;
        a decline, expiry or withdrawal releases it), so the region totals the simulator
        expects are the exchange's; with `accept_odds`, answer each new offer."""

        def on_message(message: ServerMessage) -> None:
            if isinstance(message, Offer) and message.offer not in self.offers_seen:
                self.offers_seen.add(message.offer)
                self.offer_beds[message.offer] = (shelter_id, message.bed_type)
                self._hold(shelter_id, message.bed_type, 1)
                if self.accept_odds is not None:
                    self._tasks.append(asyncio.create_task(self._answer(shelter_id, message)))
            elif isinstance(message, Decided | OfferClosed) and message.status in RELEASED:
                held = self.offer_beds.pop(message.offer, None)
                if held is not None:
                    self._hold(*held, -1)

        return on_message

    def _hold(self, shelter_id: str, bed_type: str, delta: int) -> None:
        model = self.models[shelter_id]
        region = model.shelter.region
        before = model.available().get(bed_type, (0, 0))
        model.held[bed_type] += delta
        after = model.available().get(bed_type, (0, 0))
        self.sums[region] = _shift(self.sums[region], bed_type, before, after)
        self._remember(region, _vec(self.sums[region]))

    async def wait_offers(self, n: int, timeout: float) -> bool:
        """Until this many offers have arrived (their holds are in the region totals)."""
        deadline = time.monotonic() + timeout
        while len(self.offers_seen) < n and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        return len(self.offers_seen) >= n

    async def _answer(self, shelter_id: str, offer: Offer) -> None:
        accept = self.rng.random() < (self.accept_odds or 0.0)
        decision = Decide(
            offer=offer.offer,
            decision="accept" if accept else "decline",
            reason=None if accept else "full",
        )
        await asyncio.sleep(self.rng.uniform(1.0, 4.0))  # a person reads it first
        await self.agents[shelter_id].decide(decision)

    async def start(self) -> None:
        self._tasks = [asyncio.create_task(a.run()) for a in self.agents.values()]
        for sid, m in self.models.items():
            await self.agents[sid].submit(m.report())

    def check(self) -> None:
        """Raise the first failure of an agent (a refused token)."""
        for task in self._tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def wait_answered(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check()
            if all(a.state.done and a.state.last_seq is not None for a in self.agents.values()):
                return True
            await asyncio.sleep(0.02)
        return False

    def mark_start(self) -> None:
        self.log.t_start = time.monotonic()
        self.log.model0 = {r: dict(v) for r, v in self.sums.items()}
        self.log.sends = {r: [] for r in self.sums}

    async def send_one(self, hour: float) -> None:
        """Pick a shelter and an event that gives its region totals not seen lately."""
        ids = list(self.models)
        for attempt in range(12):
            model = self.models[self.rng.choice(ids)]
            region = model.shelter.region
            name, new = model.propose(hour)
            before = model.available()[name]
            after = (new[0], model.free(name, new))
            sums = _shift(self.sums[region], name, before, after)
            vec = _vec(sums)
            unique = self.recent_count[region][vec] == 0 and vec != _vec(self.sums[region])
            if unique or attempt == 11:
                break
        model.beds[name] = new
        self.sums[region] = sums
        self._remember(region, vec)
        now = time.monotonic()
        if unique:
            self.log.sends[region].append((now, vec))
        else:
            self.log.ambiguous += 1
        self.sent += 1
        await self.agents[model.shelter.id].submit(model.report())

    def _remember(self, region: str, vec: Vec) -> None:
        recent, count = self.recent[region], self.recent_count[region]
        recent.append(vec)
        count[vec] += 1
        if len(recent) > self.window:
            old = recent.popleft()
            count[old] -= 1

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def outcome(self) -> dict[str, Any]:
        errors: Counter[str] = Counter()
        applied = duplicate = stale = retried = unanswered = reconnects = 0
        for a in self.agents.values():
            o = a.state.outcome
            applied += o.applied
            duplicate += o.duplicate
            stale += o.stale
            retried += o.retried
            errors.update(str(e["code"]) for e in o.rejected)
            unanswered += len(a.state.pending) + len(a.state.unnumbered)
            reconnects += max(0, a.connections - 1)
        if retried:
            errors["unavailable"] += retried
        decided = Counter(
            str(d.get("status", d.get("code")))
            for a in self.agents.values()
            for d in a.state.outcome.decided
        )
        return {
            "offers": {"received": len(self.offers_seen), **dict(sorted(decided.items()))},
            "applied": applied,
            "duplicate": duplicate,
            "stale": stale,
            "unanswered": unanswered,
            "reconnects": reconnects,
            "errors": dict(errors),
        }


async def drive(
    shelters: Shelters, *, rate: float, duration: float | None, stop: asyncio.Event
) -> float:
    """Send about `rate` reports a second until `duration` passes or `stop` is set."""
    t0 = time.monotonic()
    owed = 0.0
    last = t0
    day = duration or 600.0
    while not stop.is_set():
        now = time.monotonic()
        if duration is not None and now - t0 >= duration:
            break
        owed += (now - last) * rate
        last = now
        hour = (6 + 24 * (now - t0) / day) % 24
        while owed >= 1:
            owed -= 1
            await shelters.send_one(hour)
        shelters.check()
        await asyncio.sleep(0.005)
    return time.monotonic() - t0


# --- the dashboards ---------------------------------------------------------------------

_DASH = msgspec.json.Decoder(Snapshot | Update | Error)


def dashboard_url(url: str, since: int | None) -> str:
    base = url.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    base = base if base.endswith("/ws/dashboard") else base + "/ws/dashboard"
    return base if since is None else f"{base}?since={since}"


async def watch(
    url: str,
    token: str,
    seen: list[Observation],
    errors: Counter[str],
    stop: asyncio.Event,
    heard: list[float] | None = None,
) -> None:
    """One dashboard: record every region it is shown; resume with `since` after a drop."""
    since: int | None = None
    backoff = Backoff(initial=0.2, cap=5.0)
    attempt = 0
    rng = random.Random()
    while not stop.is_set():
        try:
            async with connect(
                dashboard_url(url, since),
                max_size=None,
                open_timeout=10,
                additional_headers={"Authorization": f"Bearer {token}"},
            ) as ws:
                attempt = 0
                async for frame in ws:
                    now = time.monotonic()
                    if heard is not None:
                        heard[0] = now
                    try:
                        message = _DASH.decode(frame)
                    except msgspec.DecodeError:
                        continue
                    match message:
                        case Snapshot():
                            since = message.seq
                            for region in message.regions:
                                totals = region_totals(region)
                                if totals is not None:
                                    seen.append((now, region.region, totals))
                        case Update():
                            since = message.seq
                            totals = region_totals(message.region)
                            if totals is not None:
                                seen.append((now, message.region.region, totals))
                        case Error():
                            errors[f"dashboard_{message.code}"] += 1
            errors["dashboard_closed"] += 1
        except InvalidStatus as exc:
            status = exc.response.status_code
            if status in (401, 403):
                raise TokenRefused(status) from None
            errors[f"dashboard_http_{status}"] += 1
        except (OSError, TimeoutError, InvalidHandshake, ConnectionClosed):
            errors["dashboard_disconnect"] += 1
        await asyncio.sleep(backoff.delay(attempt, rng))
        attempt += 1


class Dashboards:
    def __init__(self, urls: Sequence[str], token: str | None, count: int) -> None:
        if count and not token:
            raise ValueError("dashboards need a viewer token: --viewer-token or HAVEN_VIEWER_TOKEN")
        self.seen: list[list[Observation]] = [[] for _ in range(count)]
        self.heard: list[list[float]] = [[0.0] for _ in range(count)]
        """When each dashboard last received any frame."""
        self.errors: Counter[str] = Counter()
        self.stop = asyncio.Event()
        self.tasks = [
            asyncio.create_task(
                watch(
                    urls[k % len(urls)],
                    token or "",
                    self.seen[k],
                    self.errors,
                    self.stop,
                    self.heard[k],
                )
            )
            for k in range(count)
        ]

    def check(self) -> None:
        for task in self.tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]

    async def settle(self, quiet: float, limit: float) -> None:
        """Until every dashboard has heard from the server and none has for `quiet` seconds
        (at most `limit`)."""
        deadline = time.monotonic() + limit
        while self.tasks and time.monotonic() < deadline:
            self.check()
            heard = [h[0] for h in self.heard]
            if min(heard) > 0 and time.monotonic() - max(heard) >= quiet:
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        self.stop.set()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)


# --- the whole run ----------------------------------------------------------------------


async def simulate(
    url: str,
    shelters: Sequence[DemoShelter],
    *,
    rate: float,
    duration: float | None,
    dashboards: int = 1,
    viewer_token: str | None = None,
    dashboard_urls: Sequence[str] | None = None,
    seed: int = 1,
    stop: asyncio.Event | None = None,
    accept_odds: float | None = None,
    started: Callable[[], Awaitable[int | None]] | None = None,
) -> dict[str, Any]:
    """Run shelters (and dashboards) for `duration` seconds, or until `stop`; the summary.

    With `accept_odds`, shelters answer the offers they receive; `started` is awaited
    once every shelter's first report is answered (the demo runs matching then) and
    returns how many offers it made: measuring starts once they have arrived, so the
    region totals it starts from include their holds."""
    stop = stop or asyncio.Event()
    rng = random.Random(seed)
    fleet = Shelters(url, shelters, rng, accept_odds=accept_odds)
    boards = Dashboards(dashboard_urls or [url], viewer_token, dashboards)
    try:
        await fleet.start()
        if not await fleet.wait_answered(30):
            raise RuntimeError("shelters did not get their first reports answered in 30 s")
        await boards.settle(quiet=0.5, limit=5)
        if started is not None:
            offers = await started()
            if offers:
                await fleet.wait_offers(offers, timeout=10)
                await boards.settle(quiet=0.5, limit=5)
        fleet.mark_start()
        primed = sum(a.state.outcome.applied for a in fleet.agents.values())
        elapsed = await drive(fleet, rate=rate, duration=duration, stop=stop)
        # Interrupted (Ctrl-C): take what has arrived rather than wait.
        await fleet.wait_answered(1 if stop.is_set() else 10)
        await boards.settle(quiet=0.5, limit=1 if stop.is_set() else 5)
    finally:
        await fleet.stop()
        await boards.close()
    out = fleet.outcome()
    latencies: list[float] = []
    unseen = 0
    for seen in boards.seen:
        lat, missed = match_latencies(fleet.log, seen)
        latencies.extend(lat)
        unseen += missed
    errors = Counter(out.pop("errors"))
    errors.update(boards.errors)
    return {
        "shelters": len(shelters),
        "dashboards": dashboards,
        "duration_s": round(elapsed, 2),
        "sent": fleet.sent,
        **out,
        # The rate while measuring: the first report of each shelter is not counted.
        "applied_per_s": round((out["applied"] - primed) / elapsed, 1) if elapsed else 0.0,
        "ack_ms": ms(fleet.acks),
        "dashboard_ms": {**ms(latencies), "unseen": unseen, "ambiguous": fleet.log.ambiguous},
        "errors": dict(errors),
    }
