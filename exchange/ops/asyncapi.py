"""The AsyncAPI 3.0 document of Haven's websocket channels, generated from the msgspec
types of `schema.wire` and `schema.placements` (the same types that decode and encode
every frame).

Which message travels on which channel, and in which direction, is read from the unions
the code decodes and encodes with: a shelter agent sends `ClientMessage`; the planner
channel sends `PlannerMessage` and `status`; the dashboard channel sends `snapshot`,
`update` and `status`; every other member of `ServerMessage` goes to shelters. A type added
to one of those unions is in the document with no change here but its example in
`EXAMPLES`, and a test fails until it has one.
"""

from __future__ import annotations

import functools
import re
from typing import Any, get_args

import msgspec

from exchange.access.revocation import WS_REVOKED
from exchange.access.sessions import COOKIE
from exchange.ops import examples
from schema.placements import PlannerMessage, PlannerSnapshot, RequestChanged, RequestRemoved
from schema.wire import (
    Ack,
    BedCounts,
    BedsChanged,
    BedTotals,
    ClientMessage,
    Decide,
    Decided,
    Error,
    Hello,
    Offer,
    OfferClosed,
    Pickup,
    PickupChanged,
    Region,
    Report,
    ServerMessage,
    Snapshot,
    Status,
    Update,
)

VERSION = "3.0.0"


_SINCE = {
    "type": "object",
    "properties": {
        "since": {
            "type": "string",
            "pattern": "^[0-9]{1,19}$",
            "description": "Resume after this seq instead of a snapshot",
        }
    },
}


class Channel(msgspec.Struct, frozen=True, kw_only=True):
    address: str
    title: str
    description: str
    receives: tuple[type[msgspec.Struct], ...]
    """What the exchange receives on it (clients send)."""
    sends: tuple[type[msgspec.Struct], ...]
    """What the exchange sends on it."""
    security: tuple[str, ...]
    query: dict[str, Any] | None = None


DASHBOARD: tuple[type[msgspec.Struct], ...] = (Snapshot, Update, Status)
"""What the dashboard channel sends (exchange.board)."""

PLANNER: tuple[type[msgspec.Struct], ...] = (*get_args(PlannerMessage), Status)
"""What the planner channel sends (exchange.placements.feed)."""

CHANNELS = {
    "shelter": Channel(
        address="/ws/shelter",
        title="Shelter channel",
        description="One shelter agent per connection, authenticated by its shelter token. "
        "The exchange says `hello` (with the last applied report seq), then every "
        "unanswered offer; the agent sends absolute bed `report`s, each answered by an "
        "`ack` or an `error`, and `decide`s offers, answered by `decided` or an `error`. "
        "Offers that can no longer be answered are announced with `offer_closed`. Who "
        "meets a woman at the gate reaches the shelter that accepted her as `pickup` "
        "(when the agency arranges or changes it, and after `hello`). A shelter's own "
        "page, signed in by the session cookie instead of a token, is also told "
        "`beds_changed` when its counts change from any device; agents never are. A "
        "frame larger than HAVEN_MAX_FRAME_BYTES closes the connection with 1009; a "
        f"revoked token closes it with {WS_REVOKED}.",
        receives=get_args(ClientMessage),
        sends=tuple(t for t in get_args(ServerMessage) if t not in DASHBOARD),
        security=("shelterToken",),
    ),
    "dashboard": Channel(
        address="/ws/dashboard",
        title="Dashboard channel",
        description="Live regional capacity for viewer, planner and admin tokens (bearer "
        "or the sign-in session cookie). The exchange sends a `snapshot`, or with "
        "`?since=N` the updates after N when it still has them, then an `update` per "
        "changed region (coalesced per HAVEN_COALESCE_MS), and `status` when its numbers "
        "may be out of date. Clients send nothing. A region with too few shelters is "
        "`suppressed` for viewers.",
        receives=(),
        sends=DASHBOARD,
        security=("bearerToken", "sessionCookie"),
        query=_SINCE,
    ),
    "planner": Channel(
        address="/ws/planner",
        title="Planner channel",
        description="An agency's requests, live, for planner tokens (bearer or the sign-in "
        "session cookie). The exchange sends a `snapshot` of the agency's live requests "
        "and no-shows, most at risk first (or, with `?since=N`, the changes after N when "
        "it still has them), then a `request` each time one changes (status, offer, "
        "pickup or `at_risk`), `removed` when one leaves the picture, and `status` when "
        "its picture may be out of date. Every message is absolute: applying one twice "
        "is harmless. Never another agency's requests, a ref or a contact token. Clients "
        f"send nothing; a revoked token closes the connection with {WS_REVOKED}.",
        receives=(),
        sends=PLANNER,
        security=("bearerToken", "sessionCookie"),
        query=_SINCE,
    ),
}

_REGION = Region(
    region="OH",
    shelters=12,
    stale=1,
    suppressed=False,
    as_of="2026-12-01T10:03:00Z",
    beds={"single": BedTotals(total=80, available=7), "family": BedTotals(total=9, available=0)},
)
_ROW = msgspec.structs.replace(examples.READINESS.requests[0], ref=None)
"""A readiness row as the planner channel sends it: never her ref."""

