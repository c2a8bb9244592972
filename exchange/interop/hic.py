"""The Housing Inventory Count: Haven's shelters on one night, in the shape of HUD's
HIC (one row per project and household type, with the HMIS inventory columns).

What Haven can know, and how it decides it:

- Project type 2 (transitional housing) for a shelter with the service word
  `transitional`, else 0 (emergency shelter, entry/exit), facility-based and year-round.
- Household type 3 (adults with children) from `family` beds: each is a unit for one
  woman and up to `max_children` children, so beds = units × (max_children + 1).
  Household type 1 (without children) from every other bed type, one bed per unit.
- Dedicated beds: youth (18–24) when the shelter's ages are within 18–24, veterans when
  it has the service word `veterans`, both → youth veteran; the rest are "other". Haven
  knows nothing of chronic homelessness, so the CH columns are 0.
- A confidential shelter is reported as HUD expects of a victim service provider: its
  counts, `VictimServiceProvider` 1, and no address.
"""

from __future__ import annotations

import csv
import io
from collections import Counter
from collections.abc import Sequence
from datetime import date

from exchange.interop.geography import split_address
from schema.registry import NewShelter

COLUMNS = (
    "CoCCode",
    "InformationDate",
    "ProjectID",
    "OrganizationName",
    "ProjectName",
    "ProjectType",
    "VictimServiceProvider",
    "Address1",
    "City",
    "State",
    "ZIP",
    "HouseholdType",
    "Availability",
    "ESBedType",
    "UnitInventory",
    "BedInventory",
    "CHVetBedInventory",
    "YouthVetBedInventory",
    "VetBedInventory",
    "CHYouthBedInventory",
    "YouthBedInventory",
    "CHBedInventory",
    "OtherBedInventory",
)
HOUSEHOLDS = {1: "households without children", 3: "households with adults and children"}
PROJECT_TYPES = {0: "emergency shelter", 2: "transitional housing"}


def rows(
    shelters: Sequence[tuple[str, NewShelter]], *, day: date, coc: str = ""
) -> list[dict[str, str]]:
    """The HIC rows of these shelters (their `beds` the totals on `day`)."""
    out: list[dict[str, str]] = []
    for shelter_id, s in shelters:
        transitional = "transitional" in s.services
        organization, _, project = s.name.partition(" – ")
        common = {
            "CoCCode": coc,
            "InformationDate": day.isoformat(),
            "ProjectID": shelter_id,
            "OrganizationName": organization,
            "ProjectName": project or s.name,
            "ProjectType": "2" if transitional else "0",
            "VictimServiceProvider": "1" if s.confidential else "0",
            "Availability": "" if transitional else "1",
            "ESBedType": "" if transitional else "1",
        }
        if s.address and not s.confidential:
            parts = split_address(s.address)
            common |= {
                "Address1": parts.line1,
                "City": parts.city or "",
                "State": parts.state or "",
                "ZIP": parts.postal_code or "",
            }
        dedicated = _dedicated(s)
        adults = sum(n for t, n in s.beds.items() if t != "family")
        if len(s.beds) > ("family" in s.beds):
            out.append(_row(common, 1, units=adults, beds=adults, column=dedicated))
        if "family" in s.beds:
            units = s.beds["family"]
            beds = units * (s.rules.max_children + 1)
            out.append(_row(common, 3, units=units, beds=beds, column=dedicated))
    return out


def _dedicated(s: NewShelter) -> str:
    youth = s.rules.min_age >= 18 and s.rules.max_age is not None and s.rules.max_age <= 24
    veterans = "veterans" in s.services
    if youth and veterans:
        return "YouthVetBedInventory"
    if youth:
        return "YouthBedInventory"
    return "VetBedInventory" if veterans else "OtherBedInventory"


def _row(
    common: dict[str, str], household: int, *, units: int, beds: int, column: str
) -> dict[str, str]:
    row = {c: "" for c in COLUMNS} | common
    row |= {c: "0" for c in COLUMNS if c.endswith("BedInventory") and c != "BedInventory"}
    row |= {
        "HouseholdType": str(household),
        "UnitInventory": str(units),
        "BedInventory": str(beds),
        column: str(beds),
    }
    return row


def totals(hic: Sequence[dict[str, str]]) -> dict[str, int]:
    """Beds by project type and household type, and in all: the figures a CoC checks."""
    counted: Counter[str] = Counter()
    for r in hic:
        beds = int(r["BedInventory"])
        kind = PROJECT_TYPES[int(r["ProjectType"])]
        counted[f"{kind}, {HOUSEHOLDS[int(r['HouseholdType'])]}"] += beds
        counted["victim service providers"] += beds if r["VictimServiceProvider"] == "1" else 0
        counted["all beds"] += beds
    return dict(sorted(counted.items()))


def to_csv(hic: Sequence[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(hic)
    return buf.getvalue()
