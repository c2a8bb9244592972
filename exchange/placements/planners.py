"""What the planner channel shows each agency, kept in memory and fed by audit records.

The audit log is the outbox: every change of a request, an offer or a pickup, every
announced alert and every purge appends a record in the changing transaction, and its id
is taken under a lock held until commit, so ids become visible in order and a reader that
has seen id N never later finds one below it. `changes` turns such records into the
requests they touch; the I/O shell (`placements.feed`) reads those requests again and
hands their facts to `Picture.apply`.

An agency's picture is its requests that are live or a no-show (what can be at risk).
Each request remembers the id of its last change, and one that left the picture (arrived,
withdrawn, purged) leaves a tombstone with its id. A client that saw everything up to
`since` needs exactly the requests whose last change is at or after `since`, so resume is
exact for any `since` at or above `floor` (the seq the picture was loaded at, or the
newest tombstone forgotten); older clients get a snapshot. Sending a request twice is
harmless: every message is absolute.

`at_risk` is computed when a message is made, from its facts and `now`. Time only adds
reasons (see `readiness`), and the alert sweep records each addition as an audit record,
so a reason that time brings reaches every client as a change within the sweep interval.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from exchange.placements.readiness import Facts
from schema.placements import RequestStatus
from schema.wire import Demand

SHOWN = ("open", "offered", "accepted", "no_show")
"""Request statuses on the channel's picture."""

TOMBSTONES = 50_000
"""Requests that left a picture, remembered for resume; older ones raise `floor`."""

_SUBJECT = re.compile(r"^request:(r[0-9]{6,})$")
_DETAIL_REQUEST = re.compile(r"(?:^|,)request=(r[0-9]{6,})(?:,|$)")
_DETAIL_AGENCY = re.compile(r"(?:^|,)agency=([A-Za-z0-9][A-Za-z0-9_.-]{0,63})(?:,|$)")


@dataclass(frozen=True)
class Record:
    """An audit record as the channel reads it."""

    id: int
    kind: str
    subject: str
    detail: str


@dataclass(frozen=True)
class Touched:
    """A request some records changed: the newest of their ids, and the agency a purge
    record names (a purged request can no longer be read)."""

    request: str
    seq: int
    agency: str | None = None


def changes(records: Iterable[Record]) -> list[Touched]:
    """The requests these records touch, each once with its newest id, in id order.

    A request is named by the subject (`request:r…`) or, for offers, by `request=` in the
    detail; records of reads, runs and shelters touch none."""
    newest: dict[str, Touched] = {}
    for r in records:
        if r.kind.endswith(".read"):
            continue
        found = _SUBJECT.match(r.subject) or _DETAIL_REQUEST.search(r.detail)
        if found is None:
            continue
        agency = _DETAIL_AGENCY.search(r.detail) if r.kind == "request.purged" else None
        rid = found.group(1)
        old = newest.get(rid)
        newest[rid] = Touched(
            request=rid,
            seq=max(r.id, old.seq if old else 0),
            agency=agency.group(1) if agency else (old.agency if old else None),
        )
    return sorted(newest.values(), key=lambda t: (t.seq, t.request))


@dataclass(frozen=True)
class Shown:
    """A request in an agency's picture, as of change `seq`."""

    seq: int
    facts: Facts


@dataclass(frozen=True)
class Gone:
    """A request that left an agency's picture at change `seq`; `status` is its end
    (arrived, withdrawn, ...) or None once purged."""

    seq: int
    request: str
    agency: str
    status: RequestStatus | None


Item = Shown | Gone


