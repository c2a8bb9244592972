"""Haven's shelters as an HSDS 3.1 tabular directory, for a 211 system to import.

Haven's rules and services are written as attributes of the `haven` taxonomy, which
`hsds.parse` reads back. A confidential shelter is refused, never written.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from exchange.interop.geography import split_address
from exchange.interop.hsds import TAXONOMY, VERSION
from schema.registry import NewShelter

_NAMESPACE = uuid.UUID("6f1c3a52-4b8e-4c1e-9a57-2d0f7b9e8a11")
"""Export ids are uuid5 of this and the shelter id: stable across exports."""

COLUMNS: dict[str, tuple[str, ...]] = {
    "organizations": ("id", "name", "description"),
    "services": ("id", "organization_id", "name", "status", "minimum_age", "maximum_age"),
    "locations": ("id", "location_type", "organization_id", "name", "latitude", "longitude"),
    "service_at_location": ("id", "service_id", "location_id"),
    "addresses": (
        "id",
        "location_id",
        "address_1",
        "city",
        "state_province",
        "postal_code",
        "country",
        "address_type",
    ),
    "phones": ("id", "service_id", "number", "type", "description"),
    "languages": ("id", "service_id", "code"),
    "units": ("id", "name", "scheme", "identifier"),
    "service_capacity": (
        "id",
        "service_id",
        "unit_id",
        "available",
        "maximum",
        "description",
        "updated",
    ),
    "taxonomies": ("id", "name", "description", "version"),
    "taxonomy_terms": ("id", "code", "name", "description", "taxonomy", "taxonomy_id"),
    "attributes": ("id", "link_id", "link_type", "link_entity", "taxonomy_term_id", "value"),
}
"""The tables `export` writes, and their columns (a subset of HSDS 3.1's)."""

_TERMS = {
    "region": "Haven region: where the shelter's beds are coordinated",
    "service": "A service the shelter offers, in Haven's words",
    "excluded_offense": "An offense the shelter cannot accept",
    "max_children": "How many children may come with a woman",
    "mat_ok": "Whether medication-assisted treatment is accepted",
}


def _id(*parts: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, ":".join(parts)))


def export(
    shelters: Sequence[tuple[str, NewShelter]], *, updated: str
) -> dict[str, list[dict[str, str]]]:
    """HSDS 3.1 tables for these shelters; a confidential one is refused, never written.

    `updated` is the `service_capacity.updated` date-time. Capacity `available` is 0:
    Haven does not publish a single shelter's free beds (its description says so).
    """
    out: dict[str, list[dict[str, str]]] = {name: [] for name in COLUMNS}
    taxonomy = _id("taxonomy", TAXONOMY)
    out["taxonomies"].append(
        {
            "id": taxonomy,
            "name": TAXONOMY,
            "version": "1",
            "description": "Haven's shelter rules and services",
        }
    )
    for code, text in _TERMS.items():
        out["taxonomy_terms"].append(
            {
                "id": _id("term", code),
                "code": code,
                "name": code,
                "description": text,
                "taxonomy": TAXONOMY,
                "taxonomy_id": taxonomy,
            }
        )
    units: set[str] = set()
    for shelter_id, s in shelters:
        if s.confidential:
            raise ValueError(f"shelter {shelter_id} is confidential: it is never exported")
        org, svc, loc = _id("org", shelter_id), _id("service", shelter_id), _id("loc", shelter_id)
        out["organizations"].append({"id": org, "name": s.name, "description": s.name})
        out["services"].append(
            {
                "id": svc,
                "organization_id": org,
                "name": s.name,
                "status": "active",
                "minimum_age": str(s.rules.min_age),
                "maximum_age": "" if s.rules.max_age is None else str(s.rules.max_age),
            }
        )
        out["locations"].append(
            {
                "id": loc,
                "location_type": "physical",
                "organization_id": org,
                "name": s.name,
                "latitude": repr(s.lat),
                "longitude": repr(s.lon),
            }
        )
        out["service_at_location"].append(
            {"id": _id("sal", shelter_id), "service_id": svc, "location_id": loc}
        )
        if s.address:
            parts = split_address(s.address)
            out["addresses"].append(
                {
                    "id": _id("address", shelter_id),
                    "location_id": loc,
                    "address_1": parts.line1,
                    "city": parts.city or "",
                    "state_province": parts.state or "",
                    "postal_code": parts.postal_code or "",
                    "country": "US",
                    "address_type": "physical",
                }
            )
        if s.intake_phone:
            out["phones"].append(
                {
                    "id": _id("phone", shelter_id),
                    "service_id": svc,
                    "number": s.intake_phone,
                    "type": "voice",
                    "description": "intake",
                }
            )
        for code in s.rules.languages:
            out["languages"].append(
                {"id": _id("language", shelter_id, code), "service_id": svc, "code": code}
            )
        for bed_type, total in sorted(s.beds.items()):
            unit = _id("unit", bed_type)
            if bed_type not in units:
                units.add(bed_type)
                name = "Family bed" if bed_type == "family" else f"Bed ({bed_type})"
                out["units"].append(
                    {"id": unit, "name": name, "scheme": TAXONOMY, "identifier": bed_type}
                )
            out["service_capacity"].append(
                {
                    "id": _id("capacity", shelter_id, bed_type),
                    "service_id": svc,
                    "unit_id": unit,
                    "available": "0",
                    "maximum": str(total),
                    "updated": updated,
                    "description": "Beds in total; free beds are not published, call the shelter",
                }
            )
        values: list[tuple[str, str]] = [
            ("region", s.region),
            ("max_children", str(s.rules.max_children)),
            ("mat_ok", "true" if s.rules.mat_ok else "false"),
            *(("excluded_offense", o) for o in s.rules.excluded_offenses),
            *(("service", w) for w in s.services),
        ]
        for code, value in values:
            out["attributes"].append(
                {
                    "id": _id("attribute", shelter_id, code, value),
                    "link_id": svc,
                    "link_type": "haven_rule",
                    "link_entity": "service",
                    "taxonomy_term_id": _id("term", code),
                    "value": value,
                }
            )
    return out


def datapackage(tables: Iterable[str]) -> dict[str, Any]:
    """A minimal `datapackage.json` naming the tables, as HSDS tabular data carries one."""
    return {
        "name": "haven-shelters",
        "profile": "tabular-data-package",
        "hsds_version": VERSION,
        "resources": [
            {"name": t, "path": f"{t}.csv", "profile": "tabular-data-resource", "format": "csv"}
            for t in tables
        ],
    }
