"""HSDS 3.1 directories to shelters and back (the pure mapping; the CLI's round trip
through the database is in test_interop_commands)."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import msgspec
import pytest

from exchange.errors import ImportFileError
from exchange.interop import hsds, hsds_export, tables
from exchange.interop.geography import Place
from schema.registry import NewShelter, Rules

HERE = Path(__file__).parent / "interop"
TABULAR = HERE / "hsds"
AKRON = Place(lat=41.0796, lon=-81.5194, state="OH")


def geocode(code: str) -> Place | None:
    return AKRON if code.startswith("44308") else None


def parse(path: Path, **kw: str) -> hsds.Outcome:
    return hsds.parse(tables.load(path), geocode=geocode, **kw)


def test_a_service_with_beds_at_one_location_is_a_shelter() -> None:
    """Beds, address, phone, languages and Haven's attributes all reach the shelter."""
    out = parse(TABULAR)
    house = out.shelters[0]
    assert house == NewShelter(
        name="Harbor House",
        region="OH",
        lat=41.08,
        lon=-81.52,
        beds={"single": 12},
        rules=Rules(mat_ok=True, excluded_offenses=["arson"], languages=["en", "es"]),
        services=["sud", "trafficking"],
        address="12 Elm St, Akron, OH 44308",
        intake_phone="+1 330 555 0100",
    )
    assert out.origins[0] == "service svc-1 at location loc-1"


def test_gaps_are_filled_with_defaults_and_counted() -> None:
    """No coordinates → the ZIP's centre; no maximum → available; each default counted."""
    out = parse(TABULAR)
    family = out.shelters[1]
    assert family.name == "Harbor Family Shelter – Elm Street"
    assert (family.lat, family.lon) == (AKRON.lat, AKRON.lon)
    assert family.beds == {"family": 2, "single": 6}
    assert family.address == "40 Oak Ave, Akron, Ohio 44308" and family.region == "OH"
    assert family.intake_phone is None and family.rules.languages == ["en"]
    assert out.defaults == {
        "beds: the available count (no maximum given)": 1,
        "coordinates: the ZIP code's centre (the location has none)": 1,
        "intake_phone: left out (no dialable voice number)": 1,
        "languages: en (none listed)": 1,
        "max_children: 0 (HSDS has no such field)": 2,
        "mat_ok: false (HSDS has no such field)": 1,
        "min_age: 18 (HSDS said 0)": 1,
        "services: none (HSDS has no such field)": 1,
    }


def test_what_is_not_a_shelter_is_skipped_with_a_reason() -> None:
    """Inactive services, beds at two locations and services without beds are named."""
    out = parse(TABULAR)
    assert len(out.shelters) == 2
    reasons = {s.record: s.reason for s in out.skipped}
    assert reasons["service svc-4"] == "its status is 'inactive', not 'active'"
    assert "at 2 locations" in reasons["service svc-5"]
    assert reasons["1 services"] == "no bed capacity (not shelters)"


def test_region_override_wins_over_the_address() -> None:
    """--region puts every shelter in that region."""
    assert {s.region for s in parse(TABULAR, region="OH-503").shelters} == {"OH-503"}


def test_json_and_tabular_forms_give_the_same_shelter() -> None:
    """A service page in JSON, nested as the HSDS API serves it, maps like its table rows."""
    [from_json] = parse(HERE / "hsds-json" / "services.json").shelters
    assert from_json == parse(TABULAR).shelters[0]


def test_a_zip_of_the_directory_reads_the_same(tmp_path: Path) -> None:
    """The tables may come zipped (in a folder inside the zip, as exports often are)."""
    archive = tmp_path / "directory.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for f in TABULAR.glob("*.csv"):
            z.write(f, f"export/{f.name}")
    assert parse(archive) == parse(TABULAR)


def _edit(tmp_path: Path, table: str, row_id: str, **changes: str) -> Path:
    """A copy of the fixture directory with one row of one table changed."""
    copy = tmp_path / "hsds"
    shutil.copytree(TABULAR, copy, dirs_exist_ok=True)
    path = copy / f"{table}.csv"
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    for row in rows:
        if row["id"] == row_id:
            row.update(changes)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buf.getvalue())
    return copy


