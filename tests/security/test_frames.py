"""Crafted frames (finding 1, and binary frames of finding 7) never crash the handler.

Each gets an in-band `error` (the websocket stays open) or a 4xx JSON error (PUT), and
is logged by its code only, never its content.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect

from exchange.beds import registry
from exchange.beds import report as core
from schema.registry import NewShelter
from schema.wire import Error, Report

DEEP = '{"type":"report","seq":7,"beds":' + "[" * 2000 + "]" * 2000 + "}"

# (frame, code, seq) — the decoder's answer, on the websocket and in a PUT body alike.
CRAFTED: list[tuple[str | bytes, str, int | None]] = [
    ('{"type":[],"seq":100,"beds":{}}', "unknown_type", 100),
    ('{"type":{"a":1}}', "unknown_type", None),
    (b'{"type":"\xff"}', "invalid_json", None),
    (b'{"type":"report","seq":3,"beds":{"\xc3\x28":{}}}', "invalid_json", None),
    ("[" * 2000, "invalid_json", None),
    (DEEP, "invalid_json", None),
    (
        '{"type":"report","seq":5,"beds":{"single":' + "[" * 900 + "]" * 900 + "}}",
        "invalid_report",
        5,
    ),
]


@pytest.mark.parametrize(("frame", "code", "seq"), CRAFTED)
def test_crafted_frames_decode_to_errors(frame: str | bytes, code: str, seq: int | None) -> None:
    """Unhashable types, invalid UTF-8 and deep nesting are errors, not exceptions."""
    for typed in (True, False):
        result = core.decode(frame, typed=typed)
        assert isinstance(result, Error), result
        assert (result.code, result.seq) == (code, seq)


def test_websocket_frames_must_name_their_type_but_put_bodies_need_not() -> None:
    """On the websocket every message carries `type` (the contract); a PUT body may omit it."""
    body = '{"seq": 2, "beds": {"single": {"total": 1, "occupied": 0, "out_of_service": 0}}}'
    assert isinstance(core.decode(body), Report)
    refused = core.decode(body, typed=True)
    assert isinstance(refused, Error)
    assert (refused.code, refused.seq) == ("invalid_message", 2)
    assert refused.message.startswith("type: required")


async def add_shelter(conn: asyncpg.Connection[Any]) -> tuple[str, str]:
    shelter = NewShelter(name="Frame House", region="OH", lat=40.0, lon=-83.0, beds={"single": 9})
    return await registry.add_shelter(conn, shelter)


def report(seq: int) -> str:
    beds = {"single": {"total": 9, "occupied": seq % 9, "out_of_service": 0}}
    return json.dumps({"type": "report", "seq": seq, "beds": beds})


@pytest.mark.slow
async def test_crafted_frames_get_errors_and_the_connection_stays_open(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Over `/ws/shelter` each crafted frame (as text, and any frame sent binary) gets its
    `error` and the next report is applied on the same connection; PUT bodies get 4xx
    JSON; the log names the codes at INFO and holds neither the frames nor an ERROR."""
    sid, token = await add_shelter(conn)
    server = serve()
    headers = {"Authorization": f"Bearer {token}"}
    seq = 0
    async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
        await ws.recv()  # hello
        for frame, code, echo in CRAFTED:
            if isinstance(frame, bytes):
                await ws.send(frame, text=False)
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (reply["type"], reply["code"]) == ("error", "invalid_message")
                assert "text frames" in reply["message"]
            else:
                await ws.send(frame)
                reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
                assert (reply["type"], reply["code"], reply["seq"]) == ("error", code, echo)
            seq += 1
            await ws.send(report(seq))
            ack = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert ack == {"type": "ack", "seq": seq, "status": "applied"}
        await ws.send(report(seq + 1).encode(), text=False)  # a good report, but binary
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert reply["code"] == "invalid_message"
    async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
        for frame, code, _ in CRAFTED:
            r = await http.put(f"/api/shelters/{sid}/beds", content=frame)
            assert 400 <= r.status_code < 500 and r.json()["code"] == code, (frame, r.text)
    log = server.log.read_text()
    assert '"level":"error"' not in log and "Traceback" not in log
    refused = [json.loads(line) for line in log.splitlines() if "frame refused" in line]
    assert {r["code"] for r in refused} >= {"unknown_type", "invalid_json", "invalid_message"}
    assert all(r["level"] == "info" for r in refused)
    assert '"a":1' not in log and "[[[[" not in log
