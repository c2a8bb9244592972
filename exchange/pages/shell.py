"""The page shell every Haven page shares: escaping, the document frame, and the
security headers (a strict CSP: scripts and styles only from this server)."""

from __future__ import annotations

import html
from pathlib import Path

from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

STATIC_DIR = Path(__file__).resolve().parent / "static"

HEADERS = {
    "content-security-policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",
    "x-content-type-options": "nosniff",
    "cache-control": "no-store",
}


def escape(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(title: str, body: str, *, script: bool) -> str:
    js = '<script src="/static/dashboard.js" defer></script>' if script else ""
    return (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        f'<link rel="stylesheet" href="/static/dashboard.css">{js}</head>'
        f"<body>{body}</body></html>\n"
    )


STATIC: ControllerRouterHandler = create_static_files_router(
    path="/static", directories=[STATIC_DIR]
)
