"""The shelter registry: adding, importing all-or-nothing, listing."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec
import pytest

from exchange.access import tokens as auth
from exchange.beds import registry, store
from schema.registry import NewShelter

HOUSE = NewShelter(
    name="Harbor House", region="OH", lat=41.5, lon=-81.7, beds={"single": 12, "family": 3}
)


async def _counts(conn: asyncpg.Connection[Any]) -> tuple[int, int, int, int]:
    return tuple(  # type: ignore[return-value]
        [
            await conn.fetchval(f"select count(*) from {t}")
            for t in ("shelters", "beds", "tokens", "bed_events")
        ]
    )


async def test_add_shelter_creates_beds_event_and_token(conn: asyncpg.Connection[Any]) -> None:
    """A new shelter gets its beds, a 'shelter' event, and a working shelter token."""
    shelter_id, token = await registry.add_shelter(conn, HOUSE)
    assert shelter_id == "s00001"
    beds = await conn.fetch("select bed_type, total, occupied from beds order by bed_type")
    assert [(b["bed_type"], b["total"], b["occupied"]) for b in beds] == [
        ("family", 3, 0),
        ("single", 12, 0),
    ]
    event = await conn.fetchrow("select seq, kind from bed_events")
    assert (event["seq"], event["kind"]) == (1, "shelter")
    principal = await auth.authenticate(conn, token)
    assert (principal.role, principal.shelter_id) == ("shelter", shelter_id)


async def test_token_is_stored_only_as_digest(conn: asyncpg.Connection[Any]) -> None:
    """The token itself appears nowhere in the database."""
    _, token = await registry.add_shelter(conn, HOUSE)
    dump = await conn.fetchval("select string_agg(t::text, ' ') from tokens t")
    assert token not in dump
    assert len(token) >= 4 + 32  # prefix + >= 192 bits base64url


async def test_list_shelters_carries_rules_in_match_vocabulary(
    conn: asyncpg.Connection[Any],
) -> None:
    """Listing returns rules and services exactly as registered."""
    rules = {
        "max_children": 2,
        "mat_ok": True,
        "min_age": 21,
        "max_age": 60,
        "excluded_offenses": ["arson"],
        "languages": ["en", "es"],
    }
    shelter = msgspec.convert(
        {
            "name": "Rosa",
            "region": "TX",
            "lat": 29.4,
            "lon": -98.5,
            "beds": {"single": 4},
            "rules": rules,
            "services": ["trafficking"],
            "confidential": True,
        },
        NewShelter,
    )
    await registry.add_shelter(conn, shelter)
    [listed] = await store.list_shelters(conn)
    assert msgspec.to_builtins(listed.rules) == rules
    assert listed.services == ["trafficking"] and listed.confidential
    assert await store.list_shelters(conn, ["OH"]) == []


async def test_import_is_all_or_nothing(conn: asyncpg.Connection[Any]) -> None:
    """A database failure part-way through an import leaves no shelter behind."""
    await conn.execute("alter table shelters add constraint no_bad check (name <> 'Bad')")
    bad = msgspec.structs.replace(HOUSE, name="Bad")
    before = await _counts(conn)
    with pytest.raises(asyncpg.CheckViolationError):
        await registry.add_shelters(conn, [HOUSE, bad])
    assert await _counts(conn) == before


def test_parse_jsonl_names_the_first_bad_line() -> None:
    """A bad JSON line is reported with its line number and field."""
    good = msgspec.json.encode(HOUSE).decode()
    text = f"{good}\n\n{good.replace('OH', 'ohio')}\n"
    with pytest.raises(registry.ImportFileError, match=r"line 3: .*region"):
        registry.parse_jsonl(text)


def test_parse_csv_reads_rules_and_lists() -> None:
    """CSV rows carry beds, rules and lists, separated by `,` as on the command line."""
    text = (
        "name,region,lat,lon,beds,mat_ok,max_children,languages,services,confidential\n"
        'A,OH,41.5,-81.7,"single=3,family=1",true,2,"en,es","trafficking,sud",false\n'
    )
    [s] = registry.parse_csv(text)
    assert s.beds == {"single": 3, "family": 1}
    assert s.rules.mat_ok and s.rules.max_children == 2 and s.rules.languages == ["en", "es"]
    assert s.services == ["trafficking", "sud"]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        ("A,OH,41.5,-81.7,single=-1", "line 2: .*beds"),
        ("A,OH,91,-81.7,single=1", "line 2: .*lat"),
        ("A,OH,41.5,-81.7,single=1,extra", "line 2: more values"),
        ("A,OH,41.5,-81.7,single", "line 2: beds: 'single' is not type=count"),
        (
            "A,OH,41.5,-81.7,single=3;family=1",
            "line 2: beds: separate bed types with ',' as in single=12,family=3, not ';'",
        ),
        (
            "A,OH,41.5,-81.7,single=12,family=3",
            "line 2: beds: bed types are separated by ',' here too, so quote the cell: "
            '"single=12,family=3"',
        ),
    ],
)
def test_parse_csv_rejects_bad_rows(row: str, expected: str) -> None:
    """Each kind of bad CSV row names its line and problem."""
    with pytest.raises(registry.ImportFileError, match=expected):
        registry.parse_csv("name,region,lat,lon,beds\n" + row + "\n")