class Picture:
    """Every agency's live requests and no-shows, at audit id `seq`."""

    def __init__(self, *, tombstones: int = TOMBSTONES) -> None:
        self.seq = 0
        """Every change up to here is applied."""
        self.floor = 0
        """Resume from `since` is exact when since >= floor."""
        self._shown: dict[str, Shown] = {}
        self._gone: dict[str, Gone] = {}
        self._agencies: dict[str, set[str]] = {}
        self._tombstones = tombstones
        self._regions: dict[str, _Tally] = {}
        """Each region's demand, kept as requests come and go (`demand` is then O(regions ×
        release dates), not O(requests): it runs after every catch-up)."""

    def load(self, facts: Iterable[Facts], seq: int) -> None:
        """Start from a read of the database that includes every change up to `seq`."""
        self._shown.clear()
        self._gone.clear()
        self._agencies.clear()
        self._regions.clear()
        for f in facts:
            if f.status in SHOWN:
                self._put(Shown(seq=0, facts=f))
        self.seq = self.floor = seq

    def apply(
        self, touched: Sequence[Touched], facts: dict[str, Facts], *, upto: int
    ) -> list[Item]:
        """Apply the changes of records up to id `upto` (touched requests in id order, with
        their facts read after those records); return what each agency's subscribers must
        be sent, in order. A request without facts (purged) leaves with no status; one
        never shown and not live is not sent."""
        out: list[Item] = []
        for t in touched:
            f = facts.get(t.request)
            was = self._shown.get(t.request)
            agency = f.agency if f is not None else (was.facts.agency if was else t.agency)
            item: Item
            if f is not None and f.status in SHOWN:
                item = shown = Shown(seq=t.seq, facts=f)
                self._put(shown)
                self._gone.pop(t.request, None)
            elif was is not None or (f is None and agency is not None):
                assert agency is not None
                self._drop(t.request)
                item = Gone(
                    seq=t.seq,
                    request=t.request,
                    agency=agency,
                    status=None if f is None else f.status,
                )
                self._gone[t.request] = item
            else:
                continue  # ended before it was ever shown here (or an unknown agency)
            out.append(item)
        self.seq = max(self.seq, upto)
        self._forget()
        return out

    def _put(self, item: Shown) -> None:
        rid = item.facts.request
        self._drop(rid)
        self._shown[rid] = item
        self._agencies.setdefault(item.facts.agency, set()).add(rid)
        self._regions.setdefault(item.facts.region, _Tally()).count(item.facts, 1)

    def _drop(self, rid: str) -> None:
        old = self._shown.pop(rid, None)
        if old is not None:
            members = self._agencies.get(old.facts.agency)
            if members is not None:
                members.discard(rid)
            tally = self._regions[old.facts.region]
            tally.count(old.facts, -1)
            if not tally.members:
                del self._regions[old.facts.region]

    def _forget(self) -> None:
        """Forget the oldest tombstones beyond the limit; resume from before them is a
        snapshot."""
        extra = len(self._gone) - self._tombstones
        if extra <= 0:
            return
        oldest = sorted(self._gone.values(), key=lambda g: g.seq)[:extra]
        for g in oldest:
            del self._gone[g.request]
        self.floor = max(self.floor, oldest[-1].seq + 1)

    def demand(self, today: dt.date, horizon_days: int) -> dict[str, Demand]:
        """Every region's requests open, offered, accepted, and open releasing within the
        matching horizon (unplaced), over every agency."""
        horizon = today + dt.timedelta(days=horizon_days)
        return {
            r: Demand(
                open=t.by_status.get("open", 0),
                offered=t.by_status.get("offered", 0),
                accepted=t.by_status.get("accepted", 0),
                unplaced=sum(n for day, n in t.open_by_release.items() if day <= horizon),
            )
            for r, t in sorted(self._regions.items())
        }

    # -- what an agency sees -------------------------------------------------------------

    def facts(self, agency: str) -> list[Facts]:
        """The agency's picture, by request id."""
        return [self._shown[r].facts for r in sorted(self._agencies.get(agency, ()))]

    def covers(self, since: int) -> bool:
        return 0 < since <= self.seq and since >= self.floor

    def changed_since(self, agency: str, since: int) -> list[Item]:
        """What a client of this agency that saw everything up to `since` lacks, oldest
        change first."""
        items: list[Item] = [
            self._shown[r] for r in self._agencies.get(agency, ()) if self._shown[r].seq >= since
        ]
        items += [g for g in self._gone.values() if g.agency == agency and g.seq >= since]
        return sorted(items, key=lambda i: (i.seq, request_of(i)))


class _Tally:
    """One region's shown requests: how many, by status, and the open ones by release
    date."""

    def __init__(self) -> None:
        self.members = 0
        self.by_status: dict[str, int] = {}
        self.open_by_release: dict[dt.date, int] = {}

    def count(self, f: Facts, n: int) -> None:
        """Count `f` in (n = 1) or out (n = -1)."""
        self.members += n
        self.by_status[f.status] = self.by_status.get(f.status, 0) + n
        if f.status == "open":
            left = self.open_by_release.get(f.release_date, 0) + n
            if left:
                self.open_by_release[f.release_date] = left
            else:
                del self.open_by_release[f.release_date]


def request_of(item: Item) -> str:
    return item.facts.request if isinstance(item, Shown) else item.request


def agency_of(item: Item) -> str:
    return item.facts.agency if isinstance(item, Shown) else item.agency
