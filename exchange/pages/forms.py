"""A planner's request as a page gets it — form fields or a CSV line — made into the API's
`NewRequest` with the API's own validation.

One flat vocabulary serves both: the form's field names are the CSV's columns (`COLUMNS`,
documented on the page). Values stay the strings that were typed; `msgspec.convert(...,
strict=False)` reads numbers and dates from them against the same constrained type the
API decodes, and `rules.field_error` names the field at fault, so nothing here restates a
rule. Cross-field rules (`rules.check_request`) and the database's (`placements.requests`)
come after, in the same order as for the API.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from exchange.pages.i18n import N_
from exchange.placements import rules
from schema.placements import NewRequest

COLUMNS: list[tuple[str, bool, str]] = [
    ("ref", True, N_("your agency's own pseudonymous reference (no names), 1–64 characters")),
    ("region", True, N_("region code in capitals, e.g. OH")),
    ("release_date", True, N_("release date, YYYY-MM-DD")),
    ("origin_lat", True, N_("latitude where she is released from, e.g. 39.96")),
    ("origin_lon", True, N_("longitude where she is released from, e.g. -83.0")),
    ("bed_type", True, N_("single, family, accessible…")),
    ("age", True, N_("her age in years (16–120)")),
    ("max_km", True, N_("the farthest a shelter may be, in km")),
    ("children", False, N_("children coming with her (0–20; default 0)")),
    ("mat", False, N_("yes if she takes medication for opioid use (MAT)")),
    ("language", False, N_("language code if not English, e.g. es")),
    ("needs", False, N_("services she needs, e.g. trafficking sud")),
    ("offenses", False, N_("offence categories a shelter's rules may exclude, e.g. arson")),
    ("urgency", False, N_("1 (can wait) to 5 (most urgent); default 3")),
    ("contacts", False, N_("contact tokens of people she must be kept from (see Contact tokens)")),
    ("avoid_km", False, N_("keep her at least this far (km) from those contacts' known places")),
    ("exclude_with", False, N_("ids of your other requests she must not share a shelter with")),
    ("home_lat", False, N_("latitude of her home area (optional)")),
    ("home_lon", False, N_("longitude of her home area (optional)")),
]
NAMES = [name for name, _, _ in COLUMNS]
LISTS = ("needs", "offenses", "contacts", "exclude_with")
"""Fields that hold several values, separated by spaces, commas, semicolons or lines."""
_SPLIT = re.compile(r"[\s,;]+")
_YES = {"yes", "y", "true", "1", "on", "x", "sí", "si"}
_NO = {"", "no", "n", "false", "0", "off"}
MAX_CSV_BYTES = 1_000_000
MAX_CSV_LINES = 2000


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """Why a request cannot be used: the API's field path and message, and where it is."""

    field: str
    message: str
    line: int | None = None
    """The CSV line (1 is the header), for an upload."""

    @property
    def column(self) -> str:
        """The form field or CSV column the problem belongs to."""
        return input_of(self.field)


def input_of(field: str) -> str:
    """`origin.lat` → `origin_lat`, `contacts[2]` → `contacts`: the API's path as the
    page's field name."""
    base = field.split("[")[0]
    if base.startswith(("origin.", "home.")):
        return base.replace(".", "_")
    if base in ("origin", "home"):
        return f"{base}_lat"
    return base.split(".")[0]


def data_of(fields: Mapping[str, str]) -> dict[str, Any]:
    """Flat typed text → the API's request shape (still text; convert reads it)."""
    values = {k: str(fields.get(k) or "").strip() for k in NAMES}
    out: dict[str, Any] = {}
    for name in ("ref", "region", "release_date", "bed_type", "age", "max_km", "children"):
        if values[name]:
            out[name] = values[name]
    if values["urgency"]:
        out["urgency"] = values["urgency"]
    if values["avoid_km"]:
        out["avoid_km"] = values["avoid_km"]
    if values["language"]:
        out["language"] = values["language"].lower()
    mat = values["mat"].lower()
    out["mat"] = True if mat in _YES else False if mat in _NO else values["mat"]
    for name in LISTS:
        out[name] = [v for v in _SPLIT.split(values[name]) if v]
    origin = {k: values[f"origin_{k}"] for k in ("lat", "lon") if values[f"origin_{k}"]}
    if origin or "origin_lat" in fields:
        out["origin"] = origin
    home = {k: values[f"home_{k}"] for k in ("lat", "lon") if values[f"home_{k}"]}
    if home:
        out["home"] = home
    return out


def parse(fields: Mapping[str, str]) -> NewRequest | Problem:
    """The request these fields describe, or the first problem the API's type finds."""
    try:
        return msgspec.convert(data_of(fields), NewRequest, strict=False)
    except msgspec.ValidationError as exc:
        invalid = rules.field_error(exc)
        return Problem(field=invalid.field, message=invalid.message)


def read_csv(data: bytes) -> list[tuple[int, NewRequest]] | Problem:
    """Every line of a release list, or the first line that cannot be used (nothing else
    is kept then: the upload is all or nothing)."""
    if len(data) > MAX_CSV_BYTES:
        return Problem(field="file", message=f"is larger than {MAX_CSV_BYTES} bytes")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return Problem(field="file", message="is not UTF-8 text (save it as CSV UTF-8)")
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in reader.fieldnames or []]
    if not header:
        return Problem(field="file", message="is empty", line=1)
    unknown = [h for h in header if h not in NAMES]
    if unknown:
        return Problem(field="file", message=f"unknown column {unknown[0]!r}", line=1)
    missing = [n for n, required, _ in COLUMNS if required and n not in header]
    if missing:
        return Problem(field="file", message=f"missing column {missing[0]!r}", line=1)
    found: list[tuple[int, NewRequest]] = []
    for row in reader:
        line = reader.line_num
        if len(found) >= MAX_CSV_LINES:
            return Problem(field="file", message=f"has more than {MAX_CSV_LINES} lines", line=line)
        if None in row:
            return Problem(field="file", message="has more values than columns", line=line)
        fields = {k.strip(): v or "" for k, v in row.items() if k is not None}
        if not any(v.strip() for v in fields.values()):
            continue  # a blank line
        parsed = parse(fields)
        if isinstance(parsed, Problem):
            return Problem(field=parsed.field, message=parsed.message, line=line)
        found.append((line, parsed))
    if not found:
        return Problem(field="file", message="has no requests", line=1)
    return found
