"""The shelter operator's page at `/shelter`: her counts, her offers, on a phone.

Signed in with her shelter's token (a session cookie, as the dashboard). Per bed type the
counts in large type, `−`/`+` for occupied and out of service, one `Save`; `Still
accurate` restates the counts she sees (freshness keeps her beds offered); the age of the
last report; open offers with `Accept`, `Decline` (with a reason) and `Arrived`, and on
accepted ones the pickup at the gate her agency arranged.

Without JavaScript every button is a form post: `−`/`+` come back with the count changed
and not yet saved, `Save` saves. `static/operator.js` makes `−`/`+` instant and keeps the
offers and counts current (`/shelter/live`). Updating one count is two taps (`+`, `Save`).

Reports go through the ingest writer as `Unnumbered` reports `after` the seq the page
showed: the exchange numbers them under the shelter's lock, and a report made elsewhere
in between is never overwritten (`counts_changed`). Decisions go through `offers.act`,
as the API's and the websocket's do.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import msgspec
from litestar import Request, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Response

from exchange.beds import report as core
from exchange.beds import store as beds
from exchange.beds.model import ShelterCounts
from exchange.errors import DB_ERRORS, HavenError, Unavailable
from exchange.pages import i18n
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
from exchange.pages.words import bed_label
from exchange.placements import offers, store
from exchange.services import Services, services
from schema.placements import Decision
from schema.registry import Principal
from schema.wire import Ack, Error, Offer

HERE = "/shelter"
COUNTED = ("occupied", "out_of_service")
REASONS = (
    ("full", N_("No bed free after all")),
    ("needs", N_("We cannot meet her needs")),
    ("safety", N_("A safety concern")),
    ("other", N_("Another reason")),
)
DONE = {
    "accepted": N_("Offer accepted. Her bed stays held until she arrives."),
    "declined": N_("Offer declined. Haven will not offer her to you again."),
    "arrived": N_("Marked arrived. The held bed is now an occupied bed."),
}
UNREPORTED = N_("Not reported yet: Haven counts none of these beds until you save their counts.")
SCRIPT_MESSAGES = [
    N_("Not saved yet: tap Save."),
    N_("A new offer arrived."),
    N_("Last report {minutes} min ago"),
    N_("Last report {hours} h ago"),
]
_STEP = re.compile(
    r"^(?P<bed>[a-z][a-z0-9_]{0,31})\.(?P<field>occupied|out_of_service)\.(?P<by>[+-]1)$"
)
_FIELD_AT = re.compile(r"^beds\.(?P<bed>[a-z][a-z0-9_]{0,31})(?:\.(?P<field>\w+))?$")

Draft = dict[str, dict[str, str]]
"""The counts as the form holds them: bed type → field → what was typed."""


def age(_: Translator, reported_at: dt.datetime | None, now: dt.datetime) -> str:
    if reported_at is None:
        return _("No report yet")
    minutes = max(0, int((now - reported_at).total_seconds() // 60))
    if minutes < 120:
        return _("Last report {minutes} min ago", minutes=minutes)
    return _("Last report {hours} h ago", hours=minutes // 60)


def draft_of(counts: ShelterCounts) -> Draft:
    return {
        t: {
            "total": str(b.total),
            "occupied": str(b.occupied),
            "out_of_service": str(b.out_of_service),
        }
        for t, b in counts.beds.items()
    }


# -- rendering ------------------------------------------------------------------------------


def render_counts(
    _: Translator, counts: ShelterCounts, draft: Draft, errors: dict[str, str], after: int
) -> str:
    """The counts form: one fieldset per bed type, one Save."""
    parts = [
        '<form id="counts" method="post" action="/shelter/beds" novalidate>'
        f'<input type="hidden" name="after" value="{after}">'
        # The form's first submit button is what Enter in a field presses: make it Save.
        '<button type="submit" name="step" value="save" class="default-submit" '
        f'tabindex="-1" aria-hidden="true">{escape(_("Save"))}</button>'
    ]
    for bed_type, state in counts.beds.items():
        values = draft.get(bed_type, {})
        key = escape(bed_type)
        problem = errors.get(bed_type)
        parts.append(
            f'<fieldset class="bedtype" data-bed="{key}"><legend>{escape(bed_label(_, bed_type))}'
            "</legend>"
            f'<p class="free"><span class="free-count">{state.available}</span> '
            f"{escape(_('free of {total}', total=state.total))}"
            + (
                f" · {escape(_('{held} held for placements', held=state.held))}"
                if state.held
                else ""
            )
            + "</p>"
        )
        if bed_type not in counts.reported and counts.reported_at is not None:
            parts.append(f'<p class="unreported">{escape(_(UNREPORTED))}</p>')
        if problem:
            parts.append(f'<p class="field-error" id="{key}-error">{escape(problem)}</p>')
        for field, label in (("occupied", _("Occupied")), ("out_of_service", _("Out of service"))):
            name = f"{bed_type}.{field}"
            ident = f"{key}-{field}"
            err = errors.get(name)
            described = f' aria-describedby="{ident}-error" aria-invalid="true"' if err else ""
            parts.append(
                f'<div class="count"><label for="{ident}">{escape(label)}</label>'
                '<div class="stepper">'
                f'<button type="submit" name="step" value="{key}.{field}.-1" class="step" '
                f'aria-label="{escape(_("{what}: one fewer", what=label))}">−</button>'
                f'<input id="{ident}" name="{escape(name)}" type="number" inputmode="numeric" '
                f'min="0" max="10000" value="{escape(values.get(field, ""))}" class="big"'
                f"{described}>"
                f'<button type="submit" name="step" value="{key}.{field}.+1" class="step" '
                f'aria-label="{escape(_("{what}: one more", what=label))}">+</button>'
                "</div>"
                + (f'<p class="field-error" id="{ident}-error">{escape(err)}</p>' if err else "")
                + "</div>"
            )
        ident = f"{key}-total"
        err = errors.get(f"{bed_type}.total")
        described = f' aria-describedby="{ident}-error" aria-invalid="true"' if err else ""
        parts.append(
            f'<div class="count total"><label for="{ident}">'
            f"{escape(_('Beds in all, out of service included'))}</label>"
            f'<input id="{ident}" name="{key}.total" type="number" inputmode="numeric" min="0" '
            f'max="10000" value="{escape(values.get("total", ""))}"{described}>'
            + (f'<p class="field-error" id="{ident}-error">{escape(err)}</p>' if err else "")
            + "</div></fieldset>"
        )
    parts.append(
        '<div class="savebar"><p id="unsaved" role="status"></p>'
        f'<button type="submit" name="step" value="save" class="primary">{escape(_("Save"))}'
        "</button></div></form>"
    )
    return "".join(parts)


def render_offer(_: Translator, offer: Offer) -> str:
    facts = [_("Age {age}", age=offer.age)]
    if offer.children:
        facts.append(_("With {n} children", n=offer.children))
    if offer.mat:
        facts.append(_("On medication for opioid use (MAT)"))
    if offer.language:
        facts.append(_("Language: {language}", language=offer.language))
    if offer.needs:
        facts.append(_("Needs: {needs}", needs=", ".join(offer.needs)))
    key = escape(offer.offer)
    title = _(
        "{bed} for a woman released {date}",
        bed=bed_label(_, offer.bed_type),
        date=offer.release_date,
    )
    head = (
        f'<li class="offer" data-offer="{key}" data-status="{escape(offer.status)}">'
        f'<h3 id="{key}-title">{escape(title)}</h3>'
        f'<ul class="facts">{"".join(f"<li>{escape(f)}</li>" for f in facts)}</ul>'
    )
    if offer.status == "offered":
        reasons = "".join(
            f'<option value="{code}">{escape(_(label))}</option>' for code, label in REASONS
        )
        body = (
            f'<p class="deadline">{escape(_("Answer by {when}", when=_.moment(offer.expires_at)))}'
            "</p>"
            f'<div class="decide"><form method="post" action="/shelter/offers/{key}/accept">'
            f'<button type="submit" class="primary" aria-describedby="{key}-title">'
            f"{escape(_('Accept'))}</button></form>"
            # Declining is final (Haven never offers her here again): a second, deliberate step.
            f'<details class="decline"><summary>{escape(_("Decline…"))}</summary>'
            f'<form method="post" action="/shelter/offers/{key}/decline">'
            f'<label for="{key}-reason">{escape(_("Reason"))}</label>'
            f'<select id="{key}-reason" name="reason">{reasons}</select>'
            f'<button type="submit" aria-describedby="{key}-title">'
            f"{escape(_('Decline this offer'))}</button></form></details></div>"
        )
    else:
        pickup = (
            f'<p class="pickup">{escape(pickup_text(_, offer.pickup))}</p>'
            if offer.pickup is not None
            else f'<p class="pickup">{escape(_("No pickup at the gate arranged yet."))}</p>'
        )
        body = (
            f'<p class="accepted">{escape(_("Accepted: her bed is held until she arrives."))}</p>'
            + pickup
            + f'<form method="post" action="/shelter/offers/{key}/arrived">'
            f'<button type="submit" class="primary" aria-describedby="{key}-title">'
            f"{escape(_('She arrived'))}</button></form>"
        )
    return head + body + "</li>"


def render_offers(_: Translator, found: list[Offer]) -> str:
    if not found:
        return f'<p class="none">{escape(_("No open offers."))}</p>'
    return f'<ul class="offers">{"".join(render_offer(_, o) for o in found)}</ul>'


def render_page(
    _: Translator,
    counts: ShelterCounts,
    found: list[Offer],
    *,
    now: dt.datetime,
    stale_after: dt.timedelta,
    draft: Draft | None = None,
    errors: dict[str, str] | None = None,
    notice: str = "",
    alert: str = "",
    after: int | None = None,
) -> str:
    stale = counts.reported_at is None or now - counts.reported_at > stale_after
    warning = (
        f'<p class="stale">{escape(_("Your beds are not offered to planners until you report."))}'
        "</p>"
        if stale
        else ""
    )
    reported = counts.reported_at.strftime("%Y-%m-%dT%H:%M:%SZ") if counts.reported_at else ""
    seen = counts.last_seq if after is None else after
    messages = msgspec.json.encode(_.table(SCRIPT_MESSAGES)).decode().replace("<", "\\u003c")
    body = (
        header(_, counts.name, here=HERE, role="shelter")
        + f'<main class="operator" data-stale-after="{int(stale_after.total_seconds())}">'
        + f'<div id="notice" role="status">{f"<p>{escape(notice)}</p>" if notice else ""}</div>'
        + f'<div id="alert" role="alert">{f"<p>{escape(alert)}</p>" if alert else ""}</div>'
        + '<section class="beds" aria-labelledby="beds-h">'
        + f'<h2 id="beds-h">{escape(_("Your beds"))}</h2>'
        + '<div class="freshness">'
        + f'<p id="age" data-reported-at="{reported}">{escape(age(_, counts.reported_at, now))}</p>'
        + warning
        + '<form method="post" action="/shelter/still-accurate">'
        + f'<input type="hidden" name="after" value="{seen}">'
        + f'<button type="submit" aria-describedby="still-hint">{escape(_("Still accurate"))}'
        + "</button>"
        + f'<span id="still-hint" class="hint">{escape(_("sends the same counts again"))}</span>'
        + "</form></div>"
        + render_counts(_, counts, draft or draft_of(counts), errors or {}, seen)
        + "</section>"
        + '<section class="offers" aria-labelledby="offers-h">'
        + f'<h2 id="offers-h">{escape(_("Offers"))}</h2>'
        + f'<div id="offer-list">{render_offers(_, found)}</div></section></main>'
        + f'<script type="application/json" id="messages">{messages}</script>'
    )
    return page(
        _("Haven — your beds"),
        body,
        lang=_.lang,
        scripts=("operator.js",),
        styles=("pages.css",),
    )


# -- handlers -------------------------------------------------------------------------------


async def _state(app: Services, shelter_id: str) -> tuple[ShelterCounts, list[Offer]]:
    async with app.pool.acquire() as conn:
        counts = await beds.shelter_counts(conn, shelter_id)
        if counts is None:
            raise HavenError("unknown_shelter", f"shelter {shelter_id} is not registered")
        return counts, await store.shelter_offers(conn, shelter_id)


async def _show(
    request: Request[Any, Any, Any], principal: Principal, status_code: int = 200, **extra: Any
) -> Response[str]:
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    assert principal.shelter_id is not None
    counts, found = await _state(app, principal.shelter_id)
    document = render_page(
        _,
        counts,
        found,
        now=dt.datetime.now(dt.UTC),
        stale_after=dt.timedelta(seconds=app.settings.stale_after_s),
        **extra,
    )
    return html_response(document, status_code)


@get(HERE, include_in_schema=False)
async def operator_page(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """The operator's page, or the sign-in form for a browser not signed in as a shelter."""
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "shelter")
        if principal is None:
            return to_sign_in(HERE)
        query = request.query_params
        notice = ""
        if query.get("saved"):
            notice = _("Saved.")
        elif query.get("done") in DONE:
            notice = _(DONE[query["done"]])
        error = query.get("error")
        alert = refusal(_, error) if error else ""
        return await _show(request, principal, notice=notice, alert=alert)
    except DB_ERRORS:
        return unavailable(_)


