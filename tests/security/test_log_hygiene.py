"""Logs (finding 6): no session id from a query string, no error flood from invalid
UTF-8, crafted frames logged by code (see test_frames), the real port in "haven started"."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exchange.access import tokens as auth
from exchange.beds import registry
from exchange.ops.logs import JsonFormatter, Quieten, scrub
from schema.registry import NewShelter


def test_query_strings_and_session_cookies_are_scrubbed() -> None:
    """A path's query string and a session cookie's value never reach the log."""
    line = 'GET /ws/dashboard?since=5&session=Zx9 HTTP/1.1" haven_session=Zx9; other=1'
    assert scrub(line) == 'GET /ws/dashboard?[redacted] HTTP/1.1" haven_session=[redacted]; other=1'
    assert scrub("why? because") == "why? because"


def test_uvicorn_handshake_line_holds_no_query_string() -> None:
    """uvicorn's `"WebSocket /path?query" [accepted]` line is written without the query."""
    record = logging.makeLogRecord(
        {
            "name": "uvicorn.error",
            "levelno": 20,
            "levelname": "INFO",
            "msg": '%s - "WebSocket %s" [accepted]',
            "args": ("127.0.0.1:5000", "/ws/dashboard?session=s3cr3t-session-id"),
        }
    )
    text = JsonFormatter().format(record)
    assert "s3cr3t" not in text and "/ws/dashboard?[redacted]" in text


def test_invalid_utf8_errors_become_one_warning_per_interval() -> None:
    """uvicorn's ERROR + traceback per invalid-UTF-8 frame becomes one WARNING a minute,
    without traceback, counting the ones it stands for; other records pass untouched."""
    now = [0.0]
    quieten = Quieten(every=60, clock=lambda: now[0])

    def record() -> logging.LogRecord:
        try:
            b"\xff".decode()
        except UnicodeDecodeError:
            import sys

            info = sys.exc_info()
        return logging.makeLogRecord(
            {
                "name": "uvicorn.error",
                "levelno": 40,
                "levelname": "ERROR",
                "msg": "Invalid UTF-8 sequence received from client.",
                "exc_info": info,
            }
        )

    first = record()
    assert quieten(first) and first.levelname == "WARNING" and first.exc_info is None
    assert not any(quieten(record()) for _ in range(50))
    now[0] = 61.0
    later = record()
    assert quieten(later) and later.occurrences == 51  # type: ignore[attr-defined]
    other = logging.makeLogRecord({"msg": "Exception in ASGI application\n", "levelno": 40})
    assert quieten(other) and other.levelno == 40


@pytest.mark.slow
async def test_served_logs_hold_no_session_id_no_utf8_errors_and_the_real_port(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Against `haven serve`: a session id in a query string is not logged; 20 invalid
    UTF-8 text frames (each closed 1007) log no ERROR and at most one WARNING; the
    "haven started" line names the port actually served."""
    shelter = NewShelter(name="Log House", region="OH", lat=40.0, lon=-83.0, beds={"single": 4})
    _, token = await registry.add_shelter(conn, shelter)
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve()
    secret = "Qs7-not-a-token-but-secret"
    with contextlib.suppress(InvalidStatus):
        async with connect(
            f"{server.ws_url}/ws/dashboard?since=0&session={secret}",
            additional_headers={"Authorization": f"Bearer {viewer}"},
        ) as ws:
            await ws.recv()
    headers = {"Authorization": f"Bearer {token}"}
    for _ in range(20):
        async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
            await ws.recv()  # hello
            await ws.send(b'{"type":"\xff"}', text=True)
            with pytest.raises(ConnectionClosed) as closed:
                await asyncio.wait_for(ws.recv(), 10)
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1007
    await asyncio.sleep(0.5)
    log = server.log.read_text()
    entries = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    assert secret not in log
    assert not [e for e in entries if e["level"] == "error"], log[-3000:]
    utf8 = [e for e in entries if "UTF-8" in e["msg"]]
    assert len(utf8) <= 1 and all(e["level"] == "warning" and "exc" not in e for e in utf8)
    started = [e for e in entries if e["msg"] == "haven started"]
    assert [e["port"] for e in started] == [server.port]
