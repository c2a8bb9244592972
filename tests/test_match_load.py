"""Strict decoding: a malformed problem is refused with the field and record named."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest
from match_cases import request, shelter

from matching.load import ProblemError, decode_plan, decode_problem


def data(**changes: Any) -> bytes:
    base: dict[str, Any] = {
        "version": 1,
        "shelters": [shelter()],
        "requests": [request(), request(id="r2")],
        "contacts": [],
        "residents": [],
    }
    base.update(changes)
    return msgspec.json.encode(base)


def test_a_valid_problem_decodes() -> None:
    """The base problem of these tests is accepted."""
    assert len(decode_problem(data()).requests) == 2


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"requests": [{k: v for k, v in request().items() if k != "age"}]}, "`requests['r1']`"),
        ({"requests": [request(weight="3")]}, "requests['r1'].weight"),
        ({"requests": [request(weight=0)]}, "requests['r1'].weight"),
        ({"requests": [request(max_km=-1)]}, "requests['r1'].max_km"),
        ({"requests": [request(extra=1)]}, "requests['r1']"),
        ({"shelters": [shelter(beds={"single": -1})]}, "shelters['s1'].beds"),
        ({"requests": [request(), request()]}, "'r1' is used twice"),
        ({"shelters": [shelter(), shelter()]}, "'s1' is used twice"),
        ({"residents": [{"id": "p1", "shelter": "s9", "contacts": []}]}, "residents['p1'].shelter"),
        ({"requests": [request(exclude_with=["r7"])]}, "requests['r1'].exclude_with"),
        ({"requests": [request(avoid_shelters=[""])]}, "requests['r1'].avoid_shelters"),
        ({"requests": [request(avoid_shelters="s1")]}, "requests['r1'].avoid_shelters"),
        ({"residents": [{"id": "r1", "shelter": "s1", "contacts": []}]}, "'r1'"),
        ({"version": 2}, "version"),
        ({"requests": [request(language="Spanish")]}, "'Spanish' is not an ISO 639"),
        ({"shelters": [shelter(rules={"languages": ["en", "English"]})]}, "rules.languages"),
    ],
)
def test_malformed_problem_names_field_and_record(changes: dict[str, Any], expected: str) -> None:
    """Each malformation raises ProblemError quoting where it is."""
    with pytest.raises(ProblemError) as err:
        decode_problem(data(**changes))
    assert expected in str(err.value)


def test_avoid_shelters_is_optional_and_may_name_a_gone_shelter() -> None:
    """avoid_shelters defaults to empty, is not written when empty, and may name any shelter."""
    p = decode_problem(data())
    assert p.requests[0].avoid_shelters == []
    assert b"avoid_shelters" not in msgspec.json.encode(p)
    gone = decode_problem(data(requests=[request(avoid_shelters=["s1", "s-stale"])]))
    assert gone.requests[0].avoid_shelters == ["s1", "s-stale"]
    assert decode_problem(msgspec.json.encode(gone)) == gone


def test_not_json_is_refused() -> None:
    """Bytes that are not JSON give a ProblemError, not a traceback."""
    with pytest.raises(ProblemError, match="not valid JSON"):
        decode_problem(b"{nope")


def test_malformed_plan_is_refused() -> None:
    """A plan missing its status is refused."""
    with pytest.raises(ProblemError, match="status"):
        decode_plan(b'{"version": 1}')


def test_json_syntax_error_names_line_and_column() -> None:
    """A syntax error says where by line and column, not by byte offset."""
    with pytest.raises(ProblemError, match="at line 3, column 5") as err:
        decode_problem(b'{\n  "version": 1,\n    oops\n}')
    assert "byte" not in str(err.value)


def test_language_codes_pass() -> None:
    """Two-letter ISO 639-1 and three-letter codes are accepted."""
    p = decode_problem(data(requests=[request(language="es"), request(id="r2", language="haw")]))
    assert [r.language for r in p.requests] == ["es", "haw"]
