"""The live regional board: what dashboards see, kept in memory and fed by bed events.

The board holds, per shelter, its region, confidential flag, bed states and last report
time, and answers per region. It never names a shelter: a region is the smallest unit
anything outside this module sees. The rules are those of "What a dashboard may reveal"
in the exchange protocol; they bind every view but the admin's.

Figures (rules 1 and 2):

- A shelter is **stale** when its last applied report is older than `stale_after`, or
  when it has never reported (its registered beds are not a statement of vacancy). The
  others are the region's **contributing** shelters, and a region's `beds` (total and
  available) and `as_of` come from them alone; `shelters` counts the registered ones and
  `stale` those not contributing. For the same reason a contributing shelter's bed type
  counts only once a report has named it: registered beds of a type it never reported
  are neither total nor available.
- Where a contributing shelter is confidential, planners and viewers see `as_of` rounded
  down to `interval` (aligned to the epoch, as the hub's updates are): a report's time is
  no more exact than the update that carries it.
- A **suppressed** region carries only its name (`shelters` and `stale` 0, `as_of` null,
  no `beds`). Viewers see a region suppressed when it has fewer than `min_shelters`
  contributing shelters; planners when, in addition, one of them is confidential.

Publication (rules 3 and 4): planners and viewers see a region's *published* picture,
never the live one, and snapshots and resume read it too, so reconnecting or polling
`/api/regions` reveals no more than the live stream.

- A change is *regular* (a report, a hold, a shelter going stale or fresh) or a
  *registration* (a shelter added, moved, changed). Only a regular change makes a region
  `due`; a registration rides along with the region's next publication.
- `publish` copies the current pictures of regions into the published ones and returns
  those that differ: a suppressed picture stays the same until suppression changes, so a
  suppressed region is sent only then.
- When a due region is published is the hub's decision (it owns the clocks): at once for
  live regions, on the interval for `throttled` ones, those with a contributing
  confidential shelter now or at their last publication.

Resume: the board remembers, per region and view, the sequence number of its last
visible change. A client that saw everything up to `since` needs exactly the regions
whose change is at or after `since`; sending a region twice is harmless because every
region message is absolute. Changes without an event (a shelter going stale as time
passes, a publication) are stamped with the board's current sequence number.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from exchange.beds.model import BedState, BoardLoad, Event
from schema.registry import Principal
from schema.wire import BedTotals, Demand, Region, Snapshot

Clock = Callable[[], datetime]

View = Literal["admin", "planner", "viewer"]
RESTRICTED: tuple[View, ...] = ("planner", "viewer")
"""The views the rules bind: they see published pictures."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def view_of(principal: Principal) -> View:
    """Admins see the live board; viewers the strictest view; every other role a planner's."""
    if principal.role == "admin":
        return "admin"
    return "viewer" if principal.role == "viewer" else "planner"


@dataclass
class _Shelter:
    region: str
    confidential: bool
    beds: dict[str, BedState]
    reported_at: datetime | None
    stale: bool = True
    reported: set[str] = field(default_factory=set)
    """The bed types its reports have named."""


