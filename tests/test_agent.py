"""The shelter agent: its state machine, its input parsing, and the real client end to end."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from websockets.asyncio.server import Server as WsServer
from websockets.asyncio.server import ServerConnection, serve
from websockets.http11 import Request, Response

from clients import agent
from clients.agent import Agent, AgentState, Backoff, InputError, TokenRefused
from exchange.beds import registry
from schema.registry import NewShelter
from schema.wire import Ack, BedCounts, Error, Hello

ROOT = Path(__file__).resolve().parent.parent
FAST = Backoff(initial=0.02, cap=0.1)


def beds(occupied: int, total: int = 10) -> dict[str, BedCounts]:
    return {"single": BedCounts(total=total, occupied=occupied, out_of_service=0)}


# --- the state machine -------------------------------------------------------------------


def test_reports_wait_for_hello_then_number_after_last_seq() -> None:
    """Reports without seq are held until hello, then numbered last_seq+1, +2…"""
    s = AgentState()
    assert s.submit(beds(1)) == []
    assert s.submit(beds(2)) == []
    sent = s.on_hello(Hello(shelter="s00001", last_seq=16, heartbeat_s=20))
    assert [r.seq for r in sent] == [17, 18]
    assert [r.seq for r in s.submit(beds(3))] == [19]


def test_unacked_reports_are_resent_after_reconnect() -> None:
    """Everything not yet answered is sent again, in seq order, after the next hello."""
    s = AgentState()
    s.on_hello(Hello(shelter="s00001", last_seq=0, heartbeat_s=20))
    for n in range(3):
        s.submit(beds(n))
    s.on_ack(Ack(seq=1, status="applied"))
    s.on_disconnect()
    assert s.submit(beds(5)) == []  # not connected: kept, not sent
    resent = s.on_hello(Hello(shelter="s00001", last_seq=1, heartbeat_s=20))
    assert [r.seq for r in resent] == [2, 3, 4]
    for seq in (2, 3, 4):
        s.on_ack(Ack(seq=seq, status="applied"))
    assert s.done and s.outcome.applied == 4 and s.last_seq == 4


def test_explicit_seq_is_kept_and_raises_the_counter() -> None:
    """A report with its own seq keeps it; later numbered ones follow the highest seq."""
    s = AgentState()
    s.on_hello(Hello(shelter="s00001", last_seq=3, heartbeat_s=20))
    assert [r.seq for r in s.submit(beds(1), seq=40)] == [40]
    assert [r.seq for r in s.submit(beds(2))] == [41]


def test_error_drops_the_report_and_records_its_code() -> None:
    """A refused report is not resent forever; its code and message are kept."""
    s = AgentState()
    s.on_hello(Hello(shelter="s00001", last_seq=0, heartbeat_s=20))
    s.submit(beds(1))
    s.on_error(Error(seq=1, code="unknown_bed_type", message="beds.suite: no such bed type"))
    assert s.done
    assert s.outcome.rejected == [
        {"seq": 1, "code": "unknown_bed_type", "message": "beds.suite: no such bed type"}
    ]


def test_unavailable_report_is_kept_and_returned_for_resend() -> None:
    """`unavailable` means not now: the report stays pending and is handed back to resend."""
    s = AgentState()
    s.on_hello(Hello(shelter="s00001", last_seq=0, heartbeat_s=20))
    (report,) = s.submit(beds(1))
    again = s.on_error(Error(seq=1, code="unavailable", message="writer busy; resend"))
    assert again == [report] and not s.done and s.outcome.rejected == []


def test_duplicate_and_stale_acks_are_counted_apart() -> None:
    """Each ack status is counted under its own name; a second ack changes nothing."""
    s = AgentState()
    s.on_hello(Hello(shelter="s00001", last_seq=5, heartbeat_s=20))
    s.submit(beds(1), seq=5)
    s.submit(beds(1), seq=4)
    s.on_ack(Ack(seq=5, status="duplicate"))
    s.on_ack(Ack(seq=4, status="stale"))
    s.on_ack(Ack(seq=4, status="stale"))
    assert (s.outcome.duplicate, s.outcome.stale, s.outcome.applied) == (1, 1, 0)


# --- parsing what operators type ---------------------------------------------------------


def test_typed_counts_become_beds() -> None:
    """`single 12 9 1, family 3 3 0` names total, occupied, out_of_service per type."""
    got = agent.parse_typed("single 12 9 1, family 3 3 0")
    assert got == {
        "single": BedCounts(total=12, occupied=9, out_of_service=1),
        "family": BedCounts(total=3, occupied=3, out_of_service=0),
    }


@pytest.mark.parametrize(
    ("line", "fragment"),
    [
        ("single 12 9", "TYPE TOTAL"),
        ("single 3 3 1", "more than total"),
        ("Single 1 0 0", "Single"),
    ],
)
def test_bad_typed_counts_are_refused_with_the_reason(line: str, fragment: str) -> None:
    """Wrong arity, impossible counts and bad type names are refused, quoting the input."""
    with pytest.raises(InputError, match=fragment):
        agent.parse_typed(line)


def test_file_lines_take_optional_seq_and_name_the_bad_line() -> None:
    """A report file is JSON bodies; seq optional; the first bad line is named."""
    good = [
        '{"beds": {"single": {"total": 2, "occupied": 1, "out_of_service": 0}}}',
        "",
        '{"seq": 9, "beds": {"single": {"total": 2, "occupied": 2, "out_of_service": 0}}}',
    ]
    assert [b.seq for b in agent.read_file(good)] == [None, 9]
    with pytest.raises(InputError, match="line 2"):
        agent.read_file([good[0], '{"beds": {"single": {"total": -1}}}'])


def test_server_url_becomes_the_shelter_channel() -> None:
    """http(s) URLs map to ws(s)://…/ws/shelter."""
    assert agent.shelter_url("http://h:1/") == "ws://h:1/ws/shelter"
    assert agent.shelter_url("https://h") == "wss://h/ws/shelter"
    assert agent.shelter_url("ws://h/ws/shelter") == "ws://h/ws/shelter"


