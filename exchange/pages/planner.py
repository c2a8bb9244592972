"""The release planner's page at `/planner`: her agency's requests, a new one, a list.

Signed in with a planner token. Everything goes through the functions the API uses
(`placements.requests`): a request from the form or a CSV line is the API's `NewRequest`
(`pages.forms`), checked by the same rules and refused with the same field at fault,
shown next to that field in her language; the list is the audited read; the placement
(shelter, address, intake phone) is shown only after one deliberate click, a POST, which
is the audited placement read. A CSV upload is one transaction: all lines or none, and
the first bad line is named.

Contact tokens are explained on the page, which can also derive one in the browser (Web
Crypto HMAC-SHA-256 of the person's identity under the agency's passphrase: neither ever
leaves the browser; their inputs have no `name` and sit outside every form).

The release-day board (`pages.readiness`: the API's `GET /api/readiness`, at-risk women
first, each reason in a sentence) carries a plain pickup form per woman, the API's
`PUT /api/requests/{id}/pickup`.

`static/planner.js` keeps the list and the board current. It listens on `/ws/planner`
(the session cookie signs it in), which says that one of the agency's requests changed
without saying who she is; it then gets both again from `/planner/live` (an audited read,
made only on a change). When the channel cannot be had it falls back to polling
`/planner/live` with the version it has (a count and a time, no request data, not
audited), which re-reads only when the version moved.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.datastructures import UploadFile
from litestar.params import FromPath
from litestar.response import Redirect, Response

from exchange.errors import DB_ERRORS, HavenError
from exchange.pages import forms, i18n
from exchange.pages import readiness as ready
from exchange.pages.explanations import explain, refusal
from exchange.pages.i18n import N_, Translator
from exchange.pages.pickups import pickup_text
from exchange.pages.shell import (
    escape,
    form_allowed,
    header,
    html_response,
    live_refusal,
    page,
    session_principal,
    signed_in,
    to_sign_in,
    unavailable,
)
from exchange.pages.words import bed_label, status_label
from exchange.placements import offers, requests, store
from exchange.placements.requests import InvalidRequest
from exchange.services import Services, services
from schema.placements import Placement, ReadinessRow, RequestView
from schema.registry import Principal

HERE = "/planner"
OPTIONAL_FROM = 8
"""The form's fields after the first eight (those the API requires) fold away."""
LABELS = {
    "ref": N_("Reference"),
    "region": N_("Region"),
    "release_date": N_("Release date"),
    "origin_lat": N_("Released from: latitude"),
    "origin_lon": N_("Released from: longitude"),
    "bed_type": N_("Bed type"),
    "age": N_("Age"),
    "max_km": N_("Farthest shelter (km)"),
    "children": N_("Children with her"),
    "mat": N_("Takes medication for opioid use (MAT)"),
    "language": N_("Language (if not English)"),
    "needs": N_("Services she needs"),
    "offenses": N_("Offence categories"),
    "urgency": N_("Urgency"),
    "contacts": N_("Contact tokens, one per line"),
    "avoid_km": N_("Keep this far from those contacts (km)"),
    "exclude_with": N_("Not at the same shelter as (request ids)"),
    "home_lat": N_("Home area: latitude"),
    "home_lon": N_("Home area: longitude"),
}
SCRIPT_MESSAGES = [
    N_("Your browser cannot make tokens here: it needs a secure (https) page."),
    N_("Enter the passphrase and the person's identity first."),
    N_("Token made. It is not sent anywhere until you add it and send the request."),
    N_("Added to contacts."),
    N_("The list changed."),
    N_("Not connected to Haven: this page may be out of date. Reconnecting…"),
    N_("Haven cannot reach its database right now: this page may be out of date."),
    *ready.SCRIPT_MESSAGES,
]


# -- rendering ------------------------------------------------------------------------------