class Board:
    """Per-shelter bed state and per-region answers, at event sequence `seq`."""

    def __init__(
        self,
        *,
        stale_after: timedelta,
        min_shelters: int,
        clock: Clock = utcnow,
        interval: timedelta = timedelta(seconds=60),
    ) -> None:
        self.stale_after = stale_after
        self.min_shelters = min_shelters
        self.interval = interval
        """The hub's interval for regions with a confidential shelter (`as_of` steps)."""
        self.clock = clock
        self.seq = 0
        """Every event up to here is applied."""
        self.floor = 0
        """Resume from `since` is exact when since >= floor; older clients get a snapshot."""
        self._shelters: dict[str, _Shelter] = {}
        self._members: dict[str, set[str]] = {}
        self._changed: dict[str, int] = {}
        self._cache: dict[tuple[str, View], Region] = {}
        self.version = 0
        """Rises with every live change (keys caches of encoded pictures)."""
        self.due: set[str] = set()
        """Regions with a regular change not yet published."""
        self._published: dict[str, dict[View, Region]] = {}
        self._published_changed: dict[tuple[str, View], int] = {}
        self._published_confidential: dict[str, bool] = {}
        self.published_version = 0
        """Rises whenever a published picture changes."""
        self.loaded = False
        """Whether the first load happened (it publishes everything)."""
        self._demand: dict[str, Demand] = {}

    # -- state ---------------------------------------------------------------------------

    def reset(self, *, seq: int, floor: int) -> set[str]:
        """Forget the shelters (before a reload); return the regions that were known.
        Published pictures stay: they change only by publication."""
        known = set(self._members)
        self._shelters.clear()
        self._members.clear()
        self._changed.clear()
        self._cache.clear()
        self.version += 1
        self.seq, self.floor = seq, floor
        return known

    def put(
        self,
        shelter_id: str,
        *,
        region: str,
        confidential: bool,
        beds: dict[str, BedState],
        reported_at: datetime | None,
        reported: Iterable[str] = (),
        changed: int = 0,
    ) -> None:
        """Place a shelter as loaded from the database."""
        self._place(shelter_id, region, confidential)
        s = self._shelters[shelter_id]
        s.beds = dict(beds)
        s.reported = set(reported)
        s.reported_at = reported_at
        s.stale = self._is_stale(reported_at, self.clock())
        self._touch(region, max(changed, self._changed.get(region, 0)))
        if s.stale:
            # Whether a client saw this shelter go stale is unknown: resend its region.
            self._touch(region, self.seq)

    def apply(self, event: Event) -> set[str]:
        """Apply one committed event; return the regions whose live picture may have
        changed. A report or hold also makes its region due; a registration does not."""
        if event.seq <= self.seq:
            return set()
        self.seq = event.seq
        touched = self._place(event.shelter_id, event.region, event.confidential)
        s = self._shelters[event.shelter_id]
        s.beds.update(event.beds)
        if event.kind == "report":
            s.reported_at = event.at
            s.reported.update(event.beds)
        s.stale = self._is_stale(s.reported_at, self.clock())
        touched.add(event.region)
        for region in touched:
            self._touch(region, event.seq)
        if event.kind != "shelter":
            self.due.add(event.region)
        return touched

    def restale(self) -> set[str]:
        """Re-evaluate staleness now; return the regions whose stale count changed (due)."""
        now = self.clock()
        changed: set[str] = set()
        for s in self._shelters.values():
            stale = self._is_stale(s.reported_at, now)
            if stale != s.stale:
                s.stale = stale
                changed.add(s.region)
        for region in changed:
            self._touch(region, self.seq)
        self.due |= changed
        return changed

    def _place(self, shelter_id: str, region: str, confidential: bool) -> set[str]:
        s = self._shelters.get(shelter_id)
        touched: set[str] = set()
        if s is None:
            s = self._shelters[shelter_id] = _Shelter(region, confidential, {}, None)
            self._members.setdefault(region, set()).add(shelter_id)
        elif s.region != region:
            self._members[s.region].discard(shelter_id)
            touched.add(s.region)
            self._members.setdefault(region, set()).add(shelter_id)
            s.region = region
        s.confidential = confidential
        return touched

    def _touch(self, region: str, seq: int) -> None:
        self.version += 1
        self._changed[region] = max(seq, self._changed.get(region, 0))
        for view in ("admin", *RESTRICTED):
            self._cache.pop((region, view), None)

    def _is_stale(self, reported_at: datetime | None, now: datetime) -> bool:
        return reported_at is None or now - reported_at > self.stale_after

    # -- figures -------------------------------------------------------------------------

    @property
    def regions(self) -> list[str]:
        return sorted(r for r, members in self._members.items() if members)

    def region(self, name: str, view: View) -> Region:
        """One region as it is now, in this view."""
        key = (name, view)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._region(name, view)
        return cached

    def _region(self, name: str, view: View) -> Region:
        members = [self._shelters[i] for i in self._members.get(name, ())]
        fresh = [s for s in members if not s.stale]
        confidential = any(s.confidential for s in fresh)
        if suppressed(view, len(fresh), confidential, self.min_shelters):
            return Region(region=name, shelters=0, stale=0, suppressed=True, as_of=None)
        totals: dict[str, list[int]] = {}
        for s in fresh:
            for bed_type, state in s.beds.items():
                if bed_type not in s.reported:
                    continue
                t = totals.setdefault(bed_type, [0, 0])
                t[0] += state.total
                t[1] += state.available
        times = [s.reported_at for s in fresh if s.reported_at is not None]
        as_of = max(times) if times else None
        if as_of is not None and view != "admin" and any(s.confidential for s in fresh):
            as_of = _floor(as_of, self.interval)
        return Region(
            region=name,
            shelters=len(members),
            stale=len(members) - len(fresh),
            suppressed=False,
            as_of=None if as_of is None else _iso(as_of),
            beds={k: BedTotals(total=v[0], available=v[1]) for k, v in sorted(totals.items())},
            demand=demand_shown(self._demand.get(name, NO_DEMAND), view, self.min_shelters),
        )

    def set_demand(self, demand: dict[str, Demand]) -> set[str]:
        """Every region's demand (a region not named has none); return the regions whose
        demand changed, made due like a regular change."""
        changed = {
            r
            for r in self._demand.keys() | demand.keys()
            if self._demand.get(r, NO_DEMAND) != demand.get(r, NO_DEMAND)
        }
        self._demand = {r: d for r, d in demand.items() if d != NO_DEMAND}
        for region in changed:
            self._touch(region, self.seq)
        self.due |= changed & set(self._members)
        return changed & set(self._members)

    def overheld(self) -> int:
        """Beds held beyond those free, over all shelters (capacity lowered under offers)."""
        return sum(b.overheld for s in self._shelters.values() for b in s.beds.values())

    # -- publication ---------------------------------------------------------------------

    def throttled(self, name: str) -> bool:
        """Whether the region has a contributing confidential shelter, now or at its last
        publication (its updates then go out at most once per interval)."""
        return self._published_confidential.get(name, False) or self._confidential(name)

    def _confidential(self, name: str) -> bool:
        shelters = (self._shelters[i] for i in self._members.get(name, ()))
        return any(s.confidential and not s.stale for s in shelters)

    def publish(self, names: Iterable[str]) -> list[tuple[View, Region]]:
        """Publish these regions' current pictures; return those that changed, by view."""
        sent: list[tuple[View, Region]] = []
        for name in sorted(set(names)):
            self.due.discard(name)
            shown = self._published.setdefault(name, {})
            for view in RESTRICTED:
                picture = self.region(name, view)
                if shown.get(view) != picture:
                    shown[view] = picture
                    self._published_changed[(name, view)] = self.seq
                    sent.append((view, picture))
            self._published_confidential[name] = self._confidential(name)
        if sent:
            self.published_version += 1
        return sent

    # -- what a principal sees -----------------------------------------------------------

    def visible(self, principal: Principal) -> list[str]:
        """The regions this principal's snapshot lists."""
        names = self.regions if view_of(principal) == "admin" else sorted(self._published)
        return [r for r in names if principal.sees_region(r)]

    def shown(self, name: str, principal: Principal) -> Region:
        """A region as this principal sees it: live for admins, else as last published."""
        view = view_of(principal)
        if view == "admin":
            return self.region(name, view)
        return self._published[name][view]

    def snapshot(self, principal: Principal) -> Snapshot:
        """Every region this principal may see, at `seq`."""
        return Snapshot(
            seq=self.seq,
            regions=[self.shown(r, principal) for r in self.visible(principal)],
        )

    def covers(self, since: int) -> bool:
        """Whether a client that saw everything up to `since` can be brought up to date
        with updates (otherwise it needs a snapshot)."""
        return 0 < since <= self.seq and since >= self.floor

    def changed_since(self, since: int, principal: Principal) -> list[str]:
        """Regions this principal sees that changed at or after `since`, oldest change first."""
        view = view_of(principal)

        def changed(r: str) -> int:
            if view == "admin":
                return self._changed.get(r, 0)
            return self._published_changed.get((r, view), 0)

        names = [r for r in self.visible(principal) if changed(r) >= since]
        return sorted(names, key=lambda r: (changed(r), r))


