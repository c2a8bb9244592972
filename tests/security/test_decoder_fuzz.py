"""Property-based fuzzing of the shelter channel's decoder: it never raises.

Arbitrary JSON values, arbitrary bytes and text, and deeply nested values all decode to
an `Error` or a `Report`/`Decide` that the typed decoder itself accepts.
"""

from __future__ import annotations

import json
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from exchange.beds import report as core
from schema.wire import ClientMessage, Error, Report

_WIRE = msgspec.json.Encoder()
_TYPED = msgspec.json.Decoder(ClientMessage)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=10), inner, max_size=5)
    ),
    max_leaves=30,
)

# Values shaped like reports, so the fuzzer reaches the field-by-field explanations too.
counts = st.fixed_dictionaries(
    {},
    optional={"total": json_values, "occupied": json_values, "out_of_service": json_values},
)
report_like = st.fixed_dictionaries(
    {},
    optional={
        "type": st.sampled_from(["report", "decide", "ack"]) | json_values,
        "seq": st.integers(min_value=-5, max_value=2**64) | json_values,
        "beds": st.dictionaries(
            st.from_regex(r"[a-zA-Z_]{1,6}", fullmatch=True), counts | json_values, max_size=3
        )
        | json_values,
        "extra": json_values,
    },
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def check(frame: str | bytes) -> None:
    """The decoder's answer to `frame` is an Error, or a message the typed decoder accepts."""
    for typed in (True, False):
        result = core.decode(frame, typed=typed)
        if isinstance(result, Error):
            assert result.code and result.message
            _WIRE.encode(result)  # the answer can always be sent
        else:
            assert _TYPED.decode(_WIRE.encode(result)) == result
            if isinstance(result, Report):
                assert result.seq >= 1


@FUZZ
@given(json_values)
def test_arbitrary_json_values_never_raise(value: Any) -> None:
    """Any JSON value, as text and as bytes, decodes to an error or a valid message."""
    text = json.dumps(value)
    check(text)
    check(text.encode())


@FUZZ
@given(report_like)
def test_report_shaped_objects_never_raise(value: dict[str, Any]) -> None:
    """Objects with report fields of any type (lists as type, huge seqs) never raise."""
    check(json.dumps(value))


@FUZZ
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(frame: bytes) -> None:
    """Any bytes, invalid UTF-8 included, decode to an error or a valid message."""
    check(frame)
    check(b'{"type":"' + frame + b'","seq":1,"beds":{}}')


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text_never_raises(frame: str) -> None:
    """Any text decodes to an error or a valid message."""
    check(frame)


@settings(max_examples=60, deadline=None)
@given(
    depth=st.integers(min_value=1, max_value=20_000),
    opener=st.sampled_from(
        ["[", '{"a":', '{"type":', '{"seq":', '{"type":"report","seq":1,"beds":']
    ),
    closed=st.booleans(),
)
def test_deep_nesting_never_raises(depth: int, opener: str, closed: bool) -> None:
    """Values nested up to 20,000 deep (closed or not) are errors, never a RecursionError."""
    closer = {"[": "]"}.get(opener, "}")
    frame = opener * depth + ("null" + closer * depth if closed else "")
    check(frame)