def render_list(_: Translator, views: list[RequestView]) -> str:
    """Her agency's requests, newest first, with status and offer."""
    if not views:
        return f'<p class="none">{escape(_("No requests yet."))}</p>'
    labels = [
        escape(_(h))
        for h in (
            N_("Reference"),
            N_("Release"),
            N_("Bed"),
            N_("Status"),
            N_("Offer"),
            N_("Actions"),
        )
    ]
    head = "".join(f'<th scope="col">{label}</th>' for label in labels)
    rows = []
    for v in sorted(views, key=lambda v: v.id, reverse=True):
        key = escape(v.id)
        offer = ""
        if v.offer is not None and v.offer.status == "offered":
            offer = _(
                "a shelter in {region}, {km} km away, has until {when} to answer",
                region=v.offer.region,
                km=v.offer.km,
                when=_.moment(v.offer.expires_at),
            )
        elif v.offer is not None:
            offer = _("a shelter in {region}, {km} km away", region=v.offer.region, km=v.offer.km)
        actions = []
        if v.status in ("accepted", "arrived"):
            actions.append(
                f'<form method="post" action="/planner/requests/{key}/placement">'
                '<button type="submit" class="primary" '
                f'aria-describedby="{key}-ref placement-note">'
                f"{escape(_('Show where she goes'))}</button></form>"
            )
        if v.status in ("open", "offered", "accepted"):
            actions.append(
                f'<details class="withdraw"><summary>{escape(_("Withdraw…"))}</summary>'
                f"<p>{escape(_('A bed held for her is released.'))}</p>"
                f'<form method="post" action="/planner/requests/{key}/withdraw">'
                f'<button type="submit" aria-describedby="{key}-ref">'
                f"{escape(_('Withdraw this request'))}</button></form></details>"
            )
        rows.append(
            f'<tr data-request="{key}"><th scope="row" id="{key}-ref">{escape(v.ref)}'
            f'<br><span class="hint">{key}</span></th>'
            f'<td data-label="{labels[1]}">{escape(v.release_date.isoformat())}</td>'
            f'<td data-label="{labels[2]}">{escape(bed_label(_, v.bed_type))}</td>'
            f'<td data-label="{labels[3]}"><span class="status status-{escape(v.status)}" '
            f'data-status="{escape(v.status)}">{escape(status_label(_, v.status))}'
            "</span></td>"
            f'<td data-label="{labels[4]}">{escape(offer)}</td><td>{"".join(actions)}</td></tr>'
        )
    return (
        '<div class="table-scroll" tabindex="0" role="region" '
        f'aria-labelledby="requests-h"><table class="requests"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>"
        f'<p class="hint" id="placement-note">{escape(_(PLACEMENT_NOTE))}</p>'
    )


READY_HELP = N_(
    "Women of your agency released in the next {n} days, those at risk first. Arrange "
    "who meets each one at the gate here."
)
PLACEMENT_NOTE = N_(
    "Where she goes is shown only when you ask, and every look is recorded in the audit log."
)


def render_placement(_: Translator, found: Placement) -> str:
    rows = [
        (_("Shelter"), found.name),
        (_("Address"), found.address or _("not registered: call the shelter")),
        (_("Intake phone"), found.intake_phone or _("not registered")),
        (_("Bed"), bed_label(_, found.bed_type)),
        (_("Release date"), found.release_date.isoformat()),
    ]
    items = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows)
    pickup = (
        pickup_text(_, found.pickup)
        if found.pickup is not None
        else _("No pickup at the gate arranged yet.")
    )

    return (
        '<section class="placement" aria-labelledby="placement-h">'
        f'<h2 id="placement-h" tabindex="-1">{escape(_("Where she goes"))}</h2><dl>{items}</dl>'
        f'<p class="pickup">{escape(pickup)}</p>'
        f'<p class="hint">{escape(_("This look was recorded in the audit log."))}</p></section>'
    )


def _field(
    _: Translator, name: str, values: dict[str, str], errors: dict[str, str], control: str
) -> str:
    err = errors.get(name)
    ids = [f"f-{name}-hint"] + ([f"f-{name}-error"] if err else [])
    aria = f'aria-describedby="{" ".join(ids)}"' + (' aria-invalid="true"' if err else "")
    hint = next(h for n, _r, h in forms.COLUMNS if n == name)
    return (
        f'<div class="field{" wide" if name == "contacts" else ""}">'
        f'<label for="f-{name}">{escape(_(LABELS[name]))}</label>'
        + control.format(id=f"f-{name}", name=name, aria=aria, value=escape(values.get(name, "")))
        + f'<span class="hint" id="f-{name}-hint">{escape(_(hint))}</span>'
        + (f'<span class="field-error" id="f-{name}-error">{escape(err)}</span>' if err else "")
        + "</div>"
    )


