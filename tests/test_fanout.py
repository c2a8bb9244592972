"""Fan-out: the event table feeds each process's board, woken by NOTIFY or a poll; a lost
listener reconnects and catches up; a catch-up that fails is said (degraded); two real
processes on one database agree within 1 s."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from dashboards import dashboard_token
from timing import within
from websockets.asyncio.client import connect

from exchange.beds import registry
from exchange.beds import store as events
from exchange.beds.model import BedState, NewEvent
from exchange.board import board as live
from exchange.board import fanout
from schema.registry import NewShelter, Principal

PLANNER = Principal(token_id=1, role="planner")


async def add(conn: asyncpg.Connection[Any], region: str, n: int = 1) -> list[tuple[str, str]]:
    shelters = [
        NewShelter(name=f"S {region} {i}", region=region, lat=40, lon=-83, beds={"single": 10})
        for i in range(n)
    ]
    return await registry.add_shelters(conn, shelters)


async def report(
    conn: asyncpg.Connection[Any], shelter_id: str, occupied: int, *, notify: bool = True
) -> int:
    """Beds and event in one transaction; NOTIFY only after commit (as the writer does)."""
    async with conn.transaction():
        await conn.execute(
            "update beds set occupied = $2, reported = true"
            " where shelter_id = $1 and bed_type = 'single'",
            shelter_id,
            occupied,
        )
        await conn.execute("update shelters set last_report_at = now() where id = $1", shelter_id)
        state = {"single": BedState(total=10, occupied=occupied, out_of_service=0)}
        (seq,) = await events.append(
            conn, events.Outbox(), [NewEvent(shelter_id=shelter_id, kind="report", beds=state)]
        )
    if notify:
        await conn.execute("select pg_notify($1, $2)", events.CHANNEL, str(seq))
    return seq


class Changes:
    """Collects what the fan-out reports, and lets a test wait for a region."""

    def __init__(self) -> None:
        self.seen: list[set[str]] = []
        self.event = asyncio.Event()

    def __call__(self, regions: set[str]) -> None:
        self.seen.append(regions)
        self.event.set()

    async def wait(self, timeout: float) -> float:
        started = time.monotonic()
        await asyncio.wait_for(self.event.wait(), timeout)
        self.event.clear()
        return time.monotonic() - started


def new_board() -> live.Board:
    return live.Board(stale_after=timedelta(hours=8), min_shelters=1)


def available(b: live.Board, region: str) -> int:
    beds = b.region(region, "admin").beds
    assert beds is not None
    return beds["single"].available


async def test_catch_up_applies_committed_events_in_order(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """catch_up reads every committed event after the board's seq and names the regions."""
    (oh,) = await add(conn, "OH")
    await add(conn, "PA")
    changes, b = Changes(), new_board()
    f = fanout.Fanout(dsn, pool, b, changes)
    assert await f.catch_up() == {"OH", "PA"}
    await report(conn, oh[0], 4, notify=False)
    await report(conn, oh[0], 6, notify=False)
    assert await f.catch_up() == {"OH"}
    assert b.seq == await events.head(conn) == 4
    assert available(b, "OH") == 4 and changes.seen == [{"OH", "PA"}, {"OH"}]
    assert await f.catch_up() == set() and len(changes.seen) == 2


