"""The API's own description: bodies, answers and refusals documented from the same
msgspec types that decode and encode them, each with an example.

Every operation in the document at /schema says, declaratively on its route handler:

- what it does: `summary=` on the decorator, and its docstring as the description;
- its body, when it reads one itself (to name the field at fault in a 400, with msgspec's
  strict decoding): `operation_class=json_body(T, example)`; a query parameter it reads
  itself: `operation_class=query_parameter(name, T, "...")`;
- its answer: `responses={**success(T, example, "...")}`;
- its refusals, by the error codes it can raise: `**refusals(ApiError, *TOKEN, ...)`; the
  HTTP status of each code comes from `errors.STATUS`, so the two cannot disagree.

A test walks the document and fails for an operation without a description, an error
response or an example; another validates every example against its schema. The document
is then complete enough to fuzz (tests/security/test_api_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example, Operation

from exchange.errors import ErrorCode, status

TOKEN: tuple[ErrorCode, ...] = ("missing_token", "bad_token", "revoked_token", "forbidden_role")
"""What a route that needs a bearer token of some role can refuse before anything else."""

SESSION: tuple[ErrorCode, ...] = (*TOKEN, "bad_session")
"""The same for a route that also takes the sign-in session cookie."""

_DESCRIPTIONS = {
    400: "The body or a parameter cannot be used; `field` names it",
    401: "No token, or one not recognised or revoked",
    403: "This token may not do this (role, region or shelter)",
    404: "Not found for this token (never confirms that it exists elsewhere)",
    409: "The request or offer can no longer take this step",
    413: "The body is larger than HAVEN_MAX_FRAME_BYTES",
    422: "A well-formed report the shelter's beds refuse (a count, a bed type)",
    429: "Too many connections for this token or address",
    500: "A defect of Haven's, answered in the error shape and logged",
    503: "The database cannot be reached; retry",
}

_MESSAGES: dict[ErrorCode, tuple[str, str | None]] = {
    "missing_token": ("no token: send Authorization: Bearer <token>", None),
    "bad_token": ("token not recognised", None),
    "revoked_token": ("token has been revoked", None),
    "bad_session": ("session unknown or expired: sign in again", None),
    "forbidden_role": ("a viewer token cannot do this; needs planner", None),
    "forbidden_region": ("this token creates requests only for OH, not PA", None),
    "wrong_shelter": ("this token belongs to another shelter, not s00002", None),
    "not_found": ("no request r000042 for this agency", None),
    "invalid_json": ("frame is not valid JSON", None),
    "invalid_message": ("message must be a JSON object, not an array", None),
    "unknown_type": ("unknown message type 'decide'", None),
    "invalid_report": ("beds.single.occupied: must be >= 0", None),
    "unknown_bed_type": ("beds.suite: no such bed type", None),
    "unknown_shelter": ("shelter s00001 is not registered", None),
    "frame_too_large": ("body of 70000 bytes exceeds 65536", None),
    "invalid_request": ("must be <= 20, got 21", "children"),
    "unknown_offer": ("no offer o000123 for this shelter", None),
    "no_placement": ("request r000042 has no accepted placement for this agency", None),
    "offer_expired": ("offer o000123: the offer expired; its bed is released", None),
    "already_decided": ("the offer is already accepted", None),
    "not_accepted": ("accept the offer before arrival", None),
    "already_ended": ("request r000042 is arrived; no pickup to arrange", None),
    "duplicate_ref": (
        "your agency already has a live request with this ref; withdraw it first",
        None,
    ),
    "run_in_progress": ("a matching run for OH is in progress; try again shortly", None),
    "conflict": ("another change got there first; try again", None),
    "unavailable": ("database unavailable; retry", None),
    "internal": ("the exchange failed on this request; try again", None),
}
"""A typical message of each code a route documents (the real ones quote the value)."""


@dataclass
class _Example(Example):
    """An example whose value is shown exactly: Litestar drops every null from the spec
    objects it serialises, and a null is part of many answers (`"seq": null`)."""

    def to_schema(self) -> dict[str, Any]:
        schema = super().to_schema()
        if self.value is not None:
            schema["value"] = self.value
        return schema


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


def json_body(type_: Any, example: Any, description: str = "") -> type[Operation]:
    """An operation class documenting a JSON request body of msgspec type `type_`, with
    `example` (an instance of it) as its example."""
    raw = msgspec.json.schema(type_)
    body = {
        "required": True,
        "description": description or None,
        "content": {
            "application/json": {
                "schema": _inline(raw, raw.get("$defs", {})),
                "examples": {"example": _Example(value=msgspec.to_builtins(example))},
            }
        },
    }

    @dataclass
    class WithBody(Operation):
        def __post_init__(self) -> None:
            self.request_body = body  # type: ignore[assignment]

    return WithBody


def query_parameter(name: str, type_: Any, description: str) -> type[Operation]:
    """An operation class documenting a query parameter of msgspec type `type_` that the
    handler reads itself (to refuse a bad one in its own error shape)."""
    parameter = {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": msgspec.json.schema(type_),
    }

    @dataclass
    class WithQuery(Operation):
        def __post_init__(self) -> None:
            self.parameters = [*(self.parameters or []), parameter]  # type: ignore[list-item]

    return WithQuery


def success(
    type_: Any,
    example: Any,
    description: str,
    *,
    status_code: int = 200,
    more: Mapping[str, Any] | None = None,
) -> dict[int, ResponseSpec]:
    """The documented success answer of a handler: its body type, one example, and `more`
    named ones where one body type answers several ways."""
    shown: list[Example] = [_Example(summary="example", value=msgspec.to_builtins(example))]
    shown += [_Example(summary=k, value=msgspec.to_builtins(v)) for k, v in (more or {}).items()]
    return {
        status_code: ResponseSpec(
            data_container=type_, description=description, generate_examples=False, examples=shown
        )
    }


def refusals(error_type: type[msgspec.Struct], *codes: ErrorCode) -> dict[int, ResponseSpec]:
    """The documented refusals of a handler: the codes it can raise, grouped by their
    HTTP status, each status with the error body type and an example per code."""
    by_status: dict[int, list[ErrorCode]] = {}
    for code in codes:
        by_status.setdefault(status(code), []).append(code)
    return {
        s: ResponseSpec(
            data_container=error_type,
            description=f"{_DESCRIPTIONS[s]}: " + ", ".join(f"`{c}`" for c in found),
            generate_examples=False,
            examples=[_example_error(error_type, c) for c in found],
        )
        for s, found in sorted(by_status.items())
    }


def _example_error(error_type: type[msgspec.Struct], code: ErrorCode) -> Example:
    message, field = _MESSAGES[code]
    fields: dict[str, Any] = {"code": code, "message": message}
    if "seq" in error_type.__struct_fields__:  # the wire's `error` frame
        fields["seq"] = None
    if field is not None and "field" in error_type.__struct_fields__:
        fields["field"] = field
    value = msgspec.to_builtins(msgspec.convert(fields, error_type))
    return _Example(summary=code, value=value)
