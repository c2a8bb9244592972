"""Access tokens: random, shown once, stored only as a SHA-256 digest.

A token has a role (shelter, planner, viewer, admin), a shelter for shelter tokens, and
optionally a set of regions it is confined to.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from typing import Any

import asyncpg
import msgspec

from schema.registry import Principal, Role, TokenInfo

TOKEN_BYTES = 24  # 192 bits of randomness
_PREFIX = "hvn_"


class AuthError(Exception):
    """A token was missing, unknown, revoked, or not allowed to do this."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def new_token() -> str:
    return _PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


_INSERT = """
insert into tokens (digest, role, shelter_id, regions)
values ($1, $2, $3, $4::text[])
returning id
"""
_LOOKUP = """
select id as token_id, role, shelter_id, regions, revoked_at is not null as revoked
from tokens where digest = $1
"""
_REVOKE = """
update tokens set revoked_at = now()
where (digest = $1 or id = $2) and revoked_at is null
returning id
"""
_LIST = """
select id, role, shelter_id, regions,
       to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as created_at,
       to_char(revoked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as revoked_at
from tokens where $1 or revoked_at is null order by id
"""
_REVOKED_AMONG = "select id from tokens where id = any($1::bigint[]) and revoked_at is not null"


async def create_token(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any],
    role: Role,
    *,
    shelter_id: str | None = None,
    regions: Iterable[str] = (),
) -> tuple[int, str]:
    """Create a token; return its id and the token itself (the only time it exists)."""
    token = new_token()
    token_id = await conn.fetchval(_INSERT, digest(token), role, shelter_id, list(regions))
    return int(token_id), token


async def authenticate(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], token: str | None
) -> Principal:
    """The principal a token speaks for; AuthError when there is none."""
    if not token:
        raise AuthError("missing_token", "no token: send Authorization: Bearer <token>")
    row = await conn.fetchrow(_LOOKUP, digest(token))
    if row is None:
        raise AuthError("bad_token", "token not recognised")
    return principal_of(row)


def principal_of(row: asyncpg.Record) -> Principal:
    """The principal of a token row (token_id, role, shelter_id, regions, revoked)."""
    if row["revoked"]:
        raise AuthError("revoked_token", "token has been revoked")
    return msgspec.convert(
        {
            "token_id": row["token_id"],
            "role": row["role"],
            "shelter_id": row["shelter_id"],
            "regions": tuple(row["regions"]),
        },
        Principal,
    )


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise AuthError(
            "forbidden_role",
            f"a {principal.role} token cannot do this; needs {' or '.join(roles)}",
        )


async def revoke_token(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any],
    *,
    token: str | None = None,
    token_id: int | None = None,
) -> bool:
    """Revoke by token or by id; True when a live token was revoked."""
    row = await conn.fetchval(_REVOKE, digest(token) if token else None, token_id)
    return row is not None


async def list_tokens(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], *, include_revoked: bool = False
) -> list[TokenInfo]:
    """Every live token (and revoked ones on request), without the secrets."""
    return [msgspec.convert(dict(r), TokenInfo) for r in await conn.fetch(_LIST, include_revoked)]


async def revoked_among(
    conn: asyncpg.Connection[Any] | asyncpg.Pool[Any], token_ids: Iterable[int]
) -> set[int]:
    """Which of these token ids have been revoked (for closing open connections)."""
    return {r["id"] for r in await conn.fetch(_REVOKED_AMONG, list(token_ids))}


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
