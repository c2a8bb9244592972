"""What a mapping from another format made: the shelters, what it left out and why, and
which of Haven's defaults it had to apply because the source did not say."""

from __future__ import annotations

from collections import Counter

import msgspec

from schema.registry import NewShelter


class Skipped(msgspec.Struct, frozen=True, kw_only=True):
    """A record that is valid in its format but is not a shelter Haven can place in."""

    record: str
    reason: str


class Outcome(msgspec.Struct, frozen=True, kw_only=True):
    shelters: list[NewShelter]
    origins: list[str]
    """Where each shelter came from, in the same order (`service s-1 at location l-1`)."""
    skipped: list[Skipped]
    defaults: dict[str, int]
    """Each default applied, and to how many shelters."""


class Builder:
    """Collects an outcome while a mapping walks its records."""

    def __init__(self) -> None:
        self.shelters: list[NewShelter] = []
        self.origins: list[str] = []
        self.skipped: list[Skipped] = []
        self.defaults: Counter[str] = Counter()

    def add(self, shelter: NewShelter, origin: str, defaults: list[str]) -> None:
        self.shelters.append(shelter)
        self.origins.append(origin)
        self.defaults.update(defaults)

    def skip(self, record: str, reason: str) -> None:
        self.skipped.append(Skipped(record=record, reason=reason))

    def outcome(self) -> Outcome:
        return Outcome(
            shelters=self.shelters,
            origins=self.origins,
            skipped=self.skipped,
            defaults=dict(sorted(self.defaults.items())),
        )
