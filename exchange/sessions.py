"""Dashboard sign-in: a token entered once becomes an HttpOnly, SameSite=Strict cookie.

The session id is random, shown only to the browser, and stored as a SHA-256 digest next
to the token it speaks for; revoking the token ends its sessions (the lookup joins the
tokens table, and open connections are closed by the revocation sweep). `resolve` finds
the principal of a request or websocket from `Authorization: Bearer` or the cookie.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg
from litestar import Request, post
from litestar.connection import ASGIConnection
from litestar.datastructures import Cookie
from litestar.response import Redirect

from exchange import auth
from exchange.auth import AuthError
from schema.registry import Principal, Role

COOKIE = "haven_session"
SESSION_S = 12 * 3600
DASHBOARD_ROLES: tuple[Role, ...] = ("viewer", "planner", "admin")

_CREATE = """
insert into sessions (digest, token_id, expires_at)
values ($1, $2, now() + make_interval(secs => $3))
"""
_PURGE = "delete from sessions where expires_at <= now()"
_LOOKUP = """
select t.id as token_id, t.role, t.shelter_id, t.regions, t.revoked_at is not null as revoked
from sessions s join tokens t on t.id = s.token_id
where s.digest = $1 and s.expires_at > now()
"""
_END = "delete from sessions where digest = $1"


def _digest(session_id: str) -> bytes:
    return auth.digest(session_id)


async def create(conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], token: str) -> str:
    """A new session for a dashboard token; AuthError when the token cannot sign in."""
    principal = await auth.authenticate(conn, token)
    auth.require_role(principal, *DASHBOARD_ROLES)
    session_id = secrets.token_urlsafe(32)
    await conn.execute(_PURGE)
    await conn.execute(_CREATE, _digest(session_id), principal.token_id, float(SESSION_S))
    return session_id


async def from_cookie(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], session_id: str
) -> Principal:
    """The principal of a live session; AuthError when it is unknown, expired or revoked."""
    row = await conn.fetchrow(_LOOKUP, _digest(session_id))
    if row is None:
        raise AuthError("bad_session", "session unknown or expired: sign in again")
    return auth.principal_of(row)


async def end(conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], session_id: str) -> None:
    await conn.execute(_END, _digest(session_id))


async def resolve(
    pool: asyncpg.Pool[Any], connection: ASGIConnection[Any, Any, Any, Any]
) -> Principal:
    """Who a request or websocket speaks for: a bearer token first, else the session cookie."""
    token = auth.bearer(connection.headers.get("authorization"))
    if token is not None:
        return await auth.authenticate(pool, token)
    session_id = connection.cookies.get(COOKIE)
    if session_id:
        return await from_cookie(pool, session_id)
    raise AuthError("missing_token", "no token: send Authorization: Bearer <token> or sign in")


def _cookie(request: Request[Any, Any, Any], value: str, max_age: int) -> Cookie:
    return Cookie(
        key=COOKIE,
        value=value,
        path="/",
        max_age=max_age,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


@post("/session", include_in_schema=False, status_code=303)
async def sign_in(request: Request[Any, Any, Any]) -> Redirect:
    """Form post of a token: set the session cookie and go to the dashboard."""
    form = await request.form()
    token = str(form.get("token") or "").strip()
    try:
        session_id = await create(request.app.state.pool, token)
    except AuthError as exc:
        return Redirect(path=f"/?error={exc.code}", status_code=303)
    return Redirect(path="/", status_code=303, cookies=[_cookie(request, session_id, SESSION_S)])


@post("/session/end", include_in_schema=False, status_code=303)
async def sign_out(request: Request[Any, Any, Any]) -> Redirect:
    """Forget the session here and in the browser."""
    session_id = request.cookies.get(COOKIE)
    if session_id:
        await end(request.app.state.pool, session_id)
    return Redirect(path="/", status_code=303, cookies=[_cookie(request, "", 0)])


ROUTES = [sign_in, sign_out]
