"""Registering an agency's webhook: a URL and a fresh secret, shown once; audited."""

from __future__ import annotations

import secrets
from urllib.parse import urlsplit

import msgspec

from exchange.audit import store as audit
from exchange.errors import HavenError
from exchange.webhooks import store
from exchange.webhooks.store import Conn
from schema.placements import Agency


class Registered(msgspec.Struct, frozen=True, kw_only=True):
    agency: str
    url: str
    secret: str
    """Signs every delivery (HMAC-SHA256); printed this once, keep it with the receiver."""


def check(agency: str, url: str) -> None:
    """HavenError `usage` for an agency name or URL Haven cannot use."""
    try:
        msgspec.convert(agency, Agency)
    except msgspec.ValidationError:
        raise HavenError("usage", "--agency is 1-64 letters, digits, . _ or -") from None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 2000:
        raise HavenError("usage", f"--url must be an http(s) URL, not {url[:60]!r}")
    if any(c.isspace() for c in url):
        raise HavenError("usage", "--url must not contain spaces")


async def register(conn: Conn, agency: str, url: str) -> Registered:
    """Set (or replace, with a new secret) the agency's webhook."""
    check(agency, url)
    secret = secrets.token_urlsafe(32)
    async with conn.transaction():
        await store.set_webhook(conn, agency, url, secret)
        await audit.append(conn, None, "webhook.set", f"agency:{agency}")
    return Registered(agency=agency, url=url, secret=secret)


async def remove(conn: Conn, agency: str) -> bool:
    """Remove the agency's webhook and its undelivered queue; whether it had one."""
    async with conn.transaction():
        removed = await store.remove_webhook(conn, agency)
        if removed:
            await audit.append(conn, None, "webhook.removed", f"agency:{agency}")
    return removed
