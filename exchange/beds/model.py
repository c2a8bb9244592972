"""Bed state and bed events as values: no database, no sockets.

Every change to bed state is an event numbered by one global clock (`beds.store` owns
that numbering). A shelter's state is what the report core reads and returns.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import msgspec

EventKind = Literal["report", "shelter", "hold"]


class BedState(msgspec.Struct, frozen=True, kw_only=True):
    total: int
    occupied: int
    out_of_service: int
    held: int = 0

    @property
    def available(self) -> int:
        """Beds Haven may still offer. Holds are never taken back when a report lowers
        capacity (placements invariant 2), so this is 0, not negative, when more beds
        are held than are free; `overheld` says by how much."""
        return max(0, self.total - self.occupied - self.out_of_service - self.held)

    @property
    def overheld(self) -> int:
        """Beds held beyond those free (a report lowered capacity under live offers)."""
        return max(0, self.occupied + self.out_of_service + self.held - self.total)


class NewEvent(msgspec.Struct, frozen=True, kw_only=True):
    shelter_id: str
    kind: EventKind
    beds: dict[str, BedState]
    report_seq: int | None = None


class Event(msgspec.Struct, frozen=True, kw_only=True):
    """A committed event, as dashboards read it (with the shelter's region and flags)."""

    seq: int
    at: datetime
    shelter_id: str
    region: str
    confidential: bool
    kind: EventKind
    beds: dict[str, BedState]
    report_seq: int | None


class ShelterState(msgspec.Struct, frozen=True, kw_only=True):
    """What the exchange knows of one shelter: its last applied seq and its beds."""

    shelter_id: str
    last_seq: int
    beds: dict[str, BedState]


class BoardShelter(msgspec.Struct, frozen=True, kw_only=True):
    """One shelter as the live board loads it."""

    id: str
    region: str
    confidential: bool
    reported_at: datetime | None
    beds: dict[str, BedState]
    reported: set[str] = msgspec.field(default_factory=set)
    """The bed types a report of this shelter ever named (registered totals of the others
    are no statement of vacancy)."""


class BoardLoad(msgspec.Struct, frozen=True, kw_only=True):
    """Everything the live board needs, read at one consistent instant."""

    head: int
    """The last event sequence number handed out."""
    oldest: int | None
    """The oldest event still kept (None when the log is empty)."""
    shelters: list[BoardShelter]
    changed: dict[str, int]
    """Per region, the seq of its newest event."""


class ShelterCounts(msgspec.Struct, frozen=True, kw_only=True):
    """One shelter's own figures, as its operator's page shows them."""

    id: str
    name: str
    last_seq: int
    reported_at: datetime | None
    beds: dict[str, BedState]
    reported: set[str] = msgspec.field(default_factory=set)
    """The bed types its reports have named; the others' counts are only registered."""
