"""Sign-in, sign-out and the language switch: a token posted once becomes a session cookie.

After sign-in each role lands on its page: a shelter on `/shelter`, a planner on
`/planner`, viewers and admins on the dashboard (or the page that sent them to sign in).
"""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from exchange.access import sessions
from exchange.errors import AuthError
from exchange.pages.i18n import COOKIE as LANG_COOKIE
from exchange.pages.i18n import LANGUAGES
from exchange.pages.shell import back_to, form_allowed
from exchange.services import services

HOME = {"shelter": "/shelter", "planner": "/planner"}
LANG_S = 365 * 24 * 3600


def _cookie(request: Request[Any, Any, Any], key: str, value: str, max_age: int) -> Cookie:
    return Cookie(
        key=key,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def _signed_out(next_page: str, error: str) -> Redirect:
    there = "" if next_page == "/" else f"&next={next_page}"
    return Redirect(path=f"/?error={error}{there}", status_code=303)


@post("/session", include_in_schema=False, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Redirect:
    """Form post of a token: set the session cookie and go to the signed-in role's page.

    A post from another site's page is refused before the token is read: it would sign
    the browser in as the attacker (login CSRF), whose dashboard the victim then trusts.
    """
    app = services(request)
    form = await request.form()
    next_page = back_to(form.get("next"))
    if not form_allowed(request.headers, app.settings.allowed_origins):
        return _signed_out(next_page, "forbidden_origin")
    token = str(form.get("token") or "").strip()
    try:
        session_id = await sessions.create(app.pool, token)
        principal = await sessions.from_cookie(app.pool, session_id)
    except AuthError as exc:
        return _signed_out(next_page, exc.code)
    home = HOME.get(principal.role, "/")
    if principal.role == "shelter" or (next_page == "/planner" and home != "/planner"):
        next_page = home  # a page this role cannot open would only send her back here
    elif next_page == "/":
        next_page = home
    return Redirect(
        path=next_page,
        status_code=303,
        cookies=[_cookie(request, sessions.COOKIE, session_id, sessions.SESSION_S)],
    )


@post("/session/end", include_in_schema=False, status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session here and in the browser."""
    session_id = request.cookies.get(sessions.COOKIE)
    if session_id:
        await sessions.end(services(request).pool, session_id)
    return Redirect(path="/", status_code=303, cookies=[_cookie(request, sessions.COOKIE, "", 0)])


@post("/language", include_in_schema=False, status_code=303)
async def language(request: Request[Any, Any, Any]) -> Redirect:
    """The language switch: remember the choice in a cookie and go back to the page."""
    form = await request.form()
    lang = str(form.get("lang") or "")
    cookies = []
    if lang in LANGUAGES and form_allowed(
        request.headers, services(request).settings.allowed_origins
    ):
        cookies.append(_cookie(request, LANG_COOKIE, lang, LANG_S))
    return Redirect(path=back_to(form.get("next")), status_code=303, cookies=cookies)


ROUTES = [sign_in, sign_out, language]
