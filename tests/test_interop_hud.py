"""HMIS CSV (FY2026) to shelters: project types, current inventory, household types,
geography and victim service providers (the fixture's README lists its cases)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest

from exchange.errors import ImportFileError
from exchange.interop import hud, tables
from exchange.interop.geography import Place
from exchange.interop.outcome import Outcome

HUD = Path(__file__).parent / "interop" / "hud"
PLACES = {
    "44308": Place(lat=41.0796, lon=-81.5194, state="OH"),
    "44310": Place(lat=41.1075, lon=-81.5006, state="OH"),
}
DAY = date(2026, 1, 28)


def parse(path: Path = HUD, day: date = DAY, **kw: str) -> Outcome:
    return hud.parse(tables.load(path), geocode=PLACES.get, today=day, **kw)


def by_name(out: Outcome) -> dict[str, object]:
    return {s.name: s for s in out.shelters}


def test_emergency_and_transitional_projects_become_shelters() -> None:
    """ES and TH projects with current inventory are imported, named with their agency."""
    out = parse()
    assert [s.name for s in out.shelters] == [
        "YWCA of Akron – Emergency Shelter",
        "YWCA of Akron – YWCA Transitional Living",
        "Safe Harbor DV Services – Safe Harbor Shelter",
    ]
    assert out.origins[1] == "project P2"


def test_current_inventories_are_summed_and_household_types_mapped() -> None:
    """Several current inventories add up; ended, overflow and voucher beds do not count;
    families are counted in units and set how many children may come."""
    shelter = parse().shelters[0]
    assert shelter.beds == {"single": 25, "family": 4}
    assert shelter.rules.max_children == 2
    assert (shelter.lat, shelter.lon, shelter.region) == (41.0796, -81.5194, "OH")
    assert shelter.address == "146 S High St, Akron, OH 44308"
    assert not shelter.confidential and shelter.services == []


def test_transitional_housing_says_so_in_its_services() -> None:
    """TH projects carry the service word `transitional` (the HIC export reads it back)."""
    th = parse().shelters[1]
    assert th.services == ["transitional"] and th.beds == {"single": 8}
    assert th.address == "40 Oak Ave, Unit 2, Akron, OH 44308"


def test_a_victim_service_provider_is_confidential_and_has_no_address() -> None:
    """A VSP's project is confidential; HMIS holds no address for it, so none is invented."""
    vsp = parse().shelters[2]
    assert vsp.confidential and vsp.address is None
    assert (vsp.lat, vsp.lon) == (41.1075, -81.5006)
    assert vsp.beds == {"single": 10, "family": 3} and vsp.rules.max_children == 2


def test_what_is_left_out_is_named_with_its_reason() -> None:
    """Closed, ended, geography-less and child-only projects and the beds not held for
    placements are each reported; a deleted project does not exist at all."""
    reasons = {s.record: s.reason for s in parse().skipped}
    assert reasons == {
        "project P1: 6 beds": "overflow beds (availability 3) are not held for placements",
        "project P1: 3 beds": "voucher beds (ES bed type 2) are not at the shelter",
        "project P5": "it stopped operating on 2024-06-30",
        "project P6": "no ProjectCoC row, so no place or region: add its geography in HMIS",
        "project P7: 8 beds": "beds for households of only children: Haven places adults",
        "project P7": "no adult beds on 2026-01-28",
        "project P9": "no inventory on 2026-01-28",
        "1 projects": "PH: rapid re-housing: not emergency shelter or transitional housing",
    }


def test_the_day_decides_which_inventory_is_current() -> None:
    """Before I2 started and while I4 still ran, P1 had 20 + 10 single beds."""
    assert parse(day=date(2025, 3, 1)).shelters[0].beds == {"single": 30, "family": 4}
    # I4's end date is its last day: on 2025-12-31 it still counts.
    assert parse(day=date(2025, 12, 31)).shelters[0].beds["single"] == 35


def test_defaults_are_counted() -> None:
    """What HMIS cannot say is reported once per shelter that got the default."""
    assert parse().defaults == {
        "coordinates: the ZIP code's centre (HMIS has none)": 3,
        "languages: en (HMIS has no such field)": 3,
        "mat_ok: false (HMIS has no such field)": 3,
        "max_children: beds per family unit, less one": 2,
    }


def test_region_override() -> None:
    """--region (for example the CoC) replaces the state."""
    assert {s.region for s in parse(region="OH-506").shelters} == {"OH-506"}


def _edited(tmp_path: Path, name: str, old: str, new: str) -> Path:
    copy = tmp_path / "hud"
    shutil.copytree(HUD, copy)
    path = copy / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    return copy


@pytest.mark.parametrize(
    ("name", "old", "new", "expected"),
    [
        (
            "Inventory.csv",
            "I1,P1,OH-506,1,1,20,20,0,0,2,0,3,0,15",
            "I1,P1,OH-506,1,1,20,20,0,0,2,0,3,0,14",
            r"^Inventory.csv line 2 \(InventoryID I1\): BedInventory 20 is not the sum of "
            r"the dedicated-bed columns \(19\)$",
        ),
        (
            "Inventory.csv",
            "I3,P1,OH-506,3,1,4,12",
            "I3,P1,OH-506,3,1,0,12",
            r"^Inventory.csv line 4 \(InventoryID I3\): UnitInventory is 0 for households",
        ),
        (
            "Inventory.csv",
            "I6,P2,OH-506,1,",
            "I6,P2,OH-506,2,",
            r"^Inventory.csv line 7 \(InventoryID I6\): HouseholdType 2 is not 1, 3 or 4$",
        ),
        (
            "Inventory.csv",
            "2018-03-01,,2018",
            "2018-03-01,2017-01-01,2018",
            r"InventoryID I6\): InventoryEndDate 2017-01-01 is before InventoryStartDate",
        ),
        (
            "Inventory.csv",
            "I7,P3,OH-506,1,1,10,10",
            "I7,P3,OH-506,1,1,10,ten",
            r"^Inventory.csv line 8 \(InventoryID I7\): BedInventory 'ten' is not a bed count",
        ),
        (
            "Project.csv",
            "P2,O1,",
            "P2,O9,",
            r"^Project.csv line 3 \(ProjectID P2\): OrganizationID 'O9' is not in Organization",
        ),
    ],
)
def test_the_first_bad_record_is_named(
    tmp_path: Path, name: str, old: str, new: str, expected: str
) -> None:
    """A wrong record stops the whole import and is named by file, line and id."""
    directory = _edited(tmp_path, name, old, new)
    with pytest.raises(ImportFileError) as caught:
        parse(directory)
    assert re.search(expected, caught.value.message), caught.value.message


def test_a_folder_that_is_not_hmis_is_refused(tmp_path: Path) -> None:
    """Missing files are named."""
    shutil.copy(HUD / "Project.csv", tmp_path)
    with pytest.raises(ImportFileError, match=r"no Organization\.csv, Inventory\.csv, Proj"):
        parse(tmp_path)
