"""Tokens and sign-in sessions in SQL; the only module of `access` that sees a Record.

Tokens and session ids are stored only as SHA-256 digests (`access.tokens.digest`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, TypeAlias

import asyncpg
import msgspec

from schema.registry import Role, TokenInfo

Executor: TypeAlias = (
    "asyncpg.Connection[Any] | asyncpg.pool.PoolConnectionProxy[Any] | asyncpg.Pool[Any]"
)


class TokenRow(msgspec.Struct, frozen=True, kw_only=True):
    """A token as the database knows it (never the token itself)."""

    token_id: int
    role: Role
    shelter_id: str | None
    regions: list[str]
    revoked: bool
    agency: str | None = None


_INSERT = """
insert into tokens (digest, role, shelter_id, regions, agency)
values ($1, $2, $3, $4::text[], $5)
returning id
"""
_LOOKUP = """
select id as token_id, role, shelter_id, regions, revoked_at is not null as revoked, agency
from tokens where digest = $1
"""
_REVOKE = """
update tokens set revoked_at = now()
where (digest = $1 or id = $2) and revoked_at is null
returning id
"""
_REVOKE_SHELTERS = """
update tokens set revoked_at = now()
where role = 'shelter' and shelter_id = any($1::text[]) and revoked_at is null
"""
_LIST = """
select id, role, shelter_id, regions, agency,
       to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as created_at,
       to_char(revoked_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') as revoked_at
from tokens where $1 or revoked_at is null order by id
"""
_REVOKED_AMONG = "select id from tokens where id = any($1::bigint[]) and revoked_at is not null"


async def insert_token(
    conn: Executor,
    digest: bytes,
    role: Role,
    *,
    shelter_id: str | None = None,
    regions: Iterable[str] = (),
    agency: str | None = None,
) -> int:
    return int(await conn.fetchval(_INSERT, digest, role, shelter_id, list(regions), agency))


async def lookup(conn: Executor, digest: bytes) -> TokenRow | None:
    row = await conn.fetchrow(_LOOKUP, digest)
    return None if row is None else msgspec.convert(dict(row), TokenRow)


async def revoke(conn: Executor, *, digest: bytes | None, token_id: int | None) -> bool:
    """Revoke by digest or by id; True when a live token was revoked."""
    return await conn.fetchval(_REVOKE, digest, token_id) is not None


async def revoke_shelter_tokens(conn: Executor, shelter_ids: Sequence[str]) -> None:
    await conn.execute(_REVOKE_SHELTERS, list(shelter_ids))


async def list_tokens(conn: Executor, *, include_revoked: bool = False) -> list[TokenInfo]:
    """Every live token (and revoked ones on request), without the secrets."""
    return [msgspec.convert(dict(r), TokenInfo) for r in await conn.fetch(_LIST, include_revoked)]


async def revoked_among(conn: Executor, token_ids: Iterable[int]) -> set[int]:
    """Which of these token ids have been revoked (for closing open connections)."""
    return {int(r["id"]) for r in await conn.fetch(_REVOKED_AMONG, list(token_ids))}


# -- sessions -----------------------------------------------------------------------------

_CREATE_SESSION = """
insert into sessions (digest, token_id, expires_at)
values ($1, $2, now() + make_interval(secs => $3))
"""
_PURGE_SESSIONS = "delete from sessions where expires_at <= now()"
_SESSION = """
select t.id as token_id, t.role, t.shelter_id, t.regions, t.revoked_at is not null as revoked,
       t.agency
from sessions s join tokens t on t.id = s.token_id
where s.digest = $1 and s.expires_at > now()
"""
_END_SESSION = "delete from sessions where digest = $1"


async def create_session(conn: Executor, digest: bytes, token_id: int, seconds: float) -> None:
    """Store a session (purging expired ones first)."""
    await conn.execute(_PURGE_SESSIONS)
    await conn.execute(_CREATE_SESSION, digest, token_id, seconds)


async def session(conn: Executor, digest: bytes) -> TokenRow | None:
    """The token a live session speaks for."""
    row = await conn.fetchrow(_SESSION, digest)
    return None if row is None else msgspec.convert(dict(row), TokenRow)


async def end_session(conn: Executor, digest: bytes) -> None:
    await conn.execute(_END_SESSION, digest)