def render_form(
    _: Translator, principal: Principal, values: dict[str, str], errors: dict[str, str]
) -> str:
    text = '<input id="{id}" name="{name}" type="text" value="{value}" {aria}>'
    number = (
        '<input id="{id}" name="{name}" type="text" inputmode="decimal" value="{value}" {aria}>'
    )
    whole = '<input id="{id}" name="{name}" type="text" inputmode="numeric" value="{value}" {aria}>'
    required = ' required aria-required="true"'
    regions = principal.regions
    if regions:
        options = "".join(
            f"<option{' selected' if values.get('region') == r else ''}>{escape(r)}</option>"
            for r in regions
        )
        region = (
            '<select id="{id}" name="{name}" {aria}>'
            + options.replace("{", "{{").replace("}", "}}")
            + "</select>"
        )
    else:
        region = text.replace("{aria}", "{aria}" + required)
    urgency = "".join(
        f'<option value="{n}"{" selected" if values.get("urgency", "3") == str(n) else ""}>'
        f"{n}</option>"
        for n in range(1, 6)
    )
    checked = " checked" if values.get("mat", "").lower() in ("on", "yes", "true", "1") else ""
    fields = [
        _field(_, "ref", values, errors, text.replace("{aria}", "{aria}" + required)),
        _field(_, "region", values, errors, region),
        _field(
            _,
            "release_date",
            values,
            errors,
            '<input id="{id}" name="{name}" type="date" value="{value}" {aria}' + required + ">",
        ),
        _field(_, "origin_lat", values, errors, number.replace("{aria}", "{aria}" + required)),
        _field(_, "origin_lon", values, errors, number.replace("{aria}", "{aria}" + required)),
        _field(
            _,
            "bed_type",
            values,
            errors,
            '<input id="{id}" name="{name}" type="text" list="bed-types" value="{value}" {aria}'
            + required
            + ">",
        ),
        _field(_, "age", values, errors, whole.replace("{aria}", "{aria}" + required)),
        _field(_, "max_km", values, errors, number.replace("{aria}", "{aria}" + required)),
        _field(_, "children", values, errors, whole),
        _field(
            _,
            "urgency",
            values,
            errors,
            '<select id="{id}" name="{name}" {aria}>' + urgency + "</select>",
        ),
        _field(_, "language", values, errors, text),
        _field(_, "needs", values, errors, text),
        _field(_, "offenses", values, errors, text),
        _field(
            _,
            "mat",
            values,
            errors,
            f'<input id="{{id}}" name="{{name}}" type="checkbox" value="yes"{checked} {{aria}}>',
        ),
        _field(
            _,
            "contacts",
            values,
            errors,
            '<textarea id="{id}" name="{name}" rows="3" autocomplete="off" spellcheck="false" '
            "{aria}>{value}</textarea>",
        ),
        _field(_, "avoid_km", values, errors, number),
        _field(_, "exclude_with", values, errors, text),
        _field(_, "home_lat", values, errors, number),
        _field(_, "home_lon", values, errors, number),
    ]
    optional = fields[OPTIONAL_FROM:]
    fields = fields[:OPTIONAL_FROM]
    opened = " open" if set(errors) & set(forms.NAMES[OPTIONAL_FROM:]) else ""
    fields.append(
        f'<details class="more"{opened}><summary>{escape(_("More about her (optional)"))}'
        f'</summary><div class="more-fields">{"".join(optional)}</div></details>'
    )
    top = errors.get("")
    return (
        '<section aria-labelledby="new-h"><h2 id="new-h">'
        f"{escape(_('Ask for a bed for one woman'))}</h2>"
        + (f'<p class="field-error" role="alert">{escape(top)}</p>' if top else "")
        + '<form class="request" method="post" action="/planner/requests" novalidate>'
        + "".join(fields)
        + '<datalist id="bed-types"><option value="single"><option value="family">'
        '<option value="accessible"></datalist>'
        f'<div class="actions"><button type="submit" class="primary">{escape(_("Send request"))}'
        "</button></div></form></section>"
    )


