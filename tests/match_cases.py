"""Small hand-made match problems for the matcher tests (plain dicts, then decoded)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import msgspec
import numpy as np

from bench.instances import generate
from matching import candidates, conflicts
from matching.load import decode_problem
from schema.problem import Problem

EXAMPLES = Path(__file__).resolve().parent / "examples"
"""A copy of ../shared/spec/examples, so the suite runs from any checkout;
test_match_solve checks it against the shared contract whenever that is present."""
SHARED_EXAMPLES = Path(__file__).resolve().parents[2] / "shared" / "spec" / "examples"

SHELTER: dict[str, Any] = {
    "id": "s1",
    "lat": 41.50,
    "lon": -81.70,
    "region": "OH",
    "beds": {"single": 1, "family": 1},
    "rules": {
        "max_children": 2,
        "mat_ok": True,
        "min_age": 18,
        "max_age": None,
        "excluded_offenses": ["arson"],
        "languages": ["en", "es"],
    },
    "services": ["trafficking", "sud"],
    "flagged_contacts": [],
}

REQUEST: dict[str, Any] = {
    "id": "r1",
    "weight": 3,
    "origin": {"lat": 41.40, "lon": -81.60},
    "home": {"lat": 41.45, "lon": -81.65},
    "bed_type": "single",
    "children": 0,
    "age": 30,
    "mat": False,
    "offenses": [],
    "language": None,
    "needs": [],
    "max_km": 100,
    "contacts": [],
    "avoid_km": 0,
    "exclude_with": [],
}


def shelter(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(SHELTER)
    rules = changes.pop("rules", {})
    out.update(changes)
    out["rules"].update(rules)
    return out


def request(**changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(REQUEST)
    out.update(changes)
    return out


def problem(
    shelters: list[dict[str, Any]],
    requests: list[dict[str, Any]],
    contacts: list[dict[str, Any]] | None = None,
    residents: list[dict[str, Any]] | None = None,
) -> Problem:
    data = {
        "version": 1,
        "shelters": shelters,
        "requests": requests,
        "contacts": contacts or [],
        "residents": residents or [],
    }
    return decode_problem(msgspec.json.encode(data))


def generated(
    seed: int, scarcity: float, contacts: float, shelters: int = 12, requests: int = 90
) -> tuple[candidates.Candidates, conflicts.Cliques, np.ndarray]:
    """A benchmark-generator problem in Ohio, as the solver's parts see it: candidate
    arcs, rule-7 cliques and the weight of each arc."""
    data = generate(shelters, requests, "OH", seed=seed, scarcity=scarcity, contacts=contacts)
    p = decode_problem(msgspec.json.encode(data))
    cands = candidates.build(p)
    weight = np.array([r.weight for r in p.requests], dtype=np.int64)
    return cands, conflicts.cliques(cands, conflicts.groups(p)), weight[cands.req]
