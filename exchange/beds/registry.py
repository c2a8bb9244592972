"""The shelter registry: reading import files and adding shelters, all-or-nothing."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from typing import Any

import msgspec

from exchange.access import tokens as access
from exchange.beds import store
from exchange.beds.store import Conn
from exchange.errors import ImportFileError
from schema.registry import NewShelter


async def add_shelter(conn: Conn, shelter: NewShelter) -> tuple[str, str]:
    """Register a shelter with its beds and its shelter token; return (id, token)."""
    return (await add_shelters(conn, [shelter]))[0]


async def add_shelters(conn: Conn, shelters: Sequence[NewShelter]) -> list[tuple[str, str]]:
    """Register shelters in one transaction (all of them or none), then wake listeners."""
    async with store.committing(conn) as outbox:
        ids = await store.insert_shelters(conn, outbox, shelters)
        tokens = [await access.create_token(conn, "shelter", shelter_id=i) for i in ids]
    return [(i, t) for i, (_, t) in zip(ids, tokens, strict=True)]


_DECODE_LINE = msgspec.json.Decoder(NewShelter)


def parse_jsonl(text: str) -> list[NewShelter]:
    """Shelters from JSON lines (blank lines skipped); ImportFileError names the first bad line."""
    out: list[NewShelter] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(_DECODE_LINE.decode(line))
        except msgspec.DecodeError as exc:
            raise ImportFileError(n, str(exc)) from None
    return out


_LIST_COLUMNS = {"excluded_offenses", "languages", "services"}


def parse_csv(text: str) -> list[NewShelter]:
    """Shelters from CSV with a header row.

    Columns: name, region, lat, lon, beds (`"single=12,family=3"`), and optionally
    confidential, max_children, mat_ok, min_age, max_age, address, intake_phone, and the
    list columns excluded_offenses, languages, services. Values in one cell are separated
    by `,` (the cell quoted), as on the command line: one separator everywhere.
    """
    reader = csv.DictReader(io.StringIO(text))
    out: list[NewShelter] = []
    for row in reader:
        line = reader.line_num
        try:
            out.append(msgspec.convert(_csv_record(row), NewShelter, strict=False))
        except (msgspec.ValidationError, ValueError) as exc:
            raise ImportFileError(line, str(exc)) from None
    return out


_BED_ITEM = re.compile(r"^\s*[a-z][a-z0-9_]*\s*=\s*-?[0-9]+\s*$")


def _csv_record(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    if None in row:
        extra = row[None]
        if (
            "beds" in row
            and _BED_ITEM.match(row["beds"] or "")
            and all(_BED_ITEM.match(v or "") for v in extra)
        ):
            # `single=12,family=3` unquoted: the cell's `,` split it into columns.
            cell = ",".join([row["beds"], *extra])
            raise ValueError(
                f"beds: bed types are separated by ',' here too, so quote the cell: \"{cell}\""
            )
        raise ValueError("more values than columns")
    record: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    for key, value in row.items():
        value = (value or "").strip()
        if value == "":
            continue
        if key == "beds":
            record["beds"] = parse_beds(value)
        elif key in _LIST_COLUMNS:
            items = parse_list(key, value)
            (record if key == "services" else rules)[key] = items
        elif key in {"max_children", "mat_ok", "min_age", "max_age"}:
            rules[key] = value
        else:
            record[key] = value
    if rules:
        record["rules"] = rules
    return record


SEPARATOR = ","
"""Between the values of one option or cell (beds, languages, services …), everywhere."""


def parse_list(name: str, text: str) -> list[str]:
    """`en,es` → ["en", "es"]; a `;` is refused with the separator to use."""
    if ";" in text:
        raise ValueError(f"{name}: separate values with ',' as in en,es, not ';' ({text!r})")
    return [v.strip() for v in text.split(SEPARATOR) if v.strip()]


def parse_beds(text: str) -> dict[str, int]:
    """`single=12,family=3` → {"single": 12, "family": 3}."""
    if ";" in text:
        raise ValueError(
            f"beds: separate bed types with ',' as in single=12,family=3, not ';' ({text!r})"
        )
    beds: dict[str, int] = {}
    for part in text.split(SEPARATOR):
        name, eq, count = part.strip().partition("=")
        if not eq or not name or not count.strip().lstrip("-").isdigit():
            raise ValueError(f"beds: {part.strip()!r} is not type=count")
        if name in beds:
            raise ValueError(f"beds: type {name!r} given twice")
        beds[name.strip()] = int(count)
    return beds
