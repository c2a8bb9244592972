"""The release-day board on the planner's page, and its pickup form.

The board is the API's (`GET /api/readiness`, `requests.readiness_board`: audited, sorted
most at risk first); this module only says it in the reader's language: each woman's
release in days, her status, why she is at risk in a sentence, her pickup at the gate,
and a plain form to arrange or change that pickup (`PUT /api/requests/{id}/pickup`'s
`NewPickup`, checked by the same rules).

A page cannot know the reader's time zone without a script: without one, the pickup's
day and time are read and shown in UTC, and say so; `planner.js` fills in the reader's
own offset (`offset`, minutes east of UTC) and shows her local time instead.
"""

from __future__ import annotations

import datetime as dt
import re

import msgspec

from exchange.pages.i18n import N_, Translator
from exchange.pages.pickups import BY, pickup_text
from exchange.pages.shell import escape
from exchange.pages.words import status_label
from schema.placements import NewPickup, ReadinessRow

REASONS = {
    "no_show": N_("She did not arrive at the shelter that accepted her."),
    "no_bed": N_("No shelter has accepted her yet."),
    "offer_expiring": N_("Her offer expires soon and the shelter has not answered."),
    "no_pickup": N_("Nobody is arranged to meet her at the gate."),
    "pickup_flagged": N_(
        "The person meeting her is neither the shelter nor your agency: check who it is."
    ),
}
LIVE = ("open", "offered", "accepted")
"""Requests whose pickup can still be arranged."""
BOARD_DAYS = 14
SCRIPT_MESSAGES = [N_("your computer’s time (UTC{offset})")]

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME = re.compile(r"^(?P<h>[01]?\d|2[0-3])[:.](?P<m>[0-5]\d)$")
_OFFSET = re.compile(r"^[+-]?\d{1,3}$")
_PICKUP = msgspec.json.Decoder(NewPickup)


def released(_: Translator, days_left: int) -> str:
    if days_left == 0:
        return _("released today")
    if days_left == 1:
        return _("released tomorrow")
    if days_left == -1:
        return _("released yesterday")
    if days_left > 1:
        return _("released in {n} days", n=days_left)
    return _("released {n} days ago", n=-days_left)


def parse_pickup(values: dict[str, str]) -> NewPickup | tuple[str, str]:
    """The pickup form as the API's `NewPickup`, or (field, message) for what is wrong.

    The day and time are read in the reader's `offset` (minutes east of UTC; 0 without a
    script), so `check_pickup` sees the day she wrote."""
    day, time, offset = (values.get(k, "").strip() for k in ("date", "time", "offset"))
    if values.get("who") not in BY:
        return "who", N_("choose who meets her")
    if not _DATE.match(day):
        return "date", N_("must be a date, like 2026-12-11")
    found = _TIME.match(time)
    if not found:
        return "time", N_("must be a time, like 09:30")
    minutes = int(offset) if _OFFSET.match(offset) else 0
    if abs(minutes) > 14 * 60:
        minutes = 0
    try:
        date = dt.date.fromisoformat(day)
    except ValueError:
        return "date", N_("must be a date, like 2026-12-11")
    at = dt.datetime(
        date.year,
        date.month,
        date.day,
        int(found["h"]),
        int(found["m"]),
        tzinfo=dt.timezone(dt.timedelta(minutes=minutes)),
    )
    return _PICKUP.decode(msgspec.json.encode({"who": values["who"], "at": at.isoformat()}))


