"""Open Referral HSDS 3.1 directories (what 211 systems publish) to shelters, and back.

A shelter is an active service at one physical location with bed capacity: a
`service_capacity` whose unit is beds (`maximum` beds, or `available` when there is no
maximum). HSDS says nothing of most of Haven's rules; those stay at Haven's defaults and
the outcome counts each default applied. Haven's own vocabulary (services, excluded
offenses, children, medication-assisted treatment, region) travels in attributes of a
taxonomy named `haven`, which is how `hsds_export` writes them and `parse` reads them back.

Records outside that (services without beds, inactive ones, capacity at several
locations) are skipped and named; a record that is wrong (a missing id, a count that is
not a number, a reference to nothing) stops the import with `ImportFileError` naming it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import msgspec

from exchange.errors import ImportFileError
from exchange.interop.geography import Geocoder, join_address, state_code
from exchange.interop.hsds_json import flatten
from exchange.interop.outcome import Builder, Outcome
from exchange.interop.tables import Row, Source, Tables
from schema.registry import NewShelter
from schema.wire import MAX_BEDS

VERSION = "3.1"
TAXONOMY = "haven"
"""The taxonomy whose terms carry Haven's rules in `attributes`."""

_PHONE = re.compile(r"^\+?[0-9][0-9 ().-]{5,30}$")
_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_BEDS = re.compile(r"\bbeds?\b", re.IGNORECASE)
_FAMILY = re.compile(r"\bfamil(y|ies)\b", re.IGNORECASE)


# -- reading ------------------------------------------------------------------------------


def parse(source: Source, *, geocode: Geocoder, region: str | None = None) -> Outcome:
    """Shelters from HSDS tabular files, or service JSON when there are none.

    `region` overrides the region taken from each address's state.
    """
    tables = source.tables if "services" in source.tables else flatten(source.documents)
    if "services" not in tables:
        raise ImportFileError(
            "the import", "no services.csv and no service JSON: is this an HSDS directory?"
        )
    return _Directory(tables).shelters(geocode=geocode, region=region)


