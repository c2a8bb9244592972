"""The matcher's problem and plan files, per `shared/spec/match-problem.md` (version 1).

A problem is inbound: every field the spec names is required, a field the project adds
(`Request.avoid_shelters`) is optional, unknown fields are refused, and the constraints
live in the types. Cross-record rules (unique ids, known shelters) are checked by
`matching.load`, since a type cannot see its siblings.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

Id = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Word = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Lat = Annotated[float, msgspec.Meta(ge=-90, le=90)]
Lon = Annotated[float, msgspec.Meta(ge=-180, le=180)]
Km = Annotated[float, msgspec.Meta(ge=0)]
Count = Annotated[int, msgspec.Meta(ge=0)]

Reason = Literal["no_bed_of_type", "not_eligible", "out_of_range", "safety_exclusion", "capacity"]
REASONS: tuple[Reason, ...] = (
    "no_bed_of_type",
    "not_eligible",
    "out_of_range",
    "safety_exclusion",
    "capacity",
)
"""The reason codes in the order the spec evaluates them."""


class Point(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    lat: Lat
    lon: Lon


class ShelterRules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Rule 2 as the shelter states it."""

    max_children: Count
    mat_ok: bool
    min_age: Count
    max_age: Count | None
    excluded_offenses: list[Word]
    languages: list[Word]


class Shelter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Id
    lat: Lat
    lon: Lon
    region: str
    beds: dict[Word, Count]
    """Free beds the matcher may fill now; a type not listed has 0."""
    rules: ShelterRules
    services: list[Word]
    flagged_contacts: list[Id]


class Request(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, omit_defaults=True
):
    """One woman's request. `avoid_shelters` is a project extension of the spec.

    `avoid_shelters` (optional, default empty) lists shelters that already declined her
    (placements invariant 3): the matcher never assigns her to one, and such a shelter
    counts as a `safety_exclusion` in her reason chain. An id naming no shelter of the
    problem is allowed (the shelter may have gone stale). Left empty, it is not encoded,
    so a problem without it reads and writes exactly as before.
    """

    id: Id
    weight: Annotated[int, msgspec.Meta(ge=1)]
    origin: Point
    home: Point | None
    bed_type: Word
    children: Count
    age: Count
    mat: bool
    offenses: list[Word]
    language: Word | None
    needs: list[Word]
    max_km: Km
    contacts: list[Id]
    avoid_km: Km
    exclude_with: list[Id]
    avoid_shelters: list[Id] = []


class Contact(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A flagged contact's last known location, where known."""

    id: Id
    lat: Lat | None = None
    lon: Lon | None = None


class Resident(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    id: Id
    shelter: Id
    contacts: list[Id]
    exclude_with: list[Id] = []


class Problem(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: Literal[1]
    shelters: list[Shelter]
    requests: list[Request]
    contacts: list[Contact] = []
    residents: list[Resident] = []


Status = Literal["optimal", "feasible"]


class Objective(msgspec.Struct, frozen=True, kw_only=True):
    placed_weight: int
    total_km: int


class Bound(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    placed_weight: int
    """A proven upper bound on the placed weight."""
    total_km: int | None = None
    """A proven lower bound on the total km of any plan placing `placed_weight` (an
    extension of format version 1): given only when the plan places that much, so the
    first level is proven and this bounds the second."""


class Assignment(msgspec.Struct, frozen=True, kw_only=True):
    request: str
    shelter: str
    bed_type: str
    km: int
    alternatives: int | None = None
    """Other shelters that passed rules 1–6 for her alone and had not declined her
    (an extension of the spec)."""


class Unplaced(msgspec.Struct, frozen=True, kw_only=True):
    request: str
    reason: Reason
    detail: str


class Plan(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A matcher's answer. Inbound plans (to the checker) may carry extra fields."""

    version: Literal[1]
    status: Status
    objective: Objective
    bound: Bound
    assignments: list[Assignment]
    unplaced: list[Unplaced]
    solve_seconds: float
    moved: int | None = None
    """With a previous plan: how many of its placements this plan changed (an extension)."""
    cut_by_time_limit: bool = False
    """True when the wall-clock limit, not a deterministic budget, ended some step (an
    extension, written only when true). Such a plan still keeps every rule, but a re-run
    may differ; any other plan is reproduced bit for bit, `solve_seconds` aside."""