def render_pickup_form(
    _: Translator, row: ReadinessRow, values: dict[str, str] | None, error: tuple[str, str] | None
) -> str:
    """Arrange or change her pickup: who, day, time (UTC until the script says otherwise)."""
    key = escape(row.request)
    at = row.pickup.at if row.pickup else ""
    shown = values or {
        "who": row.pickup.who if row.pickup else "",
        "date": at[:10] if at else row.release_date.isoformat(),
        "time": at[11:16] if at else "",
    }
    field, problem = error or ("", "")

    def described(name: str) -> str:
        ids = f"{key}-{name}-error" if field == name else ""
        if name == "time":
            ids = f"{key}-time-zone {ids}".strip()
        invalid = ' aria-invalid="true"' if field == name else ""
        return (f' aria-describedby="{ids}"' if ids else "") + invalid

    def problem_of(name: str) -> str:
        return (
            f'<span class="field-error" id="{key}-{name}-error">{escape(problem)}</span>'
            if field == name
            else ""
        )

    options = "".join(
        f'<option value="{code}"{" selected" if shown.get("who") == code else ""}>'
        f"{escape(_(label))}</option>"
        for code, label in BY.items()
    )
    choose = "" if shown.get("who") in BY else f'<option value="">{escape(_("Choose…"))}</option>'
    summary = _("Change the pickup…") if row.pickup else _("Arrange the pickup…")
    return (
        f'<details class="pickup-form"{" open" if error else ""}>'
        f"<summary>{escape(summary)}</summary>"
        f'<form method="post" action="/planner/requests/{key}/pickup" novalidate '
        f'data-at="{escape(at)}">'
        '<input type="hidden" name="offset" value="0">'
        f'<div class="field"><label for="{key}-who">{escape(_("Who meets her at the gate"))}'
        f'</label><select id="{key}-who" name="who"{described("who")}>{choose}{options}</select>'
        f"{problem_of('who')}</div>"
        f'<div class="field"><label for="{key}-date">{escape(_("Day"))}</label>'
        f'<input id="{key}-date" name="date" type="date" value="{escape(shown.get("date", ""))}"'
        f"{described('date')}>{problem_of('date')}</div>"
        f'<div class="field"><label for="{key}-time">{escape(_("Time"))}</label>'
        f'<input id="{key}-time" name="time" type="time" value="{escape(shown.get("time", ""))}"'
        f"{described('time')}>"
        f'<span class="hint" id="{key}-time-zone">UTC</span>{problem_of("time")}</div>'
        f'<button type="submit" aria-describedby="{key}-name">{escape(_("Save the pickup"))}'
        "</button></form></details>"
    )


def render_row(
    _: Translator,
    row: ReadinessRow,
    values: dict[str, str] | None = None,
    error: tuple[str, str] | None = None,
) -> str:
    key = escape(row.request)
    risky = bool(row.at_risk)
    reasons = (
        '<ul class="reasons">'
        + "".join(
            f'<li data-reason="{escape(r)}">{escape(_(REASONS[r]) if r in REASONS else r)}</li>'
            for r in row.at_risk
        )
        + "</ul>"
        if risky
        else f'<p class="ok">{escape(_("Nothing needs doing now."))}</p>'
    )
    pickup = pickup_text(_, row.pickup) if row.pickup else _("No pickup at the gate arranged yet.")
    badge = f'<span class="risk-badge">{escape(_("At risk"))}</span> ' if risky else ""
    return (
        f'<li class="ready{" at-risk" if risky else ""}" data-ready="{key}" '
        f'data-risk="{escape(" ".join(row.at_risk))}">'
        f'<h3 id="{key}-name">{badge}{escape(row.ref or row.request)} '
        f'<span class="hint">{key}</span></h3>'
        f"<p>{escape(row.release_date.isoformat())}, {escape(released(_, row.days_left))} · "
        f'<span class="status status-{escape(row.status)}" data-status="{escape(row.status)}">'
        f"{escape(status_label(_, row.status))}</span></p>"
        f"{reasons}"
        f'<p class="pickup">{escape(pickup)}</p>'
        + (render_pickup_form(_, row, values, error) if row.status in LIVE else "")
        + "</li>"
    )


def render_board(
    _: Translator,
    rows: list[ReadinessRow],
    *,
    days: int = BOARD_DAYS,
    pickup_for: str = "",
    values: dict[str, str] | None = None,
    error: tuple[str, str] | None = None,
) -> str:
    """The board as the API sorted it (most at risk first), one card per woman; the row
    `pickup_for` keeps what was typed in its form and shows `error` next to its field."""
    if not rows:
        return (
            f'<p class="none">{escape(_("Nobody is released in the next {n} days.", n=days))}</p>'
        )
    risky = sum(1 for r in rows if r.at_risk)
    summary = (
        _("{n} of {total} need attention.", n=risky, total=len(rows))
        if risky
        else _("Everyone released in the next {n} days is ready.", n=days)
    )
    cards = "".join(
        render_row(_, r, values, error) if r.request == pickup_for else render_row(_, r)
        for r in rows
    )
    return f'<p class="risk-summary">{escape(summary)}</p><ul class="readiness">{cards}</ul>'
