"""A planner's requests: create one, read them back, read a placement, arrange her pickup,
read the release-day readiness board — audited, once.

The API (`placements.channel`) and the planner's page (`pages.planner`) both call these, so
the rules a request must pass, and the audit record every read leaves, have one source.
Each function runs inside the caller's transaction: a page's CSV upload creates many
requests in one (all or nothing), the API one per call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from exchange.audit import store as audit
from exchange.errors import HavenError
from exchange.placements import readiness, reads, rules, store
from exchange.placements.store import Conn
from exchange.settings import Settings
from schema.placements import NewPickup, NewRequest, Placement, Readiness, RequestView
from schema.registry import Principal
from schema.wire import Pickup


class InvalidRequest(HavenError):
    """A body that cannot be used; names the field at fault."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__("invalid_request", f"{field}: {message}")
        self.field = field
        self.reason = message
        """The message without the field (a page shows it next to the field)."""


def agency_of(principal: Principal) -> str:
    assert principal.agency is not None  # the tokens table guarantees it for planners
    return principal.agency


def check(principal: Principal, new: NewRequest, *, today: dt.date) -> None:
    """The checks that need no database: her regions, then `rules.check_request`."""
    if not principal.sees_region(new.region):
        raise HavenError(
            "forbidden_region",
            f"this token creates requests only for {', '.join(principal.regions)}, "
            f"not {new.region}",
        )
    invalid = rules.check_request(new, today=today)
    if invalid is not None:
        raise InvalidRequest(invalid.field, invalid.message)


async def create(conn: Conn, principal: Principal, new: NewRequest, *, today: dt.date) -> str:
    """Store one request of the planner's agency (in the caller's transaction); its id.

    HavenError `forbidden_region`, `duplicate_ref`, or InvalidRequest, before anything is
    written.
    """
    check(principal, new, today=today)
    agency = agency_of(principal)
    if new.exclude_with:
        mine = await store.agency_requests(conn, agency, new.exclude_with)
        for n, other in enumerate(new.exclude_with):
            if other not in mine:
                raise InvalidRequest(f"exclude_with[{n}]", f"no request {other} of your agency")
    if await store.live_ref_exists(conn, agency, new.ref):
        raise HavenError(
            "duplicate_ref",
            "your agency already has a live request with this ref; withdraw it first",
        )
    request_id = await store.insert_request(conn, agency, principal.token_id, new)
    await audit.append(conn, principal.token_id, "request.created", f"request:{request_id}")
    return request_id


async def views(
    conn: Conn,
    principal: Principal,
    ids: Sequence[str] | None = None,
    statuses: Sequence[str] | None = None,
) -> list[RequestView]:
    """The agency's requests (these ids, these statuses), each read recorded in the audit log."""
    found = await store.request_views(conn, agency_of(principal), ids, statuses)
    await audit.append_many(
        conn,
        principal.token_id,
        "request.read",
        [f"request:{v.id}" for v in found],
        ["" for _ in found],
    )
    return found


async def placement(conn: Conn, principal: Principal, request_id: str) -> Placement:
    """Where she goes (name, address, intake phone), for the owning agency once a shelter
    accepted; the read is audited. HavenError `no_placement` otherwise."""
    found = await store.placement(conn, request_id, agency_of(principal))
    if found is None:
        raise HavenError(
            "no_placement",
            f"request {request_id[:16]} has no accepted placement for this agency",
        )
    await audit.append(
        conn,
        principal.token_id,
        "placement.read",
        f"request:{request_id}",
        f"offer={found.offer},shelter={found.shelter}",
    )
    return found


LIVE = ("open", "offered", "accepted")


async def arrange_pickup(
    conn: Conn, principal: Principal, request_id: str, new: NewPickup
) -> Pickup:
    """Arrange (or change) who meets her at the gate, and when; audited with who only.

    HavenError `not_found` for another agency's (or no) request, `already_ended` once she
    arrived or the request ended; InvalidRequest `at` for a time that does not fit her
    release. The caller's transaction holds the request's lock until it commits.
    """
    found = (await store.lock_requests(conn, [request_id])).get(request_id)
    if found is None or found.agency != agency_of(principal):
        raise HavenError("not_found", f"no request {request_id[:16]} for this agency")
    if found.status not in LIVE:
        raise HavenError(
            "already_ended", f"request {request_id} is {found.status}; no pickup to arrange"
        )
    invalid = rules.check_pickup(new.at, found.release_date)
    if invalid is not None:
        raise InvalidRequest(invalid.field, invalid.message)
    await store.set_pickup(conn, request_id, new.who, new.at, principal.token_id)
    await audit.append(
        conn, principal.token_id, "pickup.set", f"request:{request_id}", f"who={new.who}"
    )
    return rules.pickup(new.who, new.at)


MAX_BOARD_DAYS = 90


def policy(settings: Settings) -> readiness.Policy:
    """When each at-risk reason appears, from `HAVEN_ALERT_*`."""
    return readiness.Policy(
        bed_days=settings.alert_bed_days,
        pickup_days=settings.alert_pickup_days,
        offer_warn=dt.timedelta(seconds=settings.alert_offer_s),
    )


async def readiness_board(
    conn: Conn, principal: Principal, *, now: dt.datetime, days: int, policy: readiness.Policy
) -> Readiness:
    """The agency's release-day board for the next `days` days, most at risk first; each
    request on it is a read, audited as one `readiness.read` record for the board
    (`reads.record`: in the caller's transaction, or with none, each statement on its
    own). InvalidRequest `days` outside 1-90."""
    if not 1 <= days <= MAX_BOARD_DAYS:
        raise InvalidRequest("days", f"must be between 1 and {MAX_BOARD_DAYS}, got {days}")
    today = readiness.today(now)
    span = dt.timedelta(days=days)
    facts = await store.board_facts(conn, agency_of(principal), today - span, today + span)
    rows = readiness.board(facts, now, policy, days)
    if rows:
        await reads.record(
            conn,
            principal.token_id,
            f"agency:{agency_of(principal)}",
            [r.request for r in rows],
            f"days={days}",
        )
    return Readiness(as_of=readiness.iso(now), days=days, requests=rows)