def _read_draft(form: Any, counts: ShelterCounts) -> Draft:
    return {
        t: {f: str(form.get(f"{t}.{f}") or "").strip() for f in ("total", *COUNTED)}
        for t in counts.beds
    }


def _number(text: str) -> int | str:
    """What was typed, as a number when it is one (the report core names anything else)."""
    return int(text) if re.fullmatch(r"-?\d{1,12}", text) else text


def _field_errors(_: Translator, error: Error) -> dict[str, str]:
    """`beds.single.occupied: …` as {"single.occupied": "…"} (or the bed type, for a rule
    across its counts)."""
    where, _sep, message = error.message.partition(": ")
    found = _FIELD_AT.match(where)
    if not found:
        return {"": explain(_, error.message)}
    key = found["bed"] if found["field"] is None else f"{found['bed']}.{found['field']}"
    return {key: explain(_, message)}


@post("/shelter/beds", include_in_schema=False, status_code=303)
async def save_counts(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """`Save` (report the counts), or a `−`/`+` without JavaScript (show them, unsaved)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "shelter")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        assert principal.shelter_id is not None
        form = await request.form()
        counts, _offers = await _state(app, principal.shelter_id)
        draft = _read_draft(form, counts)
        after = _after(form.get("after"), counts)
        step = _STEP.match(str(form.get("step") or "save"))
        if step and step["bed"] in draft:
            typed = _number(draft[step["bed"]][step["field"]])
            if isinstance(typed, int):
                draft[step["bed"]][step["field"]] = str(max(0, typed + int(step["by"])))
            return await _show(
                request,
                principal,
                draft=draft,
                after=after,
                notice=_("Not saved yet: tap Save."),
                status_code=200,
            )
        body = {
            "seq": "next",
            "beds": {t: {f: _number(v) for f, v in fields.items()} for t, fields in draft.items()},
        }
        decoded = core.decode(msgspec.json.encode(body))
        if isinstance(decoded, core.Unnumbered):
            answer = await _submit(app, principal.shelter_id, decoded, after)
        else:
            assert isinstance(decoded, Error)
            answer = decoded
        if isinstance(answer, Ack):
            return Redirect(path=f"{HERE}?saved={answer.seq}", status_code=303)
        if answer.code == "counts_changed":
            return await _show(request, principal, alert=refusal(_, answer.code), status_code=409)
        return await _show(
            request,
            principal,
            draft=draft,
            after=after,
            errors=_field_errors(_, answer),
            alert=refusal(_, answer.code, answer.message),
            status_code=422 if answer.code != "unavailable" else 503,
        )
    except DB_ERRORS:
        return unavailable(_)


def _after(value: object, counts: ShelterCounts) -> int:
    text = str(value or "")
    return int(text) if text.isdigit() and len(text) < 19 else counts.last_seq


async def _submit(
    app: Services, shelter_id: str, report: core.Unnumbered, after: int
) -> Ack | Error:
    try:
        return await app.writer.submit(shelter_id, msgspec.structs.replace(report, after=after))
    except Unavailable as exc:
        return core.error(None, "unavailable", exc.message)


@post("/shelter/still-accurate", include_in_schema=False, status_code=303)
async def still_accurate(request: Request[Any, Any, Any]) -> Response[str] | Redirect:
    """Restate the counts the page showed, so her beds stay fresh (and offered)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "shelter")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        assert principal.shelter_id is not None
        form = await request.form()
        counts, _offers = await _state(app, principal.shelter_id)
        # The last report again: the types it named (all of them before a first report, when
        # what the page shows is all there is to restate).
        named = counts.reported or set(counts.beds)
        body = {
            "seq": "next",
            "beds": {
                t: {"total": b.total, "occupied": b.occupied, "out_of_service": b.out_of_service}
                for t, b in counts.beds.items()
                if t in named
            },
        }
        decoded = core.decode(msgspec.json.encode(body))
        assert isinstance(decoded, core.Unnumbered)  # the stored counts are always valid
        answer = await _submit(
            app, principal.shelter_id, decoded, _after(form.get("after"), counts)
        )
        if isinstance(answer, Ack):
            return Redirect(path=f"{HERE}?saved={answer.seq}", status_code=303)
        return Redirect(path=f"{HERE}?error={answer.code}", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


@post("/shelter/offers/{offer_id:str}/{action:str}", include_in_schema=False, status_code=303)
async def decide(
    request: Request[Any, Any, Any], offer_id: FromPath[str], action: FromPath[str]
) -> Response[str] | Redirect:
    """Accept, decline (with a reason) or mark arrived: `offers.act`, as the API does."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await signed_in(request, "shelter")
        if principal is None or not form_allowed(request.headers, app.settings.allowed_origins):
            return to_sign_in(HERE)
        if action not in ("accept", "decline", "arrived"):
            return Redirect(path=f"{HERE}?error=not_found", status_code=303)
        reason = None
        if action == "decline":
            form = await request.form()
            try:
                reason = msgspec.convert(
                    {"reason": str(form.get("reason") or "unspecified")}, Decision
                ).reason
            except msgspec.ValidationError:
                reason = "unspecified"
        async with app.pool.acquire() as conn:
            done = await offers.act(
                conn,
                offer_id,
                "accept" if action == "accept" else "decline" if action == "decline" else "arrived",
                token_id=principal.token_id,
                shelter_id=principal.shelter_id,
                reason=reason,
            )
        return Redirect(path=f"{HERE}?done={done.status}", status_code=303)
    except HavenError as exc:
        return Redirect(path=f"{HERE}?error={exc.code}", status_code=303)
    except DB_ERRORS:
        return unavailable(_)


class Live(msgspec.Struct, frozen=True, kw_only=True):
    """What `operator.js` refreshes: the counts, the report's age, the offers."""

    last_seq: int
    reported_at: str | None
    beds: dict[str, dict[str, int]]
    offers: str
    offer_ids: list[str]


@get("/shelter/live", include_in_schema=False)
async def live(request: Request[Any, Any, Any]) -> Response[Any]:
    """The page's current state for its script (401 once the session is gone)."""
    app = services(request)
    _ = i18n.translator(request.cookies, request.headers)
    try:
        principal = await session_principal(request)
        if principal is None or principal.role != "shelter":
            return live_refusal(principal)
        assert principal.shelter_id is not None
        counts, found = await _state(app, principal.shelter_id)
    except DB_ERRORS:
        return Response({"code": "unavailable"}, status_code=503)
    state = Live(
        last_seq=counts.last_seq,
        reported_at=counts.reported_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        if counts.reported_at
        else None,
        beds={
            t: {
                "total": b.total,
                "occupied": b.occupied,
                "out_of_service": b.out_of_service,
                "held": b.held,
                "available": b.available,
            }
            for t, b in counts.beds.items()
        },
        offers=render_offers(_, found),
        offer_ids=[o.offer for o in found],
    )
    return Response(state, headers={"cache-control": "no-store"})


ROUTES = [operator_page, save_counts, still_accurate, decide, live]