NO_DEMAND = Demand(open=0, offered=0, accepted=0, unplaced=0)


def suppressed(view: View, contributing: int, confidential: bool, min_shelters: int) -> bool:
    """Whether a region is suppressed in this view (rules 1 and 2): for viewers when it has
    fewer than the minimum contributing shelters; for planners when, in addition, one of
    them is confidential; never for admins."""
    return view != "admin" and contributing < min_shelters and (view == "viewer" or confidential)


def demand_shown(demand: Demand, view: View, min_shelters: int) -> Demand | None:
    """Demand as this view may see it, or None when there is none to show. For viewers a
    count below `min_shelters` is null (a count of 1 can identify a woman), and a region
    whose every count is below it shows none at all, exactly like a region without demand."""
    if view == "viewer":

        def hide(n: int | None) -> int | None:
            return None if n is None or n < min_shelters else n

        demand = Demand(
            open=hide(demand.open),
            offered=hide(demand.offered),
            accepted=hide(demand.accepted),
            unplaced=hide(demand.unplaced),
        )
    counts = (demand.open, demand.offered, demand.accepted, demand.unplaced)
    return None if all(not n for n in counts) else demand


def _floor(at: datetime, step: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (at - epoch) // step * step


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load(board: Board, loaded: BoardLoad) -> set[str]:
    """Refill `board` from a consistent read of the database; return the regions that
    were known before or are known now (everything an admin dashboard must be told about).

    The first load publishes every region (a start reveals no report's time). A reload
    makes due only the regions where a shelter reported or its beds changed meanwhile;
    shelters added, moved or removed ride along with their region's next publication.
    """
    before = {i: (s.reported_at, s.beds) for i, s in board._shelters.items()}
    first, board.loaded = not board.loaded, True
    head = loaded.head
    regions = board.reset(seq=head, floor=head if loaded.oldest is None else loaded.oldest - 1)
    for s in loaded.shelters:
        board.put(
            s.id,
            region=s.region,
            confidential=s.confidential,
            beds=s.beds,
            reported_at=s.reported_at,
            reported=s.reported,
            changed=loaded.changed.get(s.region, 0),
        )
        old = before.get(s.id)
        if (old is None and s.reported_at is not None) or (
            old is not None and old != (s.reported_at, s.beds)
        ):
            board.due.add(s.region)
    if first:
        board.publish(board.regions)
    return regions | set(board.regions)