# --- the I/O shell against a small websockets server speaking the protocol ---------------


class FakeExchange:
    """A protocol-speaking websockets server with one shelter; it can drop connections."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.last_seq = 0
        self.applied: list[int] = []
        self.drop_after: int | None = None
        """Close the connection, without acking, after receiving this many reports."""
        self.server: WsServer | None = None

    def check(self, conn: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return conn.respond(401, "token not recognised\n")
        return None

    async def handler(self, ws: ServerConnection) -> None:
        await ws.send(
            json.dumps(
                {"type": "hello", "shelter": "s00001", "last_seq": self.last_seq, "heartbeat_s": 20}
            )
        )
        async for frame in ws:
            msg = json.loads(frame)
            seq = msg["seq"]
            last = self.last_seq
            status = "applied" if seq > last else "duplicate" if seq == last else "stale"
            if status == "applied":
                self.last_seq = seq
                self.applied.append(seq)
            if self.drop_after is not None:
                self.drop_after -= 1
                if self.drop_after <= 0:
                    self.drop_after = None
                    await ws.close()  # applied but never acked: the agent must resend
                    return
            await ws.send(json.dumps({"type": "ack", "seq": seq, "status": status}))

    @property
    def url(self) -> str:
        assert self.server is not None
        port = next(iter(self.server.sockets)).getsockname()[1]
        return f"http://127.0.0.1:{port}"


@pytest.fixture
async def fake() -> AsyncIterator[FakeExchange]:
    ex = FakeExchange("hvn_good")
    async with serve(ex.handler, "127.0.0.1", 0, process_request=ex.check) as server:
        ex.server = server
        yield ex


async def test_agent_resends_after_connection_drop(fake: FakeExchange) -> None:
    """A connection dropped mid-stream is reopened and unacked reports end answered."""
    fake.drop_after = 3
    a = Agent(fake.url, "hvn_good", backoff=FAST)
    bodies = [agent.ReportBody(beds=beds(n)) for n in range(6)]
    assert await asyncio.wait_for(agent.run_file(a, bodies, timeout=10), 15)
    assert a.connections == 2
    assert fake.applied == [1, 2, 3, 4, 5, 6]
    # Report 3 was applied before the drop; its resend comes back "duplicate".
    assert (a.state.outcome.applied, a.state.outcome.duplicate) == (5, 1)


async def test_agent_raises_on_refused_token(fake: FakeExchange) -> None:
    """A 401 on the handshake stops the agent at once with TokenRefused."""
    a = Agent(fake.url, "hvn_wrong", backoff=FAST)
    with pytest.raises(TokenRefused, match="HTTP 401"):
        await asyncio.wait_for(a.run(), 5)


async def test_agent_keeps_retrying_while_the_server_is_down() -> None:
    """Connection refused is retried with backoff, not fatal: the agent keeps attempting."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    a = Agent(f"http://127.0.0.1:{port}", "hvn_good", backoff=FAST)
    task = asyncio.create_task(a.run())
    deadline = asyncio.get_running_loop().time() + 10
    while a.attempts < 3 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.01)
    assert a.attempts >= 3 and a.connections == 0
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


