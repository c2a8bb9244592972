"""Sign-in sessions: created from a token that may sign in, stored hashed, ended by revocation."""

from __future__ import annotations

import hashlib
from typing import Any

import asyncpg
import pytest

from exchange.access import sessions
from exchange.access import tokens as auth
from exchange.beds import registry
from exchange.errors import AuthError
from schema.registry import NewShelter


async def test_a_session_speaks_for_its_token(conn: asyncpg.Connection[Any]) -> None:
    """A session resolves to its token's principal; only the id's SHA-256 is stored."""
    token_id, token = await auth.create_token(conn, "planner", regions=["OH"], agency="DRC")
    session_id = await sessions.create(conn, token)
    principal = await sessions.from_cookie(conn, session_id)
    assert (principal.token_id, principal.role, principal.regions) == (token_id, "planner", ("OH",))
    digest = await conn.fetchval("select digest from sessions")
    assert digest == hashlib.sha256(session_id.encode()).digest()


async def test_shelter_tokens_sign_in_for_their_page_and_unknown_ones_cannot(
    conn: asyncpg.Connection[Any],
) -> None:
    """A shelter token becomes a session (for the operator's page; the dashboard's channels
    still refuse it by role); an unknown token does not."""
    shelter = NewShelter(name="S", region="OH", lat=40, lon=-83, beds={"single": 1})
    shelter_id, shelter_token = await registry.add_shelter(conn, shelter)
    principal = await sessions.from_cookie(conn, await sessions.create(conn, shelter_token))
    assert (principal.role, principal.shelter_id) == ("shelter", shelter_id)
    assert principal.role not in sessions.DASHBOARD_ROLES
    with pytest.raises(AuthError) as unknown:
        await sessions.create(conn, "hvn_unknown")
    assert unknown.value.code == "bad_token"


async def test_revoked_expired_and_ended_sessions_resolve_to_nothing(
    conn: asyncpg.Connection[Any],
) -> None:
    """A session stops working when its token is revoked, when it expires, or when ended."""
    _, token = await auth.create_token(conn, "viewer")
    revoked = await sessions.create(conn, token)
    await auth.revoke_token(conn, token=token)
    with pytest.raises(AuthError, match="revoked"):
        await sessions.from_cookie(conn, revoked)
    _, other = await auth.create_token(conn, "viewer")
    expired, ended = await sessions.create(conn, other), await sessions.create(conn, other)
    await conn.execute(
        "update sessions set created_at = now() - interval '2 days',"
        " expires_at = now() - interval '1 second' where digest = $1",
        hashlib.sha256(expired.encode()).digest(),
    )
    await sessions.end(conn, ended)
    for session_id in (expired, ended, "not-a-session"):
        with pytest.raises(AuthError) as gone:
            await sessions.from_cookie(conn, session_id)
        assert gone.value.code == "bad_session"