CONTACTS_HELP = N_(
    "Contact tokens keep her away from people who put her at risk (a trafficker, a "
    "recruiter) without Haven ever learning who they are. Your agency turns each person's "
    "identity into a token with a passphrase only your agency knows: the same person always "
    "gives the same token, and nobody without the passphrase can turn a token back into a "
    "name. Write the identity the same way every time: full name and date of birth, e.g. "
    "“maria lopez 1990-04-02” (letters are lower-cased and spaces collapsed before hashing)."
)
CONTACTS_SHELL = N_(
    "Without this page, the same token comes from any computer with OpenSSL (type the "
    "identity already lower-cased):"
)


def render_tokens(_: Translator) -> str:
    command = (
        "printf '%s' 'maria lopez 1990-04-02' | openssl dgst -sha256 -hmac 'PASSPHRASE' -binary "
        "| base64 | tr '+/' '-_' | tr -d '='"
    )
    return (
        '<section aria-labelledby="tokens-h"><h2 id="tokens-h">'
        f"{escape(_('Contact tokens'))}</h2><p>{escape(_(CONTACTS_HELP))}</p>"
        '<div class="derive" id="derive" hidden>'
        f'<label for="derive-key">{escape(_("Your agency passphrase (never sent)"))}</label>'
        '<input id="derive-key" type="password" autocomplete="off">'
        f'<label for="derive-who">{escape(_("The person’s identity (never sent)"))}</label>'
        '<input id="derive-who" type="text" autocomplete="off" spellcheck="false">'
        f'<button type="button" id="derive-make">{escape(_("Make token"))}</button>'
        f'<p><span class="visually-hidden">{escape(_("Token"))}: </span>'
        '<output id="derive-out" for="derive-key derive-who"></output></p>'
        f'<button type="button" id="derive-add" disabled>{escape(_("Add to contacts"))}</button>'
        '<p id="derive-status" role="status"></p></div>'
        f"<p>{escape(_(CONTACTS_SHELL))}</p><pre><code>{escape(command)}</code></pre></section>"
    )


CSV_HELP = N_(
    "Upload a release list as CSV (UTF-8), one woman per line, with a header line naming "
    "the columns below. Either every line becomes a request, or none does and the first "
    "line that cannot be used is named."
)


def render_upload(_: Translator) -> str:
    rows = "".join(
        f'<tr><th scope="row"><code>{escape(n)}</code></th>'
        f"<td>{escape(_('yes') if required else _('no'))}</td><td>{escape(_(h))}</td></tr>"
        for n, required, h in forms.COLUMNS
    )
    example = (
        "ref,region,release_date,origin_lat,origin_lon,bed_type,age,max_km,children,needs\n"
        "OH-DRC-4471,OH,2026-12-11,39.96,-83.0,family,34,150,2,trafficking sud"
    )
    return (
        '<section aria-labelledby="upload-h"><h2 id="upload-h">'
        f"{escape(_('Upload a release list'))}</h2><p>{escape(_(CSV_HELP))}</p>"
        '<form method="post" action="/planner/upload" enctype="multipart/form-data">'
        f'<label for="csv-file">{escape(_("CSV file"))}</label> '
        '<input id="csv-file" name="file" type="file" accept=".csv,text/csv" required> '
        f'<button type="submit">{escape(_("Import"))}</button></form>'
        f"<details><summary>{escape(_('Columns'))}</summary>"
        '<div class="table-scroll" tabindex="0" role="region" aria-labelledby="upload-h">'
        f'<table class="columns"><thead><tr><th scope="col">{escape(_("Column"))}</th>'
        f'<th scope="col">{escape(_("Required"))}</th><th scope="col">{escape(_("Meaning"))}</th>'
        f"</tr></thead><tbody>{rows}</tbody></table></div>"
        f"<p>{escape(_('Example'))}:</p><pre><code>{escape(example)}</code></pre></details>"
        "</section>"
    )


