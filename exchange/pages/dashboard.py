"""The regional dashboard page at `/`: server-rendered HTML, a little plain JavaScript.

Everything the page needs is served by Haven from `exchange/pages/static/` (no CDN, no build
step). Without a session the page is a sign-in form; with one it shows, per region, the
available and total beds by type, the stale count and suppressed regions, as SVG bars
and as a table with the same numbers. `static/dashboard.js` then keeps it live over
`/ws/dashboard`, reconnecting with `since` after any drop; it renders the same markup
as `render_regions` below, and fills the `#degraded` alert while the exchange says its
numbers may be out of date.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from litestar import Request, get
from litestar.response import Redirect, Response
from litestar.types import ControllerRouterHandler

from exchange.access import sessions
from exchange.board import history
from exchange.board import store as board_store
from exchange.board.board import view_of
from exchange.board.hub import encode
from exchange.errors import DB_ERRORS, AuthError
from exchange.pages import i18n, trends
from exchange.pages.explanations import refusal
from exchange.pages.i18n import N_, Translator
from exchange.pages.shell import HEADERS, STATIC, back_to, escape, header, page
from exchange.pages.trends import render_trends
from exchange.pages.words import BED_TYPES, bed_label
from exchange.services import Services, services
from schema.registry import Principal
from schema.wire import Demand, Region, RegionDay, Snapshot

DEGRADED = N_("Numbers may be out of date: Haven cannot reach its database right now.")
"""The alert's text (`static/dashboard.js` gets the same sentence, translated)."""
OFFLINE = N_("Not connected to Haven: these numbers may be out of date. Reconnecting…")
SIGN_IN_HINT = N_(
    "Ask your coordinator for a token: shelters, planners and coordinators each have "
    "their own. It is exchanged once for a session cookie and is not kept in the browser."
)
BAR_W = 160
BAR_H = 14
DEMAND = N_("Women waiting for a bed: {waiting} · offered: {offered} · accepted: {accepted}")
HIDDEN = N_("Hidden: too few shelters report here to show numbers without singling one out.")
UNKNOWN = N_("No shelter here has reported recently: availability is unknown, not zero.")
SCRIPT_MESSAGES = [
    DEGRADED,
    OFFLINE,
    N_("live"),
    N_("connecting…"),
    N_("reconnecting…"),
    N_("updated {minutes} min ago"),
    N_("updated {hours} h ago"),
    N_("no current reports"),
    N_("{n} of {m} shelters reporting"),
    HIDDEN,
    UNKNOWN,
    N_("Bed type"),
    N_("Available"),
    N_("Total"),
    N_("Available and total, on one scale per bed type"),
    N_("{available} available of {total}"),
    N_("Beds in {region}"),
    DEMAND,
    N_("a few"),
]


def render_sign_in(
    error: str | None = None, *, next_page: str = "/", _: Translator | None = None
) -> str:
    _ = _ or Translator("en")
    message = refusal(_, error) if error else ""
    alert = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    body = (
        header(_, _("Sign in"), here=back_to(next_page), role=None) + '<main class="sign-in">'
        f"<p>{escape(_('Bed availability and placements for women leaving prison.'))}</p>"
        f"{alert}"
        '<form method="post" action="/session">'
        f'<input type="hidden" name="next" value="{escape(back_to(next_page))}">'
        f'<label for="token">{escape(_("Access token"))}</label>'
        '<input id="token" name="token" type="password" autocomplete="off" required>'
        f'<button type="submit">{escape(_("Sign in"))}</button></form>'
        f'<p class="hint">{escape(_(SIGN_IN_HINT))}</p></main>'
    )
    return page(_("Haven — sign in"), body, lang=_.lang, styles=("pages.css",))


