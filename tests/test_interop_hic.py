"""The Housing Inventory Count: rows from shelters (pure), and `haven export hic` from a
registry with a bed history, checked against totals worked out by hand."""

from __future__ import annotations

import asyncio
import csv
import io
from datetime import date
from typing import Any

import asyncpg
import pytest

from exchange import cli
from exchange.beds import registry
from exchange.beds import store as beds_store
from exchange.beds.model import BedState, NewEvent
from exchange.interop import hic
from schema.registry import NewShelter, Rules

DAY = date(2026, 1, 28)


def test_family_beds_are_units_with_room_for_her_children() -> None:
    """3 family units taking 2 children each are 9 beds; single beds are one per unit."""
    s = NewShelter(
        name="YWCA of Akron – Emergency Shelter",
        region="OH",
        lat=41.0,
        lon=-81.5,
        beds={"single": 14, "accessible": 1, "family": 3},
        rules=Rules(max_children=2),
        address="146 S High St, Akron, OH 44308",
    )
    adult, family = hic.rows([("s00001", s)], day=DAY, coc="OH-506")
    assert adult["HouseholdType"] == "1" and adult["UnitInventory"] == adult["BedInventory"] == "15"
    assert (family["HouseholdType"], family["UnitInventory"], family["BedInventory"]) == (
        "3",
        "3",
        "9",
    )
    assert family["OrganizationName"] == "YWCA of Akron"
    assert family["ProjectName"] == "Emergency Shelter"
    assert (adult["Address1"], adult["City"], adult["State"], adult["ZIP"]) == (
        "146 S High St",
        "Akron",
        "OH",
        "44308",
    )
    assert adult["OtherBedInventory"] == "15" and adult["CoCCode"] == "OH-506"


@pytest.mark.parametrize(
    ("rules", "services", "column"),
    [
        (Rules(min_age=18, max_age=24), [], "YouthBedInventory"),
        (Rules(), ["veterans"], "VetBedInventory"),
        (Rules(min_age=18, max_age=24), ["veterans"], "YouthVetBedInventory"),
        (Rules(min_age=18, max_age=30), [], "OtherBedInventory"),
    ],
)
def test_dedicated_beds_follow_the_shelters_rules(
    rules: Rules, services: list[str], column: str
) -> None:
    """Ages within 18–24 make youth beds, the `veterans` service veteran beds; the
    dedicated columns always add up to BedInventory."""
    s = NewShelter(
        name="A", region="OH", lat=41, lon=-81, beds={"single": 4}, rules=rules, services=services
    )
    [row] = hic.rows([("s00001", s)], day=DAY)
    assert row[column] == "4"
    dedicated = [c for c in hic.COLUMNS if c.endswith("BedInventory") and c != "BedInventory"]
    assert sum(int(row[c]) for c in dedicated) == int(row["BedInventory"])


def test_a_confidential_shelter_is_counted_without_an_address() -> None:
    """A confidential shelter is a victim service provider: beds, no address."""
    s = NewShelter(
        name="Quiet",
        region="OH",
        lat=41,
        lon=-81,
        beds={"single": 6},
        confidential=True,
        address="99 Hidden Lane, Akron, OH 44310",
    )
    [row] = hic.rows([("s00001", s)], day=DAY)
    assert row["VictimServiceProvider"] == "1" and row["BedInventory"] == "6"
    assert not any(row[c] for c in ("Address1", "City", "State", "ZIP"))


# -- against the database -----------------------------------------------------------------


def shelter(name: str, beds: dict[str, int], **kw: Any) -> NewShelter:
    return NewShelter(name=name, region="OH", lat=41.0, lon=-81.5, beds=beds, **kw)


