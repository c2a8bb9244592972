"""HUD's HMIS CSV (FY2026) to shelters: `Organization.csv`, `Project.csv`,
`Inventory.csv` and `ProjectCoC.csv`.

The rules, per the HMIS CSV specification and HUD's LSA/HIC logic:

- Projects of type 0 and 1 (emergency shelter, entry/exit and night-by-night) and 2
  (transitional housing) are shelters; every other type is skipped and counted.
  Records with a `DateDeleted` do not exist. A project whose `OperatingEndDate` is
  before the day is closed.
- An inventory counts on the day when `InventoryStartDate <= day` and its
  `InventoryEndDate` is empty or `>= day`. A project's current inventories are summed.
- `BedInventory` must equal the sum of the seven dedicated-bed columns (CH veteran,
  youth veteran, veteran, CH youth, youth, CH, other) when they are given.
- Household type 1 (without children) → `single` beds; 3 (adults with children) →
  `family`, counted in units, one family per unit, with `max_children` set from the
  beds per unit; 4 (only children) is skipped: Haven places adults.
- Overflow inventory (availability 3) and voucher beds (ES bed type 2) are not beds at
  the shelter's address, and are skipped and counted.
- Geography from `ProjectCoC.csv`: the ZIP code's centre (HMIS holds no coordinates)
  and the state as the region. A victim service provider's project is confidential.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date

import msgspec

from exchange.errors import ImportFileError
from exchange.interop.geography import Geocoder, join_address, state_code
from exchange.interop.outcome import Builder, Outcome
from exchange.interop.tables import Row, Source, Tables
from schema.registry import NewShelter
from schema.wire import MAX_BEDS

PROJECT_TYPES = {
    0: "emergency shelter (entry/exit)",
    1: "emergency shelter (night-by-night)",
    2: "transitional housing",
}
OTHER_TYPES = {
    3: "PH: permanent supportive housing",
    4: "street outreach",
    6: "services only",
    7: "other",
    8: "safe haven",
    9: "PH: housing only",
    10: "PH: housing with services",
    11: "day shelter",
    12: "homelessness prevention",
    13: "PH: rapid re-housing",
    14: "coordinated entry",
}
DEDICATED = (
    "CHVetBedInventory",
    "YouthVetBedInventory",
    "VetBedInventory",
    "CHYouthBedInventory",
    "YouthBedInventory",
    "CHBedInventory",
    "OtherBedInventory",
)
"""The dedicated-bed columns; `BedInventory` is their sum."""
FILES = ("organization", "project", "inventory", "projectcoc")


def parse(source: Source, *, geocode: Geocoder, today: date, region: str | None = None) -> Outcome:
    """The ES and TH projects of an HMIS CSV export with beds on `today`, as shelters."""
    tables = _live(source.tables)
    missing = [f for f in FILES if f not in tables]
    if missing:
        names = ", ".join(
            f"{'ProjectCoC' if f == 'projectcoc' else f.title()}.csv" for f in missing
        )
        raise ImportFileError("the import", f"no {names}: is this an HMIS CSV export?")
    organizations = _index(tables["organization"], "OrganizationID")
    inventories: dict[str, list[Row]] = defaultdict(list)
    for inv in tables["inventory"]:
        inventories[_required(inv, "ProjectID")].append(inv)
    geography: dict[str, list[Row]] = defaultdict(list)
    for site in tables["projectcoc"]:
        geography[_required(site, "ProjectID")].append(site)

    out = Builder()
    not_shelters: Counter[str] = Counter()
    for project in tables["project"]:
        pid = _required(project, "ProjectID")
        record = f"project {pid}"
        kind = _code(project, "ProjectType")
        if kind is None:
            raise ImportFileError(_at(project, "ProjectID"), "ProjectType is required")
        if kind not in PROJECT_TYPES:
            not_shelters[OTHER_TYPES.get(kind, f"project type {kind}")] += 1
            continue
        ended = _date(project, "OperatingEndDate")
        if ended is not None and ended < today:
            out.skip(record, f"it stopped operating on {ended}")
            continue
        org_id = _required(project, "OrganizationID")
        org = organizations.get(org_id)
        if org is None:
            raise ImportFileError(
                _at(project, "ProjectID"), f"OrganizationID {org_id!r} is not in Organization.csv"
            )
        beds = _Beds()
        for inv in inventories.get(pid, []):
            beds.add(inv, today)
        for reason, n in sorted(beds.left_out.items()):
            out.skip(f"{record}: {n} beds", reason)
        if not beds.counts:
            out.skip(record, f"no {'adult beds' if beds.seen else 'inventory'} on {today}")
            continue
        places = geography.get(pid, [])
        coc = _choose(places, beds.cocs)
        if coc is None:
            out.skip(record, "no ProjectCoC row, so no place or region: add its geography in HMIS")
            continue
        zip_code = coc.get("ZIP") or coc.get("Zip")
        place = geocode(zip_code) if zip_code else None
        if place is None:
            out.skip(record, f"ZIP code {zip_code!r} is not one Haven knows, so no coordinates")
            continue
        state = state_code(coc.get("State")) or place.state
        defaults = [
            "coordinates: the ZIP code's centre (HMIS has none)",
            "languages: en (HMIS has no such field)",
            "mat_ok: false (HMIS has no such field)",
        ]
        rules: dict[str, object] = {}
        if "family" in beds.counts:
            per_unit = -(-beds.family_beds // beds.counts["family"])  # ceiling
            rules["max_children"] = min(20, max(1, per_unit - 1))
            defaults.append("max_children: beds per family unit, less one")
        name = _name(_required(org, "OrganizationName"), _required(project, "ProjectName"))
        shelter = {
            "name": name[:200],
            "region": region or state,
            "lat": place.lat,
            "lon": place.lon,
            "beds": beds.counts,
            "confidential": _code(org, "VictimServiceProvider", default=0) == 1,
            "rules": rules,
            "services": ["transitional"] if kind == 2 else [],
        }
        if coc.get("Address1"):
            shelter["address"] = join_address(
                coc.get("Address1"),
                coc.get("Address2"),
                coc.get("City"),
                coc.get("State"),
                zip_code,
            )
        try:
            out.add(msgspec.convert(shelter, NewShelter), record, defaults)
        except (msgspec.ValidationError, ValueError) as exc:
            raise ImportFileError(_at(project, "ProjectID"), str(exc)) from None
    for kind_name, n in sorted(not_shelters.items()):
        out.skip(f"{n} projects", f"{kind_name}: not emergency shelter or transitional housing")
    return out.outcome()


class _Beds:
    """A project's current inventory, summed by Haven bed type."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.family_beds = 0
        self.left_out: Counter[str] = Counter()
        self.cocs: set[str] = set()
        self.seen = False

    def add(self, inv: Row, today: date) -> None:
        start, end = _date(inv, "InventoryStartDate"), _date(inv, "InventoryEndDate")
        if start is None:
            raise ImportFileError(_at(inv, "InventoryID"), "InventoryStartDate is required")
        if end is not None and end < start:
            raise ImportFileError(
                _at(inv, "InventoryID"),
                f"InventoryEndDate {end} is before InventoryStartDate {start}",
            )
        if start > today or (end is not None and end < today):
            return
        total = _count(inv, "BedInventory", required=True)
        parts = [_count(inv, c) for c in DEDICATED if inv.get(c) is not None]
        if parts and sum(parts) != total:
            raise ImportFileError(
                _at(inv, "InventoryID"),
                f"BedInventory {total} is not the sum of the dedicated-bed columns ({sum(parts)})",
            )
        self.seen = True
        household = _code(inv, "HouseholdType")
        if _code(inv, "Availability", default=1) == 3:
            self.left_out["overflow beds (availability 3) are not held for placements"] += total
            return
        if _code(inv, "ESBedType", default=1) == 2:
            self.left_out["voucher beds (ES bed type 2) are not at the shelter"] += total
            return
        if household == 1:
            self._add("single", total)
        elif household == 3:
            units = _count(inv, "UnitInventory")
            if units == 0 and total > 0:
                raise ImportFileError(
                    _at(inv, "InventoryID"),
                    "UnitInventory is 0 for households with children: Haven counts family "
                    "beds in units",
                )
            self._add("family", units)
            self.family_beds += total
        elif household == 4:
            self.left_out["beds for households of only children: Haven places adults"] += total
            return
        else:
            raise ImportFileError(
                _at(inv, "InventoryID"), f"HouseholdType {household} is not 1, 3 or 4"
            )
        if coc := inv.get("CoCCode"):
            self.cocs.add(coc)

    def _add(self, bed_type: str, n: int) -> None:
        self.counts[bed_type] = self.counts.get(bed_type, 0) + n


