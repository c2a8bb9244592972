"""The Origin policy of browser websockets: same host, or an origin the operator allowed."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit


def origin_allowed(headers: Mapping[str, str], allowed: tuple[str, ...]) -> bool:
    """A browser's Origin must be this host or an allowed origin; no Origin (a non-browser
    client) is fine, since cookies are what cross-site hijacking would abuse."""
    origin = headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    host = headers.get("host")
    parts = urlsplit(origin)
    return (
        parts.scheme in ("http", "https")
        and host is not None
        and parts.netloc.lower() == host.lower()
        and parts.path in ("", "/")
    )
