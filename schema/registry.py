"""The shelter registry's records, shared by the exchange and its CLI."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from schema.wire import WORD_PATTERN, BedCount, BedType

RegionCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z][A-Z0-9-]{0,15}$")]
Word = Annotated[str, msgspec.Meta(pattern=WORD_PATTERN)]
Language = Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2,3}$")]
Age = Annotated[int, msgspec.Meta(ge=0, le=120)]

Role = Literal["shelter", "planner", "viewer", "admin"]


class Rules(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Who a shelter can take, in exactly the vocabulary of match-problem.md."""

    max_children: Annotated[int, msgspec.Meta(ge=0, le=20)] = 0
    mat_ok: bool = False
    min_age: Age = 18
    max_age: Age | None = None
    excluded_offenses: list[Word] = []
    languages: list[Language] = msgspec.field(default_factory=lambda: ["en"])

    def __post_init__(self) -> None:
        if self.max_age is not None and self.max_age < self.min_age:
            raise ValueError(f"max_age {self.max_age} is below min_age {self.min_age}")


class NewShelter(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A shelter as an operator registers it (CLI options or one import line)."""

    name: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    region: RegionCode
    lat: Annotated[float, msgspec.Meta(ge=-90, le=90)]
    lon: Annotated[float, msgspec.Meta(ge=-180, le=180)]
    beds: Annotated[dict[BedType, BedCount], msgspec.Meta(min_length=1)]
    confidential: bool = False
    rules: Rules = msgspec.field(default_factory=Rules)
    services: list[Word] = []
    address: Annotated[str, msgspec.Meta(min_length=1, max_length=300)] | None = None
    """Released only to the planner of an accepted placement (placements.md)."""
    intake_phone: Annotated[str, msgspec.Meta(pattern=r"^\+?[0-9][0-9 ().-]{5,30}$")] | None = None


class Shelter(msgspec.Struct, frozen=True, kw_only=True):
    """A registered shelter as stored."""

    id: str
    name: str
    region: str
    lat: float
    lon: float
    confidential: bool
    rules: Rules
    services: list[str]
    bed_types: list[str]
    last_seq: int
    last_report_at: str | None


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """Who a valid token speaks for."""

    token_id: int
    role: Role
    shelter_id: str | None = None
    regions: tuple[str, ...] = ()
    """Empty means every region."""
    agency: str | None = None
    """The agency of a planner token (placements.md): she sees its requests only."""

    def sees_region(self, region: str) -> bool:
        return not self.regions or region in self.regions


class TokenInfo(msgspec.Struct, frozen=True, kw_only=True):
    """A token as an admin may see it: never the token itself."""

    id: int
    role: Role
    shelter_id: str | None
    regions: list[str]
    agency: str | None = None
    created_at: str
    revoked_at: str | None
