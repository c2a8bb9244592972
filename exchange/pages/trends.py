"""The dashboard's last 30 days per region: supply and demand as a small SVG chart, and the
same numbers in a table.

The days come from the same functions as `GET /api/regions/{region}/history`
(`board.store.days`, then `board.history.shown` for the reader's view), so the chart shows
exactly what the API would: a day suppressed for her view is a gap, and a count hidden
from viewers is a gap in its line and "a few" in the table. Supply is the beds available
that day (all types), demand the women waiting for a bed (requests open or offered).
"""

from __future__ import annotations

import datetime as dt

from exchange.pages.i18n import N_, Translator
from exchange.pages.shell import escape
from schema.wire import RegionDay

DAYS = 30
W, H, PAD = 300, 96, 4
LABELS = 16
"""Room under the plot for the first and last day's dates."""
TITLE = N_("{region}, last {days} days: beds available and women waiting for a bed")


def supply(day: RegionDay) -> int | None:
    if day.suppressed or day.beds is None:
        return None
    return sum(b.available for b in day.beds.values())


def demand(day: RegionDay) -> int | None:
    d = day.demand
    if day.suppressed or d is None or d.open is None or d.offered is None:
        return None
    return d.open + d.offered


def _lines(values: list[int | None], top: int) -> list[str]:
    """Polyline point lists, broken where a day has no value."""
    step = (W - 2 * PAD) / max(1, len(values) - 1)
    runs: list[list[str]] = [[]]
    for i, v in enumerate(values):
        if v is None:
            if runs[-1]:
                runs.append([])
            continue
        x = PAD + i * step
        y = H - PAD - (H - 2 * PAD) * v / top
        runs[-1].append(f"{x:.1f},{y:.1f}")
    # A lone day is drawn as a tiny segment so it still shows.
    return [" ".join(r if len(r) > 1 else [*r, r[0]]) for r in runs if r]


def _count(_: Translator, n: int | None) -> str:
    return _("a few") if n is None else str(n)


def render_trend(_: Translator, region: str, days: list[RegionDay], today: dt.date) -> str:
    """One region's chart and table (days not recorded are gaps)."""
    key = escape(region)
    by_day = {d.day: d for d in days}
    calendar = [(today - dt.timedelta(days=DAYS - 1 - i)).isoformat() for i in range(DAYS)]
    recorded = [by_day.get(day) for day in calendar]
    if not any(recorded):
        return (
            f'<section class="trend" aria-labelledby="t-{key}"><h3 id="t-{key}">{key}</h3>'
            f"<p>{escape(_('No days recorded yet.'))}</p></section>"
        )
    have = [d for d in recorded if d is not None]
    supplies = [None if d is None else supply(d) for d in recorded]
    demands = [None if d is None else demand(d) for d in recorded]
    top = max([v for v in supplies + demands if v is not None] + [1])
    title = _(TITLE, region=region, days=DAYS)
    lines = "".join(
        f'<polyline class="supply" points="{p}"/>' for p in _lines(supplies, top)
    ) + "".join(f'<polyline class="demand" points="{p}"/>' for p in _lines(demands, top))
    chart = (
        f'<svg class="trend" viewBox="0 0 {W} {H + LABELS}" role="img" '
        f'aria-labelledby="t-{key}-title"><title id="t-{key}-title">{escape(title)}</title>'
        f'<line class="axis" x1="{PAD}" y1="{H - PAD}" x2="{W - PAD}" y2="{H - PAD}"/>'
        f'<text class="top" x="{PAD}" y="12">{top}</text>'
        f'<text class="day" x="{PAD}" y="{H + LABELS - 3}">{calendar[0]}</text>'
        f'<text class="day" x="{W - PAD}" y="{H + LABELS - 3}" text-anchor="end">'
        f"{calendar[-1]}</text>{lines}</svg>"
    )
    rows = "".join(
        f'<tr><th scope="row">{escape(d.day)}</th>'
        + (
            f'<td colspan="5">{escape(_("hidden"))}</td>'
            if d.suppressed
            else f"<td>{_count(_, supply(d)) if d.beds is not None else ''}</td>"
            + "".join(
                f"<td>{escape(_count(_, getattr(d.demand, f) if d.demand else 0))}</td>"
                for f in ("open", "offered", "accepted", "unplaced")
            )
        )
        + "</tr>"
        for d in have
    )
    heads = "".join(
        f'<th scope="col">{escape(_(h))}</th>'
        for h in (
            N_("Day"),
            N_("Beds available"),
            N_("Waiting, no offer"),
            N_("Offered"),
            N_("Accepted"),
            N_("Unplaced"),
        )
    )
    return (
        f'<section class="trend" aria-labelledby="t-{key}"><h3 id="t-{key}">{key}</h3>'
        f"{chart}<details><summary>{escape(_('The numbers'))}</summary>"
        '<div class="table-scroll" tabindex="0" role="region" '
        f'aria-labelledby="t-{key}"><table class="trend"><thead><tr>{heads}</tr></thead>'
        f"<tbody>{rows}</tbody></table></div></details></section>"
    )


LEGEND = N_("Solid line: beds available. Dashed line: women waiting for a bed.")


def render_trends(_: Translator, history: dict[str, list[RegionDay]], today: dt.date) -> str:
    """Every region's last 30 days, under one heading."""
    if not history:
        return ""
    charts = "".join(render_trend(_, r, days, today) for r, days in sorted(history.items()))
    return (
        '<section class="trends" aria-labelledby="trends-h">'
        f'<h2 id="trends-h">{escape(_("Supply and demand, last 30 days"))}</h2>'
        f'<p class="legend">{escape(_(LEGEND))}</p><div class="trend-list">{charts}</div>'
        "</section>"
    )