async def seed(conn: asyncpg.Connection[Any]) -> None:
    """Five shelters with a history around the night of 2026-01-28 (UTC):

    s00001 Harbor House: registered 01-01 with 12 single and 3 family (2 children each);
           a report on 01-20 made it 14 single; one on 02-05 (after the night) 20.
    s00002 Rosa: transitional, 8 single, registered 01-10.
    s00003 Quiet: confidential, 6 single and 2 family (3 children), registered 01-05;
           a report at 23:30 on the night itself made it 5 single.
    s00004 Newcomer: registered 02-01, after the night: not in the count.
    s00005 Young Women: ages 18–24, 4 single, registered 01-02; its history was pruned.
    """
    ids = [
        i
        for i, _ in await registry.add_shelters(
            conn,
            [
                shelter(
                    "Harbor House",
                    {"single": 12, "family": 3},
                    rules=Rules(max_children=2),
                    address="12 Elm St, Akron, OH 44308",
                ),
                shelter("Rosa", {"single": 8}, services=["transitional"]),
                shelter(
                    "Quiet",
                    {"single": 6, "family": 2},
                    rules=Rules(max_children=3),
                    confidential=True,
                    address="99 Hidden Lane, Akron, OH 44310",
                ),
                shelter("Newcomer", {"single": 50}),
                shelter("Young Women", {"single": 4}, rules=Rules(min_age=18, max_age=24)),
            ],
        )
    ]
    created = ["2026-01-01", "2026-01-10", "2026-01-05", "2026-02-01", "2026-01-02"]
    for i, day in zip(ids, created, strict=True):
        await conn.execute(
            "update shelters set created_at = $2::text::timestamptz where id = $1", i, day
        )
        await conn.execute(
            "update bed_events set at = $2::text::timestamptz where shelter_id = $1", i, day
        )

    async def report(shelter_id: str, bed_type: str, total: int, at: str) -> None:
        async with beds_store.committing(conn) as outbox:
            [seq] = await beds_store.append(
                conn,
                outbox,
                [
                    NewEvent(
                        shelter_id=shelter_id,
                        kind="report",
                        beds={bed_type: BedState(total=total, occupied=0, out_of_service=0)},
                    )
                ],
            )
        await conn.execute(
            "update bed_events set at = $2::text::timestamptz where seq = $1", seq, at
        )
        await conn.execute(
            "update beds set total = $3 where shelter_id = $1 and bed_type = $2",
            shelter_id,
            bed_type,
            total,
        )

    await report("s00001", "single", 14, "2026-01-20T12:00:00Z")
    await report("s00001", "single", 20, "2026-02-05T12:00:00Z")
    await report("s00003", "single", 5, "2026-01-28T23:30:00Z")
    await conn.execute("delete from bed_events where shelter_id = 's00005'")


def test_hic_export_matches_totals_worked_out_by_hand(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each shelter's beds are those of the night, not today's; totals add up by hand:
    ES adult-only 14 + 5 + 4 = 23, ES families 3×3 + 2×4 = 17, TH 8, all 48."""

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await seed(conn)
        finally:
            await conn.close()

    asyncio.run(go())
    monkeypatch.setenv("DATABASE_URL", dsn)
    code = cli.main(["export", "hic", "--date", "2026-01-28", "--coc", "OH-506"])
    out, err = capsys.readouterr()
    assert code == 0, err
    table = list(csv.DictReader(io.StringIO(out)))
    got = {
        (r["ProjectID"], r["HouseholdType"]): (r["UnitInventory"], r["BedInventory"]) for r in table
    }
    assert got == {
        ("s00001", "1"): ("14", "14"),
        ("s00001", "3"): ("3", "9"),
        ("s00002", "1"): ("8", "8"),
        ("s00003", "1"): ("5", "5"),
        ("s00003", "3"): ("2", "8"),
        ("s00005", "1"): ("4", "4"),
    }
    assert {r["ProjectType"] for r in table if r["ProjectID"] == "s00002"} == {"2"}
    quiet = [r for r in table if r["ProjectID"] == "s00003"]
    assert all(r["VictimServiceProvider"] == "1" and r["Address1"] == "" for r in quiet)
    assert "Hidden Lane" not in out
    young = next(r for r in table if r["ProjectID"] == "s00005")
    assert young["YouthBedInventory"] == "4"
    assert hic.totals(table) == {
        "all beds": 48,
        "emergency shelter, households with adults and children": 17,
        "emergency shelter, households without children": 23,
        "transitional housing, households without children": 8,
        "victim service providers": 13,
    }
    assert "all beds: 48" in err
    assert "s00005 (pruned): their current totals are used" in err


def test_the_day_ends_in_the_time_zone_given(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In New York the night of 01-28 ends at 05:00 UTC on 01-29: Quiet's 23:30 UTC
    report is inside it either way; on 01-27 in UTC it is not yet."""

    async def go() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await seed(conn)
        finally:
            await conn.close()

    asyncio.run(go())
    monkeypatch.setenv("DATABASE_URL", dsn)

    def quiet_single(*argv: str) -> str:
        assert cli.main(["export", "hic", *argv]) == 0
        rows = csv.DictReader(io.StringIO(capsys.readouterr().out))
        return next(r["BedInventory"] for r in rows if r["ProjectID"] == "s00003")

    assert quiet_single("--date", "2026-01-28", "--tz", "America/New_York") == "5"
    assert quiet_single("--date", "2026-01-27") == "6"
