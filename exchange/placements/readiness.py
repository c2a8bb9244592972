"""Release-day readiness, without a database or a clock: which of an agency's women are
at risk on their release day, and why.

Every function takes `now`; nothing reads a clock, so each reason is tested at the
instant it appears and clears. Days are calendar days in UTC: `days_left` is her release
date minus today's date.

The reasons, most severe first (the board sorts by the worst one):

- `no_show`: she never arrived at the shelter that accepted her (the request ended so).
- `no_bed`: no shelter has accepted her, `bed_days` or fewer days before release.
- `offer_expiring`: her offer is unanswered and expires within `offer_warn`.
- `no_pickup`: nobody is arranged to meet her at the gate, `pickup_days` or fewer days
  before release.
- `pickup_flagged`: the person arranged to meet her is neither the shelter nor the agency
  (traffickers pose as family): a second look.

Time only ever adds a reason; each one clears with a change to the request, its offer or
its pickup (accepted, answered, arranged, ended). The planner channel relies on this.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Literal

import msgspec

from exchange.placements.rules import pickup
from schema.placements import ReadinessOffer, ReadinessRow, RequestStatus
from schema.wire import OfferStatus, PickupBy

Reason = Literal["no_show", "no_bed", "offer_expiring", "no_pickup", "pickup_flagged"]
REASONS: tuple[Reason, ...] = (
    "no_show",
    "no_bed",
    "offer_expiring",
    "no_pickup",
    "pickup_flagged",
)
"""Every reason, most severe first."""

LIVE: tuple[RequestStatus, ...] = ("open", "offered", "accepted")
ENDED_SHOWN: tuple[RequestStatus, ...] = ("arrived", "no_show")
"""Ended requests the board still lists while their release is in the window."""


class Policy(msgspec.Struct, frozen=True, kw_only=True):
    """When a reason appears (`HAVEN_ALERT_*`)."""

    bed_days: int = 7
    pickup_days: int = 2
    offer_warn: dt.timedelta = dt.timedelta(hours=6)


class Facts(msgspec.Struct, frozen=True, kw_only=True):
    """What readiness needs of one request, read at one instant."""

    request: str
    agency: str
    region: str
    status: RequestStatus
    release_date: dt.date
    offer: str | None = None
    offer_status: OfferStatus | None = None
    offer_expires_at: dt.datetime | None = None
    pickup_who: PickupBy | None = None
    pickup_at: dt.datetime | None = None
    ref: str | None = None
    """Only on the board a planner reads over HTTP (audited); never on the live channel."""


def today(now: dt.datetime) -> dt.date:
    return now.astimezone(dt.UTC).date()


def days_left(f: Facts, now: dt.datetime) -> int:
    return (f.release_date - today(now)).days


def at_risk(f: Facts, now: dt.datetime, policy: Policy) -> list[Reason]:
    """Why she is at risk now, most severe first; empty when she is not."""
    if f.status == "no_show":
        return ["no_show"]
    if f.status not in LIVE:
        return []
    left = days_left(f, now)
    reasons: list[Reason] = []
    if f.status != "accepted" and left <= policy.bed_days:
        reasons.append("no_bed")
    if (
        f.offer_status == "offered"
        and f.offer_expires_at is not None
        and f.offer_expires_at - now <= policy.offer_warn
    ):
        reasons.append("offer_expiring")
    if f.pickup_who is None and left <= policy.pickup_days:
        reasons.append("no_pickup")
    if f.pickup_who is not None and f.pickup_who not in ("shelter", "agency"):
        reasons.append("pickup_flagged")
    return reasons


def in_window(f: Facts, now: dt.datetime, days: int) -> bool:
    """Whether the board of the next `days` days lists her: a live request releasing by
    then (or already released without a bed: the most urgent), or one that arrived or was a
    no-show with her release within `days` either side of today. Withdrawn ones never."""
    left = days_left(f, now)
    if f.status in LIVE:
        return left <= days
    return f.status in ENDED_SHOWN and -days <= left <= days


def row(f: Facts, now: dt.datetime, policy: Policy) -> ReadinessRow:
    """One request as the board and the planner channel show it."""
    offer = None
    if f.offer is not None and f.offer_status is not None and f.offer_expires_at is not None:
        offer = ReadinessOffer(
            id=f.offer, status=f.offer_status, expires_at=iso(f.offer_expires_at)
        )
    return ReadinessRow(
        request=f.request,
        ref=f.ref,
        region=f.region,
        status=f.status,
        release_date=f.release_date,
        days_left=days_left(f, now),
        offer=offer,
        pickup=None
        if f.pickup_who is None or f.pickup_at is None
        else pickup(f.pickup_who, f.pickup_at),
        at_risk=list(at_risk(f, now, policy)),
    )


def risk_key(r: ReadinessRow) -> tuple[int, int, dt.date, str]:
    """Most at risk first: the worst reason, then how many, then the nearest release."""
    worst = min((REASONS.index(x) for x in r.at_risk if x in REASONS), default=len(REASONS))
    return (worst, -len(r.at_risk), r.release_date, r.request)


def board(
    facts: Iterable[Facts], now: dt.datetime, policy: Policy, days: int
) -> list[ReadinessRow]:
    """The agency's readiness board for the next `days` days, sorted by risk, then release."""
    rows = [row(f, now, policy) for f in facts if in_window(f, now, days)]
    return sorted(rows, key=risk_key)


def iso(at: dt.datetime) -> str:
    """An instant as the API writes it: UTC, to the second."""
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Transition(msgspec.Struct, frozen=True, kw_only=True):
    """A request whose at-risk reasons differ from those last announced."""

    request: str
    agency: str
    at_risk: list[Reason]
    raised: list[Reason]
    cleared: list[Reason]


def transitions(
    facts: Iterable[Facts],
    announced: dict[str, tuple[str, list[str]]],
    now: dt.datetime,
    policy: Policy,
) -> list[Transition]:
    """What changed since the last announcement (request → agency, reasons), by request
    id. A request announced but no longer among `facts` (it ended) clears its reasons."""
    out: list[Transition] = []
    seen: set[str] = set()
    for f in facts:
        seen.add(f.request)
        new = at_risk(f, now, policy)
        old = announced.get(f.request, (f.agency, []))[1]
        if set(new) != set(old):
            out.append(_transition(f.request, f.agency, old, new))
    for request, (agency, old) in announced.items():
        if request not in seen and old:
            out.append(_transition(request, agency, old, []))
    return sorted(out, key=lambda t: t.request)


def _transition(request: str, agency: str, old: list[str], new: list[Reason]) -> Transition:
    return Transition(
        request=request,
        agency=agency,
        at_risk=new,
        raised=[r for r in new if r not in old],
        cleared=[r for r in REASONS if r in old and r not in new],
    )
