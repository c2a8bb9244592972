"""Placements, per `shared/spec/placements.md` (version 1): requests, runs, offers.

Inbound types forbid unknown fields and carry their constraints. A request holds no
names, dates of birth or inmate numbers: `ref` is the agency's own pseudonymous
reference, `contacts` are opaque tokens the agency derived itself (an HMAC of the
contact's identity under a key that never reaches Haven). Contact tokens are never sent
back, except in an admin's export of a run's problem.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from schema.registry import Language, RegionCode, Word
from schema.wire import BedType, OfferStatus, Pickup, PickupBy

ContactToken = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{16,128}$")]
RequestId = Annotated[str, msgspec.Meta(pattern=r"^r[0-9]{6,}$")]
OfferId = Annotated[str, msgspec.Meta(pattern=r"^o[0-9]{6,}$")]
Agency = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Km = Annotated[float, msgspec.Meta(ge=0, le=5000)]

RequestStatus = Literal["open", "offered", "accepted", "arrived", "withdrawn", "no_show"]
LIVE_OFFER: tuple[OfferStatus, ...] = ("offered", "accepted")


class Point(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    lat: Lat
    lon: Lon


class ContactLocation(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The last known location of one of her flagged contacts."""

    contact: ContactToken
    lat: Lat
    lon: Lon


class NewRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/requests`: one woman, one bed."""

    ref: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    region: RegionCode
    release_date: dt.date
    origin: Point
    home: Point | None = None
    bed_type: BedType
    children: Annotated[int, msgspec.Meta(ge=0, le=20)] = 0
    age: Annotated[int, msgspec.Meta(ge=16, le=120)]
    mat: bool = False
    offenses: Annotated[list[Word], msgspec.Meta(max_length=32)] = []
    language: Language | None = None
    needs: Annotated[list[Word], msgspec.Meta(max_length=32)] = []
    max_km: Annotated[float, msgspec.Meta(gt=0, le=5000)]
    urgency: Annotated[int, msgspec.Meta(ge=1, le=5)] = 3
    contacts: Annotated[list[ContactToken], msgspec.Meta(max_length=64)] = []
    contact_locations: Annotated[list[ContactLocation], msgspec.Meta(max_length=64)] = []
    avoid_km: Km = 0.0
    exclude_with: Annotated[list[RequestId], msgspec.Meta(max_length=64)] = []


class OfferSummary(msgspec.Struct, frozen=True, kw_only=True):
    """A live offer as the planner sees it: no shelter identity before acceptance."""

    id: str
    status: OfferStatus
    expires_at: str
    region: str
    km: int


class RequestView(msgspec.Struct, frozen=True, kw_only=True):
    """A request as its agency reads it back. Contact tokens are never returned."""

    id: str
    ref: str
    region: str
    status: RequestStatus
    release_date: dt.date
    origin: Point
    home: Point | None
    bed_type: str
    children: int
    age: int
    mat: bool
    offenses: list[str]
    language: str | None
    needs: list[str]
    max_km: float
    urgency: int
    contacts: int
    """How many contact tokens she has (the tokens themselves are never shown back)."""
    avoid_km: float
    exclude_with: list[str]
    created_at: str
    updated_at: str
    offer: OfferSummary | None


class RunRequest(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`POST /api/matching/runs`."""

    regions: Annotated[list[RegionCode], msgspec.Meta(min_length=1, max_length=64)]


class RunResult(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    status: Literal["optimal", "feasible"]
    placed: int
    unplaced: dict[str, int]
    offers: int
    solve_seconds: float
    regions: list[str] = []
    build_seconds: float = 0.0
    write_seconds: float = 0.0
    finished_at: str = ""


class Decision(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The body of `POST /api/offers/{id}/decline` (optional)."""

    reason: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")] = "unspecified"


class NewPickup(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """`PUT /api/requests/{id}/pickup`: who meets her at the gate, and when."""

    who: PickupBy
    at: Annotated[dt.datetime, msgspec.Meta(tz=True)]
    """With its UTC offset, e.g. `2026-12-11T09:00:00-05:00`."""


class PickupSet(msgspec.Struct, frozen=True, kw_only=True):
    """The answer to `PUT /api/requests/{id}/pickup`."""

    request: str
    pickup: Pickup


class Placement(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/requests/{id}/placement`: for the owning agency, after acceptance."""

    request: str
    offer: str
    status: OfferStatus
    shelter: str
    name: str
    address: str | None
    intake_phone: str | None
    bed_type: str
    release_date: dt.date
    pickup: Pickup | None
    """The pickup arrangement at the gate, once one is made (release-day readiness)."""


class ReadinessOffer(msgspec.Struct, frozen=True, kw_only=True):
    """Her live offer on the readiness board (no shelter named)."""

    id: str
    status: OfferStatus
    expires_at: str


class ReadinessRow(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One woman on the release-day readiness board, and on the planner channel."""

    request: str
    region: str
    status: RequestStatus
    release_date: dt.date
    days_left: int
    """Her release date minus today (UTC); negative once she is released."""
    offer: ReadinessOffer | None
    pickup: Pickup | None
    at_risk: list[str]
    """Most severe first: `no_show`, `no_bed`, `offer_expiring`, `no_pickup`,
    `pickup_flagged`; empty when she is ready."""
    ref: str | None = None
    """On `GET /api/readiness` only (whose reads are audited); never on the channel."""


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/readiness?days=14`: the agency's board, most at risk first."""

    as_of: str
    days: int
    requests: list[ReadinessRow]


class PlannerSnapshot(msgspec.Struct, frozen=True, kw_only=True, tag="snapshot"):
    """`/ws/planner`: the agency's live requests and no-shows, most at risk first, as of
    audit record `seq`."""

    seq: int
    as_of: str
    requests: list[ReadinessRow]


class RequestChanged(msgspec.Struct, frozen=True, kw_only=True, tag="request"):
    """`/ws/planner`: one request as it is now (absolute), after the change `seq`."""

    seq: int
    request: ReadinessRow


class RequestRemoved(msgspec.Struct, frozen=True, kw_only=True, tag="removed"):
    """`/ws/planner`: a request left the picture at change `seq`: it arrived, was withdrawn,
    or was purged (`status` null)."""

    seq: int
    request: str
    status: RequestStatus | None


PlannerMessage = PlannerSnapshot | RequestChanged | RequestRemoved
"""What `/ws/planner` sends, besides the wire's `status` frames."""


class ApiError(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Every refusal of the placements API: a code, the field at fault, what to do."""

    code: str
    message: str
    field: str | None = None
