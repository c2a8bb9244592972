"""Tokens: random, hashed, role- and region-scoped, revocable."""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest

from exchange.access import store as access_store
from exchange.access import tokens as auth


async def test_tokens_are_unique_and_authenticate(conn: asyncpg.Connection[Any]) -> None:
    """Each token is new and authenticates to its own role and regions."""
    _, a = await auth.create_token(conn, "viewer", regions=["OH"])
    _, b = await auth.create_token(conn, "planner", agency="DRC")
    assert a != b
    pa = await auth.authenticate(conn, a)
    assert pa.role == "viewer" and pa.regions == ("OH",)
    assert pa.sees_region("OH") and not pa.sees_region("TX")
    assert (await auth.authenticate(conn, b)).sees_region("TX")


@pytest.mark.parametrize(
    ("token", "code"), [(None, "missing_token"), ("", "missing_token"), ("hvn_nope", "bad_token")]
)
async def test_missing_and_unknown_tokens_are_refused(
    conn: asyncpg.Connection[Any], token: str | None, code: str
) -> None:
    """No token and an unknown token each get their own code."""
    with pytest.raises(auth.AuthError) as err:
        await auth.authenticate(conn, token)
    assert err.value.code == code


async def test_revoked_token_is_refused(conn: asyncpg.Connection[Any]) -> None:
    """After revocation the token no longer authenticates; revoking twice reports nothing done."""
    token_id, token = await auth.create_token(conn, "admin")
    assert await auth.revoke_token(conn, token=token)
    with pytest.raises(auth.AuthError) as err:
        await auth.authenticate(conn, token)
    assert err.value.code == "revoked_token"
    assert not await auth.revoke_token(conn, token_id=token_id)
    assert await access_store.revoked_among(conn, [token_id, 999]) == {token_id}


def test_require_role() -> None:
    """A role outside the allowed ones is refused with forbidden_role."""
    from schema.registry import Principal

    viewer = Principal(token_id=1, role="viewer")
    auth.require_role(viewer, "viewer", "admin")
    with pytest.raises(auth.AuthError, match="viewer token cannot"):
        auth.require_role(viewer, "shelter")


@pytest.mark.parametrize(
    ("header", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer  abc ", "abc"),
        ("Basic abc", None),
        (None, None),
        ("Bearer", None),
    ],
)
def test_bearer(header: str | None, token: str | None) -> None:
    """Only a Bearer authorization header yields a token."""
    assert auth.bearer(header) == token