def ago(as_of: str | None, now: datetime, _: Translator | None = None) -> str:
    """`updated N min ago` in words (the script keeps it current)."""
    _ = _ or Translator("en")
    if as_of is None:
        return _("no current reports")
    then = datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 120:
        return _("updated {minutes} min ago", minutes=minutes)
    return _("updated {hours} h ago", hours=minutes // 60)


def demand_text(_: Translator, d: Demand) -> str:
    """Women waiting in a region; a count hidden from viewers (too small) is "a few"."""

    def count(n: int | None) -> str:
        return _("a few") if n is None else str(n)

    return _(DEMAND, waiting=count(d.open), offered=count(d.offered), accepted=count(d.accepted))


def scales(regions: list[Region]) -> dict[str, int]:
    """Per bed type, the largest total of any region: each type's bars share one scale, so
    a few family rooms are not slivers next to hundreds of single beds."""
    top: dict[str, int] = {}
    for r in regions:
        for bed_type, b in (r.beds or {}).items():
            top[bed_type] = max(top.get(bed_type, 0), b.total)
    return top


def bar(_: Translator, available: int, total: int, top: int) -> str:
    """A bed type's bar: the outlined total, the filled available part."""
    top = max(top, 1)
    wt = max(2, round(BAR_W * total / top)) if total else 0
    wa = round(BAR_W * available / top)
    label = _("{available} available of {total}", available=available, total=total)
    return (
        f'<svg class="bar" width="{BAR_W + 2}" height="{BAR_H + 2}" '
        f'viewBox="0 0 {BAR_W + 2} {BAR_H + 2}" role="img" aria-label="{escape(label)}">'
        f'<rect class="total" x="1" y="1" width="{wt}" height="{BAR_H}"/>'
        f'<rect class="available" x="1" y="1" width="{wa}" height="{BAR_H}"/></svg>'
    )


def render_region(_: Translator, r: Region, top: dict[str, int], now: datetime) -> str:
    """One region: who reports, when, and its beds (or why there are none to show)."""
    key = escape(r.region)
    if r.suppressed:
        return (
            f'<section class="suppressed" data-region="{key}" '
            f'aria-labelledby="r-{key}"><h2 id="r-{key}">{key}</h2><p class="note">'
            f"{escape(_(HIDDEN))}"
            "</p></section>"
        )
    reporting = r.shelters - r.stale
    meta = (
        f'<p class="meta"><span class="reporting">'
        f"{escape(_('{n} of {m} shelters reporting', n=reporting, m=r.shelters))}</span> · "
        f'<span class="ago" data-as-of="{escape(r.as_of or "")}">{escape(ago(r.as_of, now, _))}'
        "</span></p>"
    )
    if r.demand is not None:
        meta += f'<p class="demand">{escape(demand_text(_, r.demand))}</p>'
    if reporting <= 0 or not r.beds:
        body = f'<p class="unknown">{escape(_(UNKNOWN))}</p>'
    else:
        rows = "".join(
            f'<tr data-bed="{escape(t)}"><th scope="row">{escape(bed_label(_, t))}</th>'
            f'<td class="available" data-region="{key}" data-bed="{escape(t)}">{b.available}</td>'
            f'<td class="total" data-region="{key}" data-bed="{escape(t)}">{b.total}</td>'
            f'<td class="chart">{bar(_, b.available, b.total, top.get(t, b.total))}</td></tr>'
            for t, b in sorted(r.beds.items())
        )
        body = (
            f'<table class="beds"><caption class="visually-hidden">'
            f"{escape(_('Beds in {region}', region=r.region))}</caption><thead><tr>"
            f'<th scope="col">{escape(_("Bed type"))}</th>'
            f'<th scope="col" class="num">{escape(_("Available"))}</th>'
            f'<th scope="col" class="num">{escape(_("Total"))}</th>'
            f'<th scope="col"><span class="visually-hidden">'
            f"{escape(_('Available and total, on one scale per bed type'))}</span></th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
    return (
        f'<section class="region" data-region="{key}" aria-labelledby="r-{key}">'
        f'<h2 id="r-{key}">{key}</h2>{meta}{body}</section>'
    )


LEGEND = N_("Bars: the filled part is available, the outline is every bed in service.")


def render_regions(snapshot: Snapshot, now: datetime, _: Translator | None = None) -> str:
    _ = _ or Translator("en")
    top = scales(snapshot.regions)
    regions = "".join(
        render_region(_, r, top, now) for r in sorted(snapshot.regions, key=lambda r: r.region)
    )
    legend = (
        '<p class="legend"><svg width="28" height="14" aria-hidden="true">'
        '<rect class="available" x="1" y="1" width="12" height="12"/>'
        '<rect class="total" x="14" y="1" width="12" height="12"/></svg> '
        f"{escape(_(LEGEND))}</p>"
    )
    return legend + f'<div class="region-list">{regions}</div>'


def render_degraded(degraded: bool, _: Translator | None = None) -> str:
    """The alert region; it is always present so that filling it is announced."""
    _ = _ or Translator("en")
    text = f"<p>{escape(_(DEGRADED))}</p>" if degraded else ""
    return f'<div id="degraded" class="degraded" role="alert">{text}</div>'


def render_dashboard(
    snapshot: Snapshot,
    role: str,
    now: datetime,
    *,
    degraded: bool = False,
    _: Translator | None = None,
    history: dict[str, list[RegionDay]] | None = None,
) -> str:
    _ = _ or Translator("en")
    newest = max((r.as_of for r in snapshot.regions if r.as_of), default=None)
    initial = Snapshot(seq=snapshot.seq, regions=snapshot.regions)
    # JSON inside <script>: only "<" could end the element early.
    data = encode(initial).replace("<", "\\u003c")
    messages = msgspec.json.encode(_.table(SCRIPT_MESSAGES)).decode().replace("<", "\\u003c")
    names = {t: bed_label(_, t) for t in BED_TYPES}
    bed_names = msgspec.json.encode(names).decode().replace("<", "\\u003c")
    status = (
        '<p class="status">'
        f'<span id="updated" data-as-of="{escape(newest or "")}">{escape(ago(newest, now, _))}'
        f'</span> · <span id="link" role="status">{escape(_("connecting…"))}</span></p>'
    )
    body = (
        header(_, _("Beds by region"), here="/", role=role, status=status)
        + render_degraded(degraded, _)
        + f'<main id="regions">{render_regions(snapshot, now, _)}'
        + render_trends(_, history or {}, now.date())
        + "</main>"
        + f'<script type="application/json" id="initial">{data}</script>'
        + f'<script type="application/json" id="messages">{messages}</script>'
        + f'<script type="application/json" id="bed-names">{bed_names}</script>'
    )
    return page(
        _("Haven — beds by region"),
        body,
        lang=_.lang,
        scripts=("dashboard.js",),
        styles=("pages.css", "dashboard.css"),
    )


async def _history(
    app: Services, principal: Principal, snapshot: Snapshot, now: datetime
) -> dict[str, list[RegionDay]]:
    """Each visible region's last days, exactly as `GET /api/regions/{r}/history` shows
    them to this principal (the same store query and the same view rules)."""
    first = now.date() - timedelta(days=trends.DAYS - 1)
    view = view_of(principal)
    out: dict[str, list[RegionDay]] = {}
    async with app.pool.acquire() as conn:
        for r in snapshot.regions:
            rows = await board_store.days(conn, r.region, first)
            out[r.region] = [
                history.shown(row, view, app.settings.min_region_shelters) for row in rows
            ]
    return out


@get("/", include_in_schema=False)
async def index(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """The dashboard for a signed-in browser, else the sign-in form."""
    _ = i18n.translator(request.cookies, request.headers)
    try:
        app = services(request)
        principal = await sessions.resolve(app.pool, request.headers, request.cookies)
        if principal.role == "shelter":
            return Redirect(path="/shelter", status_code=303)
        if principal.role not in sessions.DASHBOARD_ROLES:
            raise AuthError("forbidden_role", "not a dashboard token")
    except AuthError:
        error = request.query_params.get("error")
        next_page = request.query_params.get("next", "/")
        html = render_sign_in(error, next_page=next_page, _=_)
        return Response(html, media_type="text/html", headers=HEADERS)
    except DB_ERRORS:
        html = page(
            _("Haven — unavailable"),
            f'<main class="sign-in">{render_degraded(True, _)}'
            f"<p>{escape(_('Reload this page in a minute.'))}</p></main>",
            lang=_.lang,
            styles=("pages.css",),
        )
        return Response(html, media_type="text/html", headers=HEADERS, status_code=503)
    hub = app.hub
    snapshot = hub.snapshot(principal)
    now = datetime.now(UTC)
    try:
        history = await _history(app, principal, snapshot, now)
    except DB_ERRORS:
        history = {}  # the live numbers still stand; the chart waits for the next load
    html = render_dashboard(
        snapshot, principal.role, now, degraded=hub.degraded, _=_, history=history
    )
    return Response(html, media_type="text/html", headers=HEADERS)


ROUTES: list[ControllerRouterHandler] = [
    index,
    STATIC,
]
