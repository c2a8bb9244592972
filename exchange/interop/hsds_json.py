"""HSDS JSON (as the HSDS API serves it: services with their organization, locations,
capacities and attributes nested) flattened into the tables of its tabular form, so one
mapping reads both. Each row's `where` is its path in the document."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from exchange.errors import ImportFileError
from exchange.interop.tables import Row, Tables


def flatten(documents: dict[str, Any]) -> Tables:
    """HSDS JSON (a service, a list or page of services, or an organization with its
    services) as the tables its tabular form would hold."""
    tables: dict[str, dict[str, Row]] = defaultdict(dict)

    def put(table: str, where: str, obj: dict[str, Any], **links: str | None) -> str:
        values = {k: _text(v) for k, v in obj.items() if not isinstance(v, list | dict)}
        values.update({k: v for k, v in links.items() if v is not None})
        key = values.get("id") or f"{where}"
        values["id"] = key
        tables[table].setdefault(key, Row(where, values))
        return key

    for name, doc in documents.items():
        for path, service, org in _services(name, doc):
            oid = put("organizations", f"{path}.organization", org) if org else None
            sid = put(
                "services", path, service, organization_id=oid or service.get("organization_id")
            )
            for i, cap in enumerate(_list(service, "capacities")):
                unit = cap.get("unit") or {}
                uid = put("units", f"{path}.capacities[{i}].unit", unit) if unit else None
                put(
                    "service_capacity",
                    f"{path}.capacities[{i}]",
                    cap,
                    service_id=sid,
                    unit_id=uid or cap.get("unit_id"),
                )
            for i, sal in enumerate(_list(service, "service_at_locations")):
                at = f"{path}.service_at_locations[{i}]"
                location = sal.get("location") or {}
                lid = put("locations", f"{at}.location", location) if location else None
                salid = put(
                    "service_at_location",
                    at,
                    sal,
                    service_id=sid,
                    location_id=lid or sal.get("location_id"),
                )
                for j, p in enumerate(_list(sal, "phones")):
                    put("phones", f"{at}.phones[{j}]", p, service_at_location_id=salid)
                for key, table in (
                    ("addresses", "addresses"),
                    ("phones", "phones"),
                    ("languages", "languages"),
                ):
                    for j, child in enumerate(_list(location, key)):
                        put(table, f"{at}.location.{key}[{j}]", child, location_id=lid)
            for key in ("phones", "languages"):
                for i, child in enumerate(_list(service, key)):
                    put(key, f"{path}.{key}[{i}]", child, service_id=sid)
            for i, attr in enumerate(_list(service, "attributes")):
                term = attr.get("taxonomy_term") or {}
                tid = None
                if term:
                    detail = term.get("taxonomy_detail") or {}
                    tid = put(
                        "taxonomy_terms",
                        f"{path}.attributes[{i}].taxonomy_term",
                        term,
                        taxonomy=term.get("taxonomy") or detail.get("name"),
                    )
                put(
                    "attributes",
                    f"{path}.attributes[{i}]",
                    attr,
                    link_id=sid,
                    link_entity="service",
                    taxonomy_term_id=tid or attr.get("taxonomy_term_id"),
                )
    return {table: list(rows.values()) for table, rows in tables.items()}


def _services(name: str, doc: Any) -> Iterable[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(where, service, its organization) for each service object in a document."""
    if isinstance(doc, dict) and isinstance(doc.get("contents"), list):
        doc = doc["contents"]
        name = f"{name} contents"
    if isinstance(doc, list):
        for i, item in enumerate(doc):
            yield from _services(f"{name}[{i}]", item)
        return
    if not isinstance(doc, dict):
        raise ImportFileError(name, "is not an HSDS service or organization object")
    if isinstance(doc.get("services"), list) and "status" not in doc:
        org = {k: v for k, v in doc.items() if k != "services"}
        for i, s in enumerate(doc["services"]):
            yield f"{name}.services[{i}]", _object(s, f"{name}.services[{i}]"), org
        return
    yield name, doc, doc.get("organization")


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFileError(where, "is not an object")
    return value


def _list(obj: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = obj.get(key) or []
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
