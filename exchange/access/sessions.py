"""Dashboard sign-in sessions: a token entered once becomes an HttpOnly cookie.

The session id is random, shown only to the browser, and stored as a SHA-256 digest next
to the token it speaks for; revoking the token ends its sessions (the lookup joins the
tokens table, and open connections are closed by the revocation sweep). `resolve` finds
the principal of a request or websocket from `Authorization: Bearer` or the cookie.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

from exchange.access import store, tokens
from exchange.access.store import Executor
from exchange.errors import AuthError
from schema.registry import Principal, Role

COOKIE = "haven_session"
SESSION_S = 12 * 3600
DASHBOARD_ROLES: tuple[Role, ...] = ("viewer", "planner", "admin")
SIGN_IN_ROLES: tuple[Role, ...] = (*DASHBOARD_ROLES, "shelter")
"""Shelter tokens sign in for their operator's page; the dashboard stays closed to them."""


async def create(conn: Executor, token: str) -> str:
    """A new session for a token that may sign in; AuthError when it cannot."""
    principal = await tokens.authenticate(conn, token)
    tokens.require_role(principal, *SIGN_IN_ROLES)
    session_id = secrets.token_urlsafe(32)
    await store.create_session(
        conn, tokens.digest(session_id), principal.token_id, float(SESSION_S)
    )
    return session_id


async def from_cookie(conn: Executor, session_id: str) -> Principal:
    """The principal of a live session; AuthError when it is unknown, expired or revoked."""
    row = await store.session(conn, tokens.digest(session_id))
    if row is None:
        raise AuthError("bad_session", "session unknown or expired: sign in again")
    return tokens.principal_of(row)


async def end(conn: Executor, session_id: str) -> None:
    await store.end_session(conn, tokens.digest(session_id))


async def resolve(
    conn: Executor, headers: Mapping[str, str], cookies: Mapping[str, str]
) -> Principal:
    """Who a request or websocket speaks for: a bearer token first, else the session cookie."""
    token = tokens.bearer(headers.get("authorization"))
    if token is not None:
        return await tokens.authenticate(conn, token)
    session_id = cookies.get(COOKIE)
    if session_id:
        return await from_cookie(conn, session_id)
    raise AuthError("missing_token", "no token: send Authorization: Bearer <token> or sign in")