class _Directory:
    """The tables indexed by id and by the references between them."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.by_id = {name: _index(name, rows) for name, rows in tables.items()}
        self.children: dict[tuple[str, str], dict[str, list[Row]]] = {}

    def row(self, table: str, key: str, referrer: Row, column: str) -> Row:
        found = self.by_id.get(table, {}).get(key)
        if found is None:
            raise ImportFileError(referrer.where, f"{column} {key!r} is not an id in {table}.csv")
        return found

    def under(self, table: str, column: str, key: str) -> list[Row]:
        """Rows of `table` whose `column` is `key`."""
        index = self.children.get((table, column))
        if index is None:
            index = defaultdict(list)
            for r in self.tables.get(table, []):
                if (v := r.get(column)) is not None:
                    index[v].append(r)
            self.children[(table, column)] = index
        return index.get(key, [])

    def shelters(self, *, geocode: Geocoder, region: str | None) -> Outcome:
        out = Builder()
        without_beds = 0
        for service in self.tables["services"]:
            sid = _required(service, "id")
            beds = self.beds(service, sid)
            if not beds.counts:
                without_beds += 1
                continue
            status = (service.get("status") or "active").lower()
            if status != "active":
                out.skip(f"service {sid}", f"its status is {status!r}, not 'active'")
                continue
            places = []
            for sal in self.under("service_at_location", "service_id", sid):
                loc = self.row("locations", _required(sal, "location_id"), sal, "location_id")
                if (loc.get("location_type") or "physical").lower() == "physical":
                    places.append((sal, loc))
            if not places:
                out.skip(f"service {sid}", "it has beds but no physical location")
                continue
            if len(places) > 1:
                out.skip(
                    f"service {sid}",
                    f"its bed capacity is at {len(places)} locations and HSDS does not split "
                    "it: give each location a service of its own",
                )
                continue
            sal, location = places[0]
            record, defaults = self.record(service, sid, sal, location, beds, geocode, region)
            if record is None:
                out.skip(f"service {sid}", defaults[0])
                continue
            try:
                shelter = msgspec.convert(record, NewShelter)
            except (msgspec.ValidationError, ValueError) as exc:
                raise ImportFileError(f"{service.where} (service {sid})", str(exc)) from None
            lid = location.get("id")
            out.add(shelter, f"service {sid} at location {lid}", defaults)
        if without_beds:
            out.skip(f"{without_beds} services", "no bed capacity (not shelters)")
        return out.outcome()

    def beds(self, service: Row, sid: str) -> _Beds:
        counts: dict[str, int] = {}
        from_available = False
        for cap in self.under("service_capacity", "service_id", sid):
            unit = self.row("units", _required(cap, "unit_id"), cap, "unit_id")
            bed_type = _bed_type(unit)
            if bed_type is None:
                continue
            column = "maximum" if cap.get("maximum") is not None else "available"
            from_available |= column == "available"
            counts[bed_type] = counts.get(bed_type, 0) + _count(cap, column)
        return _Beds(counts, from_available)

    def record(
        self,
        service: Row,
        sid: str,
        sal: Row,
        location: Row,
        beds: _Beds,
        geocode: Geocoder,
        region: str | None,
    ) -> tuple[dict[str, Any] | None, list[str]]:
        """The shelter's fields, and the defaults applied; (None, [why]) to skip it."""
        defaults: list[str] = []
        lid = _required(location, "id")
        haven = self.haven_attributes(sid)
        address_row = _first_physical(self.under("addresses", "location_id", lid))
        postal = address_row.get("postal_code") if address_row else None
        place = geocode(postal) if postal else None

        lat, lon = _float(location, "latitude"), _float(location, "longitude")
        if lat is None or lon is None:
            if place is None:
                return None, ["its location has no coordinates and no ZIP code Haven knows"]
            lat, lon = place.lat, place.lon
            defaults.append("coordinates: the ZIP code's centre (the location has none)")

        state = state_code(address_row.get("state_province")) if address_row else None
        chosen = region or _one(haven.get("region")) or state or (place and place.state)
        if not chosen:
            raise ImportFileError(
                f"{location.where} (location {lid})",
                "no state in its address to take the region from: give --region",
            )

        name = _required(service, "name")
        where = location.get("name")
        if where and where.lower() not in name.lower() and name.lower() not in where.lower():
            name = f"{name} – {where}"

        record: dict[str, Any] = {
            "name": name,
            "region": chosen,
            "lat": lat,
            "lon": lon,
            "beds": beds.counts,
            "rules": {},
        }
        if beds.from_available:
            defaults.append("beds: the available count (no maximum given)")
        if address_row is not None:
            record["address"] = join_address(
                address_row.get("address_1"),
                address_row.get("address_2"),
                address_row.get("city"),
                address_row.get("state_province"),
                postal,
            )
        phone = self.phone(sal, service, location, defaults)
        if phone:
            record["intake_phone"] = phone

        rules: dict[str, Any] = record["rules"]
        languages = sorted(
            {
                code
                for r in self.under("languages", "service_id", sid)
                or self.under("languages", "location_id", lid)
                if (code := (r.get("code") or "").lower()) and _LANGUAGE.match(code)
            }
        )
        if languages:
            rules["languages"] = languages
        else:
            defaults.append("languages: en (none listed)")
        low, high = _int(service, "minimum_age"), _int(service, "maximum_age")
        if low is not None and low >= 18:
            rules["min_age"] = low
        else:
            defaults.append(
                "min_age: 18 (none given)" if low is None else f"min_age: 18 (HSDS said {low})"
            )
        if high is not None:
            rules["max_age"] = high
        for code, convert, default in (("max_children", int, "0"), ("mat_ok", _bool, "false")):
            if code in haven:
                rules[code] = _converted(convert, haven[code][0], service, code)
            else:
                defaults.append(f"{code}: {default} (HSDS has no such field)")
        if "excluded_offense" in haven:
            rules["excluded_offenses"] = sorted(haven["excluded_offense"])
        if "service" in haven:
            record["services"] = sorted(haven["service"])
        else:
            defaults.append("services: none (HSDS has no such field)")
        return record, defaults

    def phone(self, sal: Row, service: Row, location: Row, defaults: list[str]) -> str | None:
        candidates = [
            *self.under("phones", "service_at_location_id", sal.get("id") or ""),
            *self.under("phones", "service_id", service.get("id") or ""),
            *self.under("phones", "location_id", location.get("id") or ""),
            *self.under("phones", "organization_id", service.get("organization_id") or ""),
        ]
        for p in candidates:
            number = p.get("number") or ""
            if (p.get("type") or "voice").lower() in {"voice", "cell"} and _PHONE.match(number):
                return number
        if candidates:
            defaults.append("intake_phone: left out (no dialable voice number)")
        return None

    def haven_attributes(self, sid: str) -> dict[str, list[str]]:
        """Haven's vocabulary on this service: code → values."""
        found: dict[str, list[str]] = defaultdict(list)
        for a in self.under("attributes", "link_id", sid):
            if (a.get("link_entity") or "service") != "service":
                continue
            term = self.by_id.get("taxonomy_terms", {}).get(a.get("taxonomy_term_id") or "")
            if term is None or not self.in_haven_taxonomy(term):
                continue
            if (code := term.get("code")) and (value := a.get("value")) is not None:
                found[code].append(value)
        return found

    def in_haven_taxonomy(self, term: Row) -> bool:
        if (term.get("taxonomy") or "").lower() == TAXONOMY:
            return True
        taxonomy = self.by_id.get("taxonomies", {}).get(term.get("taxonomy_id") or "")
        return taxonomy is not None and (taxonomy.get("name") or "").lower() == TAXONOMY


