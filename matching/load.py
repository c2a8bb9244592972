"""Strict decoding of problem and plan files.

Types check each record (`schema.problem`); this module adds the rules that span
records: ids are unique, residents live in known shelters, `exclude_with` names a known
request or resident. Every error names the field and the record it found wrong.

`requests[].avoid_shelters` (a project extension, optional, default empty) lists the
shelters that already declined her; she is never assigned to one, and one that passes
rules 1–3 counts as a `safety_exclusion` in her reason. Unlike `exclude_with`, an id
there that names no shelter of the problem is accepted silently: a declining shelter
drops out of later problems once it goes stale, and the decline still stands.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import msgspec

from schema.problem import Plan, Problem

_problem_decoder = msgspec.json.Decoder(Problem)
_plan_decoder = msgspec.json.Decoder(Plan)
_PATH = re.compile(r"`\$\.(shelters|requests|contacts|residents)\[(\d+)\](.*)`")


class ProblemError(ValueError):
    """A problem or plan file the matcher refuses; the message says where and why."""


def decode_problem(data: bytes | str) -> Problem:
    """Decode and validate a problem; raise ProblemError naming the field and record."""
    try:
        problem = _problem_decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise ProblemError(_name_record(str(exc), data)) from None
    except msgspec.DecodeError as exc:
        raise ProblemError(f"not valid JSON: {exc}") from None
    validate(problem)
    return problem


def decode_plan(data: bytes | str) -> Plan:
    """Decode a plan file; raise ProblemError on a malformed one."""
    try:
        return _plan_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProblemError(f"plan: {exc}") from None


def validate(problem: Problem) -> None:
    """Check the rules that span records."""
    _unique("shelters", (s.id for s in problem.shelters))
    _unique("requests", (r.id for r in problem.requests))
    _unique("contacts", (c.id for c in problem.contacts))
    _unique("residents", (p.id for p in problem.residents))
    people = {r.id for r in problem.requests}
    clash = people.intersection(p.id for p in problem.residents)
    if clash:
        raise ProblemError(f"id {min(clash)!r} is used by both a request and a resident")
    people.update(p.id for p in problem.residents)
    shelters = {s.id for s in problem.shelters}
    for p in problem.residents:
        if p.shelter not in shelters:
            raise ProblemError(f"residents[{p.id!r}].shelter: unknown shelter {p.shelter!r}")
    # An unknown id here is most likely a typo that would silently disable rule 6 or 7.
    for kind, records in (("requests", problem.requests), ("residents", problem.residents)):
        for rec in records:
            for other in rec.exclude_with:
                if other not in people:
                    raise ProblemError(
                        f"{kind}[{rec.id!r}].exclude_with: unknown request or resident {other!r}"
                    )
    # `avoid_shelters` is deliberately not checked against `shelters` (see above).
    for c in problem.contacts:
        if (c.lat is None) != (c.lon is None):
            raise ProblemError(f"contacts[{c.id!r}]: give both lat and lon, or neither")


def _unique(kind: str, ids: Iterable[str]) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ProblemError(f"{kind}: id {i!r} is used twice")
        seen.add(i)


def _name_record(message: str, data: bytes | str) -> str:
    """Rewrite msgspec's `$.requests[3].weight` into `requests['r000003'].weight`."""
    m = _PATH.search(message)
    if m is None:
        return message
    kind, index, rest = m.group(1), int(m.group(2)), m.group(3)
    try:
        record = msgspec.json.decode(data)[kind][index]
        label = repr(record["id"])
    except (msgspec.DecodeError, KeyError, IndexError, TypeError):
        label = str(index)
    return message[: m.start()] + f"`{kind}[{label}]{rest}`" + message[m.end() :]
