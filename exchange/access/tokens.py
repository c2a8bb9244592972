"""Access tokens: random, shown once, stored only as a SHA-256 digest.

A token has a role (shelter, planner, viewer, admin), a shelter for shelter tokens, and
optionally a set of regions it is confined to.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable

from exchange.access import store
from exchange.access.store import Executor, TokenRow
from exchange.errors import AuthError
from schema.registry import Principal, Role

TOKEN_BYTES = 24  # 192 bits of randomness
_PREFIX = "hvn_"


def new_token() -> str:
    return _PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


async def create_token(
    conn: Executor,
    role: Role,
    *,
    shelter_id: str | None = None,
    regions: Iterable[str] = (),
    agency: str | None = None,
) -> tuple[int, str]:
    """Create a token; return its id and the token itself (the only time it exists).
    A planner token needs its agency (placements.md)."""
    token = new_token()
    token_id = await store.insert_token(
        conn, digest(token), role, shelter_id=shelter_id, regions=regions, agency=agency
    )
    return token_id, token


async def authenticate(conn: Executor, token: str | None) -> Principal:
    """The principal a token speaks for; AuthError when there is none."""
    if not token:
        raise AuthError("missing_token", "no token: send Authorization: Bearer <token>")
    row = await store.lookup(conn, digest(token))
    if row is None:
        raise AuthError("bad_token", "token not recognised")
    return principal_of(row)


def principal_of(row: TokenRow) -> Principal:
    """The principal of a live token; AuthError for a revoked one."""
    if row.revoked:
        raise AuthError("revoked_token", "token has been revoked")
    return Principal(
        token_id=row.token_id,
        role=row.role,
        shelter_id=row.shelter_id,
        regions=tuple(row.regions),
        agency=row.agency,
    )


def require_role(principal: Principal, *roles: Role) -> None:
    if principal.role not in roles:
        raise AuthError(
            "forbidden_role",
            f"{'an' if principal.role[0] in 'aeiou' else 'a'} {principal.role} token cannot "
            f"do this; needs {' or '.join(roles)}",
        )


async def revoke_token(
    conn: Executor, *, token: str | None = None, token_id: int | None = None
) -> bool:
    """Revoke by token or by id; True when a live token was revoked."""
    return await store.revoke(conn, digest=digest(token) if token else None, token_id=token_id)


def bearer(header: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, if any."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() or None if scheme.lower() == "bearer" else None