def error_summary(
    _: Translator,
    errors: dict[str, str],
    pickup_for: str = "",
    pickup_error: tuple[str, str] | None = None,
) -> str:
    """Each refused field as a link to it: on a phone the form is far below the alert."""
    links = [
        (f"f-{name}", f"{_(LABELS[name])}: {message}")
        for name, message in errors.items()
        if name in LABELS
    ]
    if pickup_error is not None and pickup_for:
        links.append((f"{pickup_for}-{pickup_error[0]}", pickup_error[1]))
    if not links:
        return ""
    items = "".join(f'<li><a href="#{escape(i)}">{escape(text)}</a></li>' for i, text in links)
    return f'<ul class="error-summary">{items}</ul>'


def render_page(
    _: Translator,
    principal: Principal,
    views: list[RequestView],
    version: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    alert: str = "",
    placement: Placement | None = None,
    board: list[ReadinessRow] | None = None,
    feed_seq: int = 0,
    pickup_for: str = "",
    pickup_values: dict[str, str] | None = None,
    pickup_error: tuple[str, str] | None = None,
) -> str:
    messages = msgspec.json.encode(_.table(SCRIPT_MESSAGES)).decode().replace("<", "\\u003c")
    body = (
        header(
            _,
            _("Requests of {agency}", agency=principal.agency or ""),
            here=HERE,
            role="planner",
        )
        + f'<main class="planner" data-version="{escape(version)}" data-seq="{feed_seq}">'
        + f'<div id="notice" role="status">{f"<p>{escape(notice)}</p>" if notice else ""}</div>'
        + f'<div id="alert" role="alert">{f"<p>{escape(alert)}</p>" if alert else ""}'
        + error_summary(_, errors or {}, pickup_for, pickup_error)
        + "</div>"
        + '<div id="offline" role="alert"></div>'
        + (render_placement(_, placement) if placement else "")
        + '<section aria-labelledby="ready-h">'
        + f'<h2 id="ready-h">{escape(_("Release days: who needs attention"))}</h2>'
        + f'<p class="hint">{escape(_(READY_HELP, n=ready.BOARD_DAYS))}</p>'
        + '<div id="readiness">'
        + ready.render_board(
            _, board or [], pickup_for=pickup_for, values=pickup_values, error=pickup_error
        )
        + "</div></section>"
        + '<section aria-labelledby="requests-h">'
        + f'<h2 id="requests-h">{escape(_("Your agency’s requests"))}</h2>'
        + f'<div id="request-list">{render_list(_, views)}</div></section>'
        + render_form(_, principal, values or {"urgency": "3"}, errors or {})
        + render_tokens(_)
        + render_upload(_)
        + "</main>"
        + f'<script type="application/json" id="messages">{messages}</script>'
    )
    return page(
        _("Haven — requests"), body, lang=_.lang, scripts=("planner.js",), styles=("pages.css",)
    )


# -- handlers -------------------------------------------------------------------------------


async def _read(
    app: Services, principal: Principal
) -> tuple[str, list[RequestView], list[ReadinessRow]]:
    """The list's version, the list, and the release-day board (both reads audited)."""
    async with app.pool.acquire() as conn:
        version = await store.agency_version(conn, requests.agency_of(principal))
        async with conn.transaction():
            views = await requests.views(conn, principal)
        # Outside the list's transaction, as the API reads it: its audit record commits by
        # itself, holding the audit chain's head for that statement only.
        board = await requests.readiness_board(
            conn,
            principal,
            now=dt.datetime.now(dt.UTC),
            days=ready.BOARD_DAYS,
            policy=requests.policy(app.settings),
        )
    return version, views, board.requests


async def _show(
    request: Request[Any, Any, Any], principal: Principal, status_code: int = 200, **extra: Any
) -> Response[str]:
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    # The channel's position first: a change after it (and so after this read) reaches the
    # page's script as a change, never lost between the read and the connection.
    feed_seq = app.planners.picture.seq
    version, views, board = await _read(app, principal)
    document = render_page(_, principal, views, version, board=board, feed_seq=feed_seq, **extra)
    return html_response(document, status_code)


