"""Finding 7: `since` that only looks numeric, login CSRF, and an open `/metrics`.
(Binary frames, the fourth point, are in test_frames.)"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from exchange.access import sessions
from exchange.access import tokens as auth
from exchange.board.hub import parse_since
from exchange.errors import HavenError


@pytest.mark.parametrize("raw", ["²", "1²", "١٢", "12\u0663", "-1", "1e3", " 1"])
def test_since_takes_ascii_digits_only(raw: str) -> None:
    """Unicode digits pass str.isdigit() but not int(): they are bad_since, like any junk."""
    with pytest.raises(HavenError) as bad:
        parse_since(raw)
    assert (bad.value.code, bad.value.status) == ("bad_since", 400)


def test_since_reads_plain_numbers() -> None:
    """Plain numbers and absence still work."""
    assert parse_since("0") == 0 and parse_since("1042") == 1042
    assert parse_since(None) is None and parse_since("") is None


@pytest.mark.slow
async def test_unicode_digit_since_is_a_400_with_a_body(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """`?since=%C2%B2` is refused on the handshake with 400 and a `bad_since` body."""
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve()
    with pytest.raises(InvalidStatus) as refused:
        async with connect(
            server.ws_url + "/ws/dashboard?since=%C2%B2",
            additional_headers={"Authorization": f"Bearer {viewer}"},
        ):
            pass
    assert refused.value.response.status_code == 400
    assert json.loads(refused.value.response.body)["code"] == "bad_since"


@pytest.mark.slow
async def test_sign_in_from_a_foreign_origin_sets_no_cookie(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """A cross-site form post of a valid token is refused (no session, no cookie); the
    same post from the page's own origin, or with no Origin, signs in."""
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve()
    async with httpx.AsyncClient(base_url=server.url) as http:
        own = server.url
        for origin in ("https://evil.example", "null", own + ".evil.example"):
            r = await http.post("/session", data={"token": viewer}, headers={"Origin": origin})
            assert r.status_code == 303 and r.headers["location"] == "/?error=forbidden_origin"
            assert sessions.COOKIE not in r.headers.get("set-cookie", "")
        assert await conn.fetchval("select count(*) from sessions") == 0
        r = await http.post("/session", data={"token": viewer}, headers={"Origin": own})
        assert r.status_code == 303 and sessions.COOKIE in r.headers["set-cookie"]
        r = await http.post("/session", data={"token": viewer})
        assert r.status_code == 303 and sessions.COOKIE in r.headers["set-cookie"]


@pytest.mark.slow
async def test_metrics_need_the_metrics_token_when_one_is_set(
    serve: Callable[..., Any],
) -> None:
    """With HAVEN_METRICS_TOKEN, /metrics is 401 without it or with another; 200 with it."""
    server = serve(env={"HAVEN_METRICS_TOKEN": "scrape-me-0123456789"})
    async with httpx.AsyncClient(base_url=server.url) as http:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic x"}):
            r = await http.get("/metrics", headers=headers)
            assert r.status_code == 401 and r.json()["code"] == "bad_token"
        r = await http.get("/metrics", headers={"Authorization": "Bearer scrape-me-0123456789"})
        assert r.status_code == 200 and "haven_reports_applied_total" in r.text