async def test_notify_wakes_the_reader_at_once(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """With a slow poll, a NOTIFY after commit still brings the event in within a moment."""
    (oh,) = await add(conn, "OH")
    changes, b = Changes(), new_board()
    async with fanout.Fanout(dsn, pool, b, changes, poll_s=30).running() as f:
        await wait_listening(f)
        changes.event.clear()
        await report(conn, oh[0], 3)
        assert await changes.wait(timeout=2) < within(0.5)
        assert available(b, "OH") == 7


async def test_the_poll_finds_events_whose_notify_was_lost(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """An event committed without any NOTIFY is found by the periodic poll."""
    (oh,) = await add(conn, "OH")
    changes, b = Changes(), new_board()
    async with fanout.Fanout(dsn, pool, b, changes, poll_s=0.3).running():
        changes.event.clear()
        await report(conn, oh[0], 2, notify=False)
        assert await changes.wait(timeout=2) < within(1.0)
        assert available(b, "OH") == 8


async def wait_listening(f: fanout.Fanout, timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while not f.listening:
        assert time.monotonic() < deadline, "listener never connected"
        await asyncio.sleep(0.02)


async def test_a_wake_up_as_it_stops_does_not_keep_it_running(
    dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """A NOTIFY that wakes the reader in the moment the fan-out is stopped: the stop still
    ends it (on Python 3.11, `asyncio.wait_for` loses a cancel that lands as the awaited
    event is set, and the server's shutdown then waited forever)."""
    changes, b = Changes(), new_board()
    async with asyncio.timeout(5):
        async with fanout.Fanout(dsn, pool, b, changes, poll_s=30).running() as f:
            await wait_listening(f)
            await asyncio.sleep(0.05)  # the reader is back to waiting for a wake-up
            f._wake.set()  # what the listener does on a NOTIFY, in the same tick as the stop


_LISTENER = """
select pid from pg_stat_activity
where application_name = $1 and datname = current_database()
"""


async def test_a_killed_listener_reconnects_and_catches_up(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """When the listener's backend is killed, events committed meanwhile still arrive (by
    the catch-up on reconnect, not the slow poll), and NOTIFY works again afterwards."""
    (oh,) = await add(conn, "OH")
    changes, b = Changes(), new_board()
    async with fanout.Fanout(dsn, pool, b, changes, poll_s=30).running() as f:
        await wait_listening(f)
        (old_pid,) = [r["pid"] for r in await conn.fetch(_LISTENER, fanout.LISTENER_NAME)]
        await conn.execute("select pg_terminate_backend($1)", old_pid)
        changes.event.clear()
        await report(conn, oh[0], 5)  # its NOTIFY may find no listener
        assert await changes.wait(timeout=5) < within(3)
        assert available(b, "OH") == 5
        deadline = time.monotonic() + 5
        while [r["pid"] for r in await conn.fetch(_LISTENER, fanout.LISTENER_NAME)] in (
            [],
            [old_pid],
        ):
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        await wait_listening(f)
        changes.event.clear()
        await report(conn, oh[0], 1)
        assert await changes.wait(timeout=2) < within(0.5)
        assert available(b, "OH") == 9


async def test_events_pruned_past_the_board_force_a_reload(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """A process whose next events were pruned rebuilds its board from the beds table."""
    (oh,) = await add(conn, "OH")
    b = new_board()
    f = fanout.Fanout(dsn, pool, b, Changes())
    await f.catch_up()
    for occupied in (1, 2, 3):
        await report(conn, oh[0], occupied, notify=False)
    await events.prune(conn, 1)
    assert await f.catch_up() == {"OH"}
    assert f.reloads == 1 and b.seq == 4 and available(b, "OH") == 7
    assert b.floor == 3 and not b.covers(2) and b.covers(3)


async def test_prune_keeps_the_newest_events_and_raises_the_floor(
    conn: asyncpg.Connection[Any], dsn: str, pool: asyncpg.Pool[Any]
) -> None:
    """Pruning keeps `keep` events; clients from before them will get a snapshot."""
    (oh,) = await add(conn, "OH")
    b = new_board()
    f = fanout.Fanout(dsn, pool, b, Changes(), keep=2)
    for occupied in (1, 2, 3):
        await report(conn, oh[0], occupied, notify=False)
    await f.catch_up()
    await f.prune()
    assert await events.oldest(conn) == 3 and b.floor == 2
    assert not b.covers(1) and b.covers(2)


async def test_a_failing_catch_up_is_said_and_so_is_recovery(
    conn: asyncpg.Connection[Any],
    dsn: str,
    pool: asyncpg.Pool[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the event table cannot be read (here: locked, so the catch-up times out) the
    fan-out says degraded, once; the first catch-up that succeeds says it is over, and the
    events committed meanwhile arrive."""
    (oh,) = await add(conn, "OH")
    monkeypatch.setattr(fanout, "CATCH_UP_TIMEOUT_S", 0.2)
    said: list[bool] = []
    changes, b = Changes(), new_board()
    async with fanout.Fanout(dsn, pool, b, changes, poll_s=0.05, on_status=said.append).running():
        async with conn.transaction():
            await conn.execute("lock table bed_events in access exclusive mode")
            deadline = time.monotonic() + 5
            while not said:
                assert time.monotonic() < deadline, "a locked event table was never said"
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # more failed catch-ups: said once
            assert said == [True]
        seq = await report(conn, oh[0], 3, notify=False)
        deadline = time.monotonic() + 5
        while said != [True, False] or b.seq < seq:
            assert time.monotonic() < deadline, f"recovery was never said: {said}"
            await asyncio.sleep(0.02)
        assert available(b, "OH") == 7


@pytest.mark.slow
async def test_two_processes_on_one_database(conn: asyncpg.Connection[Any], serve: Any) -> None:
    """A report sent to process A reaches a dashboard connected to process B within 1 s."""
    shelters = await add(conn, "OH", 3)
    sid, shelter_token = shelters[0]
    _, planner = await dashboard_token(conn, "planner")
    a, b = serve(), serve()
    headers = {"Authorization": f"Bearer {planner}"}
    async with connect(b.ws_url + "/ws/dashboard", additional_headers=headers) as ws:
        snapshot = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert snapshot["type"] == "snapshot"
        async with httpx.AsyncClient(base_url=a.url) as http:
            for seq, occupied in ((1, 3), (2, 6)):
                sent = time.monotonic()
                body = {
                    "type": "report",
                    "seq": seq,
                    "beds": {"single": {"total": 10, "occupied": occupied, "out_of_service": 0}},
                }
                reply = await http.put(
                    f"/api/shelters/{sid}/beds",
                    json=body,
                    headers={"Authorization": f"Bearer {shelter_token}"},
                )
                assert reply.json() == {"type": "ack", "seq": seq, "status": "applied"}
                while True:
                    message = json.loads(await asyncio.wait_for(ws.recv(), 1.0))
                    single = message["region"]["beds"]["single"]
                    if message["region"]["stale"] == 2 and single["available"] == 10 - occupied:
                        break
                assert time.monotonic() - sent < within(1.0)
