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
        raise ProblemError(f"not valid JSON: {_at_line(str(exc), data)}") from None
    validate(problem)
    return problem


def decode_plan(data: bytes | str) -> Plan:
    """Decode a plan file; raise ProblemError on a malformed one."""
    try:
        return _plan_decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ProblemError(f"plan: {_at_line(str(exc), data)}") from None


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
    # A language name or a typo would silently make every shelter `not_eligible`.
    for r in problem.requests:
        if r.language is not None and not _is_language_code(r.language):
            raise ProblemError(_not_a_code(f"requests[{r.id!r}].language", r.language))
    for s in problem.shelters:
        for word in s.rules.languages:
            if not _is_language_code(word):
                raise ProblemError(_not_a_code(f"shelters[{s.id!r}].rules.languages", word))
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


ISO_639_1 = frozenset(
    [
        "aa",
        "ab",
        "ae",
        "af",
        "ak",
        "am",
        "an",
        "ar",
        "as",
        "av",
        "ay",
        "az",
        "ba",
        "be",
        "bg",
        "bh",
        "bi",
        "bm",
        "bn",
        "bo",
        "br",
        "bs",
        "ca",
        "ce",
        "ch",
        "co",
        "cr",
        "cs",
        "cu",
        "cv",
        "cy",
        "da",
        "de",
        "dv",
        "dz",
        "ee",
        "el",
        "en",
        "eo",
        "es",
        "et",
        "eu",
        "fa",
        "ff",
        "fi",
        "fj",
        "fo",
        "fr",
        "fy",
        "ga",
        "gd",
        "gl",
        "gn",
        "gu",
        "gv",
        "ha",
        "he",
        "hi",
        "ho",
        "hr",
        "ht",
        "hu",
        "hy",
        "hz",
        "ia",
        "id",
        "ie",
        "ig",
        "ii",
        "ik",
        "io",
        "is",
        "it",
        "iu",
        "ja",
        "jv",
        "ka",
        "kg",
        "ki",
        "kj",
        "kk",
        "kl",
        "km",
        "kn",
        "ko",
        "kr",
        "ks",
        "ku",
        "kv",
        "kw",
        "ky",
        "la",
        "lb",
        "lg",
        "li",
        "ln",
        "lo",
        "lt",
        "lu",
        "lv",
        "mg",
        "mh",
        "mi",
        "mk",
        "ml",
        "mn",
        "mr",
        "ms",
        "mt",
        "my",
        "na",
        "nb",
        "nd",
        "ne",
        "ng",
        "nl",
        "nn",
        "no",
        "nr",
        "nv",
        "ny",
        "oc",
        "oj",
        "om",
        "or",
        "os",
        "pa",
        "pi",
        "pl",
        "ps",
        "pt",
        "qu",
        "rm",
        "rn",
        "ro",
        "ru",
        "rw",
        "sa",
        "sc",
        "sd",
        "se",
        "sg",
        "si",
        "sk",
        "sl",
        "sm",
        "sn",
        "so",
        "sq",
        "sr",
        "ss",
        "st",
        "su",
        "sv",
        "sw",
        "ta",
        "te",
        "tg",
        "th",
        "ti",
        "tk",
        "tl",
        "tn",
        "to",
        "tr",
        "ts",
        "tt",
        "tw",
        "ty",
        "ug",
        "uk",
        "ur",
        "uz",
        "ve",
        "vi",
        "vo",
        "wa",
        "wo",
        "xh",
        "yi",
        "yo",
        "za",
        "zh",
        "zu",
    ]
)
"""Two-letter language codes. Three lower-case letters (ISO 639-2/3, e.g. 'haw') are
accepted too, unchecked against a list."""


def _is_language_code(word: str) -> bool:
    return word in ISO_639_1 or (len(word) == 3 and word.isascii() and word.islower())


def _not_a_code(where: str, word: str) -> str:
    return (
        f"{where}: {word!r} is not an ISO 639 language code; use the two-letter code "
        "(e.g. 'es' for Spanish, 'en' for English) or a three-letter ISO 639-3 one"
    )


_BYTE = re.compile(r"(?:at )?byte (\d+)")


def _at_line(message: str, data: bytes | str) -> str:
    """Rewrite msgspec's `byte 1234` into `at line 12, column 5`."""
    m = _BYTE.search(message)
    if m is None:
        return message
    raw = data.encode() if isinstance(data, str) else data
    offset = int(m.group(1))
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return message[: m.start()] + f"at line {line}, column {column}" + message[m.end() :]
