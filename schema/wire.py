"""Messages of the live exchange, per `shared/spec/exchange-protocol.md` (version 1).

Inbound types forbid unknown fields and carry their constraints; outbound types are
tagged by `type` so one encoder serves every message.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

MAX_BEDS = 10_000
"""More beds of one type than any shelter has: a larger count is a typing error."""

WORD_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
"""A bed type, service or rule word: the one definition (the migrations' CHECKs mirror it)."""

BedCount = Annotated[int, msgspec.Meta(ge=0, le=MAX_BEDS)]
BedType = Annotated[str, msgspec.Meta(pattern=WORD_PATTERN)]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**62)]


class BedCounts(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """What a shelter reports for one bed type."""

    total: BedCount
    occupied: BedCount
    out_of_service: BedCount


class Report(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="report"):
    """An absolute statement of the bed types it names; other types keep their state."""

    seq: Seq
    beds: dict[BedType, BedCounts]


class Decide(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag="decide"):
    """A shelter's answer to an offer (placements.md)."""

    offer: Annotated[str, msgspec.Meta(pattern=r"^o[0-9]{6,}$")]
    decision: Literal["accept", "decline"]
    reason: Annotated[str, msgspec.Meta(pattern=r"^[a-z][a-z0-9_]{0,31}$")] | None = None


ClientMessage = Report | Decide
"""Everything a shelter agent may send."""

ACK_STATUS = Literal["applied", "duplicate", "stale"]


class Hello(msgspec.Struct, frozen=True, kw_only=True, tag="hello"):
    shelter: str
    last_seq: int
    heartbeat_s: int


class Ack(msgspec.Struct, frozen=True, kw_only=True, tag="ack"):
    seq: int
    status: ACK_STATUS


class Error(msgspec.Struct, frozen=True, kw_only=True, tag="error"):
    seq: int | None
    code: str
    message: str


class BedTotals(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    available: int


class Demand(msgspec.Struct, frozen=True, kw_only=True):
    """Women waiting for a bed in a region: requests `open` (no offer), `offered`,
    `accepted`, and `unplaced` (open and releasing within the matching horizon). For viewer
    tokens a count below the minimum number of shelters is null: a count of 1 can
    identify a woman."""

    open: int | None
    offered: int | None
    accepted: int | None
    unplaced: int | None


class Region(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One region on a dashboard; `beds` and `demand` are absent when it is suppressed."""

    region: str
    shelters: int
    stale: int
    suppressed: bool
    as_of: str | None
    beds: dict[str, BedTotals] | None = None
    demand: Demand | None = None


class RegionDay(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A region's supply and demand at the end of one day (its last recording), under the
    same rules as the live dashboard: a suppressed day carries only its date."""

    day: str
    suppressed: bool
    shelters: int | None = None
    contributing: int | None = None
    beds: dict[str, BedTotals] | None = None
    demand: Demand | None = None


class RegionHistory(msgspec.Struct, frozen=True, kw_only=True):
    """`GET /api/regions/{region}/history?days=30`: daily supply and demand, oldest first."""

    region: str
    days: list[RegionDay]


class Snapshot(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="snapshot"):
    seq: int
    regions: list[Region]
    degraded: bool | None = None
    """Said only by `GET /api/regions`; websocket clients are told by `Status` instead."""


class Update(msgspec.Struct, frozen=True, kw_only=True, tag="update"):
    seq: int
    region: Region


OfferStatus = Literal[
    "offered", "accepted", "declined", "expired", "arrived", "no_show", "withdrawn"
]


PickupBy = Literal["shelter", "agency", "verified_family", "other"]
"""Who meets her at the gate; anyone but the shelter or the agency is flagged."""


class Pickup(msgspec.Struct, frozen=True, kw_only=True):
    """Who meets her at the gate on release day, and when (placements: release day)."""

    who: PickupBy
    at: str
    flagged: bool
    """Neither the shelter nor the agency: the release-day board asks for a second look."""


class Offer(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True, tag="offer"):
    """An offer as its shelter sees it (over `/ws/shelter` and HTTP): what the shelter
    needs to decide, never her ref, contact tokens, origin or agency."""

    offer: str
    status: OfferStatus
    bed_type: str
    children: int
    mat: bool
    language: str | None
    needs: list[str]
    age: int
    release_date: str
    expires_at: str
    pickup: Pickup | None = None
    """Once the shelter has accepted her: who meets her at the gate, when arranged
    (absent otherwise)."""


class Decided(msgspec.Struct, frozen=True, kw_only=True, tag="decided"):
    offer: str
    status: OfferStatus


class OfferClosed(msgspec.Struct, frozen=True, kw_only=True, tag="offer_closed"):
    """An offer sent earlier can no longer be answered (expired, withdrawn), or one the
    shelter accepted ended before she arrived (withdrawn, no_show): she is not coming."""

    offer: str
    status: OfferStatus


class PickupChanged(msgspec.Struct, frozen=True, kw_only=True, tag="pickup"):
    """Who meets her at the gate, for an offer this shelter accepted: sent when the agency
    arranges or changes it, and after `hello` for each accepted offer that has one.
    Absolute (receiving it twice is harmless); an agent that does not know the type
    ignores it, as the contract lets servers add types."""

    offer: str
    pickup: Pickup


class BedsChanged(msgspec.Struct, frozen=True, kw_only=True, tag="beds_changed"):
    """To a shelter's own page only (a connection signed in by the session cookie, never
    a bearer-token agent): its bed counts changed, by a report from this page, another
    device or its agent, in any process; read them again (`GET /shelter/live`). `seq` is
    the newest bed event of the shelter it was told of."""

    seq: int


class Status(msgspec.Struct, frozen=True, kw_only=True, tag="status"):
    """Whether dashboards' numbers may be out of date: `degraded` while the exchange cannot
    read bed events from its database, then `false` once it can again."""

    degraded: bool


ServerMessage = (
    Hello
    | Ack
    | Error
    | Snapshot
    | Update
    | Status
    | Offer
    | Decided
    | OfferClosed
    | PickupChanged
    | BedsChanged
)
