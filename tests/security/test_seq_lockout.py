"""seq lock-out (finding 2): one wild seq cannot freeze a shelter, and an admin can move
its last seq back (`haven shelter reset-seq`, audited)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect

from exchange import cli
from exchange.beds import registry, store
from exchange.beds import report as core
from exchange.beds.model import BedState, ShelterState
from schema.registry import NewShelter
from schema.wire import Ack, BedCounts, Error, Report

STATE = ShelterState(
    shelter_id="s00001",
    last_seq=16,
    beds={"single": BedState(total=12, occupied=9, out_of_service=1)},
)


def rep(seq: int) -> Report:
    return Report(seq=seq, beds={"single": BedCounts(total=12, occupied=3, out_of_service=0)})


def test_a_seq_far_past_the_last_is_refused_naming_last_seq_and_the_limit() -> None:
    """seq = 2**62 (or anything over last_seq + 10^9) is invalid_report quoting both."""
    for seq in (2**62, 16 + core.MAX_SEQ_JUMP + 1):
        outcome = core.apply(STATE, rep(seq))
        assert isinstance(outcome, Error) and outcome.code == "invalid_report"
        assert str(core.MAX_SEQ_JUMP) in outcome.message and "seq 16" in outcome.message


def test_a_large_but_bounded_jump_applies_and_later_reports_still_do() -> None:
    """A jump of exactly 10^9 applies; the shelter can go on from there."""
    outcome = core.apply(STATE, rep(16 + core.MAX_SEQ_JUMP))
    assert isinstance(outcome, core.Applied)
    after = core.apply(outcome.state, rep(outcome.state.last_seq + 1))
    assert isinstance(after, core.Applied)
    assert core.apply(outcome.state, rep(17)) == Ack(seq=17, status="stale")


async def add_shelter(conn: asyncpg.Connection[Any]) -> str:
    shelter = NewShelter(name="Seq House", region="OH", lat=40.0, lon=-83.0, beds={"single": 4})
    return (await registry.add_shelter(conn, shelter))[0]


async def test_reset_seq_moves_last_seq_writes_an_audit_row_and_no_bed_event(
    conn: asyncpg.Connection[Any],
) -> None:
    """reset_seq sets last_seq, returns the old one, audits it, and touches no beds or events."""
    sid = await add_shelter(conn)
    await conn.execute("update shelters set last_seq = $2 where id = $1", sid, 2**62)
    events = await conn.fetchval("select count(*) from bed_events")
    beds = await conn.fetch("select * from beds order by bed_type")
    assert await store.reset_seq(conn, sid, 5) == 2**62
    assert await store.last_seq(conn, sid) == 5
    row = await conn.fetchrow("select * from audit_log order by id desc limit 1")
    assert (row["kind"], row["subject"], row["detail"]) == (
        "shelter.reset_seq",
        f"shelter:{sid}",
        f"from={2**62} to=5",
    )
    assert await conn.fetchval("select count(*) from bed_events") == events
    assert await conn.fetch("select * from beds order by bed_type") == beds
    with pytest.raises(LookupError):
        await store.reset_seq(conn, "s99999", 0)


def test_reset_seq_command(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`haven shelter reset-seq --id S… [--to N]` prints the change; an unknown id exits 2."""
    monkeypatch.setenv("DATABASE_URL", dsn)

    async def setup() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            sid = await add_shelter(conn)
            await conn.execute(
                "update shelters set last_seq = 4611686018427387904 where id = $1", sid
            )
            return sid
        finally:
            await conn.close()

    sid = asyncio.run(setup())
    assert cli.main(["shelter", "reset-seq", "--id", sid.upper()]) == 0
    assert json.loads(capsys.readouterr().out) == {"id": sid, "last_seq": 0, "was": 2**62}
    assert cli.main(["shelter", "reset-seq", "--id", sid, "--to", "40"]) == 0
    assert json.loads(capsys.readouterr().out)["was"] == 0
    assert cli.main(["shelter", "reset-seq", "--id", "s99999"]) == 2
    assert "no shelter s99999" in capsys.readouterr().err
    assert cli.main(["shelter", "reset-seq", "--id", sid, "--to", "-1"]) == 2


@pytest.mark.slow
async def test_a_wild_seq_over_the_websocket_does_not_freeze_the_shelter(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """seq 2**62 gets an error; the next ordinary seq is applied and hello resumes from it."""
    shelter = NewShelter(name="Seq House", region="OH", lat=40.0, lon=-83.0, beds={"single": 4})
    _, token = await registry.add_shelter(conn, shelter)
    server = serve()
    headers = {"Authorization": f"Bearer {token}"}
    beds = {"single": {"total": 4, "occupied": 1, "out_of_service": 0}}
    async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["last_seq"] == 0
        await ws.send(json.dumps({"type": "report", "seq": 2**62, "beds": beds}))
        reply = json.loads(await ws.recv())
        assert (reply["code"], reply["seq"]) == ("invalid_report", 2**62)
        await ws.send(json.dumps({"type": "report", "seq": 1, "beds": beds}))
        assert json.loads(await ws.recv())["status"] == "applied"
    async with connect(server.ws_url + "/ws/shelter", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["last_seq"] == 1
