"""A region's daily history as a view may see it, without a database.

The figures are stored whole (`board.store`); each answer applies the live board's rules
of what a dashboard may reveal, with the same functions: a day whose contributing shelters
were too few is suppressed for that view, and for viewers small demand counts are null.
"""

from __future__ import annotations

import datetime as dt

import msgspec

from exchange.board.board import View, demand_shown, suppressed
from schema.wire import BedTotals, Demand, RegionDay


class DayRow(msgspec.Struct, frozen=True, kw_only=True):
    """One region's figures on one day, as stored (every view's rules apply after)."""

    region: str
    day: dt.date
    shelters: int
    contributing: int
    confidential: bool
    beds: dict[str, dict[str, int]]
    open: int
    offered: int
    accepted: int
    unplaced: int


def shown(row: DayRow, view: View, min_shelters: int) -> RegionDay:
    """The day as `view` may see it."""
    day = row.day.isoformat()
    if suppressed(view, row.contributing, row.confidential, min_shelters):
        return RegionDay(day=day, suppressed=True)
    demand = Demand(
        open=row.open, offered=row.offered, accepted=row.accepted, unplaced=row.unplaced
    )
    return RegionDay(
        day=day,
        suppressed=False,
        shelters=row.shelters,
        contributing=row.contributing,
        beds={
            t: BedTotals(total=b["total"], available=b["available"])
            for t, b in sorted(row.beds.items())
        },
        demand=demand_shown(demand, view, min_shelters),
    )
