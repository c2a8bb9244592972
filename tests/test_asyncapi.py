"""The AsyncAPI document of the websocket channels: valid AsyncAPI 3.0, complete, with
examples its own schemas accept, and served at /asyncapi.json."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType
from typing import Any, get_args

import jsonschema
import msgspec
from litestar import Litestar
from litestar.routes import WebSocketRoute
from litestar.testing import TestClient

from exchange.app import create_app
from exchange.ops import asyncapi, asyncapi_page, health
from exchange.settings import Settings
from schema import placements, wire
from schema.placements import PlannerMessage
from schema.wire import ClientMessage, ServerMessage

SCHEMA = Path(__file__).parent / "asyncapi" / "asyncapi-3.0.0.schema.json"


def test_the_document_is_valid_asyncapi_3() -> None:
    """The AsyncAPI project's own JSON schema for 3.0.0 accepts the document."""
    schema = json.loads(SCHEMA.read_text())
    document = json.loads(msgspec.json.encode(asyncapi.document()))
    jsonschema.Draft7Validator(schema).validate(document)


def test_a_broken_document_is_refused_by_the_same_schema() -> None:
    """The check can fail: an operation without an action is not AsyncAPI."""
    schema = json.loads(SCHEMA.read_text())
    document = json.loads(msgspec.json.encode(asyncapi.document()))
    del document["operations"]["receive_report"]["action"]
    assert list(jsonschema.Draft7Validator(schema).iter_errors(document))


def _tagged(module: ModuleType) -> set[type[msgspec.Struct]]:
    """The message types a schema module defines: its tagged Structs."""
    return {
        t
        for t in vars(module).values()
        if isinstance(t, type)
        and issubclass(t, msgspec.Struct)
        and t.__module__ == module.__name__
        and t.__struct_config__.tag is not None
    }


def test_every_message_the_code_handles_is_documented() -> None:
    """Each message type of schema.wire and schema.placements (a tagged Struct) is a
    message of some channel, in the direction the code uses it: shelters send
    ClientMessage, the planner channel sends PlannerMessage and `status`, and each
    union's members are all in the document."""
    handled = _tagged(wire) | _tagged(placements)
    assert handled == asyncapi.documented()
    for union in (ClientMessage, ServerMessage, PlannerMessage):
        assert set(get_args(union)) <= handled
    document = asyncapi.document()
    titles = {m["title"] for m in document["components"]["messages"].values()}
    assert titles == {t.__name__ for t in handled}
    received = {t for c in asyncapi.CHANNELS.values() for t in c.receives}
    assert received == set(get_args(ClientMessage))
    planner = document["channels"]["planner"]
    assert planner["address"] == "/ws/planner"
    sent = {
        document["components"]["messages"][k.rsplit("/", 1)[1]]["title"]
        for k in (m["$ref"] for m in planner["messages"].values())
    }
    assert sent == {t.__name__ for t in (*get_args(PlannerMessage), wire.Status)}


def test_every_websocket_route_is_a_channel() -> None:
    """The app's websocket routes are exactly the document's channels."""
    app = create_app(Settings())
    routes = {r.path for r in app.routes if isinstance(r, WebSocketRoute)}
    assert routes == {c.address for c in asyncapi.CHANNELS.values()}


def test_each_channel_tells_its_messages_apart_by_type() -> None:
    """On one channel no two messages share a `type` (clients dispatch on it), and every
    message has a name of its own in the document and an example."""
    for name, channel in asyncapi.CHANNELS.items():
        types = [asyncapi.tag(t) for t in (*channel.receives, *channel.sends)]
        assert len(types) == len(set(types)), name
    keys = [asyncapi.key(t) for t in asyncapi.documented()]
    assert len(keys) == len(set(keys))
    assert asyncapi.key(wire.Snapshot) == "snapshot"
    assert asyncapi.key(placements.PlannerSnapshot) == "planner_snapshot"
    missing = sorted(t.__name__ for t in asyncapi.documented() if t not in asyncapi.EXAMPLES)
    assert missing == [], f"add an example of each to exchange.ops.asyncapi.EXAMPLES: {missing}"


def _resolved(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(components[schema["$ref"].rsplit("/", 1)[1]], components)
        return {k: _resolved(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolved(v, components) for v in schema]
    return schema


def test_each_example_matches_its_payload_schema() -> None:
    """The examples are valid frames: the generated payload schemas accept them, and the
    exchange's decoder accepts the client ones."""
    document = asyncapi.document()
    components = document["components"]["schemas"]
    for message in document["components"]["messages"].values():
        payload = _resolved(message["payload"], components)
        for example in message.get("examples", []):
            jsonschema.Draft202012Validator(payload).validate(example["payload"])
    decoder = msgspec.json.Decoder(ClientMessage)
    for t in get_args(ClientMessage):
        [example] = document["components"]["messages"][asyncapi.key(t)]["examples"]
        assert isinstance(decoder.decode(json.dumps(example["payload"])), t)


def test_it_is_served_with_the_host_the_client_used() -> None:
    """GET /asyncapi.json names this server as the client reached it; a hostile Host
    header is not echoed."""
    with TestClient(Litestar([health.asyncapi_json])) as client:
        r = client.get("/asyncapi.json", headers={"host": "haven.example.org:8443"})
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        assert r.json()["servers"]["exchange"]["host"] == "haven.example.org:8443"
        assert r.json()["channels"]["shelter"]["address"] == "/ws/shelter"
        r = client.get("/asyncapi.json", headers={"host": "example.org:1234567"})
        assert r.json()["servers"]["exchange"]["host"] == "127.0.0.1:8000"


def test_the_page_shows_every_channel_and_message_with_its_example() -> None:
    """The rendered page has a section per channel and per message, with escaped text."""
    page = asyncapi_page.render(asyncapi.document(host="h:1"))
    for name, channel in asyncapi.CHANNELS.items():
        assert f"id='channel-{name}'" in page and channel.address in page
        for t in (*channel.receives, *channel.sends):
            assert f"id='message-{name}-{asyncapi.key(t)}'" in page
    assert "<code>hello</code>" in page and "&quot;report&quot;" in page
    assert "<script" not in page
