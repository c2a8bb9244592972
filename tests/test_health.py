"""Operations against a real `haven serve`: health, readiness, metrics, OpenAPI UI, logs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from exchange.beds import registry
from schema.registry import NewShelter

pytestmark = pytest.mark.slow


async def add_shelter(conn: asyncpg.Connection[Any]) -> tuple[str, str]:
    shelter = NewShelter(
        name="Harbor House", region="OH", lat=39.96, lon=-83.0, beds={"single": 12}
    )
    return await registry.add_shelter(conn, shelter)


def report(seq: int) -> str:
    beds = {"single": {"total": 12, "occupied": 3, "out_of_service": 0}}
    return json.dumps({"type": "report", "seq": seq, "beds": beds})


async def test_livez_and_readyz_follow_migrations(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """/livez is always ok; /readyz is 503 while a migration is not applied, 200 when current."""
    server = serve()
    async with httpx.AsyncClient(base_url=server.url) as http:
        assert (await http.get("/livez")).json() == {"status": "ok"}
        assert (await http.get("/readyz")).status_code == 200
        last = await conn.fetchrow(
            "delete from haven_migrations"
            " where version = (select max(version) from haven_migrations) returning *"
        )
        r = await http.get("/readyz")
        assert r.status_code == 503 and "migrations pending" in r.json()["reason"]
        await conn.execute("insert into haven_migrations values ($1, $2, $3)", *last)
        assert (await http.get("/readyz")).status_code == 200


def sample(text: str, name: str) -> float:
    """The value of one Prometheus sample line, e.g. `haven_reports_rejected_total{code="x"}`."""
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name} not in metrics")


async def test_metrics_count_reports_errors_connections_and_latency(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """/metrics counts applied and rejected reports, open connections and ack latency."""
    _, token = await add_shelter(conn)
    server = serve()
    headers = {"Authorization": f"Bearer {token}"}
    async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
        await ws.recv()
        for frame in (report(1), report(2), "nope", report(2)):
            await ws.send(frame)
            await asyncio.wait_for(ws.recv(), 10)
        async with httpx.AsyncClient(base_url=server.url) as http:
            r = await http.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert sample(text, "haven_reports_applied_total") == 2
    assert sample(text, 'haven_reports_rejected_total{code="invalid_json"}') == 1
    assert sample(text, 'haven_reports_acked_total{status="duplicate"}') == 1
    assert sample(text, 'haven_open_connections{channel="shelter"}') == 1
    assert sample(text, "haven_ack_latency_seconds_count") == 4


async def test_openapi_ui_uses_no_outside_assets(serve: Callable[..., Any]) -> None:
    """/schema/swagger references only this server's assets, and those assets are served."""
    server = serve()
    async with httpx.AsyncClient(base_url=server.url) as http:
        page = await http.get("/schema/swagger")
        assert page.status_code == 200
        urls = re.findall(r"""(?:src|href)=["']([^"']+)["']""", page.text)
        assert urls, page.text[:500]
        assert not re.search(r"https?://|//[a-z]", page.text.split("<body>")[0])
        for url in urls:
            assert url.startswith("/"), url
            asset = await http.get(url)
            assert asset.status_code == 200 and len(asset.content) > 100, url
        spec = (await http.get("/schema/openapi.json")).json()
        assert "/api/shelters/{shelter_id}/beds" in spec["paths"]


async def test_server_log_never_holds_a_token(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """After good and bad handshakes and PUTs, the server's log contains none of the tokens."""
    sid, token = await add_shelter(conn)
    bad = "zz-not-a-token-7f3a9c"
    server = serve()
    for candidate in (token, bad, "hvn_" + bad):
        headers = {"Authorization": f"Bearer {candidate}"}
        try:
            async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
                await ws.recv()
                await ws.send(report(1))
                await ws.recv()
        except InvalidStatus:
            pass
        # uvicorn logs a websocket's path with its query string: the scrubber must catch it.
        with contextlib.suppress(InvalidStatus):
            async with connect(f"{server.ws_url}/ws/shelter?token={candidate}"):
                pass
        async with httpx.AsyncClient(base_url=server.url) as http:
            await http.put(f"/api/shelters/{sid}/beds", content=report(2), headers=headers)
            await http.put(f"/api/shelters/{sid}/beds?token={candidate}", content="x")
    server.stop()
    log = server.log.read_text()
    assert "shelter connected" in log and "refused" in log  # the log did record the events
    for secret in (token, token.removeprefix("hvn_"), "hvn_" + bad):
        assert secret not in log
