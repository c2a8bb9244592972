"""The API's own description: request bodies and refusals documented from the same
msgspec types that decode and encode them.

Handlers that read their body themselves (to name the field at fault in a 400, with
msgspec's strict decoding) declare it with `json_body(T)`; their refusals with
`refusals(...)`. The OpenAPI document at /schema is then complete enough to fuzz.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Operation

_DESCRIPTIONS = {
    400: "The body or a parameter cannot be used; `field` names it",
    401: "No token, or one not recognised or revoked",
    403: "This token may not do this (role, region or shelter)",
    404: "Not found for this token (never confirms that it exists elsewhere)",
    409: "The request or offer can no longer take this step",
    413: "The body is larger than HAVEN_MAX_FRAME_BYTES",
    422: "A well-formed report the shelter's beds refuse (a count, a bed type)",
    500: "A defect of Haven's, answered in the error shape and logged",
    503: "The database cannot be reached; retry",
}


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    """The schema with every `$ref` to its `$defs` replaced by the definition itself."""
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def json_body(type_: Any, description: str = "") -> type[Operation]:
    """An operation class documenting a JSON request body of msgspec type `type_`."""
    raw = msgspec.json.schema(type_)
    body = {
        "required": True,
        "description": description or None,
        "content": {"application/json": {"schema": _inline(raw, raw.get("$defs", {}))}},
    }

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body  # type: ignore[assignment]

    return WithBody


def refusals(error_type: type, *statuses: int) -> dict[int, ResponseSpec]:
    """The documented refusals of a handler, each with the error body type."""
    return {
        s: ResponseSpec(
            data_container=error_type, description=_DESCRIPTIONS[s], generate_examples=False
        )
        for s in statuses
    }