# --- end to end against a real `haven serve` ---------------------------------------------


def _haven(
    args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "exchange.cli", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


async def _shelter(conn: asyncpg.Connection[Any]) -> tuple[str, str]:
    return await registry.add_shelter(
        conn,
        NewShelter(
            name="Harbor House",
            region="OH",
            lat=41.5,
            lon=-81.7,
            beds={"single": 12, "family": 3},
        ),
    )


def _lines(n: int) -> str:
    return "\n".join(
        json.dumps({"beds": {"single": {"total": 12, "occupied": k % 12, "out_of_service": 0}}})
        for k in range(n)
    )


@pytest.mark.slow
async def test_agent_file_end_to_end_survives_server_restart(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any], tmp_path: Path
) -> None:
    """Reports sent while the server is killed and restarted all end applied, in order."""
    shelter_id, token = await _shelter(conn)
    server = serve()
    first = tmp_path / "a.jsonl"
    first.write_text(_lines(5))
    done = await asyncio.to_thread(
        _haven,
        ["agent", "--url", server.url, "--file", str(first), "--timeout", "20"],
        {"HAVEN_TOKEN": token},
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert (result["applied"], result["last_seq"], result["unanswered"]) == (5, 5, 0)
    assert token not in done.stdout + done.stderr

    # Kill the server, start the agent while it is down, then bring the server back.
    server.kill()
    second = tmp_path / "b.jsonl"
    second.write_text(_lines(40))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "agent",
            "--url",
            server.url,
            "--file",
            str(second),
            "--timeout",
            "40",
        ],
        cwd=ROOT,
        env={**os.environ, "HAVEN_TOKEN": token},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    await asyncio.sleep(0.5)
    await asyncio.to_thread(server.start)
    out, err = await asyncio.to_thread(proc.communicate, timeout=60)
    assert proc.returncode == 0, err
    result = json.loads(out)
    assert (result["applied"], result["last_seq"], result["unanswered"]) == (40, 45, 0)
    assert await conn.fetchval("select last_seq from shelters where id = $1", shelter_id) == 45
    assert token not in out + err


