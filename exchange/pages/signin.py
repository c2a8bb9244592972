"""Dashboard sign-in and sign-out: a token posted once becomes a session cookie."""

from __future__ import annotations

from typing import Any

from litestar import Request, post
from litestar.datastructures import Cookie
from litestar.response import Redirect

from exchange.access import sessions
from exchange.access.origin import origin_allowed
from exchange.errors import AuthError
from exchange.services import services


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=sessions.COOKIE,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@post("/session", include_in_schema=False, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Redirect:
    """Form post of a token: set the session cookie and go to the dashboard.

    A post from another site's page is refused before the token is read: it would sign
    the browser in as the attacker (login CSRF), whose dashboard the victim then trusts.
    """
    if not origin_allowed(request.headers, services(request).settings.allowed_origins):
        return Redirect(path="/?error=forbidden_origin", status_code=303)
    form = await request.form()
    token = str(form.get("token") or "").strip()
    try:
        session_id = await sessions.create(services(request).pool, token)
    except AuthError as exc:
        return Redirect(path=f"/?error={exc.code}", status_code=303)
    return Redirect(
        path="/", status_code=303, cookies=[_cookie(request, session_id, sessions.SESSION_S)]
    )


@post("/session/end", include_in_schema=False, status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session here and in the browser."""
    session_id = request.cookies.get(sessions.COOKIE)
    if session_id:
        await sessions.end(services(request).pool, session_id)
    return Redirect(path="/", status_code=303, cookies=[_cookie(request, "", 0)])


ROUTES = [sign_in, sign_out]