@pytest.mark.parametrize(
    ("table", "row_id", "changes", "expected"),
    [
        (
            "service_capacity",
            "cap-1",
            {"maximum": "twelve"},
            r"^service_capacity.csv line 2: maximum 'twelve' is not a number$",
        ),
        (
            "service_capacity",
            "cap-5",
            {"maximum": "-3"},
            r"^service_capacity.csv line 7: maximum '-3' is not a bed count",
        ),
        (
            "service_at_location",
            "sal-2",
            {"location_id": "loc-9"},
            r"^service_at_location.csv line 3: location_id 'loc-9' is not an id in locations",
        ),
        (
            "locations",
            "loc-1",
            {"latitude": "95"},
            r"^services.csv line 2 \(service svc-1\): Expected `float` <= 90.0 - at `\$.lat`$",
        ),
        (
            "units",
            "unit-fam",
            {"id": "unit-bed"},
            r"^units.csv line 3: id 'unit-bed' is used twice",
        ),
        (
            "addresses",
            "addr-1",
            {"state_province": "", "postal_code": ""},
            r"^locations.csv line 2 \(location loc-1\): no state in its address .* --region$",
        ),
    ],
)
def test_the_first_bad_record_is_named(
    tmp_path: Path, table: str, row_id: str, changes: dict[str, str], expected: str
) -> None:
    """A record that is wrong stops the whole import, naming its file, line and field."""
    directory = _edit(tmp_path, table, row_id, **changes)
    with pytest.raises(ImportFileError) as caught:
        parse(directory)
    assert caught.value.code == "invalid_import"
    assert re.search(expected, caught.value.message), caught.value.message


def test_a_location_that_cannot_be_placed_is_skipped(tmp_path: Path) -> None:
    """No coordinates and no ZIP code: valid HSDS, but not a shelter Haven can place."""
    out = parse(_edit(tmp_path, "addresses", "addr-2", postal_code=""))
    assert [s.name for s in out.shelters] == ["Harbor House"]
    assert {
        "record": "service svc-2",
        "reason": "its location has no coordinates and no ZIP code Haven knows",
    } in msgspec.to_builtins(out.skipped)


def test_a_directory_without_services_is_refused(tmp_path: Path) -> None:
    """Pointing the import at the wrong folder says what it expected."""
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImportFileError, match=r"no services\.csv"):
        parse(tmp_path)


def test_export_writes_haven_rules_that_parse_reads_back() -> None:
    """Shelters exported to HSDS tables and parsed again are the same shelters."""
    shelters = parse(TABULAR).shelters
    written = hsds_export.export(
        [(f"s0000{i}", s) for i, s in enumerate(shelters, 1)], updated="2026-01-28T00:00:00Z"
    )
    source = tables.Source(
        tables={
            name: [tables.Row(f"{name} {i}", r) for i, r in enumerate(rows)]
            for name, rows in written.items()
        },
        documents={},
    )
    again = hsds.parse(source, geocode=geocode).shelters
    # The ZIP-centre coordinates and defaults are now explicit values: equal all the same.
    assert again == shelters


def test_export_refuses_a_confidential_shelter() -> None:
    """A confidential shelter can never be written to a public directory."""
    secret = NewShelter(
        name="Safe", region="OH", lat=41.0, lon=-81.0, beds={"single": 2}, confidential=True
    )
    with pytest.raises(ValueError, match="confidential"):
        hsds_export.export([("s00001", secret)], updated="2026-01-28T00:00:00Z")


def _hsds_table(name: str) -> tuple[set[str], set[str]]:
    """A table's scalar columns and its required ones, from the vendored HSDS 3.1 schema."""
    schema = json.loads((HERE / "hsds-3.1-schema" / f"{name}.json").read_text())
    scalar = {k for k, v in schema["properties"].items() if v.get("type") not in {"array", None}}
    required = set(schema.get("required", [])) | set(schema.get("tabular_required", []))
    return scalar, required & scalar


def test_exported_tables_use_only_hsds_columns_and_fill_required_ones() -> None:
    """Every column written is one of HSDS 3.1's, and every required one is filled (the
    specification's own JSON schemas are the oracle)."""
    written = hsds_export.export(
        [(f"s0000{i}", s) for i, s in enumerate(parse(TABULAR).shelters, 1)],
        updated="2026-01-28T00:00:00Z",
    )
    singular = {"addresses": "address", "taxonomies": "taxonomy"}
    for table, columns in hsds_export.COLUMNS.items():
        scalar, required = _hsds_table(singular.get(table, table.removesuffix("s")))
        assert set(columns) - {"taxonomy"} <= scalar, (table, set(columns) - scalar)
        assert written[table], table
        for row in written[table]:
            assert not [c for c in required if not row.get(c)], (table, row)
