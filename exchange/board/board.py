"""The live regional board: what dashboards see, kept in memory and fed by bed events.

The board holds, per shelter, its region, confidential flag, bed states and last report
time, and answers per region. It never names a shelter: a region is the smallest unit
anything outside this module sees, so a confidential shelter counts only inside its
region's totals.

Rules, decided here once:

- A shelter is **stale** when its last applied report is older than `stale_after`, or
  when it has never reported (its registered beds are not a statement of vacancy).
- A region's `total` counts every shelter's beds in service; its `available` counts only
  fresh shelters, since stale ones offer no beds (the matcher skips them too).
- `as_of` is the newest report time among the region's shelters.
- For viewer tokens, a region with fewer than `min_shelters` shelters is suppressed:
  `suppressed: true` and no numbers at all (shelters and stale are sent as 0, `as_of`
  as null, `beds` absent), so a viewer learns only that the region exists.

Resume: the board remembers, per region, the sequence number of its last visible change
(`changed`). A client that saw everything up to `since` needs exactly the regions whose
change is at or after `since`; sending a region twice is harmless because every region
message is absolute. Changes without an event (a shelter going stale as time passes) are
stamped with the board's current sequence number when they are noticed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from exchange.beds.model import BedState, BoardLoad, Event
from schema.registry import Principal
from schema.wire import BedTotals, Region, Snapshot

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Shelter:
    region: str
    confidential: bool
    beds: dict[str, BedState]
    reported_at: datetime | None
    stale: bool = True


class Board:
    """Per-shelter bed state and per-region answers, at event sequence `seq`."""

    def __init__(
        self,
        *,
        stale_after: timedelta,
        min_shelters: int,
        clock: Clock = utcnow,
    ) -> None:
        self.stale_after = stale_after
        self.min_shelters = min_shelters
        self.clock = clock
        self.seq = 0
        """Every event up to here is applied."""
        self.floor = 0
        """Resume from `since` is exact when since >= floor; older clients get a snapshot."""
        self._shelters: dict[str, _Shelter] = {}
        self._members: dict[str, set[str]] = {}
        self._changed: dict[str, int] = {}
        self._cache: dict[tuple[str, bool], Region] = {}
        self.version = 0
        """Rises with every visible change (keys caches of encoded pictures)."""

    # -- state ---------------------------------------------------------------------------

    def reset(self, *, seq: int, floor: int) -> set[str]:
        """Forget everything (before a reload); return the regions that were known."""
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
        changed: int = 0,
    ) -> None:
        """Place a shelter as loaded from the database."""
        self._place(shelter_id, region, confidential)
        s = self._shelters[shelter_id]
        s.beds = dict(beds)
        s.reported_at = reported_at
        s.stale = self._is_stale(reported_at, self.clock())
        self._touch(region, max(changed, self._changed.get(region, 0)))
        if s.stale:
            # Whether a client saw this shelter go stale is unknown: resend its region.
            self._touch(region, self.seq)

    def apply(self, event: Event) -> set[str]:
        """Apply one committed event; return the regions whose picture may have changed."""
        if event.seq <= self.seq:
            return set()
        self.seq = event.seq
        touched = self._place(event.shelter_id, event.region, event.confidential)
        s = self._shelters[event.shelter_id]
        s.beds.update(event.beds)
        if event.kind == "report":
            s.reported_at = event.at
        s.stale = self._is_stale(s.reported_at, self.clock())
        touched.add(event.region)
        for region in touched:
            self._touch(region, event.seq)
        return touched

    def restale(self) -> set[str]:
        """Re-evaluate staleness now; return the regions whose stale count changed."""
        now = self.clock()
        changed: set[str] = set()
        for s in self._shelters.values():
            stale = self._is_stale(s.reported_at, now)
            if stale != s.stale:
                s.stale = stale
                changed.add(s.region)
        for region in changed:
            self._touch(region, self.seq)
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
        self._cache.pop((region, False), None)
        self._cache.pop((region, True), None)

    def _is_stale(self, reported_at: datetime | None, now: datetime) -> bool:
        return reported_at is None or now - reported_at > self.stale_after

    # -- answers -------------------------------------------------------------------------

    @property
    def regions(self) -> list[str]:
        return sorted(r for r, members in self._members.items() if members)

    def region(self, name: str, *, suppress_small: bool) -> Region:
        """One region as a dashboard sees it; `suppress_small` for viewer tokens."""
        key = (name, suppress_small)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._cache[key] = self._region(name, suppress_small)
        return cached

    def _region(self, name: str, suppress_small: bool) -> Region:
        members = [self._shelters[i] for i in self._members.get(name, ())]
        if suppress_small and len(members) < self.min_shelters:
            return Region(region=name, shelters=0, stale=0, suppressed=True, as_of=None)
        totals: dict[str, list[int]] = {}
        for s in members:
            for bed_type, state in s.beds.items():
                t = totals.setdefault(bed_type, [0, 0])
                t[0] += state.total
                if not s.stale:
                    t[1] += state.available
        times = [s.reported_at for s in members if s.reported_at is not None]
        return Region(
            region=name,
            shelters=len(members),
            stale=sum(s.stale for s in members),
            suppressed=False,
            as_of=_iso(max(times)) if times else None,
            beds={k: BedTotals(total=v[0], available=v[1]) for k, v in sorted(totals.items())},
        )

    def overheld(self) -> int:
        """Beds held beyond those free, over all shelters (capacity lowered under offers)."""
        return sum(b.overheld for s in self._shelters.values() for b in s.beds.values())

    def visible(self, principal: Principal) -> list[str]:
        return [r for r in self.regions if principal.sees_region(r)]

    def snapshot(self, principal: Principal) -> Snapshot:
        """Every region this principal may see, at `seq`."""
        suppress = principal.role == "viewer"
        return Snapshot(
            seq=self.seq,
            regions=[self.region(r, suppress_small=suppress) for r in self.visible(principal)],
        )

    def covers(self, since: int) -> bool:
        """Whether a client that saw everything up to `since` can be brought up to date
        with updates (otherwise it needs a snapshot)."""
        return 0 < since <= self.seq and since >= self.floor

    def changed_since(self, since: int, principal: Principal) -> list[str]:
        """Regions this principal sees that changed at or after `since`, oldest change first."""
        names = [r for r in self.visible(principal) if self._changed.get(r, 0) >= since]
        return sorted(names, key=lambda r: (self._changed[r], r))


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def load(board: Board, loaded: BoardLoad) -> set[str]:
    """Refill `board` from a consistent read of the database; return the regions that
    were known before or are known now (everything a dashboard must be told about)."""
    head = loaded.head
    regions = board.reset(seq=head, floor=head if loaded.oldest is None else loaded.oldest - 1)
    for s in loaded.shelters:
        board.put(
            s.id,
            region=s.region,
            confidential=s.confidential,
            beds=s.beds,
            reported_at=s.reported_at,
            changed=loaded.changed.get(s.region, 0),
        )
    return regions | set(board.regions)