class _Beds(msgspec.Struct, frozen=True):
    counts: dict[str, int]
    from_available: bool


def _index(table: str, rows: list[Row]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    for r in rows:
        key = r.get("id")
        if key is None:
            continue
        if key in out:
            raise ImportFileError(r.where, f"id {key!r} is used twice in {table}")
        out[key] = r
    return out


def _required(row: Row, column: str) -> str:
    value = row.get(column)
    if value is None:
        raise ImportFileError(row.where, f"{column} is required")
    return value


def _float(row: Row, column: str) -> float | None:
    value = row.get(column)
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        raise ImportFileError(row.where, f"{column} {value!r} is not a number") from None


def _int(row: Row, column: str) -> int | None:
    number = _float(row, column)
    if number is None:
        return None
    if not number.is_integer():
        raise ImportFileError(row.where, f"{column} {row.get(column)!r} is not a whole number")
    return int(number)


def _count(row: Row, column: str) -> int:
    number = _int(row, column)
    if number is None or not 0 <= number <= MAX_BEDS:
        raise ImportFileError(
            row.where, f"{column} {row.get(column)!r} is not a bed count (0 to {MAX_BEDS})"
        )
    return number


def _bool(text: str) -> bool:
    if text.lower() in {"true", "1", "yes"}:
        return True
    if text.lower() in {"false", "0", "no"}:
        return False
    raise ValueError(text)


def _converted(convert: Any, value: str, row: Row, code: str) -> Any:
    try:
        return convert(value)
    except ValueError:
        raise ImportFileError(row.where, f"haven attribute {code} {value!r} is not valid") from None


def _one(values: list[str] | None) -> str | None:
    return values[0] if values else None


def _bed_type(unit: Row) -> str | None:
    """The Haven bed type a unit counts, or None when it does not count beds."""
    if (unit.get("scheme") or "").lower() == TAXONOMY and unit.get("identifier"):
        return unit.get("identifier")
    text = " ".join(v for v in (unit.get("name"), unit.get("identifier")) if v)
    if not _BEDS.search(text) and not _FAMILY.search(text):
        return None
    return "family" if _FAMILY.search(text) else "single"


def _first_physical(rows: list[Row]) -> Row | None:
    ordered = sorted(rows, key=lambda r: (r.get("address_type") or "physical") != "physical")
    return ordered[0] if ordered else None