def _live(tables: Tables) -> Tables:
    """The tables without their deleted records (`DateDeleted` set)."""
    return {
        name: [r for r in rows if r.get("DateDeleted") is None] for name, rows in tables.items()
    }


def _index(rows: list[Row], column: str) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for r in rows:
        key = _required(r, column)
        if key in out:
            raise ImportFileError(_at(r, column), f"{column} {key!r} is used twice")
        out[key] = r
    return out


def _choose(places: list[Row], cocs: set[str]) -> Row | None:
    """The ProjectCoC row for the CoC its inventory is in, else the first with a ZIP."""
    ranked = sorted(
        places,
        key=lambda r: (r.get("CoCCode") not in cocs, (r.get("ZIP") or r.get("Zip")) is None),
    )
    return ranked[0] if ranked else None


def _name(org: str, project: str) -> str:
    return project if org.lower() in project.lower() else f"{org} – {project}"


def _at(row: Row, id_column: str) -> str:
    key = row.get(id_column)
    return f"{row.where} ({id_column} {key})" if key else row.where


def _required(row: Row, column: str) -> str:
    value = row.get(column)
    if value is None:
        raise ImportFileError(row.where, f"{column} is required")
    return value


def _code(row: Row, column: str, default: int | None = None) -> int | None:
    value = row.get(column)
    if value is None:
        return default
    if not value.isdigit():
        raise ImportFileError(row.where, f"{column} {value!r} is not a code number")
    return int(value)


def _count(row: Row, column: str, *, required: bool = False) -> int:
    value = row.get(column) or ("" if required else "0")
    if not value.isdigit() or int(value) > MAX_BEDS:
        raise ImportFileError(
            _at(row, "InventoryID"), f"{column} {value!r} is not a bed count (0 to {MAX_BEDS})"
        )
    return int(value)


def _date(row: Row, column: str) -> date | None:
    value = row.get(column)
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise ImportFileError(row.where, f"{column} {value!r} is not a date (YYYY-MM-DD)") from None
