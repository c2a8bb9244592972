"""The page shell every Haven page shares: escaping, the document frame, the header (who is
signed in, the language switch, sign-out), the security headers (a strict CSP: scripts and
styles only from this server), and what every page form needs (the Origin check, where to
go back to)."""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from litestar import Request
from litestar.response import Redirect, Response
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from exchange.access import sessions
from exchange.access.origin import origin_allowed
from exchange.errors import AuthError
from exchange.pages.i18n import LANGUAGES, N_, NAMES, Translator
from exchange.services import services
from schema.registry import Principal, Role

STATIC_DIR = Path(__file__).resolve().parent / "static"

HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    # Not no-referrer: under it, browsers send `Origin: null` with a page's own form posts,
    # and the Origin check (login CSRF) would refuse every one. Other sites get nothing.
    "referrer-policy": "same-origin",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}

PAGES = ("/", "/shelter", "/planner")
"""Where a form may send the browser back to (never an address from the request)."""

_NAV = {
    "planner": ((N_("Requests"), "/planner"), (N_("Beds by region"), "/")),
    "admin": ((N_("Beds by region"), "/"),),
    "viewer": ((N_("Beds by region"), "/"),),
    "shelter": ((N_("Your beds"), "/shelter"),),
}


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def back_to(value: object) -> str:
    """One of Haven's pages, or the dashboard: a form's `next` never leaves the site."""
    return value if isinstance(value, str) and value in PAGES else "/"


def page(
    title: str,
    body: str,
    *,
    script: bool = False,
    lang: str = "en",
    scripts: Sequence[str] = (),
    styles: Sequence[str] = ("dashboard.css",),
) -> str:
    """A whole document. `script` is the dashboard's; other pages name theirs."""
    names = [*scripts, *(("dashboard.js",) if script else ())]
    js = "".join(f'<script src="/static/{escape(n)}" defer></script>' for n in names)
    css = "".join(f'<link rel="stylesheet" href="/static/{escape(n)}">' for n in styles)
    return (
        f'<!doctype html>\n<html lang="{escape(lang)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        f"{css}{js}</head>"
        f"<body>{body}</body></html>\n"
    )


def language_switch(_: Translator, here: str) -> str:
    """One button per other language; it sets the `haven_lang` cookie and comes back here."""
    buttons = "".join(
        f'<button type="submit" name="lang" value="{code}" lang="{code}">'
        f"{escape(NAMES[code])}</button>"
        for code in LANGUAGES
        if code != _.lang
    )
    return (
        '<form class="lang" method="post" action="/language">'
        f'<input type="hidden" name="next" value="{escape(back_to(here))}">{buttons}</form>'
    )


def header(_: Translator, title: str, *, here: str, role: str | None, status: str = "") -> str:
    """The top of a page: its title, the pages this role has, language, sign-out."""
    current = ' aria-current="page"'
    pages = _NAV.get(role or "", ())
    links = "".join(
        f'<a href="{href}"{current if href == here else ""}>{escape(_(label))}</a>'
        for label, href in pages
    )
    nav = f'<nav aria-label="{escape(_("Pages"))}">{links}</nav>' if len(pages) > 1 else ""
    sign_out = (
        '<form method="post" action="/session/end">'
        f'<button type="submit">{escape(_("Sign out"))}</button></form>'
        if role
        else ""
    )
    return (
        f'<header class="top"><p class="brand">Haven</p><h1>{escape(title)}</h1>{status}'
        f'{nav}<div class="tools">{language_switch(_, here)}{sign_out}</div></header>'
    )


def form_allowed(headers: Mapping[str, str], allowed: tuple[str, ...]) -> bool:
    """A page form posted from this site (the cookie is SameSite=Strict too)."""
    return origin_allowed(headers, allowed)


async def session_principal(request: Request[Any, Any, Any]) -> Principal | None:
    """Who this browser (or bearer) is signed in as, if anyone."""
    try:
        return await sessions.resolve(services(request).pool, request.headers, request.cookies)
    except AuthError:
        return None


async def signed_in(request: Request[Any, Any, Any], role: Role) -> Principal | None:
    """The principal of this browser's session when it has `role`, else None."""
    principal = await session_principal(request)
    return principal if principal is not None and principal.role == role else None


def live_refusal(principal: Principal | None) -> Response[Any]:
    """A page script's poll without the page's role: 401 signed out, 403 another role."""
    if principal is None:
        return Response({"code": "bad_session"}, status_code=401)
    return Response({"code": "forbidden_role"}, status_code=403)


def to_sign_in(here: str) -> Redirect:
    """Not signed in (or not with the right token): the sign-in form, then back here."""
    return Redirect(path=f"/?next={back_to(here)}", status_code=303)


def html_response(document: str, status_code: int = 200) -> Response[str]:
    return Response(document, media_type="text/html", headers=HEADERS, status_code=status_code)


def unavailable(_: Translator) -> Response[str]:
    """The page when the database cannot be reached: nothing on it could be trusted."""
    body = (
        f'<main class="narrow"><h1>Haven</h1><p role="alert">'
        f"{escape(_('Haven cannot reach its database right now. Reload this page in a minute.'))}"
        "</p></main>"
    )
    return html_response(page("Haven", body, lang=_.lang, styles=("pages.css",)), 503)


STATIC: ControllerRouterHandler = create_static_files_router(
    path="/static", directories=[STATIC_DIR]
)