EXAMPLES: dict[type[msgspec.Struct], msgspec.Struct] = {
    Report: Report(
        seq=17,
        beds={
            "single": BedCounts(total=12, occupied=9, out_of_service=1),
            "family": BedCounts(total=3, occupied=3, out_of_service=0),
        },
    ),
    Decide: Decide(offer="o000123", decision="decline", reason="full"),
    Hello: Hello(shelter="s00001", last_seq=16, heartbeat_s=20),
    Ack: Ack(seq=17, status="applied"),
    Error: Error(seq=17, code="invalid_report", message="beds.single.occupied: must be >= 0"),
    Offer: Offer(
        offer="o000123",
        status="offered",
        bed_type="family",
        children=2,
        mat=False,
        language="es",
        needs=["trafficking"],
        age=34,
        release_date="2026-12-11",
        expires_at="2026-12-02T10:00:00Z",
    ),
    Decided: Decided(offer="o000123", status="declined"),
    OfferClosed: OfferClosed(offer="o000123", status="expired"),
    BedsChanged: BedsChanged(seq=1043),
    PickupChanged: PickupChanged(
        offer="o000123",
        pickup=Pickup(who="verified_family", at="2026-12-11T14:00:00Z", flagged=True),
    ),
    Snapshot: Snapshot(seq=1042, regions=[_REGION]),
    Update: Update(seq=1043, region=_REGION),
    Status: Status(degraded=True),
    PlannerSnapshot: PlannerSnapshot(seq=5120, as_of=examples.READINESS.as_of, requests=[_ROW]),
    RequestChanged: RequestChanged(seq=5121, request=_ROW),
    RequestRemoved: RequestRemoved(seq=5122, request="r000042", status="arrived"),
}
"""One valid instance of each message, shown as its example (a test validates each
against its payload schema)."""


def tag(t: type[msgspec.Struct]) -> str:
    """The message's `type`."""
    value = t.__struct_config__.tag
    assert isinstance(value, str), t
    return value


def documented() -> set[type[msgspec.Struct]]:
    """Every message type some channel carries."""
    return {t for c in CHANNELS.values() for t in (*c.receives, *c.sends)}


def key(t: type[msgspec.Struct]) -> str:
    """The message's name in the document: its `type`, or where two channels use one
    `type` for different messages (the dashboard's and the planner's `snapshot`), its class
    name in snake case."""
    if sum(tag(u) == tag(t) for u in documented()) == 1:
        return tag(t)
    return re.sub(r"(?<!^)(?=[A-Z])", "_", t.__name__).lower()


@functools.cache
def _base() -> dict[str, Any]:
    types = sorted(documented(), key=lambda t: t.__name__)
    _, schemas = msgspec.json.schema_components(types, ref_template="#/components/schemas/{name}")
    messages = {key(t): _message(t) for t in types}
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    for name, c in CHANNELS.items():
        channel: dict[str, Any] = {
            "address": c.address,
            "title": c.title,
            "description": c.description,
            "messages": {
                key(t): {"$ref": f"#/components/messages/{key(t)}"} for t in (*c.receives, *c.sends)
            },
        }
        if c.query is not None:
            channel["bindings"] = {"ws": {"query": c.query, "bindingVersion": "0.1.0"}}
        channels[name] = channel
        security = [{"$ref": f"#/components/securitySchemes/{s}"} for s in c.security]
        for t in c.receives:
            operations[f"receive_{key(t)}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{name}"},
                "summary": f"The exchange receives `{tag(t)}` from a client",
                "messages": [{"$ref": f"#/channels/{name}/messages/{key(t)}"}],
                "security": security,
            }
        for t in c.sends:
            operations[f"send_{name}_{key(t)}"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{name}"},
                "summary": f"The exchange sends `{tag(t)}` on the {name} channel",
                "messages": [{"$ref": f"#/channels/{name}/messages/{key(t)}"}],
                "security": security,
            }
    return {
        "asyncapi": VERSION,
        "info": {
            "title": "Haven exchange websockets",
            "version": "1",
            "description": "Live bed reports and offers from shelters, live regional "
            "capacity for dashboards, and each agency's requests live for its planners: JSON "
            "text frames, one object per frame, each with a `type`. The HTTP API is "
            "described in OpenAPI at /schema.",
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {
            "schemas": schemas,
            "messages": messages,
            "securitySchemes": {
                "shelterToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`Authorization: Bearer <shelter token>` on the handshake "
                    "(`haven shelter add` prints it)",
                },
                "bearerToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A viewer, planner or admin token (`haven token create`)",
                },
                "sessionCookie": {
                    "type": "httpApiKey",
                    "name": COOKIE,
                    "in": "cookie",
                    "description": "The session a browser gets by signing in at /signin",
                },
            },
        },
    }


def _message(t: type[msgspec.Struct]) -> dict[str, Any]:
    doc = (t.__doc__ or "").strip()
    message: dict[str, Any] = {
        "name": tag(t),
        "title": t.__name__,
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{t.__name__}"},
    }
    if t in EXAMPLES:  # a new message type is documented at once; a test asks for its example
        message["examples"] = [{"name": key(t), "payload": msgspec.to_builtins(EXAMPLES[t])}]
    if doc:
        message["summary"] = " ".join(doc.split("\n\n")[0].split())
    return message


def document(host: str = "127.0.0.1:8000", protocol: str = "ws") -> dict[str, Any]:
    """The AsyncAPI document, its one server at `host` (`ws` or `wss`)."""
    server = {
        "host": host,
        "protocol": protocol,
        "description": "This exchange (the server that served this document)",
    }
    return {**_base(), "servers": {"exchange": server}}
