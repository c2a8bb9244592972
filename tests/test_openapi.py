"""The OpenAPI document at /schema describes every operation: what it does, its answer
and its refusals by error code, each with an example its own schema accepts."""

from __future__ import annotations

from typing import Any

import jsonschema
from litestar import Litestar, get

from exchange.app import create_app
from exchange.errors import status
from exchange.ops.openapi import TOKEN, refusals
from exchange.settings import Settings
from schema.placements import ApiError

METHODS = {"get", "put", "post", "delete", "patch"}


def document(app: Litestar | None = None) -> dict[str, Any]:
    return (app or create_app(Settings())).openapi_schema.to_schema()


def operations(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{method.upper()} {path}", op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _has_examples(content: dict[str, Any] | None) -> bool:
    if not content:
        return False
    return all(m.get("examples") or "example" in m for m in content.values())


def gaps(doc: dict[str, Any]) -> list[str]:
    """What each operation leaves undescribed."""
    found = []
    for name, op in operations(doc):
        if " " not in (op.get("summary") or ""):  # Litestar's default is the handler's name
            found.append(f"{name}: no summary")
        if not op.get("description"):
            found.append(f"{name}: no description")
        responses = op.get("responses", {})
        answers = [r for s, r in responses.items() if s.startswith("2")]
        errors = {s: r for s, r in responses.items() if s[0] in "45"}
        if not answers or not all(_has_examples(r.get("content")) for r in answers):
            found.append(f"{name}: no example answer")
        if not errors:
            found.append(f"{name}: no error response")
        for s, r in errors.items():
            if not r.get("description") or not _has_examples(r.get("content")):
                found.append(f"{name}: error {s} without a description and an example")
        body = op.get("requestBody")
        if body is not None and not _has_examples(body.get("content")):
            found.append(f"{name}: no example body")
    return found


def test_every_operation_says_what_it_does_answers_and_refuses() -> None:
    """Each operation has a summary, a description, an example answer, an example body
    when it reads one, and error responses, each with a description and an example."""
    doc = document()
    assert len(operations(doc)) > 10
    assert gaps(doc) == []


def test_an_undescribed_route_is_found() -> None:
    """The walk fails for a route declared without any of it."""

    @get("/api/bare", sync_to_thread=False)
    def bare() -> dict[str, int]:
        return {}

    assert gaps(document(Litestar([bare]))) == [
        "GET /api/bare: no summary",
        "GET /api/bare: no description",
        "GET /api/bare: no example answer",
        "GET /api/bare: no error response",
    ]


def _resolved(schema: Any, components: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        if "$ref" in schema:
            return _resolved(components[schema["$ref"].rsplit("/", 1)[1]], components)
        return {k: _resolved(v, components) for k, v in schema.items()}
    if isinstance(schema, list):
        return [_resolved(v, components) for v in schema]
    return schema


def test_every_example_is_valid_for_its_schema_and_status() -> None:
    """Bodies, answers and refusals: the schema beside each example accepts it, and each
    refusal's example carries a code whose status (errors.STATUS) is the one it is under."""
    doc = document()
    components = doc["components"]["schemas"]
    checked = 0
    for name, op in operations(doc):
        places = [("body", op["requestBody"])] if "requestBody" in op else []
        places += list(op["responses"].items())
        for where, part in places:
            for media in (part.get("content") or {}).values():
                schema = _resolved(media["schema"], components)
                for key, example in media.get("examples", {}).items():
                    value = example["value"]
                    errors = list(jsonschema.Draft202012Validator(schema).iter_errors(value))
                    assert errors == [], f"{name} {where} {key}: {errors[0].message}"
                    if where[0] in "45":
                        assert status(value["code"]) == int(where), (name, value["code"])
                    checked += 1
    assert checked > 100


def test_refusals_are_grouped_by_the_status_of_their_codes() -> None:
    """The codes a route raises become one response per status, naming each code."""
    documented = refusals(ApiError, *TOKEN, "not_found", "duplicate_ref", "conflict")
    assert sorted(documented) == [401, 403, 404, 409]
    assert "`missing_token`, `bad_token`, `revoked_token`" in documented[401].description
    assert [e.summary for e in documented[409].examples or []] == ["duplicate_ref", "conflict"]