@pytest.mark.slow
async def test_agent_resends_unacked_reports_when_connection_dies_mid_stream(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Killing the server with reports in flight loses none: after restart all are applied."""
    shelter_id, token = await _shelter(conn)
    server = serve()
    a = Agent(server.url, token, backoff=FAST)
    runner = asyncio.create_task(a.run())
    try:
        for k in range(200):
            await a.submit({"single": BedCounts(total=12, occupied=k % 12, out_of_service=0)})
            if k == 5:
                while a.state.last_seq is None or a.state.outcome.applied < 3:
                    await asyncio.sleep(0.01)
        assert a.state.pending, "the kill must happen with reports unanswered"
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)
        await asyncio.wait_for(a.wait_done(), 30)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
    assert a.connections >= 2
    assert a.state.outcome.rejected == []
    assert await conn.fetchval("select last_seq from shelters where id = $1", shelter_id) == 200
    row = await conn.fetchrow(
        "select occupied from beds where shelter_id = $1 and bed_type = 'single'", shelter_id
    )
    assert row["occupied"] == 199 % 12


@pytest.mark.slow
async def test_agent_exits_nonzero_when_token_refused(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """A refused token ends the agent with a clear message and a non-zero exit code."""
    await _shelter(conn)
    server = serve()
    bad = "hvn_not_a_real_token_0123456789abcdef"
    done = await asyncio.to_thread(
        _haven,
        ["agent", "--url", server.url, "--file", os.devnull, "--timeout", "10"],
        {"HAVEN_TOKEN": bad},
    )
    assert done.returncode == 3
    assert "refused the shelter token" in done.stderr
    assert bad not in done.stderr + done.stdout


@pytest.mark.slow
async def test_agent_reads_typed_counts_from_stdin(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Typed lines become reports numbered after last_seq; bad lines are refused, not sent."""
    shelter_id, token = await _shelter(conn)
    server = serve()
    done = await asyncio.to_thread(
        _haven,
        ["agent", "--url", server.url],
        {"HAVEN_TOKEN": token},
        stdin="single 12 9 1\nsingle 12 13 0\nsingle 12 10 1, family 3 3 0\n",
    )
    assert done.returncode == 0, done.stderr
    assert "more than total" in done.stderr
    answers = [msgspec.json.decode(line) for line in done.stdout.splitlines()]
    assert [a["status"] for a in answers if a.get("type") == "ack"] == ["applied", "applied"]
    assert answers[-1]["applied"] == 2
    rows = await conn.fetch(
        "select bed_type, total, occupied, out_of_service from beds where shelter_id = $1"
        " order by bed_type",
        shelter_id,
    )
    assert [tuple(r) for r in rows] == [("family", 3, 3, 0), ("single", 12, 10, 1)]


# --- for people at a terminal ---------------------------------------------------------------


def test_help_and_quit_are_words_not_bed_types(capsys: pytest.CaptureFixture[str]) -> None:
    """`help` prints the examples and sends nothing; `quit` finishes; a lone bed type asks
    for its three numbers; anything else is sent as typed."""
    asked: list[str] = []
    assert agent.interpret("help\n", lambda q: asked.append(q) or "1") == ""
    assert "single 12 9 1" in capsys.readouterr().err
    assert agent.interpret("quit\n", None) is None
    assert agent.interpret("single 12 9 1\n", None) == "single 12 9 1\n"
    assert asked == []


def test_the_guided_questions_agree_with_each_other(capsys: pytest.CaptureFixture[str]) -> None:
    """A lone bed type asks for beds in all (out of service included), occupied, out of
    service, re-asking until each answer is a number."""
    answers = iter(["12", "nine", "9", "1"])
    asked: list[str] = []

    def ask(question: str) -> str:
        asked.append(question)
        return next(answers)

    assert agent.interpret("single\n", ask) == "single 12 9 1"
    assert asked == [
        "  single: beds in all, out of service included? ",
        "  single: occupied? ",
        "  single: occupied? ",
        "  single: out of service? ",
    ]
    assert "whole number" in capsys.readouterr().err
    assert not any("in service?" in q for q in asked)  # never "total beds in service"


@pytest.mark.slow
def test_an_agent_that_never_reached_the_exchange_says_so() -> None:
    """Typed counts with no exchange at --url: it says it cannot reach it and why, then
    that nothing was sent, and exits 1 (not a hang, not a silent success)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = _haven(
        ["agent", "--url", f"http://127.0.0.1:{port}"],
        {"HAVEN_TOKEN": "hvn_" + "x" * 32},
        stdin="single 12 9 1\n",
        timeout=60,
    )
    assert done.returncode == 1
    assert "cannot reach the exchange at ws://127.0.0.1" in done.stderr
    assert "connection refused" in done.stderr
    assert "never reached the exchange" in done.stderr and "nothing was sent" in done.stderr
