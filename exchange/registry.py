"""The shelter registry: adding shelters (one or a whole file, all-or-nothing) and listing them."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from exchange import auth, events
from schema.registry import NewShelter, Rules, Shelter


class ImportError_(ValueError):
    """A line of an import file is not a valid shelter; nothing was imported."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line


_INSERT_SHELTER = """
insert into shelters (id, name, region, lat, lon, confidential, max_children, mat_ok,
                      min_age, max_age, excluded_offenses, languages, services)
values ('s' || lpad(nextval('shelter_number')::text, 5, '0'),
        $1, $2, $3, $4, $5, $6, $7, $8, $9, $10::text[], $11::text[], $12::text[])
returning id
"""
_INSERT_BEDS = """
insert into beds (shelter_id, bed_type, total)
select $1, * from unnest($2::text[], $3::int[])
"""
_LIST = """
select s.id, s.name, s.region, s.lat, s.lon, s.confidential, s.max_children, s.mat_ok,
       s.min_age, s.max_age, s.excluded_offenses, s.languages, s.services, s.last_seq,
       to_char(s.last_report_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as last_report_at,
       coalesce(array_agg(b.bed_type order by b.bed_type)
                filter (where b.bed_type is not null), '{}') as bed_types
from shelters s left join beds b on b.shelter_id = s.id
where ($1::text[] is null or s.region = any($1::text[]))
group by s.id order by s.id
"""


async def add_shelter(conn: asyncpg.Connection[Any], shelter: NewShelter) -> tuple[str, str]:
    """Register a shelter with its beds and its shelter token; return (id, token)."""
    return (await add_shelters(conn, [shelter]))[0]


async def add_shelters(
    conn: asyncpg.Connection[Any], shelters: Sequence[NewShelter]
) -> list[tuple[str, str]]:
    """Register shelters in one transaction (all of them or none), then wake listeners."""
    async with conn.transaction():
        added = [await _insert(conn, s) for s in shelters]
    await events.notify(conn, 0)
    return added


async def _insert(conn: asyncpg.Connection[Any], shelter: NewShelter) -> tuple[str, str]:
    r = shelter.rules
    shelter_id = await conn.fetchval(
        _INSERT_SHELTER,
        shelter.name,
        shelter.region,
        shelter.lat,
        shelter.lon,
        shelter.confidential,
        r.max_children,
        r.mat_ok,
        r.min_age,
        r.max_age,
        sorted(set(r.excluded_offenses)),
        sorted(set(r.languages)),
        sorted(set(shelter.services)),
    )
    types = sorted(shelter.beds)
    await conn.execute(_INSERT_BEDS, shelter_id, types, [shelter.beds[t] for t in types])
    await events.append(
        conn,
        [
            events.NewEvent(
                shelter_id=shelter_id,
                kind="shelter",
                beds={
                    t: events.BedState(total=shelter.beds[t], occupied=0, out_of_service=0)
                    for t in types
                },
            )
        ],
    )
    _, token = await auth.create_token(conn, "shelter", shelter_id=shelter_id)
    return str(shelter_id), token


async def list_shelters(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], regions: Sequence[str] | None = None
) -> list[Shelter]:
    rows = await conn.fetch(_LIST, list(regions) if regions else None)
    return [_shelter(r) for r in rows]


def _shelter(r: asyncpg.Record) -> Shelter:
    rules = Rules(
        max_children=r["max_children"],
        mat_ok=r["mat_ok"],
        min_age=r["min_age"],
        max_age=r["max_age"],
        excluded_offenses=list(r["excluded_offenses"]),
        languages=list(r["languages"]),
    )
    fields = {
        k: r[k]
        for k in (
            "id",
            "name",
            "region",
            "lat",
            "lon",
            "confidential",
            "services",
            "bed_types",
            "last_seq",
            "last_report_at",
        )
    }
    return msgspec.convert({**fields, "rules": msgspec.to_builtins(rules)}, Shelter)


_DECODE_LINE = msgspec.json.Decoder(NewShelter)


def parse_jsonl(text: str) -> list[NewShelter]:
    """Shelters from JSON lines (blank lines skipped); ImportError_ names the first bad line."""
    out: list[NewShelter] = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append(_DECODE_LINE.decode(line))
        except msgspec.DecodeError as exc:
            raise ImportError_(n, str(exc)) from None
    return out


_LIST_COLUMNS = {"excluded_offenses", "languages", "services"}


def parse_csv(text: str) -> list[NewShelter]:
    """Shelters from CSV with a header row.

    Columns: name, region, lat, lon, beds (`single=12;family=3`), and optionally
    confidential, max_children, mat_ok, min_age, max_age, and the list columns
    excluded_offenses, languages, services (values separated by `;`).
    """
    reader = csv.DictReader(io.StringIO(text))
    out: list[NewShelter] = []
    for row in reader:
        line = reader.line_num
        try:
            out.append(msgspec.convert(_csv_record(row), NewShelter, strict=False))
        except (msgspec.ValidationError, ValueError) as exc:
            raise ImportError_(line, str(exc)) from None
    return out


def _csv_record(row: dict[str | Any, str | Any]) -> dict[str, Any]:
    if None in row:
        raise ValueError("more values than columns")
    record: dict[str, Any] = {}
    rules: dict[str, Any] = {}
    for key, value in row.items():
        value = (value or "").strip()
        if value == "":
            continue
        if key == "beds":
            record["beds"] = parse_beds(value, sep=";")
        elif key in _LIST_COLUMNS:
            items = [v.strip() for v in value.split(";") if v.strip()]
            (record if key == "services" else rules)[key] = items
        elif key in {"max_children", "mat_ok", "min_age", "max_age"}:
            rules[key] = value
        else:
            record[key] = value
    if rules:
        record["rules"] = rules
    return record


def parse_beds(text: str, *, sep: str = ",") -> dict[str, int]:
    """`single=12,family=3` → {"single": 12, "family": 3}."""
    beds: dict[str, int] = {}
    for part in text.split(sep):
        name, eq, count = part.strip().partition("=")
        if not eq or not name or not count.strip().lstrip("-").isdigit():
            raise ValueError(f"beds: {part.strip()!r} is not type=count")
        if name in beds:
            raise ValueError(f"beds: type {name!r} given twice")
        beds[name.strip()] = int(count)
    return beds
