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

from datetime import UTC, datetime
from typing import Any

from litestar import Request, get
from litestar.response import Redirect, Response
from litestar.types import ControllerRouterHandler

from exchange.access import sessions
from exchange.board.hub import encode
from exchange.errors import DB_ERRORS, AuthError
from exchange.pages import i18n
from exchange.pages.explanations import refusal
from exchange.pages.i18n import N_, Translator
from exchange.pages.shell import HEADERS, STATIC, back_to, escape, header, page
from exchange.services import services
from schema.wire import Region, Snapshot

DEGRADED = "Numbers may be out of date: Haven cannot reach its database right now."
"""The alert's text (`static/dashboard.js` has the same sentence)."""

BAR_W = 360
ROW_H = 22
LABEL_W = 150


SIGN_IN_HINT = N_(
    "Ask your coordinator for a token: shelters, planners and coordinators each have "
    "their own. It is exchanged once for a session cookie and is not kept in the browser."
)


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


def ago(as_of: str | None, now: datetime) -> str:
    """`updated N min ago` in words (the script keeps it current)."""
    if as_of is None:
        return "no current reports"
    then = datetime.strptime(as_of, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    minutes = max(0, int((now - then).total_seconds() // 60))
    if minutes < 120:
        return f"updated {minutes} min ago"
    return f"updated {minutes // 60} h ago"


def _rows(regions: list[Region]) -> list[tuple[Region, str | None]]:
    """One row per region and bed type; one row for a suppressed or empty region."""
    rows: list[tuple[Region, str | None]] = []
    for r in regions:
        if r.suppressed or not r.beds:
            rows.append((r, None))
        else:
            rows.extend((r, bed_type) for bed_type in r.beds)
    return rows


def render_chart(regions: list[Region]) -> str:
    rows = _rows(regions)
    top = max((b.total for r in regions for b in (r.beds or {}).values()), default=0) or 1
    height = max(1, len(rows)) * ROW_H
    parts = [
        f'<svg id="chart" role="img" aria-labelledby="chart-title" width="{LABEL_W + BAR_W + 90}" '
        f'height="{height}" viewBox="0 0 {LABEL_W + BAR_W + 90} {height}">',
        '<title id="chart-title">Available and total beds by region and bed type; '
        "the table has the same numbers</title>",
    ]
    for i, (r, bed_type) in enumerate(rows):
        y = i * ROW_H
        label = r.region if bed_type is None else f"{r.region} {bed_type}"
        parts.append(f'<text class="label" x="0" y="{y + 15}">{escape(label)}</text>')
        if bed_type is None:
            note = "suppressed" if r.suppressed else "no beds"
            parts.append(f'<text class="note" x="{LABEL_W}" y="{y + 15}">{note}</text>')
            continue
        b = (r.beds or {})[bed_type]
        wt, wa = round(BAR_W * b.total / top), round(BAR_W * b.available / top)
        parts.append(
            f'<rect class="total" x="{LABEL_W}" y="{y + 3}" width="{wt}" height="{ROW_H - 6}"/>'
            f'<rect class="available" x="{LABEL_W}" y="{y + 3}" width="{wa}" height="{ROW_H - 6}"/>'
            f'<text class="value" x="{LABEL_W + wt + 6}" y="{y + 15}">'
            f"{b.available} / {b.total}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def render_table(regions: list[Region], now: datetime) -> str:
    head = (
        '<table id="table"><caption>Beds by region, from shelters with a current report '
        "(the beds of stale shelters are not counted).</caption><thead><tr>"
        '<th scope="col">Region</th><th scope="col">Bed type</th><th scope="col">Available</th>'
        '<th scope="col">Total</th><th scope="col">Shelters</th><th scope="col">Stale</th>'
        '<th scope="col">Updated</th></tr></thead><tbody>'
    )
    body: list[str] = []
    for r, bed_type in _rows(regions):
        region = f'data-region="{escape(r.region)}"'
        if r.suppressed:
            body.append(
                f'<tr class="suppressed" {region}><th scope="row">{escape(r.region)}</th>'
                '<td colspan="6">suppressed: too few current shelters to show</td></tr>'
            )
            continue
        stale_cls = ' class="stale"' if r.stale else ""
        tail = (
            f'<td class="shelters">{r.shelters}</td><td{stale_cls}>{r.stale}</td>'
            f'<td class="ago" data-as-of="{escape(r.as_of or "")}">'
            f"{escape(ago(r.as_of, now))}</td></tr>"
        )
        if bed_type is None:
            body.append(
                f'<tr {region}><th scope="row">{escape(r.region)}</th>'
                f'<td colspan="3">no beds</td>{tail}'
            )
            continue
        b = (r.beds or {})[bed_type]
        cell = f'{region} data-bed="{escape(bed_type)}"'
        body.append(
            f'<tr {region}><th scope="row">{escape(r.region)}</th><td>{escape(bed_type)}</td>'
            f'<td class="available" {cell}>{b.available}</td>'
            f'<td class="total" {cell}>{b.total}</td>{tail}'
        )
    return head + "".join(body) + "</tbody></table>"


def render_regions(snapshot: Snapshot, now: datetime) -> str:
    return (
        f'<figure class="chart">{render_chart(snapshot.regions)}</figure>'
        f"{render_table(snapshot.regions, now)}"
    )


def render_degraded(degraded: bool) -> str:
    """The alert region; it is always present so that filling it is announced."""
    text = f"<p>{escape(DEGRADED)}</p>" if degraded else ""
    return f'<div id="degraded" class="degraded" role="alert">{text}</div>'


def render_dashboard(
    snapshot: Snapshot, role: str, now: datetime, *, degraded: bool = False
) -> str:
    newest = max((r.as_of for r in snapshot.regions if r.as_of), default=None)
    initial = Snapshot(seq=snapshot.seq, regions=snapshot.regions)
    # JSON inside <script>: only "<" could end the element early.
    data = encode(initial).replace("<", "\\u003c")
    body = (
        '<header><h1>Haven: beds by region</h1><p class="status">'
        f'<span id="updated" data-as-of="{escape(newest or "")}">{escape(ago(newest, now))}</span>'
        ' · <span id="link" role="status">connecting…</span>'
        f" · signed in as {escape(role)}</p>"
        '<form method="post" action="/session/end"><button type="submit">Sign out</button></form>'
        "</header>"
        f"{render_degraded(degraded)}"
        f'<main id="regions">{render_regions(snapshot, now)}</main>'
        f'<script type="application/json" id="initial">{data}</script>'
    )
    return page("Haven — beds by region", body, script=True)


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
            "Haven — unavailable",
            f'<main class="sign-in">{render_degraded(True)}'
            "<p>Reload this page in a minute.</p></main>",
            script=False,
        )
        return Response(html, media_type="text/html", headers=HEADERS, status_code=503)
    hub = app.hub
    html = render_dashboard(
        hub.snapshot(principal), principal.role, datetime.now(UTC), degraded=hub.degraded
    )
    return Response(html, media_type="text/html", headers=HEADERS)


ROUTES: list[ControllerRouterHandler] = [
    index,
    STATIC,
]
