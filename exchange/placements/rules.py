"""The placement rules, without a database or sockets.

- `urgency_weight`: the documented policy turning a request's urgency into a weight.
- `check_request`: what a request must satisfy beyond its type (cross-field rules).
- `field_error`: a msgspec validation error as the field at fault and a message.
- `check_pickup`, `pickup`: a pickup time that fits her release; who is flagged.
- `build_problem`: the matcher's problem, exactly as placements.md says to build it.
- `step`: what an action (accept, decline, arrived, withdraw, expire, no-show) does to
  an offer and its request, or the error code that refuses it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import Literal

import msgspec

from exchange.beds.model import BedState
from schema import problem as p
from schema.placements import NewRequest
from schema.registry import Rules
from schema.wire import OfferStatus, Pickup, PickupBy

WEIGHTS = {1: 1, 2: 2, 3: 4, 4: 8, 5: 16}
"""Urgency 1-5 → matcher weight. Each level doubles: placing one woman of urgency n+1
counts as much as placing two of urgency n, so the most urgent are placed first without
one urgent woman outweighing a whole group of less urgent ones."""

PAST_RELEASE_DAYS = 30
"""A release date this many days past is refused as a typing error (a woman released
a few days ago without a bed is still placed)."""
FUTURE_RELEASE_DAYS = 2 * 365


def urgency_weight(urgency: int) -> int:
    return WEIGHTS[urgency]


class Invalid(msgspec.Struct, frozen=True, kw_only=True):
    field: str
    message: str


def check_request(request: NewRequest, *, today: dt.date) -> Invalid | None:
    """The first cross-field rule the request breaks, or None. Never quotes a token."""
    if request.release_date < today - dt.timedelta(days=PAST_RELEASE_DAYS):
        return Invalid(
            field="release_date",
            message=f"must not be more than {PAST_RELEASE_DAYS} days ago, "
            f"got {request.release_date.isoformat()}",
        )
    if request.release_date > today + dt.timedelta(days=FUTURE_RELEASE_DAYS):
        return Invalid(
            field="release_date",
            message=f"must be within {FUTURE_RELEASE_DAYS} days, "
            f"got {request.release_date.isoformat()}",
        )
    if len(set(request.contacts)) != len(request.contacts):
        return Invalid(field="contacts", message="lists the same contact token twice")
    known = set(request.contacts)
    for n, loc in enumerate(request.contact_locations):
        if loc.contact not in known:
            return Invalid(
                field=f"contact_locations[{n}].contact",
                message="must be one of her contacts (add the token to contacts)",
            )
    if len(set(request.exclude_with)) != len(request.exclude_with):
        return Invalid(field="exclude_with", message="lists the same request twice")
    return None


PICKUP_EARLY_DAYS = 1
"""A pickup may be arranged for the day before release at the earliest (an early release)."""
PICKUP_LATE_DAYS = 30
"""…and at most this many days after it; anything later is taken for a typing error."""


def check_pickup(at: dt.datetime, release_date: dt.date) -> Invalid | None:
    """Whether a pickup time fits her release date (its day as written, in its own offset)."""
    day = at.date()
    if not (
        release_date - dt.timedelta(days=PICKUP_EARLY_DAYS)
        <= day
        <= release_date + dt.timedelta(days=PICKUP_LATE_DAYS)
    ):
        return Invalid(
            field="at",
            message=f"must be between {PICKUP_EARLY_DAYS} day before and {PICKUP_LATE_DAYS} "
            f"days after her release on {release_date.isoformat()}, got {day.isoformat()}",
        )
    return None


def pickup(who: PickupBy, at: dt.datetime) -> Pickup:
    """A pickup as everyone sees it: flagged unless the shelter or the agency meets her."""
    return Pickup(
        who=who,
        at=at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        flagged=who not in ("shelter", "agency"),
    )


_AT = re.compile(r" - at `\$(?P<path>[^`]*)`$")
_FIELD = re.compile(r"(?:missing required|unknown) field `(?P<name>[^`]+)`")


def field_error(exc: msgspec.ValidationError) -> Invalid:
    """The field a validation error is about (`origin.lat`, `contacts[0]`) and why."""
    text = str(exc)
    path = ""
    at = _AT.search(text)
    if at:
        path = at.group("path").lstrip(".")
        text = text[: at.start()]
    named = _FIELD.search(text)
    if named:
        path = f"{path}.{named.group('name')}" if path else named.group("name")
        text = "required" if "missing required" in text else "unknown field"
    message = text[0].lower() + text[1:] if text else "is not valid"
    return Invalid(field=path or "body", message=message)


# -- the problem ----------------------------------------------------------------------------


class ShelterInfo(msgspec.Struct, frozen=True, kw_only=True):
    id: str
    region: str
    lat: float
    lon: float
    rules: Rules
    services: list[str]
    beds: dict[str, BedState]
    reported_at: dt.datetime | None


class OpenRequest(msgspec.Struct, frozen=True, kw_only=True):
    """An open request as the matcher needs it (contacts included)."""

    id: str
    urgency: int
    origin: p.Point
    home: p.Point | None
    bed_type: str
    children: int
    age: int
    mat: bool
    offenses: list[str]
    language: str | None
    needs: list[str]
    max_km: float
    contacts: list[str]
    contact_locations: list[p.Contact]
    avoid_km: float
    exclude_with: list[str]
    declined_by: list[str]


class Resident(msgspec.Struct, frozen=True, kw_only=True):
    """A woman with a live offer or a placement at a shelter."""

    id: str
    shelter: str
    contacts: list[str]
    exclude_with: list[str]


class MatchingInput(msgspec.Struct, frozen=True, kw_only=True):
    """What a run reads from the database at one instant, to build its problem from."""

    shelters: list[ShelterInfo]
    requests_json: bytes
    """The open requests: a JSON array of `OpenRequest`, as the database wrote it. Thousands
    of them become structs only where the problem is built (the solver's process): made
    on the exchange's event loop, they would pause every shelter's acknowledgement."""
    residents: list[Resident]
    now: dt.datetime

    def requests(self) -> list[OpenRequest]:
        return _OPEN_REQUESTS.decode(self.requests_json)


_OPEN_REQUESTS = msgspec.json.Decoder(list[OpenRequest])


def fresh(reported_at: dt.datetime | None, now: dt.datetime, stale_after: dt.timedelta) -> bool:
    """Not stale: reported, and not longer ago than `stale_after` (exchange-protocol.md)."""
    return reported_at is not None and now - reported_at <= stale_after


def build_problem(
    shelters: Iterable[ShelterInfo],
    requests: Iterable[OpenRequest],
    residents: Iterable[Resident],
    *,
    now: dt.datetime,
    stale_after: dt.timedelta,
) -> p.Problem:
    """The matcher's problem: fresh shelters with their available beds (holds deducted),
    the open requests minus the shelters that declined them, and every woman with a live
    offer or placement as a resident of her shelter."""
    fresh_shelters = [s for s in shelters if fresh(s.reported_at, now, stale_after)]
    locations: dict[str, p.Contact] = {}
    out_requests: list[p.Request] = []
    for r in sorted(requests, key=lambda r: r.id):
        for c in r.contact_locations:
            locations.setdefault(c.id, c)
        out_requests.append(
            p.Request(
                id=r.id,
                weight=urgency_weight(r.urgency),
                origin=r.origin,
                home=r.home,
                bed_type=r.bed_type,
                children=r.children,
                age=r.age,
                mat=r.mat,
                offenses=sorted(r.offenses),
                language=r.language,
                needs=sorted(r.needs),
                max_km=r.max_km,
                contacts=sorted(r.contacts),
                avoid_km=r.avoid_km,
                exclude_with=sorted(r.exclude_with),
                avoid_shelters=sorted(r.declined_by),
            )
        )
    known = {s.id for s in fresh_shelters}
    kept = [w for w in residents if w.shelter in known]
    # exclude_with may name women outside this problem (withdrawn, releasing beyond the
    # horizon, at a stale shelter): the relation is symmetric and only matters between
    # women in it, so those ids are dropped rather than make the problem invalid.
    present = {r.id for r in out_requests} | {w.id for w in kept}
    out_requests = [
        msgspec.structs.replace(r, exclude_with=[x for x in r.exclude_with if x in present])
        for r in out_requests
    ]
    return p.Problem(
        version=1,
        shelters=[
            p.Shelter(
                id=s.id,
                lat=s.lat,
                lon=s.lon,
                region=s.region,
                beds={t: b.available for t, b in sorted(s.beds.items())},
                rules=p.ShelterRules(
                    max_children=s.rules.max_children,
                    mat_ok=s.rules.mat_ok,
                    min_age=s.rules.min_age,
                    max_age=s.rules.max_age,
                    excluded_offenses=sorted(s.rules.excluded_offenses),
                    languages=sorted(s.rules.languages),
                ),
                services=sorted(s.services),
                flagged_contacts=[],
            )
            for s in sorted(fresh_shelters, key=lambda s: s.id)
        ],
        requests=out_requests,
        contacts=[locations[k] for k in sorted(locations)],
        residents=[
            p.Resident(
                id=w.id,
                shelter=w.shelter,
                contacts=sorted(w.contacts),
                exclude_with=sorted(x for x in w.exclude_with if x in present),
            )
            for w in sorted(kept, key=lambda w: w.id)
        ],
    )


def unplaced_counts(plan: p.Plan) -> dict[str, int]:
    counts: dict[str, int] = {}
    for u in plan.unplaced:
        counts[u.reason] = counts.get(u.reason, 0) + 1
    return dict(sorted(counts.items()))


# -- offers -----------------------------------------------------------------------------------

Action = Literal["accept", "decline", "arrived", "withdraw", "expire", "no_show"]


class Step(msgspec.Struct, frozen=True, kw_only=True):
    """What an action does: the offer's and the request's new status, and the beds."""

    offer: OfferStatus
    request: str
    held: int
    """Change to `held` of the offer's bed type (-1 releases the hold)."""
    occupied: int = 0
    """Change to `occupied` (+1 when she arrives: the hold becomes an occupied bed)."""


class Refused(msgspec.Struct, frozen=True, kw_only=True):
    code: str
    message: str


def step(
    action: Action, status: OfferStatus, *, expires_at: dt.datetime, now: dt.datetime
) -> Step | Refused:
    """The transition `action` makes from an offer in `status`, or why it cannot.

    An offer still `offered` past its expiry is expired by whoever touches it first:
    `accept` and `decline` then answer `offer_expired`, and the caller records the expiry.
    """
    overdue = status == "offered" and now >= expires_at
    match action:
        case "accept" | "decline" | "arrived" if status == "expired":
            return Refused(code="offer_expired", message="the offer expired; its bed is released")
        case "accept" | "decline":
            if overdue:
                return Refused(
                    code="offer_expired", message="the offer expired; its bed is released"
                )
            if status != "offered":
                return Refused(code="already_decided", message=f"the offer is already {status}")
            if action == "accept":
                return Step(offer="accepted", request="accepted", held=0)
            return Step(offer="declined", request="open", held=-1)
        case "arrived":
            if status == "accepted":
                return Step(offer="arrived", request="arrived", held=-1, occupied=1)
            if status == "offered" and not overdue:
                return Refused(code="not_accepted", message="accept the offer before arrival")
            if overdue:
                return Refused(
                    code="offer_expired", message="the offer expired; its bed is released"
                )
            return Refused(code="already_decided", message=f"the offer is already {status}")
        case "withdraw":
            if status in ("offered", "accepted"):
                return Step(offer="withdrawn", request="withdrawn", held=-1)
            return Refused(code="already_decided", message=f"the offer is already {status}")
        case "expire":
            if overdue:
                return Step(offer="expired", request="open", held=-1)
            return Refused(code="not_due", message="the offer has not expired")
        case "no_show":
            if status == "accepted":
                return Step(offer="no_show", request="no_show", held=-1)
            return Refused(code="not_due", message=f"the offer is {status}, not accepted")
    raise ValueError(f"unknown action {action!r}")


def no_show_due(
    release_date: dt.date,
    *,
    grace_days: int,
    today: dt.date,
    accepted_on: dt.date | None = None,
) -> bool:
    """Whether an accepted offer with no arrival by release + grace becomes a no-show.

    A woman already released when the shelter accepted (requests may be a few days past
    release) gets the grace from the acceptance, not from a date already gone."""
    start = max(release_date, accepted_on) if accepted_on is not None else release_date
    return today > start + dt.timedelta(days=grace_days)


def apply_holds(
    beds: dict[str, dict[str, BedState]], changes: Sequence[tuple[str, str, int, int]]
) -> dict[str, dict[str, BedState]]:
    """New absolute bed states after (shelter, bed_type, held delta, occupied delta) changes.

    `occupied` never rises above what is in service: an arrival at a shelter that already
    reports itself full only releases the hold (the next report carries the truth).
    """
    out: dict[str, dict[str, BedState]] = {}
    for shelter, bed_type, held, occupied in changes:
        current = out.get(shelter, {}).get(bed_type) or beds[shelter][bed_type]
        room = current.total - current.out_of_service
        out.setdefault(shelter, {})[bed_type] = BedState(
            total=current.total,
            occupied=min(room, current.occupied + occupied) if occupied else current.occupied,
            out_of_service=current.out_of_service,
            held=max(0, current.held + held),
        )
    return out
