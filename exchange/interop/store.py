"""The registry as the exports read it: every shelter whole (rules, address, beds), now or
as the bed history had it at a moment. Rows leave this module as `NewShelter`s."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import msgspec

from exchange.beds.store import Executor
from schema.registry import NewShelter

_FIELDS = """
s.id, s.name, s.region, s.lat, s.lon, s.confidential, s.max_children, s.mat_ok, s.min_age,
s.max_age, s.excluded_offenses, s.languages, s.services, s.address, s.intake_phone
"""
_NOW = f"""
select {_FIELDS}, b.bed_type, b.total, false as from_current
from shelters s join beds b on b.shelter_id = s.id
where ($1::bool or not s.confidential) and ($2::text[] is null or s.region = any($2::text[]))
order by s.id, b.bed_type
"""
# A bed type's total at the moment is the one its latest event before then stated
# (events hold the absolute state of the types they touch). A shelter registered
# before the moment whose events were pruned (HAVEN_HISTORY_EVENTS) has none: its
# current total stands in, and the caller is told which shelters those are.
_AT = f"""
select {_FIELDS}, b.bed_type, coalesce(h.total, b.total) as total, h.total is null as from_current
from shelters s join beds b on b.shelter_id = s.id
left join lateral (
    select (e.beds -> b.bed_type ->> 'total')::int as total
    from bed_events e
    where e.shelter_id = s.id and e.at < $3 and e.beds ? b.bed_type
    order by e.seq desc limit 1
) h on true
where ($1::bool or not s.confidential) and ($2::text[] is null or s.region = any($2::text[]))
  and s.created_at < $3
order by s.id, b.bed_type
"""


class Registry(msgspec.Struct, frozen=True, kw_only=True):
    shelters: list[tuple[str, NewShelter]]
    """(id, shelter) in id order; `beds` holds the totals at the moment asked for."""
    from_current: list[str]
    """Shelters whose history before the moment is gone: their totals are today's."""


async def registry(
    conn: Executor,
    *,
    confidential: bool,
    regions: Sequence[str] | None = None,
    at: datetime | None = None,
) -> Registry:
    """The shelters (with the confidential ones only when asked), now or at `at`."""
    args: list[Any] = [confidential, list(regions) if regions else None]
    rows = await (conn.fetch(_AT, *args, at) if at is not None else conn.fetch(_NOW, *args))
    grouped: dict[str, dict[str, Any]] = {}
    stale: set[str] = set()
    for r in rows:
        record = grouped.get(r["id"])
        if record is None:
            record = grouped[r["id"]] = {
                "name": r["name"],
                "region": r["region"],
                "lat": r["lat"],
                "lon": r["lon"],
                "confidential": r["confidential"],
                "rules": {
                    "max_children": r["max_children"],
                    "mat_ok": r["mat_ok"],
                    "min_age": r["min_age"],
                    "max_age": r["max_age"],
                    "excluded_offenses": list(r["excluded_offenses"]),
                    "languages": list(r["languages"]),
                },
                "services": list(r["services"]),
                "address": r["address"],
                "intake_phone": r["intake_phone"],
                "beds": {},
            }
        record["beds"][r["bed_type"]] = r["total"]
        if r["from_current"]:
            stale.add(r["id"])
    return Registry(
        shelters=[(i, msgspec.convert(rec, NewShelter)) for i, rec in grouped.items()],
        from_current=sorted(stale),
    )