async def _wake(app: Services) -> None:
    """Tell every process's planner channel of a committed change (as the API does)."""
    with contextlib.suppress(*DB_ERRORS):
        await store.notify(app.pool)


@get(HERE, include_in_schema=False)
async def planner_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """The planner's page, or the sign-in form for a browser not signed in as a planner."""
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None:
            return to_sign_in(HERE)
        query = request.query_params
        notice = ""
        if query.get("created"):
            notice = _("Request {id} sent.", id=query["created"][:16])
        elif query.get("imported"):
            notice = _("{n} requests imported.", n=query["imported"][:6])
        elif query.get("withdrawn"):
            notice = _("Request {id} withdrawn.", id=query["withdrawn"][:16])
        elif query.get("pickup"):
            notice = _("Pickup for request {id} saved.", id=query["pickup"][:16])
        error = query.get("error")
        return await _show(
            request, principal, notice=notice, alert=refusal(_, error) if error else ""
        )
    except DB_ERRORS:
        return unavailable(_)


def _problem(_: Translator, field: str, message: str) -> dict[str, str]:
    column = forms.input_of(field)
    if column in forms.NAMES:
        return {column: explain(_, message)}
    return {"": f"{field}: {explain(_, message)}"}


@post("/planner/requests", include_in_schema=False, status_code=303)
async def create(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """One request from the form: the API's type, rules and store, or the form again with
    each problem next to its field."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        form = await request.form()
        values = {n: str(form.get(n) or "") for n in forms.NAMES}
        parsed = forms.parse(values)
        if isinstance(parsed, forms.Problem):
            errors = _problem(_, parsed.field, parsed.message)
            return await _show(
                request,
                principal,
                400,
                values=values,
                errors=errors,
                alert=_(N_("Some fields need attention.")),
            )
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                request_id = await requests.create(conn, principal, parsed, today=dt.date.today())
            await _wake(app)
        except InvalidRequest as exc:
            errors = _problem(_, exc.field, exc.reason)
            return await _show(
                request,
                principal,
                400,
                values=values,
                errors=errors,
                alert=_(N_("Some fields need attention.")),
            )
        except HavenError as exc:
            field = (
                "ref"
                if exc.code == "duplicate_ref"
                else "region"
                if exc.code == "forbidden_region"
                else ""
            )
            return await _show(
                request,
                principal,
                exc.status,
                values=values,
                errors={field: refusal(_, exc.code, exc.message)},
                alert=refusal(_, exc.code, exc.message),
            )
        return Redirect(path=f"{HERE}?created={request_id}", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


@post("/planner/upload", include_in_schema=False, status_code=303)
async def upload(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """A release list: every line a request in one transaction, or none and the first bad
    line named."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        form = await request.form()
        file = form.get("file")
        data = await file.read() if isinstance(file, UploadFile) else b""
        found = forms.read_csv(data)
        problem: forms.Problem | None = found if isinstance(found, forms.Problem) else None
        created = 0
        if not isinstance(found, forms.Problem):
            try:
                async with app.pool.acquire() as conn, conn.transaction():
                    for line, new in found:
                        try:
                            await requests.create(conn, principal, new, today=dt.date.today())
                        except InvalidRequest as exc:
                            raise _Line(line, exc.field, exc.reason) from None
                        except HavenError as exc:
                            raise _Line(
                                line,
                                forms.input_of("ref" if exc.code == "duplicate_ref" else "region"),
                                refusal(_, exc.code, exc.message),
                            ) from None
                        created += 1
                await _wake(app)
            except _Line as bad:
                problem = forms.Problem(field=bad.field, message=bad.message, line=bad.line)
        if problem is not None:
            where = _("line {n}", n=problem.line) if problem.line else ""
            what = problem.column if problem.column != "file" else _("the file")
            alert = _(
                "Nothing was imported. {where}: {field} {problem}",
                where=where,
                field=what,
                problem=explain(_, problem.message),
            )
            return await _show(request, principal, 400, alert=alert)
        return Redirect(path=f"{HERE}?imported={created}", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


class _Line(Exception):
    def __init__(self, line: int, field: str, message: str) -> None:
        super().__init__(message)
        self.line, self.field, self.message = line, field, message


@post("/planner/requests/{request_id:str}/placement", include_in_schema=False)
async def show_placement(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> Response[str] | Redirect:
    """The deliberate click: the audited placement read, shown on the page (never in a URL)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        try:
            async with app.pool.acquire() as conn, conn.transaction():
                found = await requests.placement(conn, principal, request_id)
        except HavenError as exc:
            return Redirect(path=f"{HERE}?error={exc.code}", status_code=303)
        return await _show(request, principal, placement=found)
    except DB_ERRORS:
        return unavailable(_)


@post("/planner/requests/{request_id:str}/withdraw", include_in_schema=False, status_code=303)
async def withdraw(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> Response[str] | Redirect:
    """Withdraw a request and release its hold (`offers.withdraw`, as the API's DELETE)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        try:
            async with app.pool.acquire() as conn:
                await offers.withdraw(
                    conn,
                    request_id,
                    agency=requests.agency_of(principal),
                    token_id=principal.token_id,
                )
        except HavenError as exc:
            return Redirect(path=f"{HERE}?error={exc.code}", status_code=303)
        await _wake(app)
        return Redirect(path=f"{HERE}?withdrawn={request_id}", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


@post("/planner/requests/{request_id:str}/pickup", include_in_schema=False, status_code=303)
async def pickup(
    request: Request[Any, Any, Any], request_id: FromPath[str]
) -> Response[str] | Redirect:
    """Arrange or change her pickup at the gate (`requests.arrange_pickup`, as the API's
    PUT), or the page again with the problem next to the field at fault."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "planner")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        form = await request.form()
        values = {k: str(form.get(k) or "") for k in ("who", "date", "time", "offset")}
        parsed = ready.parse_pickup(values)
        error: tuple[str, str] | None = None
        if isinstance(parsed, tuple):
            error = (parsed[0], _(parsed[1]))
        else:
            try:
                async with app.pool.acquire() as conn, conn.transaction():
                    await requests.arrange_pickup(conn, principal, request_id, parsed)
            except InvalidRequest as exc:
                error = ("date" if exc.field == "at" else exc.field, explain(_, exc.reason))
            except HavenError as exc:
                return Redirect(path=f"{HERE}?error={exc.code}", status_code=303)
        if error is not None:
            return await _show(
                request,
                principal,
                400,
                alert=_(N_("The pickup was not saved: see the form below.")),
                pickup_for=request_id,
                pickup_values=values,
                pickup_error=error,
            )
        await _wake(app)
        return Redirect(path=f"{HERE}?pickup={request_id}#ready-h", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


class Live(msgspec.Struct, frozen=True, kw_only=True):
    version: str
    html: str | None
    """The list again (an audited read), only when the version moved or `changed` says
    the planner channel told of a change."""
    board: str | None = None
    """The release-day board again, with the list."""


@get("/planner/live", include_in_schema=False)
async def live(request: Request[Any, Any, Any]) -> Response[Any]:
    """The list's version; the list and the board only when they changed since `v` (or
    `changed=1`: the planner channel said so; a pickup or an at-risk reason moves no
    version)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await session_principal(request)
        if principal is None or principal.role != "planner":
            return live_refusal(principal)
        if request.query_params.get("changed") != "1":
            async with app.pool.acquire() as conn:
                version = await store.agency_version(conn, requests.agency_of(principal))
            if version == request.query_params.get("v"):
                return Response(
                    Live(version=version, html=None), headers={"cache-control": "no-store"}
                )
        version, views, board = await _read(app, principal)
    except DB_ERRORS:
        return Response({"code": "unavailable"}, status_code=503)
    return Response(
        Live(version=version, html=render_list(_, views), board=ready.render_board(_, board)),
        headers={"cache-control": "no-store"},
    )


ROUTES = [planner_page, create, upload, show_placement, withdraw, pickup, live]
