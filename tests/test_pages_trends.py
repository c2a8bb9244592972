"""The dashboard's 30-day chart: the history API's days, gaps where a day is missing or
hidden, the same numbers in the table."""

from __future__ import annotations

import datetime as dt
import re

from exchange.pages import trends
from exchange.pages.i18n import Translator
from schema.wire import BedTotals, Demand, RegionDay

TODAY = dt.date(2026, 12, 1)


def day(back: int, available: int, waiting: int | None, *, hidden: bool = False) -> RegionDay:
    when = (TODAY - dt.timedelta(days=back)).isoformat()
    if hidden:
        return RegionDay(day=when, suppressed=True)
    return RegionDay(
        day=when,
        suppressed=False,
        shelters=3,
        contributing=3,
        beds={
            "single": BedTotals(total=20, available=available - 1),
            "family": BedTotals(total=4, available=1),
        },
        demand=Demand(open=waiting, offered=None if waiting is None else 1, accepted=2, unplaced=0),
    )


def test_supply_and_demand_are_lines_with_gaps_and_a_table() -> None:
    """Supply sums available beds, demand adds open and offered; a missing, hidden or
    viewer-hidden day breaks its line; the table says the same, hidden counts as a few."""
    days = [day(5, 9, 4), day(4, 7, 6), day(2, 5, None), day(1, 0, 0, hidden=True), day(0, 3, 8)]
    html = trends.render_trend(Translator("en"), "OH", days, TODAY)
    supply = re.findall(r'<polyline class="supply" points="([^"]+)"/>', html)
    demand = re.findall(r'<polyline class="demand" points="([^"]+)"/>', html)
    assert len(supply) == 3  # days -5..-4, day -2 alone, day 0 alone (gaps at -3 and -1)
    assert len(demand) == 2  # -5..-4, then 0 (day -2 hides its demand from viewers)
    assert '<title id="t-OH-title">OH, last 30 days: beds available and women waiting' in html
    rows = re.findall(r"<tr><th scope=\"row\">([\d-]+)</th>(.*?)</tr>", html)
    assert [r[0] for r in rows] == [d.day for d in days]
    assert rows[0][1] == "<td>9</td><td>4</td><td>1</td><td>2</td><td>0</td>"
    assert rows[2][1] == "<td>5</td><td>a few</td><td>a few</td><td>2</td><td>0</td>"
    assert rows[3][1] == '<td colspan="5">hidden</td>'
    assert ">9</text>" in html  # the scale's top


def test_a_region_without_recorded_days_says_so() -> None:
    """No days yet: a sentence, not an empty chart; in Spanish too."""
    assert "No days recorded yet." in trends.render_trend(Translator("en"), "WV", [], TODAY)
    assert "Aún no hay días" in trends.render_trend(Translator("es"), "WV", [], TODAY)
